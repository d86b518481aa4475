"""Many workers: the time from a promote until every worker serves the new release.

`recruit-reveal serve --workers 2` on 127.0.0.1 serves a models folder with two QB
versions; the benchmark promotes them in turn (as `recruit-reveal models promote`
does) and, from the moment the manifest is switched, probes /health on new
connections (so the kernel hands them to either worker) until both workers answer
with the new release.  Each worker looks every RELEASE_POLL_SECONDS (1 s by default),
so the expected time is up to one interval plus the load of the new model.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from ._common import Goal, Section, table

ROOT = Path(__file__).resolve().parents[1]
WORKERS = 2
#: The promise of the serving docs: every worker serves a new release within this.
GOAL_SECONDS = 2.0


def _models(tmp: Path, smoke: bool) -> Path:
    from recruit_reveal.artifacts.writer import save_pipeline
    from recruit_reveal.data.synthetic import write_sample
    from recruit_reveal.modeling.training import train_position

    csv = write_sample(tmp / "training.csv", rows_per_position=200 if smoke else 2000, seed=7)
    folder = tmp / "models"
    for version, seed in (("1.0.0", 0), ("1.1.0", 1)):
        result = train_position(csv, "qb", seed=seed, cv_folds=2, bayes=False)
        save_pipeline(result, folder, version, promote=version == "1.0.0",
                      changelog="bench.workers")
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(models: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MODEL_", "RATE_LIMIT", "WORKERS", "RELEASE_POLL"))}
    env.update(MODEL_DIR=str(models), ACCESS_LOG="0")
    command = Path(sys.executable).with_name("recruit-reveal")
    proc = subprocess.Popen([str(command), "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", str(WORKERS)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    pids: set[int] = set()
    while len(pids) < WORKERS:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"{WORKERS} workers did not answer within 90 s (saw {pids})")
        try:
            pids.add(httpx.get(f"{url}/health", timeout=2).json()["worker"]["pid"])
        except (httpx.HTTPError, KeyError, ValueError):
            time.sleep(0.1)
    return proc, url


def _until_every_worker(url: str, release_id: int, since: float) -> float:
    """Seconds from ``since`` until ``WORKERS`` distinct workers answered with ``release_id``."""
    reached: set[int] = set()
    deadline = since + 30
    while len(reached) < WORKERS:
        if time.monotonic() > deadline:
            raise RuntimeError(f"release {release_id} reached only workers {reached} in 30 s")
        health = httpx.get(f"{url}/health", timeout=5).json()
        if health["release"]["id"] == release_id:
            reached.add(health["worker"]["pid"])
        time.sleep(0.01)
    return time.monotonic() - since


def run(smoke: bool = False) -> Section:
    from recruit_reveal.artifacts import registry

    promotes = 2 if smoke else 7
    with tempfile.TemporaryDirectory() as tmp:
        models = _models(Path(tmp), smoke)
        proc, url = _serve(models)
        try:
            times = []
            for i in range(promotes):
                version = ("1.1.0", "1.0.0")[i % 2]
                made = registry.promote("qb", version, models, how="cli", by="bench",
                                        reason="bench.workers")
                release = registry.history(models).current
                assert release is not None and made.version == version
                times.append(_until_every_worker(url, release.id, time.monotonic()))
                time.sleep(0.3)  # not in step with the workers' polls
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    median = statistics.median(times)
    rows = [[i + 1, f"{t:.2f} s"] for i, t in enumerate(times)]
    markdown = (
        "## Many workers: a promote reaching every worker\n\n"
        f"`recruit-reveal serve --workers {WORKERS}` with the default RELEASE_POLL_SECONDS=1; "
        f"{promotes} promotes of QB, alternating two versions, each made like "
        "`recruit-reveal models promote` (the manifest switched in the models folder). "
        "Timed from the switch until both workers answered /health with the new release "
        "(probes on new connections). No other load.\n\n"
        + table(["promote", "until every worker serves it"], rows)
        + f"\n\nMedian {median:.2f} s, slowest {max(times):.2f} s: up to one poll interval "
        "(a stat of `releases.json`) plus loading the new version (verify, skops load, the "
        "test prediction and the fast path's check).\n\n"
        "Reproduce: `python -m bench.workers`\n")
    goal = Goal(f"promote until every worker serves it ({WORKERS} workers), slowest",
                f"<= {GOAL_SECONDS:g} s", f"{max(times):.2f} s (median {median:.2f} s)",
                max(times) <= GOAL_SECONDS, f"{GOAL_SECONDS - max(times):+.2f} s")
    return Section(markdown=markdown, goals=(goal,))


if __name__ == "__main__":
    print(run().markdown)
