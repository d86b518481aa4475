"""Serving speed: /predict over real HTTP, a 10,000-row batch, and bare predict_proba.

The service runs in its own process (uvicorn on a free localhost port), so
client and server do not share an interpreter; on two cores they still share
the CPU, as they would on a small host.  Goals: p50 <= 10 ms for
one /predict including what-if, and a 10,000-row batch in <= 1 s.

Models come from ``models/`` when every position loads from it; otherwise
one is trained per position on the synthetic sample into a temporary folder.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from recruit_reveal.schema import SAMPLE_ATHLETES

from ._common import Goal, Section, median_time, table

REPEATS = 5
GOAL_P50_MS = 10.0
GOAL_BATCH_S = 1.0
ROOT = Path(__file__).resolve().parents[1]

SAMPLES = SAMPLE_ATHLETES
QB = SAMPLES[0]


def _models_dir(tmp: Path, smoke: bool) -> tuple[Path, str]:
    """A folder every position loads from, and where it came from."""
    from recruit_reveal.artifacts import registry
    from recruit_reveal.errors import RecruitRevealError
    from recruit_reveal.schema import POSITIONS

    repo_models = ROOT / "models"
    if not smoke:
        try:
            versions = [registry.load(p, "latest", models_dir=repo_models).version
                        for p in POSITIONS]
            return repo_models, f"models/ (versions {', '.join(versions)})"
        except RecruitRevealError:
            pass
    from recruit_reveal.artifacts.export import save_pipeline
    from recruit_reveal.data.synthetic import write_sample
    from recruit_reveal.modeling.training import train_position

    rows = 200 if smoke else 2000
    csv = write_sample(tmp / "training.csv", rows_per_position=rows, seed=2026)
    folder = tmp / "models"
    # Smoke mode serves QB only (the benchmark's athlete); the batch then uses QB rows.
    for pos in ("qb",) if smoke else POSITIONS:
        result = train_position(csv, pos, seed=0, cv_folds=2 if smoke else 3, bayes=False)
        save_pipeline(result, folder, "1.0.0", changelog="bench.serving")
    return folder, f"trained here on the synthetic sample ({rows} rows per position)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(models: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "MODEL_DIR": str(models), "MODEL_VERSION": "latest"}
    for pos in ("QB", "RB", "WR"):
        env.pop(f"MODEL_VERSION_{pos}", None)
    code = ("import logging; logging.basicConfig(level=logging.WARNING); "
            "from recruit_reveal.api.app import run; "
            f"run('127.0.0.1', {port}, log_level='warning')")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not become ready within 60 s")


def _percentiles(latencies: list[float]) -> tuple[float, float]:
    arr = np.asarray(latencies) * 1000
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def _sequential(url: str, n: int, path: str = "/predict") -> list[float]:
    out = []

    def call(client):
        if path == "/predict":
            return client.post(path, json=QB)
        return client.get(path)

    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(5):  # warm-up: connections, caches
            call(client).raise_for_status()
        for _ in range(n):
            start = time.perf_counter()
            response = call(client)
            out.append(time.perf_counter() - start)
            response.raise_for_status()
    return out


async def _concurrent(url: str, clients: int, per_client: int) -> tuple[list[float], float]:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        await asyncio.gather(*(client.post("/predict", json=QB) for _ in range(clients)))
        latencies: list[float] = []

        async def worker():
            for _ in range(per_client):
                start = time.perf_counter()
                response = await client.post("/predict", json=QB)
                latencies.append(time.perf_counter() - start)
                response.raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return latencies, time.perf_counter() - start


def _batch_body(n: int, positions: int) -> bytes:
    rng = np.random.default_rng(0)
    athletes = []
    for i in range(n):
        a = dict(SAMPLES[i % positions])
        a["height_inches"] = float(rng.integers(66, 78))
        a["forty_yard_dash"] = round(float(rng.uniform(4.4, 5.2)), 2)
        athletes.append(a)
    return json.dumps(athletes).encode()


def _bare_predict_ms(models: Path) -> tuple[float, float]:
    """Median ms of bare predict_proba on one row, and of one explained prediction."""
    from recruit_reveal.api.parsing import parse_athlete as _parse_athlete
    from recruit_reveal.api.predictions import arrays as _arrays
    from recruit_reveal.artifacts import registry
    from recruit_reveal.modeling import explanations as insights

    loaded = registry.load("qb", "latest", models_dir=models)
    athlete = _parse_athlete(QB)
    x, state = _arrays("qb", [athlete.values])
    frame = insights.model_frame(x, state, "qb")
    typical = loaded.metadata.typical_values or {}

    def many(fn, n=200):
        times = []
        for _ in range(n):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1000

    for _ in range(10):
        loaded.pipeline.predict_proba(frame)
    bare = statistics.median(many(lambda: loaded.pipeline.predict_proba(frame))
                             for _ in range(REPEATS))
    explained = statistics.median(
        many(lambda: insights.explain_arrays(loaded.pipeline, x, state, "qb", typical), 100)
        for _ in range(REPEATS))
    return bare, explained


def run(smoke: bool = False) -> Section:
    single_n = 20 if smoke else 400
    clients, per_client = (32, 2) if smoke else (32, 25)
    batch_n = 60 if smoke else 10_000
    repeats = 1 if smoke else REPEATS

    with tempfile.TemporaryDirectory() as tmp:
        models, source = _models_dir(Path(tmp), smoke)
        bare_ms, explained_ms = _bare_predict_ms(models)
        proc, url = _start_server(models)
        try:
            floor = [_percentiles(_sequential(url, single_n, "/health/live"))
                     for _ in range(repeats)]
            seq = [_percentiles(_sequential(url, single_n)) for _ in range(repeats)]
            conc_runs = [asyncio.run(_concurrent(url, clients, per_client))
                         for _ in range(repeats)]
            conc = [_percentiles(lat) for lat, _ in conc_runs]
            throughput = statistics.median(clients * per_client / wall for _, wall in conc_runs)

            body = _batch_body(batch_n, 1 if smoke else 3)
            with httpx.Client(base_url=url, timeout=300) as client:
                def post_batch(explain: bool):
                    r = client.post(f"/predict/batch?explain={str(explain).lower()}",
                                    content=body, headers={"Content-Type": "application/json"})
                    r.raise_for_status()
                    assert r.json()["count"] == batch_n
                post_batch(False)
                batch_plain, _ = median_time(lambda: post_batch(False), repeats)
                batch_explained, _ = median_time(lambda: post_batch(True), repeats)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()

    p50_1 = statistics.median(p for p, _ in seq)
    p99_1 = statistics.median(p for _, p in seq)
    p50_32 = statistics.median(p for p, _ in conc)
    p99_32 = statistics.median(p for _, p in conc)
    rows = [
        ["bare `predict_proba`, 1 row (in process)", f"{bare_ms:.2f} ms", "", "1.0x"],
        ["`insights.explain_arrays`, 1 row: prediction + what-if + factors (in process)",
         f"{explained_ms:.2f} ms", "", f"{explained_ms / bare_ms:.1f}x"],
        ["GET /health/live over HTTP, 1 client (the HTTP floor: no model)",
         f"{statistics.median(p for p, _ in floor):.2f} ms",
         f"{statistics.median(p for _, p in floor):.2f} ms", ""],
        ["POST /predict over HTTP, 1 client", f"{p50_1:.2f} ms", f"{p99_1:.2f} ms",
         f"{p50_1 / bare_ms:.1f}x"],
        [f"POST /predict over HTTP, {clients} concurrent clients", f"{p50_32:.2f} ms",
         f"{p99_32:.2f} ms", f"{p50_32 / bare_ms:.1f}x ({throughput:.0f} req/s)"],
        [f"POST /predict/batch?explain=false, {batch_n:,} rows", f"{batch_plain * 1000:.0f} ms",
         "", ""],
        [f"POST /predict/batch (explain=true, default), {batch_n:,} rows",
         f"{batch_explained * 1000:.0f} ms", "", ""],
    ]
    goals = () if smoke else (
        Goal("/predict p50 incl. what-if, 1 client, HTTP", f"<= {GOAL_P50_MS:g} ms",
             f"{p50_1:.2f} ms", p50_1 <= GOAL_P50_MS, f"{GOAL_P50_MS - p50_1:+.2f} ms"),
        Goal("10,000-row /predict/batch?explain=false", f"<= {GOAL_BATCH_S:g} s",
             f"{batch_plain:.2f} s", batch_plain <= GOAL_BATCH_S,
             f"{GOAL_BATCH_S - batch_plain:+.2f} s"),
    )
    markdown = "\n".join([
        "## Serving",
        "",
        f"Model: {source}; the QB sample athlete (the batch cycles through all "
        "three sample athletes, varying height and 40 time). uvicorn, one worker process, "
        "on localhost; the client runs in the benchmark process. Latency figures are medians "
        f"over {repeats} run(s) of each run's p50 and p99 ({single_n} sequential requests; "
        f"{clients} clients x {per_client} requests). Batch times are medians of {repeats} "
        "run(s), from sending the JSON to receiving the whole response. The ratio column "
        "divides by bare `predict_proba`, measured in the same run.",
        "",
        table(["measurement", "p50 / median", "p99", "vs bare predict_proba"], rows),
        "",
        "The batch goal is checked on bulk scoring (`explain=false`); the default batch "
        "also runs what-if and factors for every athlete (a coarser grid of "
        "`insights.BATCH_STEPS` candidates per input) and writes a much larger response.",
        "",
        f"Load average when the run ended: {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores.",
        "",
        "uvicorn runs with its pure-Python HTTP parser and asyncio loop (httptools and "
        "uvloop are not installed); `uvicorn[standard]` would lower the HTTP floor.",
        "",
        "Reproduce: `python -m bench.serving`",
    ])
    return Section(markdown=markdown, goals=goals)


if __name__ == "__main__":
    print(run().markdown)
