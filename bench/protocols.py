"""Drop-in protocols: their throughput against /predict/batch?explain=false for the same rows.

One `recruit-reveal serve` (one worker, access log off) on 127.0.0.1 answers every
protocol of :data:`PROTOCOLS` and the baseline, POST /predict/batch?explain=false,
with the same QB rows.  Two loads, each run alternating baseline and protocols so
that all see the same machine, medians of several runs:

- one row per request, 32 keep-alive clients: requests per second;
- 1,000 rows per request, 4 keep-alive clients: rows per second.

The load generator is bench.serving's (a minimal keep-alive HTTP/1.1 client on
asyncio streams).  Goal: every protocol within 10% of the baseline's throughput
(ratio >= 0.90) in both loads.  A protocol is one more :class:`Protocol` entry: its
path and how it writes the rows.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from ._common import Goal, Section, table
from .serving import QB, _free_port, _models_dir, _run_load

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 5
#: Each protocol's throughput over the baseline's.
GOAL_RATIO = 0.90
CLIENTS = 32
BATCH_CLIENTS = 4
BATCH_ROWS = 1000
STARTUP_SECONDS = 90

Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class Protocol:
    """A way to ask for the same predictions: the path, the body for some rows, its type."""

    name: str
    path: str
    body: Callable[[Rows], bytes]
    content_type: str = "application/json"


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


#: The baseline: the service's own bulk scoring.
BASELINE = Protocol("POST /predict/batch?explain=false", "/predict/batch?explain=false", _json)

#: The protocols measured against it.
PROTOCOLS: tuple[Protocol, ...] = (
    Protocol("MLflow: POST /models/qb/invocations, dataframe_records", "/models/qb/invocations",
             lambda rows: _json({"dataframe_records": rows})),
    Protocol("MLflow: POST /models/qb/invocations, text/csv", "/models/qb/invocations",
             lambda rows: _csv(rows), "text/csv"),
)


def _csv(rows: Rows) -> bytes:
    names = list(dict.fromkeys(k for r in rows for k in r))
    lines = [",".join(names)] + [",".join("" if r.get(n) is None else str(r[n]) for n in names)
                                 for r in rows]
    return ("\n".join(lines) + "\n").encode()


def _rows(n: int) -> Rows:
    """``n`` QB rows, height and 40 time varied (the name column dropped)."""
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(n):
        row = {k: v for k, v in QB.items() if k != "name"}
        row["height_inches"] = float(rng.integers(66, 78))
        row["forty_yard_dash"] = round(float(rng.uniform(4.4, 5.2)), 2)
        rows.append(row)
    return rows


def _request(protocol: Protocol, rows: Rows, port: int) -> bytes:
    body = protocol.body(rows)
    head = (f"POST {protocol.path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: */*\r\n"
            f"Content-Type: {protocol.content_type}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def _serve(models: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MODEL_", "RATE_LIMIT", "WORKERS", "RELEASE_POLL", "MAX_BATCH"))}
    env.update(MODEL_DIR=str(models), ACCESS_LOG="0")
    command = Path(sys.executable).with_name("recruit-reveal")
    proc = subprocess.Popen([str(command), "serve", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"recruit-reveal serve exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    _stop(proc)
    raise RuntimeError(f"recruit-reveal serve was not ready within {STARTUP_SECONDS} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _same_answers(url: str, rows: Rows) -> None:
    """Every protocol answers the baseline's probabilities for ``rows`` (checked once,
    outside the timing), so the loads compare the same work."""
    with httpx.Client(base_url=url, timeout=60) as client:
        base = client.post(BASELINE.path, content=BASELINE.body(rows),
                           headers={"Content-Type": BASELINE.content_type})
        base.raise_for_status()
        classes = client.get("/models/qb").json()["classes"]
        expected = [[p["probabilities"][c] for c in classes] for p in base.json()["predictions"]]
        for protocol in PROTOCOLS:
            answer = client.post(protocol.path, content=protocol.body(rows),
                                 headers={"Content-Type": protocol.content_type})
            answer.raise_for_status()
            if answer.json()["predictions"] != expected:
                raise RuntimeError(f"{protocol.name} answers other probabilities than "
                                   f"{BASELINE.name}")


def _measure(port: int, rows: Rows, clients: int, per_client: int, repeats: int
             ) -> dict[str, float]:
    """Median rows per second of the baseline and every protocol, runs alternating."""
    everyone = (BASELINE, *PROTOCOLS)
    requests = {p.name: _request(p, rows, port) for p in everyone}
    rates: dict[str, list[float]] = {p.name: [] for p in everyone}
    for _ in range(repeats):
        for p in everyone:
            _, wall = _run_load(port, requests[p.name], clients, per_client)
            rates[p.name].append(clients * per_client * len(rows) / wall)
    return {name: statistics.median(r) for name, r in rates.items()}


def run(smoke: bool = False) -> Section:
    repeats = 1 if smoke else REPEATS
    per_client, batch_per_client = (2, 1) if smoke else (40, 5)
    batch_rows = 20 if smoke else BATCH_ROWS
    with tempfile.TemporaryDirectory() as tmp:
        models, source = _models_dir(Path(tmp), smoke)
        proc, url = _serve(models)
        port = int(url.rsplit(":", 1)[1])
        try:
            _same_answers(url, _rows(batch_rows))
            single = _measure(port, _rows(1), CLIENTS, per_client, repeats)
            batch = _measure(port, _rows(batch_rows), BATCH_CLIENTS, batch_per_client, repeats)
        finally:
            _stop(proc)

    rows, goals = [], []
    for p in (BASELINE, *PROTOCOLS):
        one, many = single[p.name] / single[BASELINE.name], batch[p.name] / batch[BASELINE.name]
        rows.append([p.name, f"{single[p.name]:.0f} req/s", f"{one:.2f}",
                     f"{batch[p.name]:,.0f} rows/s", f"{many:.2f}"])
        if p is BASELINE or smoke:
            continue
        for label, ratio in ((f"1 row, {CLIENTS} clients", one),
                             (f"{batch_rows:,} rows, {BATCH_CLIENTS} clients", many)):
            goals.append(Goal(f"{p.name} throughput vs {BASELINE.name}, {label}",
                              f">= {GOAL_RATIO:.2f}x", f"{ratio:.2f}x", ratio >= GOAL_RATIO,
                              f"{ratio - GOAL_RATIO:+.2f}x"))
    markdown = "\n".join([
        "## Drop-in protocols",
        "",
        f"Model: {source}. One `recruit-reveal serve` (one worker, access log off) on "
        "localhost answers every protocol and the baseline with the same QB rows (height "
        "and 40 time varied), each checked once to answer the baseline's probabilities. "
        f"Throughput is the median of {repeats} run(s), the routes alternating within each "
        f"run: one row per request from {CLIENTS} keep-alive clients x {per_client} "
        f"requests, and {batch_rows:,} rows per request from {BATCH_CLIENTS} clients x "
        f"{batch_per_client} requests (bench.serving's load generator).",
        "",
        table(["route", "1 row: throughput", "ratio", f"{batch_rows:,} rows: throughput",
               "ratio"], rows),
        "",
        f"Load average when the run ended: {os.getloadavg()[0]:.1f} on {os.cpu_count()} "
        "cores.",
        "",
        "Reproduce: `python -m bench.protocols`",
    ])
    return Section(markdown=markdown, goals=tuple(goals))


if __name__ == "__main__":
    print(run().markdown)
