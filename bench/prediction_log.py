"""The prediction log's cost: /predict and /predict/batch?explain=false throughput with
PREDICTION_LOG on against off.

Two servers run side by side in the same run (``recruit-reveal serve``'s ``run``: one
worker each, access log off, the default flush settings), one writing every prediction
to a temporary folder, one with no log.  The rounds alternate between them so both see
the same machine; the figure is the median of the rounds.  Goal: with the log on, each
route keeps >= 90% of its throughput with the log off.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from ._common import Goal, Section, table
from .serving import QB, _batch_body, _free_port, _models_dir, _request, _run_load

ROOT = Path(__file__).resolve().parents[1]
GOAL_SHARE = 0.9
CLIENTS = 8


def _start(models: Path, log: Path | None) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MODEL_", "RATE_LIMIT", "PREDICTION_LOG", "WORKERS"))}
    env.update(MODEL_DIR=str(models), ACCESS_LOG="0")
    if log is not None:
        env["PREDICTION_LOG"] = str(log)
    code = ("import logging; logging.basicConfig(level=logging.WARNING); "
            "from recruit_reveal.api.app import run; "
            f"run('127.0.0.1', {port}, log_level='warning')")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("bench.prediction_log: a server exited while starting")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("bench.prediction_log: a server was not ready within 90 s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _rate(port: int, request: bytes, clients: int, per_client: int, rows: int) -> float:
    """Athletes scored per second by ``clients`` keep-alive connections."""
    _, wall = _run_load(port, request, clients, per_client)
    return clients * per_client * rows / wall


def _records(folder: Path) -> int:
    import pyarrow.dataset as ds

    if not (folder / "predictions").is_dir():
        return 0
    return int(ds.dataset(str(folder / "predictions"), format="parquet",
                          partitioning="hive").count_rows())


def run(smoke: bool = False) -> Section:
    rounds = 2 if smoke else 7
    per_client, batch_rows, batches = (20, 200, 2) if smoke else (150, 1000, 6)
    with tempfile.TemporaryDirectory() as tmp:
        models, source = _models_dir(Path(tmp), smoke)
        log = Path(tmp) / "log"
        servers = {"off": _start(models, None), "on": _start(models, log)}
        one = _request("POST", "/predict", 0, json.dumps(QB).encode())
        many = _request("POST", "/predict/batch?explain=false", 0,
                        _batch_body(batch_rows, 1 if smoke else 3))
        rates: dict[tuple[str, str], list[float]] = {}
        try:
            for _ in range(rounds):
                for mode, (_, port) in servers.items():
                    rates.setdefault(("predict", mode), []).append(
                        _rate(port, one, CLIENTS, per_client, 1))
                    rates.setdefault(("batch", mode), []).append(
                        _rate(port, many, 2, batches, batch_rows))
        finally:
            for proc, _ in servers.values():
                _stop(proc)  # the logging server writes what it holds as it stops
        recorded = _records(log)
    return _section(rates, rounds, recorded, source, per_client, batch_rows)


def _section(rates: dict[tuple[str, str], list[float]], rounds: int, recorded: int,
             source: str, per_client: int, batch_rows: int) -> Section:
    med = {k: statistics.median(v) for k, v in rates.items()}
    names = {"predict": f"POST /predict, {CLIENTS} clients (athletes/s)",
             "batch": f"POST /predict/batch?explain=false, {batch_rows} rows, 2 clients "
                      "(athletes/s)"}
    rows, goals = [], []
    for route, label in names.items():
        share = med[(route, "on")] / med[(route, "off")]
        rows.append([label, f"{med[(route, 'off')]:,.0f}", f"{med[(route, 'on')]:,.0f}",
                     f"{share:.0%}"])
        goals.append(Goal(f"{label.split(' (')[0]}: throughput with the prediction log on",
                          f">= {GOAL_SHARE:.0%} of off", f"{share:.0%}", share >= GOAL_SHARE,
                          f"{(share - GOAL_SHARE) * 100:+.0f} points"))
    markdown = (
        "## The prediction log's cost\n\n"
        "Two `recruit-reveal serve` servers (one worker each, access log off) in the same "
        "run, one with PREDICTION_LOG on a local folder (default flush: every 5 s or "
        f"10,000 rows), one without; models: {source}. {rounds} alternating rounds; "
        f"medians. /predict: {CLIENTS} keep-alive clients x {per_client} requests (what-if "
        "included).\n\n"
        + table(["route", "log off", "log on", "on / off"], rows)
        + f"\n\nThe logging server recorded {recorded:,} athletes (every one it scored, "
        "warm-up included), written as it stopped or during the run.\n\n"
        "Reproduce: `python -m bench.prediction_log`\n")
    return Section(markdown=markdown, goals=tuple(goals))


if __name__ == "__main__":
    print(run().markdown)
