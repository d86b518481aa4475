"""What observability costs: /predict throughput with METRICS on against METRICS=0.

Two real servers (`recruit-reveal serve`, one worker each, ACCESS_LOG=0) serve the same
models folder at the same time; the benchmark loads them in turn, alternating
which goes first, with keep-alive clients sending one QB to /predict, and compares
the medians of the runs.  With metrics on, every request goes through the metrics
middleware (route template, in flight, count, latency) and the prediction counter
and scoring time are recorded.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from pydantic_core import to_json

from ._common import Goal, Section, stop_server, table
from .serving import QB, ROOT, _free_port, _models_dir, _request, _run_load

#: Throughput with metrics on, as a share of the throughput with them off.
GOAL_SHARE = 0.90
REPEATS = 7
CLIENTS = 8


def _serve(models: Path, **env_vars: str) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MODEL_", "RATE_LIMIT", "WORKERS", "RELEASE_POLL", "METRICS",
                                "LOG_FORMAT"))}
    env.update(MODEL_DIR=str(models), ACCESS_LOG="0", **env_vars)
    command = Path(sys.executable).with_name("recruit-reveal")
    proc = subprocess.Popen([str(command), "--quiet", "serve", "--host", "127.0.0.1",
                             "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"the server ({env_vars}) did not become ready within 90 s")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            time.sleep(0.1)


def _throughput(port: int, per_client: int) -> float:
    _, wall = _run_load(port, _request("POST", "/predict", port, to_json(QB)), CLIENTS,
                        per_client)
    return CLIENTS * per_client / wall


def run(smoke: bool = False) -> Section:
    repeats, per_client = (2, 10) if smoke else (REPEATS, 60)
    with tempfile.TemporaryDirectory() as tmp:
        models, origin = _models_dir(Path(tmp), smoke)
        servers = {"on": _serve(models, METRICS="1"), "off": _serve(models, METRICS="0")}
        try:
            runs: dict[str, list[float]] = {"on": [], "off": []}
            for i in range(repeats):
                # Alternate the order, so neither setting always meets a warmer machine.
                for name in ("on", "off") if i % 2 == 0 else ("off", "on"):
                    runs[name].append(_throughput(servers[name][1], per_client))
            scraped = httpx.get(f"http://127.0.0.1:{servers['on'][1]}/metrics", timeout=10)
            assert scraped.status_code == 200 and "recruit_reveal_predictions_total" in scraped.text
        finally:
            for proc, _ in servers.values():
                stop_server(proc)
    on, off = statistics.median(runs["on"]), statistics.median(runs["off"])
    share = on / off
    rows = [[name, f"{statistics.median(v):.0f}", ", ".join(f"{x:.0f}" for x in v)]
            for name, v in (("METRICS on (default)", runs["on"]), ("METRICS=0", runs["off"]))]
    markdown = (
        "## Observability: /predict throughput with metrics on and off\n\n"
        f"Two `recruit-reveal serve` processes (one worker each, ACCESS_LOG=0) on the same "
        f"models ({origin}), loaded in turn, {repeats} runs each in alternating order: "
        f"{CLIENTS} keep-alive clients, {per_client} `/predict` requests each (one QB, "
        "with its what-if and factors).\n\n"
        + table(["server", "median requests/s", "runs"], rows)
        + f"\n\nWith metrics on: {share:.1%} of the throughput without (the metrics "
        "middleware, the prediction counter and the scoring histogram on every request).\n\n"
        "Reproduce: `python -m bench.observability`\n")
    goal = Goal("/predict throughput with metrics on, share of METRICS=0",
                f">= {GOAL_SHARE:.0%}", f"{share:.1%}", share >= GOAL_SHARE,
                f"{(share - GOAL_SHARE) * 100:+.1f} points")
    return Section(markdown=markdown, goals=(goal,))


if __name__ == "__main__":
    print(run().markdown)
