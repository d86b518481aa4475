"""The Open Inference Protocol's throughput: POST /v2/models/qb/infer against
/predict/batch?explain=false for the same rows on the same server.

One `recruit-reveal serve` process (as bench/serving.py starts it); the two requests
alternate, each run a fresh request of every kind, so both see the same machine.
The rows are QB athletes (the /v2 model is one position); /v2 sends them as one
JSON tensor per column, /predict/batch as a list of athlete objects.  Goal: /v2's
median rows per second within 10% of the batch's (or faster).

Reproduce: ``python -m bench.inference_v2``
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from recruit_reveal.schema import SAMPLE_ATHLETES, columns_for

from ._common import Goal, Section, table
from .serving import _models_dir, _start_server

ROWS = 10_000
SMOKE_ROWS = 50
REPEATS = 7
SMOKE_REPEATS = 2
#: /v2's throughput may be this much below the batch's.
GOAL_SHARE = 0.9


def _rows(n: int) -> list[dict]:
    rng = np.random.default_rng(0)
    qb = {k: v for k, v in SAMPLE_ATHLETES[0].items() if k not in ("position", "name")}
    rows = []
    for _ in range(n):
        row = dict(qb)
        row["height_inches"] = float(rng.integers(66, 78))
        row["forty_yard_dash"] = round(float(rng.uniform(4.4, 5.2)), 2)
        row["senior_ypg"] = round(float(rng.uniform(80, 350)), 1)
        row["state"] = str(rng.choice(["TX", "OH", "CA", "ME"]))
        rows.append(row)
    return rows


def _bodies(rows: list[dict]) -> dict[str, tuple[str, bytes]]:
    """Each request: its path and body, carrying the same rows."""
    batch = json.dumps([{"position": "qb", **r} for r in rows]).encode()
    inputs = [{"name": c.name, "datatype": "BYTES" if c.kind == "state" else "FP64",
               "shape": [len(rows)], "data": [r.get(c.name) for r in rows]}
              for c in columns_for("qb") if any(c.name in r for r in rows)]
    v2 = json.dumps({"inputs": inputs}).encode()
    v2_binary = json.dumps({"inputs": inputs,
                            "parameters": {"binary_data_output": True}}).encode()
    return {"/predict/batch?explain=false": ("/predict/batch?explain=false", batch),
            "/v2/models/qb/infer": ("/v2/models/qb/infer", v2),
            "/v2/models/qb/infer, binary outputs": ("/v2/models/qb/infer", v2_binary)}


def _time(client: httpx.Client, path: str, body: bytes) -> float:
    start = time.perf_counter()
    response = client.post(path, content=body, headers={"Content-Type": "application/json"})
    elapsed = time.perf_counter() - start
    response.raise_for_status()
    return elapsed


def _measure(url: str, bodies: dict[str, tuple[str, bytes]], repeats: int
             ) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in bodies}
    with httpx.Client(base_url=url, timeout=120) as client:
        for path, body in bodies.values():  # warm-up: imports, caches, first allocations
            _time(client, path, body)
        for _ in range(repeats):  # alternate, so drift in the machine hits every kind
            for name, (path, body) in bodies.items():
                times[name].append(_time(client, path, body))
    return times


def run(smoke: bool = False) -> Section:
    n, repeats = (SMOKE_ROWS, SMOKE_REPEATS) if smoke else (ROWS, REPEATS)
    bodies = _bodies(_rows(n))
    with tempfile.TemporaryDirectory() as tmp:
        models, origin = _models_dir(Path(tmp), smoke)
        proc, url = _start_server(models)
        try:
            times = _measure(url, bodies, repeats)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    medians = {name: statistics.median(t) for name, t in times.items()}
    batch = medians["/predict/batch?explain=false"]
    v2 = medians["/v2/models/qb/infer"]
    share = batch / v2
    rows = [[name, f"{len(bodies[name][1]) / 1e6:.2f} MB", f"{m * 1000:.0f} ms",
             f"{n / m:,.0f}", f"{batch / m:.2f}x"] for name, m in medians.items()]
    md = "\n".join([
        "## Open Inference Protocol: /v2 infer against /predict/batch",
        "",
        f"{n:,} QB rows per request, one server process (one worker), models: {origin}. "
        f"Median of {repeats} alternating runs of each request over one keep-alive "
        "connection, timed at the client (sending, parsing, scoring, answering). /v2 sends "
        "one JSON tensor per column and answers `probabilities` [n, 4] and `division` [n]; "
        "the batch answers a full prediction object per row.",
        "",
        table(["request", "body", "median", "rows/s", "throughput vs batch"], rows),
        "",
        "Reproduce: `python -m bench.inference_v2`",
        "",
    ])
    goal = Goal(f"/v2 infer throughput vs /predict/batch?explain=false, {n:,} rows",
                f">= {GOAL_SHARE:.0%}", f"{share:.0%}", share >= GOAL_SHARE,
                f"{(share - GOAL_SHARE) * 100:+.0f} points")
    return Section(markdown=md, goals=(goal,))


if __name__ == "__main__":
    print(run().markdown)
