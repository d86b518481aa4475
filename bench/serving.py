"""Serving speed: the fast scoring path, /predict under load against the HTTP floor, batches.

The service runs in its own process (``recruit-reveal serve``'s ``run``: uvicorn with
uvloop and httptools, one worker, access log off), on a free localhost port; the
load comes from this process, so on a small host client and server share the CPU.

Goals, each measured side by side in one run, medians of several runs:

- one row through the fast path (``modeling.scoring``) is >= 20x faster than the
  pipeline's ``predict_proba``;
- with 32 keep-alive clients, POST /predict (what-if included) reaches >= 50% of
  GET /health/live's throughput on the same server, with p99 <= 50 ms, and its p99 is
  at most 2x the plain prediction's (``/predict/batch?explain=false``, one athlete)
  in the same run;
- a 10,000-row batch with explanations takes <= 3x the batch without them;
- and the earlier ones: /predict p50 <= 10 ms for one client, a 10,000-row
  ``explain=false`` batch in <= 1 s.

The load generator is a minimal HTTP/1.1 keep-alive client on asyncio streams
(uvloop when installed), so that the client's own cost disturbs the ratio as little
as it can; it sends the same bytes httpx would.  Models come from ``models/`` when
every position loads from it; otherwise one is trained per position on the
synthetic sample into a temporary folder.
"""

from __future__ import annotations

import asyncio
import gc
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
GOAL_FAST_RATIO = 20.0
GOAL_THROUGHPUT_SHARE = 0.5
GOAL_P99_MS = 50.0
GOAL_EXPLAIN_RATIO = 3.0
GOAL_TAIL_RATIO = 2.0
CLIENTS = 32
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
    from recruit_reveal.artifacts.writer import save_pipeline
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
    env = {**os.environ, "MODEL_DIR": str(models), "MODEL_VERSION": "latest",
           "ACCESS_LOG": "0"}
    for name in ("MODEL_VERSION_QB", "MODEL_VERSION_RB", "MODEL_VERSION_WR", "RATE_LIMIT"):
        env.pop(name, None)
    code = ("import logging; logging.basicConfig(level=logging.WARNING); "
            "from recruit_reveal.api.app import run; "
            f"run('127.0.0.1', {port}, log_level='warning')")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"server exited: {err[-2000:]}")
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


def _request(method: str, path: str, port: int, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: */*\r\n"
    if method == "POST":
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    request: bytes) -> int:
    """One request on a keep-alive connection; the status code (the body is read)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def _load(port: int, request: bytes, clients: int, per_client: int
                ) -> tuple[list[float], float]:
    """``clients`` keep-alive connections sending ``request`` ``per_client`` times each:
    (latencies, wall time)."""
    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(clients)]
    try:
        for reader, writer in conns:  # warm-up: one request per connection
            assert await _exchange(reader, writer, request) == 200
        latencies: list[float] = []

        async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            for _ in range(per_client):
                start = time.perf_counter()
                status = await _exchange(reader, writer, request)
                latencies.append(time.perf_counter() - start)
                if status != 200:
                    raise RuntimeError(f"status {status}")

        start = time.perf_counter()
        await asyncio.gather(*(client(r, w) for r, w in conns))
        return latencies, time.perf_counter() - start
    finally:
        for _, writer in conns:
            writer.close()


def _run_load(port: int, request: bytes, clients: int, per_client: int
              ) -> tuple[list[float], float]:
    # This process holds the trained models: a full collection here takes about 100 ms and,
    # during a run, would be counted as the latency of every request in flight.
    gc.collect()
    gc.disable()
    try:
        import uvloop  # the client is cheaper on it, as the server is
        return uvloop.run(_load(port, request, clients, per_client))
    except ImportError:
        return asyncio.run(_load(port, request, clients, per_client))
    finally:
        gc.enable()


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


def _batch_body(n: int, positions: int) -> bytes:
    rng = np.random.default_rng(0)
    athletes = []
    for i in range(n):
        a = dict(SAMPLES[i % positions])
        a["height_inches"] = float(rng.integers(66, 78))
        a["forty_yard_dash"] = round(float(rng.uniform(4.4, 5.2)), 2)
        athletes.append(a)
    return json.dumps(athletes).encode()


def _in_process_ms(models: Path, repeats: int) -> dict[str, float]:
    """Median ms of one row through the pipeline and the fast path, and of one
    explained prediction through each."""
    from recruit_reveal.api.parsing import parse_athlete as _parse_athlete
    from recruit_reveal.api.predictions import arrays as _arrays
    from recruit_reveal.artifacts import registry
    from recruit_reveal.modeling import explanations, probabilities
    from recruit_reveal.modeling.scoring import build_scorer

    loaded = registry.load("qb", "latest", models_dir=models)
    typical = {k: v for k, v in (loaded.metadata.typical_values or {}).items() if v is not None}
    scorer = build_scorer(loaded.pipeline, "qb", typical)
    if scorer.mode != "fast":
        raise RuntimeError(f"no fast path for the benchmark model: {scorer.reason}")
    x, state = _arrays("qb", [_parse_athlete(QB).values])
    frame = probabilities.model_frame(x, state, "qb")

    def per_call(fn, n):
        fn()
        start = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - start) / n * 1000

    # Pipeline and fast path alternate within each repeat: same load, side by side.
    runs = [(per_call(lambda: loaded.pipeline.predict_proba(frame), 200),
             per_call(lambda: scorer.predict_arrays(x, state), 2000),
             per_call(lambda: explanations.explain_arrays(loaded.pipeline, x, state, "qb", typical),
                      50),
             per_call(lambda: explanations.explain_arrays(scorer, x, state, "qb", typical), 200))
            for _ in range(repeats)]
    keys = ("pipeline", "fast", "explain_pipeline", "explain_fast")
    return {k: statistics.median(r[i] for r in runs) for i, k in enumerate(keys)}


def run(smoke: bool = False) -> Section:
    single_n = 20 if smoke else 400
    per_client = 2 if smoke else 40
    batch_n = 60 if smoke else 10_000
    repeats = 1 if smoke else REPEATS

    with tempfile.TemporaryDirectory() as tmp:
        models, source = _models_dir(Path(tmp), smoke)
        inproc = _in_process_ms(models, repeats)
        proc, url = _start_server(models)
        port = int(url.rsplit(":", 1)[1])
        try:
            floor = [_percentiles(_sequential(url, single_n, "/health/live"))
                     for _ in range(repeats)]
            seq = [_percentiles(_sequential(url, single_n)) for _ in range(repeats)]
            live_req = _request("GET", "/health/live", port)
            predict_req = _request("POST", "/predict", port, json.dumps(QB).encode())
            plain_req = _request("POST", "/predict/batch?explain=false", port,
                                 json.dumps([QB]).encode())
            live_runs, predict_runs, plain_runs = [], [], []
            for _ in range(repeats):  # alternated, so all see the same conditions
                live_runs.append(_run_load(port, live_req, CLIENTS, per_client))
                predict_runs.append(_run_load(port, predict_req, CLIENTS, per_client))
                plain_runs.append(_run_load(port, plain_req, CLIENTS, per_client))

            body = _batch_body(batch_n, 1 if smoke else 3)
            with httpx.Client(base_url=url, timeout=300) as client:
                def post_batch(explain: bool) -> httpx.Response:
                    r = client.post(f"/predict/batch?explain={str(explain).lower()}",
                                    content=body, headers={"Content-Type": "application/json"})
                    r.raise_for_status()  # the whole body is read; parsing it is the client's
                    return r
                sizes = {}
                for explain in (False, True):  # checked once, outside the timing
                    checked = post_batch(explain)
                    assert checked.json()["count"] == batch_n
                    sizes[explain] = len(checked.content)
                plain_times, explained_times = [], []
                for _ in range(repeats):  # alternated, so both see the same conditions
                    plain_times.append(median_time(lambda: post_batch(False), 1)[0])
                    explained_times.append(median_time(lambda: post_batch(True), 1)[0])
                batch_plain = statistics.median(plain_times)
                batch_explained = statistics.median(explained_times)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()

    def rate(runs):
        return statistics.median(CLIENTS * per_client / wall for _, wall in runs)

    live_rps, predict_rps = rate(live_runs), rate(predict_runs)
    share = predict_rps / live_rps
    live_p50, live_p99 = (statistics.median(_percentiles(lat)[i] for lat, _ in live_runs)
                          for i in (0, 1))
    p50_32, p99_32 = (statistics.median(_percentiles(lat)[i] for lat, _ in predict_runs)
                      for i in (0, 1))
    plain_p50, plain_p99 = (statistics.median(_percentiles(lat)[i] for lat, _ in plain_runs)
                            for i in (0, 1))
    # Each run's ratio against the plain run right after it, then the median of those.
    tail_ratio = statistics.median(_percentiles(w)[1] / _percentiles(p)[1]
                                   for (w, _), (p, _) in zip(predict_runs, plain_runs,
                                                             strict=True))
    p50_1 = statistics.median(p for p, _ in seq)
    p99_1 = statistics.median(p for _, p in seq)
    fast_ratio = inproc["pipeline"] / inproc["fast"]
    explain_ratio = batch_explained / batch_plain
    rows = [
        ["pipeline `predict_proba`, 1 row (in process)", f"{inproc['pipeline']:.3f} ms", "",
         "1.0x"],
        ["fast path `scorer.predict_arrays`, 1 row (in process)", f"{inproc['fast']:.3f} ms",
         "", f"{fast_ratio:.1f}x faster"],
        ["`explain_arrays` through the pipeline, 1 athlete: prediction + what-if + factors",
         f"{inproc['explain_pipeline']:.2f} ms", "", ""],
        ["`explain_arrays` through the fast path, 1 athlete (what /predict runs)",
         f"{inproc['explain_fast']:.2f} ms", "",
         f"{inproc['explain_pipeline'] / inproc['explain_fast']:.1f}x faster"],
        ["GET /health/live over HTTP, 1 client (the HTTP floor: no model)",
         f"{statistics.median(p for p, _ in floor):.2f} ms",
         f"{statistics.median(p for _, p in floor):.2f} ms", ""],
        ["POST /predict over HTTP, 1 client", f"{p50_1:.2f} ms", f"{p99_1:.2f} ms", ""],
        [f"GET /health/live, {CLIENTS} keep-alive clients", f"{live_p50:.2f} ms",
         f"{live_p99:.2f} ms", f"{live_rps:.0f} req/s"],
        [f"POST /predict (what-if included), {CLIENTS} keep-alive clients", f"{p50_32:.2f} ms",
         f"{p99_32:.2f} ms", f"{predict_rps:.0f} req/s = {share:.0%} of /health/live"],
        [f"POST /predict/batch?explain=false, 1 athlete (the plain prediction), {CLIENTS} "
         "keep-alive clients", f"{plain_p50:.2f} ms", f"{plain_p99:.2f} ms",
         f"{rate(plain_runs):.0f} req/s; /predict p99 / this p99: {tail_ratio:.2f}x"],
        [f"POST /predict/batch?explain=false, {batch_n:,} rows", f"{batch_plain * 1000:.0f} ms",
         "", "1.0x"],
        [f"POST /predict/batch (explain=true, default), {batch_n:,} rows",
         f"{batch_explained * 1000:.0f} ms", "", f"{explain_ratio:.2f}x"],
    ]
    goals = () if smoke else (
        Goal("/predict p50 incl. what-if, 1 client, HTTP", f"<= {GOAL_P50_MS:g} ms",
             f"{p50_1:.2f} ms", p50_1 <= GOAL_P50_MS, f"{GOAL_P50_MS - p50_1:+.2f} ms"),
        Goal("10,000-row /predict/batch?explain=false", f"<= {GOAL_BATCH_S:g} s",
             f"{batch_plain:.2f} s", batch_plain <= GOAL_BATCH_S,
             f"{GOAL_BATCH_S - batch_plain:+.2f} s"),
        Goal("fast path vs pipeline predict_proba, 1 row", f">= {GOAL_FAST_RATIO:g}x",
             f"{fast_ratio:.1f}x", fast_ratio >= GOAL_FAST_RATIO,
             f"{fast_ratio - GOAL_FAST_RATIO:+.1f}x"),
        Goal(f"/predict throughput vs /health/live, {CLIENTS} clients",
             f">= {GOAL_THROUGHPUT_SHARE:.0%}", f"{share:.0%}",
             share >= GOAL_THROUGHPUT_SHARE, f"{(share - GOAL_THROUGHPUT_SHARE) * 100:+.0f} pts"),
        Goal(f"/predict p99, {CLIENTS} clients", f"<= {GOAL_P99_MS:g} ms", f"{p99_32:.1f} ms",
             p99_32 <= GOAL_P99_MS, f"{GOAL_P99_MS - p99_32:+.1f} ms"),
        Goal(f"what-if p99 / plain p99, {CLIENTS} clients", f"<= {GOAL_TAIL_RATIO:g}x",
             f"{tail_ratio:.2f}x", tail_ratio <= GOAL_TAIL_RATIO,
             f"{GOAL_TAIL_RATIO - tail_ratio:+.2f}x"),
        Goal("10,000-row batch, explain=true vs explain=false", f"<= {GOAL_EXPLAIN_RATIO:g}x",
             f"{explain_ratio:.2f}x", explain_ratio <= GOAL_EXPLAIN_RATIO,
             f"{GOAL_EXPLAIN_RATIO - explain_ratio:+.2f}x"),
    )
    try:
        import httptools  # noqa: F401
        import uvloop  # noqa: F401
        server_kind = "uvicorn with uvloop and httptools (`uvicorn[standard]`)"
    except ImportError:
        server_kind = "uvicorn with asyncio and its pure-Python HTTP parser"
    markdown = "\n".join([
        "## Serving",
        "",
        f"Model: {source}; the QB sample athlete (the batch cycles through all three sample "
        f"athletes, varying height and 40 time). {server_kind}, one worker process, access "
        "log off, on localhost; the load comes from the benchmark process (a minimal "
        "keep-alive HTTP/1.1 client on asyncio streams). In-process figures are medians of "
        f"{repeats} run(s), pipeline and fast path alternating; latency figures are medians "
        f"over {repeats} run(s) of each run's p50 and p99 ({single_n} sequential requests; "
        f"{CLIENTS} clients x {per_client} requests, /health/live, /predict and the plain "
        f"prediction taking turns); "
        f"throughput is the median of those runs. Batch times are medians of {repeats} "
        "run(s), from sending the JSON to receiving the whole response.",
        "",
        table(["measurement", "p50 / median", "p99", "ratio"], rows),
        "",
        "The default batch also runs what-if and factors for every athlete (a coarser grid "
        "of `explanations.BATCH_STEPS` candidates per input) and writes a much larger response. "
        "/health shows, per position, whether the fast path serves (`scoring`).",
        "",
        f"Where the time goes.  A single-client /predict takes {p50_1:.2f} ms against "
        f"{statistics.median(p for p, _ in floor):.2f} ms for /health/live.  Of the "
        f"difference, {inproc['explain_fast']:.2f} ms is `explain_arrays` on the fast path "
        f"(scoring, the what-if search, the factors and the text); the rest is reading and "
        f"validating the athlete and building and encoding an answer many times the size of "
        f"/health/live's, none of which /health/live does.  So under load /predict reaches "
        f"{share:.0%} of /health/live's throughput.  The explained batch answer is "
        f"{sizes[True] / sizes[False]:.1f}x the bytes of the plain one "
        f"({sizes[True] / 1e6:.1f} MB against {sizes[False] / 1e6:.1f} MB) and computes an "
        f"explanation per athlete, so its {explain_ratio:.2f}x follows the size of the "
        f"answer, not the scoring.",
        "",
        f"The tail under {CLIENTS} clients.  One worker answers one request at a time, so "
        f"a request waits behind the others in flight: p50 is about {CLIENTS} service "
        f"times for every route, and p99 adds whatever pauses the process (on a shared "
        f"host, mostly the scheduler).  /predict's p99 is {tail_ratio:.2f}x the plain "
        f"prediction's; see docs/api.md (Serving speed) for where the tail comes from.",
        "",
        f"Load average when the run ended: {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores.",
        "",
        "Reproduce: `python -m bench.serving`",
    ])
    return Section(markdown=markdown, goals=goals)


if __name__ == "__main__":
    print(run().markdown)
