"""`recruit-reveal serve` over real HTTP: a uvicorn process on 127.0.0.1 and a free port.

/predict, /what-if and the rate limit, through the command a deployment runs, and two
workers following releases under load.  Every wait and every request loop is bounded,
and the server is stopped whatever happens.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from api_support import QB, SAMPLES, serve_process


@contextlib.contextmanager
def serving(models_dir, log: Path, *args: str, **env_vars: str):
    """`recruit-reveal serve ARGS` on a free port with ``env_vars``; yields its URL once ready."""
    with serve_process(models_dir, log, *args, **env_vars) as (_, url):
        yield url


@pytest.fixture
def server(exported_models_dir, tmp_path):
    """The URL of `recruit-reveal serve` with RATE_LIMIT=20/minute and ACCESS_LOG=0."""
    log = tmp_path / "server.log"
    with serving(exported_models_dir, log, RATE_LIMIT="20/minute", ACCESS_LOG="0") as url:
        yield url, log


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


# --------------------------------------------------------------------------- many workers

#: Every worker serves a new release this soon after it is made: a functional bound
#: (within a few polls, without a restart); the speed goal itself (<= 2 s) is
#: measured by bench/workers.py, not asserted on a machine that may be busy.
FOLLOW_SECONDS = 10.0


def _worker_releases(url: str, pids: set[int], release_id: int, since: float,
                     timeout: float = 15.0) -> dict[int, float]:
    """Seconds from ``since`` until each worker of ``pids`` answered /health with ``release_id``.

    Every probe opens a new connection, so the kernel hands it to either worker;
    a worker that answers with the new release once must never answer the old one again.
    """
    reached: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while set(reached) != pids:
        assert time.monotonic() < deadline, f"workers on release {release_id}: {reached}"
        health = httpx.get(f"{url}/health", timeout=5).json()
        pid, served = health["worker"]["pid"], health["release"]["id"]
        assert pid in pids, f"an unknown worker {pid} answered"
        if served == release_id:
            reached.setdefault(pid, time.monotonic() - since)
        else:
            assert pid not in reached, f"worker {pid} went back to release {served}"
        time.sleep(0.02)
    return reached


def test_two_workers_follow_releases_under_load(two_versions, trained_results, tmp_path):
    """`serve --workers 2` under load: a release made elsewhere (two positions at once), a
    rollback with the CLI and a switch through one worker all reach both workers within
    FOLLOW_SECONDS, with no failed request and no answer mixing two releases."""
    from api_support import AUTH, TOKEN, add_version

    from recruit_reveal.artifacts import registry

    add_version(two_versions, trained_results["rb"], "1.1.0", "second rb for the worker test")
    old = {"qb": "1.0.0", "rb": "1.0.0", "wr": "1.0.0"}
    new = {**old, "qb": "1.1.0", "rb": "1.1.0"}
    log = tmp_path / "server.log"
    with serving(two_versions, log, "--workers", "2", ACCESS_LOG="0",
                 ADMIN_TOKEN=TOKEN) as url:
        pids: set[int] = set()
        deadline = time.monotonic() + 30
        while len(pids) < 2:
            assert time.monotonic() < deadline, f"only workers {pids} answered:\n" \
                                                f"{log.read_text()[-2000:]}"
            pids.add(httpx.get(f"{url}/health", timeout=5).json()["worker"]["pid"])

        stop = threading.Event()
        failures: list[str] = []
        answers: list[dict[str, str]] = []

        def load() -> None:
            with httpx.Client(base_url=url, timeout=10) as client:
                for _ in range(5000):  # bounded; stopped by the event long before
                    if stop.is_set():
                        return
                    try:
                        r = client.post("/predict/batch", json=SAMPLES)
                    except httpx.HTTPError as exc:
                        failures.append(f"{type(exc).__name__}: {exc}")
                        continue
                    if r.status_code != 200:
                        failures.append(f"{r.status_code}: {r.text[:200]}")
                    else:
                        answers.append(r.json()["model_versions"])

        clients = [threading.Thread(target=load) for _ in range(3)]
        for t in clients:
            t.start()
        try:
            time.sleep(0.5)
            made = registry.release({"qb": "1.1.0", "rb": "1.1.0"}, two_versions, how="cli",
                                    by="ci", reason="two positions at once")
            to_new = _worker_releases(url, pids, made.id, time.monotonic())

            rollback = subprocess.run(
                [str(Path(sys.executable).with_name("recruit-reveal")), "models", "rollback",
                 "--models-dir", str(two_versions), "--reason", "back under load"],
                capture_output=True, text=True, timeout=120)
            assert rollback.returncode == 0, rollback.stderr
            back = registry.history(two_versions).current
            to_back = _worker_releases(url, pids, back.id, time.monotonic())

            since = time.monotonic()
            switched = httpx.post(f"{url}/models/qb/switch", headers=AUTH, timeout=30,
                                  params={"version": "1.1.0", "reason": "via one worker"})
            assert switched.status_code == 200, switched.text
            to_switch = _worker_releases(url, pids, switched.json()["release"], since)
            time.sleep(0.3)
        finally:
            stop.set()
            for t in clients:
                t.join(timeout=30)

    assert failures == []
    assert len(answers) > 20
    # Each batch answer came from one release: all old, both new, or the switch's.
    allowed = [old, new, {**old, "qb": "1.1.0"}]
    assert [a for a in answers if a not in allowed] == []
    assert old in answers and new in answers
    for name, reached in (("release", to_new), ("rollback", to_back), ("switch", to_switch)):
        assert max(reached.values()) <= FOLLOW_SECONDS, (name, reached)
    history = registry.history(two_versions).history
    assert [(r.how, r.action) for r in history[-3:]] == [
        ("cli", "release"), ("cli", "rollback"), ("api", "promote")]


def test_two_workers_follow_a_signed_release_and_refuse_an_unsigned_one(
        models_dir, trained_results, tmp_path, monkeypatch):
    """VERIFY_KEY with `serve --workers 2`: a signed release reaches both workers; an unsigned
    one promoted in the folder (hashes consistent, as anyone who can write it could) is
    served by neither: they keep the model they had and say why in /health, naming the
    signature file."""
    from recruit_reveal.artifacts import layout, registry, signatures
    from recruit_reveal.artifacts.writer import save_pipeline
    from recruit_reveal.schema import POSITIONS

    private, public = signatures.create_key_pair(tmp_path / "keys")
    monkeypatch.setenv("SIGNING_KEY", str(private))
    for pos in POSITIONS:  # the fixture's 1.0.0 were not signed: promoting signs them
        registry.promote(pos, "1.0.0", models_dir, how="cli")
    save_pipeline(trained_results["qb"], models_dir, "1.1.0", promote=False)
    monkeypatch.delenv("SIGNING_KEY")
    save_pipeline(trained_results["qb"], models_dir, "1.2.0", promote=False)  # unsigned
    assert not (models_dir / layout.signature_name("qb", "1.2.0")).exists()

    log = tmp_path / "server.log"
    with serving(models_dir, log, "--workers", "2", ACCESS_LOG="0",
                 VERIFY_KEY=str(public)) as url:
        pids: set[int] = set()
        deadline = time.monotonic() + 30
        while len(pids) < 2:
            assert time.monotonic() < deadline, f"only workers {pids} answered"
            health = httpx.get(f"{url}/health", timeout=5).json()
            assert health["signatures"]["checked"] is True
            pids.add(health["worker"]["pid"])

        registry.promote("qb", "1.1.0", models_dir, how="cli", reason="signed")
        _worker_releases(url, pids, registry.history(models_dir).current.id, time.monotonic())
        assert httpx.post(f"{url}/predict", json=QB).json()["model_version"] == "1.1.0"

        registry.promote("qb", "1.2.0", models_dir, how="cli", reason="unsigned")
        _worker_releases(url, pids, registry.history(models_dir).current.id, time.monotonic())
        seen: set[int] = set()
        deadline = time.monotonic() + 15
        while seen != pids:
            assert time.monotonic() < deadline, f"workers {pids - seen} never reported"
            health = httpx.get(f"{url}/health", timeout=5).json()
            assert health["models"]["qb"]["version"] == "1.1.0"
            assert "recruit_reveal_qb_pipeline_v1.2.0.sig is missing" in \
                health["release"]["problem"]
            seen.add(health["worker"]["pid"])
        for _ in range(10):
            assert httpx.post(f"{url}/predict", json=QB).json()["model_version"] == "1.1.0"
