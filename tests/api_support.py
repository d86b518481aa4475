"""Shared pieces of the API tests: settings without the developer's environment, samples, helpers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from recruit_reveal import schema
from recruit_reveal.settings import Settings, load_settings

TOKEN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

SAMPLES = list(schema.SAMPLE_ATHLETES)  # the earlier system's three sample athletes
QB = SAMPLES[0]

PREDICTION_FIELDS = {
    "predicted_division", "predicted_tier", "confidence_score", "probability", "probabilities",
    "position", "model_version", "notes", "goals", "switches", "calendar_advice",
    "imputation_flags", "data_completeness_warning", "what_if_results", "top_factors",
}


def settings(**overrides) -> Settings:
    """Settings from an empty environment, so the developer's MODEL_VERSION etc. cannot leak in."""
    return load_settings({}).replace(**overrides)


def detail(response) -> str:
    """The ``detail`` of an error answer, after checking the error body's shape."""
    body = response.json()
    assert set(body) >= {"detail", "errors"}
    return body["detail"]


def add_version(models_dir, result, version: str, changelog: str) -> None:
    """Export ``result`` as ``version`` next to the models already in ``models_dir``."""
    from recruit_reveal.artifacts.writer import save_pipeline

    save_pipeline(result, models_dir, version, promote=False, changelog=changelog)


def broken_pipeline():
    """Verifies and loads like a model, then fails on use (like stale feature code).

    Made of scikit-learn types only, so its skops file loads: a class of the tests
    would be refused at load time as an untrusted type, before any test prediction.
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from recruit_reveal.schema import DIVISIONS

    rng = np.random.default_rng(0)
    return LogisticRegression().fit(rng.normal(size=(40, 3)), rng.choice(DIVISIONS, 40))


#: How long a `recruit-reveal serve` may take to answer /health/ready.
STARTUP_SECONDS = 90
#: Settings a test server never inherits from the test's environment.
_NOT_INHERITED = ("MODEL_", "RATE_LIMIT", "ACCESS_LOG", "ADMIN_TOKEN", "WORKERS",
                  "RELEASE_POLL", "PREDICTION_LOG", "CATALOG")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_process(models_dir, log: Path, *args: str,
                  **env_vars: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """`recruit-reveal serve ARGS` on 127.0.0.1 and a free port with ``env_vars``: yields
    (process, URL) once ready, and stops it (SIGINT, then kill) unless the test did."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED)}
    env.update(MODEL_DIR=str(models_dir), HOST="127.0.0.1", PORT=str(port), **env_vars)
    command = Path(sys.executable).with_name("recruit-reveal")
    with log.open("wb") as out:
        proc = subprocess.Popen([str(command), "serve", *args], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert proc.poll() is None, f"server exited:\n{log.read_text()[-3000:]}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"not ready in {STARTUP_SECONDS} s:\n" \
                                                f"{log.read_text()[-3000:]}"
            time.sleep(0.2)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
