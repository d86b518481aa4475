"""`recruit-reveal serve` over real HTTP: a uvicorn process on 127.0.0.1 and a free port.

/predict, /what-if and the rate limit, through the command a deployment runs.  Every
wait is bounded and the server is stopped whatever happens.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from api_support import QB, SAMPLES

STARTUP_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(exported_models_dir, tmp_path):
    """The URL of `recruit-reveal serve` with RATE_LIMIT=20/minute and ACCESS_LOG=0."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MODEL_", "RATE_LIMIT", "ACCESS_LOG", "ADMIN_TOKEN"))}
    env.update(MODEL_DIR=str(exported_models_dir), HOST="127.0.0.1", PORT=str(port),
               RATE_LIMIT="20/minute", ACCESS_LOG="0")
    command = Path(sys.executable).with_name("recruit-reveal")
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(command), "serve"], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert proc.poll() is None, f"server exited:\n{log.read_text()[-3000:]}"
            try:
                if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"not ready in {STARTUP_SECONDS} s:\n" \
                                                f"{log.read_text()[-3000:]}"
            time.sleep(0.2)
        yield url, log
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def test_serve_answers_predict_what_if_and_limits_the_rate(server):
    url, log = server
    with httpx.Client(base_url=url, timeout=30) as client:
        health = client.get("/health").json()
        assert health["status"] == "healthy"
        assert {m["scoring"] for m in health["models"].values()} == {"fast"}
        sent = 0
        for athlete in SAMPLES:
            body = client.post("/predict", json=athlete).json()
            assert body["position"] == athlete["position"] and body["what_if_results"]
            sent += 1
        target = client.post("/predict", json=QB,
                             params={"target_division": "Power 5", "min_probability": 0.5})
        assert target.status_code == 200 and "target_search" in target.json()
        what_if = client.post("/what-if", json={"base_data": QB, "scenario_name": "speed",
                                                "modifications": {"forty_yard_dash": 4.4}})
        assert what_if.status_code == 200
        assert what_if.json()["what_if_results"]["changes"][0]["modified"] == 4.4
        assert client.post("/what-if", json={"base_data": QB, "modifications": {"x": 1}}
                           ).status_code == 422
        sent += 3
        # The 21st counted request in the minute is refused, with Retry-After.
        codes = [client.post("/predict", json=QB).status_code for _ in range(20 - sent + 3)]
        assert codes[:20 - sent] == [200] * (20 - sent) and codes[20 - sent:] == [429] * 3
        refused = client.post("/what-if", json={"base_data": QB, "modifications": {}})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert client.get("/health/live").status_code == 200  # probes are not limited
    time.sleep(0.2)
    text = log.read_text()
    assert "Recruit Reveal" in text  # the startup banner
    assert "POST /predict" not in text  # ACCESS_LOG=0: no line per request
