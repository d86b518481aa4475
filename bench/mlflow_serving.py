"""Serving peer: the same exported pipeline behind MLflow's scoring server.

The QB pipeline that ``bench.serving`` serves (the exported ``.pkl``) is converted
into an MLflow model folder with ``mlflow.sklearn.save_model(...,
pyfunc_predict_fn="predict_proba")`` inside the benchmark-only environment
``.venv-bench-mlflow/`` (see ``bench.mlflow_env``; MLflow is no dependency of the
product), and served with ``mlflow models serve --env-manager local`` (uvicorn, one
worker, like ``recruit-reveal serve``).  Both servers run at once on localhost and
take turns under the same load generator as ``bench.serving`` (its keep-alive
HTTP/1.1 client on asyncio streams), run by run, so both see the same machine.

Two comparisons, each single-client p50 and p99 and 32-client throughput:

- plain prediction: ``POST /predict/batch?explain=false`` with the one athlete
  against ``POST /invocations`` with the one model row;
- prediction with what-if: ``POST /predict`` (probabilities, what-if, factors and
  text) against ``POST /invocations`` with every row the what-if scores for that
  athlete (the base row, each lever's candidates, the factor rows) in one request.
  MLflow has no what-if: that request gets the same model outputs the what-if is
  built from, and leaves picking the smallest change, the factors and the text to
  the client.

Goals: recruit-reveal at least as fast as MLflow in each (latency ratio
recruit-reveal / MLflow <= 1, throughput ratio >= 1).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from . import mlflow_env
from ._common import Goal, Section, table
from .serving import (
    CLIENTS,
    QB,
    _free_port,
    _models_dir,
    _percentiles,
    _request,
    _run_load,
    _start_server,
)

REPEATS = 5
GOAL_RATIO = 1.0
POSITION = "qb"

#: Runs inside .venv-bench-mlflow: the exported pickle -> an MLflow model folder.
_CONVERT = r"""
import json, sys, warnings
import joblib, mlflow, mlflow.sklearn
import numpy as np
from mlflow.models import infer_signature
from recruit_reveal.data.synthetic import generate
from recruit_reveal.modeling.probabilities import model_frame, numeric_names
warnings.filterwarnings("ignore")
pkl, out, position = sys.argv[1:4]
pipeline = joblib.load(pkl)
sample = generate(position, 200, 7)
state = (sample["state"].to_numpy(dtype=object) if "state" in sample
         else np.full(len(sample), np.nan, dtype=object))
frame = model_frame(sample[numeric_names(position)].to_numpy(dtype=float), state, position)
signature = infer_signature(frame, pipeline.predict_proba(frame))
mlflow.sklearn.save_model(pipeline, out, serialization_format="cloudpickle",
                          pyfunc_predict_fn="predict_proba", signature=signature)
print(json.dumps({"mlflow": mlflow.__version__}))
"""


class _Recorder:
    """A scorer that remembers the rows it was asked to score (and scores them)."""

    def __init__(self, scorer: Any):
        self.scorer = scorer
        self.calls: list[tuple[np.ndarray, np.ndarray]] = []

    def predict_arrays(self, x: np.ndarray, state: np.ndarray) -> np.ndarray:
        self.calls.append((x.copy(), state.copy()))
        return np.asarray(self.scorer.predict_arrays(x, state))


def _rows_of_what_if(models: Path) -> tuple[list[str], list[list[Any]], np.ndarray]:
    """The model rows /predict scores for the QB athlete (base row first): columns,
    JSON-ready rows, and the pipeline's probabilities for them (to check MLflow's)."""
    from recruit_reveal.api.parsing import parse_athlete
    from recruit_reveal.api.predictions import arrays
    from recruit_reveal.artifacts import registry
    from recruit_reveal.modeling import explanations, probabilities
    from recruit_reveal.modeling.scoring import build_scorer

    loaded = registry.load(POSITION, "latest", models_dir=models)
    typical = {k: v for k, v in (loaded.metadata.typical_values or {}).items() if v is not None}
    recorder = _Recorder(build_scorer(loaded.pipeline, POSITION, typical))
    x, state = arrays(POSITION, [parse_athlete(QB).values])
    explanations.explain_arrays(recorder, x, state, POSITION, typical)
    if len(recorder.calls) != 1:
        raise RuntimeError(f"expected one scoring call per athlete, saw {len(recorder.calls)}")
    rx, rstate = recorder.calls[0]
    frame = probabilities.model_frame(rx, rstate, POSITION)
    proba = np.asarray(loaded.pipeline.predict_proba(frame))
    rows = [[None if isinstance(v, float) and np.isnan(v) else v for v in row]
            for row in frame.astype(object).itertuples(index=False, name=None)]
    return [str(c) for c in frame.columns], rows, proba


def _pkl(models: Path) -> Path:
    from recruit_reveal.artifacts import registry

    version = registry.load(POSITION, "latest", models_dir=models).version
    path = models / f"recruit_reveal_{POSITION}_pipeline_v{version}.pkl"
    if not path.is_file():
        raise RuntimeError(f"no exported pickle at {path}")
    return path


def _convert(pkl: Path, out: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run([str(mlflow_env.python()), "-c", _CONVERT, str(pkl), str(out),
                           POSITION], capture_output=True, text=True, check=False, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"converting to an MLflow model failed: {proc.stderr[-1500:]}")
    return time.perf_counter() - start


def _start_mlflow(model: Path) -> tuple[subprocess.Popen, int, float]:
    """``mlflow models serve`` on a free port: (process, port, seconds until /ping answered).

    Its own session, so stopping it also stops the uvicorn it starts."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    # mlflow execs ``uvicorn`` by name: the environment's own must come first.
    env["PATH"] = os.pathsep.join([str(mlflow_env.mlflow_cli().parent), env.get("PATH", "")])
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(mlflow_env.mlflow_cli()), "models", "serve", "--env-manager", "local",
         "-m", str(model), "-p", str(port), "-h", "127.0.0.1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow models serve exited: "
                               f"{proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1).status_code == 200:
                return proc, port, time.perf_counter() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    _stop(proc, group=True)
    raise RuntimeError("mlflow models serve did not answer /ping within 120 s")


def _stop(proc: subprocess.Popen, group: bool = False) -> None:
    try:
        if group:
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            proc.terminate()
        proc.wait(timeout=15)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        proc.wait(timeout=15)


def _invocations(columns: list[str], rows: list[list[Any]]) -> bytes:
    return json.dumps({"dataframe_split": {"columns": columns, "data": rows}}).encode()


def _check_mlflow(port: int, body: bytes, expected: np.ndarray) -> None:
    """MLflow's answer is the pipeline's predict_proba for the same rows."""
    r = httpx.post(f"http://127.0.0.1:{port}/invocations", content=body,
                   headers={"Content-Type": "application/json"}, timeout=60)
    r.raise_for_status()
    got = np.asarray(r.json()["predictions"], dtype=float)
    if got.shape != expected.shape or not np.allclose(got, expected, atol=1e-9):
        raise RuntimeError(f"MLflow's probabilities differ from the pipeline's "
                           f"(shape {got.shape} vs {expected.shape})")


def _measure(ports: dict[str, int], requests: dict[str, bytes], single_n: int,
             per_client: int, repeats: int) -> dict[str, dict[str, float]]:
    """Per request kind: median over runs of single-client p50/p99 and 32-client req/s.

    Kinds take turns within each run (the order reverses every other run)."""
    single: dict[str, list[tuple[float, float]]] = {k: [] for k in requests}
    rates: dict[str, list[float]] = {k: [] for k in requests}
    p99s: dict[str, list[float]] = {k: [] for k in requests}
    kinds = list(requests)
    for i in range(repeats):
        for kind in kinds if i % 2 == 0 else kinds[::-1]:
            port = ports[kind.split(":")[0]]
            latencies, _ = _run_load(port, requests[kind], 1, single_n)
            single[kind].append(_percentiles(latencies))
            latencies, wall = _run_load(port, requests[kind], CLIENTS, per_client)
            rates[kind].append(CLIENTS * per_client / wall)
            p99s[kind].append(_percentiles(latencies)[1])
    return {k: {"p50": statistics.median(p for p, _ in single[k]),
                "p99": statistics.median(p for _, p in single[k]),
                "rps": statistics.median(rates[k]),
                "p99_32": statistics.median(p99s[k])} for k in kinds}


def run(smoke: bool = False) -> Section:
    single_n = 20 if smoke else 400
    per_client = 2 if smoke else 40
    repeats = 1 if smoke else REPEATS
    env_seconds: float | None = None
    not_measured: str | None = None
    if smoke:
        not_measured = ("smoke run: the MLflow environment is created only by `make bench` "
                        "(`python -m bench.mlflow_env`), never by the tests")
    else:
        try:
            env_seconds = mlflow_env.ensure()
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            not_measured = f"the MLflow environment could not be created ({exc})"

    mlflow_versions: dict[str, str] = {}
    convert_s = mlflow_start_s = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        models, source = _models_dir(Path(tmp), smoke)
        columns, rows, proba = _rows_of_what_if(models)
        ours, url = _start_server(models)
        ports = {"ours": int(url.rsplit(":", 1)[1])}
        requests = {
            "ours:plain": _request("POST", "/predict/batch?explain=false", ports["ours"],
                                   json.dumps([QB]).encode()),
            "ours:whatif": _request("POST", "/predict", ports["ours"], json.dumps(QB).encode()),
        }
        theirs = None
        try:
            if not_measured is None:
                try:
                    mlflow_versions = mlflow_env.versions()
                    convert_s = _convert(_pkl(models), Path(tmp) / "mlflow-model")
                    theirs, ports["mlflow"], mlflow_start_s = _start_mlflow(
                        Path(tmp) / "mlflow-model")
                    plain_body = _invocations(columns, rows[:1])
                    whatif_body = _invocations(columns, rows)
                    _check_mlflow(ports["mlflow"], plain_body, proba[:1])
                    _check_mlflow(ports["mlflow"], whatif_body, proba)
                    requests["mlflow:plain"] = _request("POST", "/invocations",
                                                        ports["mlflow"], plain_body)
                    requests["mlflow:whatif"] = _request("POST", "/invocations",
                                                         ports["mlflow"], whatif_body)
                except (RuntimeError, OSError, subprocess.SubprocessError,
                        httpx.HTTPError) as exc:
                    detail = " ".join(str(exc).split())[-400:]
                    not_measured = f"MLflow's scoring server could not be run (... {detail})"
            results = _measure(ports, requests, single_n, per_client, repeats)
        finally:
            _stop(ours)
            if theirs is not None:
                _stop(theirs, group=True)
    return _section(results, source, len(rows), not_measured, env_seconds, convert_s,
                    mlflow_start_s, mlflow_versions, single_n, per_client, repeats)


def _section(results: dict[str, dict[str, float]], source: str, whatif_rows: int,
             not_measured: str | None, env_seconds: float | None, convert_s: float,
             mlflow_start_s: float, mlflow_versions: dict[str, str], single_n: int,
             per_client: int, repeats: int) -> Section:
    labels = {"plain": "plain prediction", "whatif": "prediction with what-if"}
    what = {
        "ours:plain": "`POST /predict/batch?explain=false`, 1 athlete",
        "ours:whatif": "`POST /predict` (what-if, factors, text)",
        "mlflow:plain": "`POST /invocations`, 1 row",
        "mlflow:whatif": f"`POST /invocations`, the {whatif_rows} rows the what-if scores",
    }
    rows = []
    for kind in ("plain", "whatif"):
        for server, name in (("ours", "recruit-reveal"), ("mlflow", "MLflow")):
            r = results.get(f"{server}:{kind}")
            if r is None:
                rows.append([labels[kind], name, what[f"{server}:{kind}"], "not measured", "",
                             "", ""])
            else:
                rows.append([labels[kind], name, what[f"{server}:{kind}"], f"{r['p50']:.2f} ms",
                             f"{r['p99']:.2f} ms", f"{r['rps']:.0f} req/s",
                             f"{r['p99_32']:.1f} ms"])
    goals: list[Goal] = []  # none in a smoke run, as in bench.serving
    ratio_rows = []
    for kind in ("plain", "whatif"):
        ours, theirs = results.get(f"ours:{kind}"), results.get(f"mlflow:{kind}")
        for metric, label, higher_better in (("p50", "p50, 1 client", False),
                                             ("p99", "p99, 1 client", False),
                                             ("rps", f"throughput, {CLIENTS} clients", True)):
            name = f"recruit-reveal / MLflow, {labels[kind]}, {label}"
            target = f">= {GOAL_RATIO:g}x" if higher_better else f"<= {GOAL_RATIO:g}x"
            if ours is None or theirs is None:
                ratio_rows.append([labels[kind], label, "not measured"])
                goals.append(Goal(name, target, "not measured", None,
                                  "no MLflow server; reason in its section"))
                continue
            ratio = ours[metric] / theirs[metric]
            ratio_rows.append([labels[kind], label, f"{ratio:.2f}x"])
            met = ratio >= GOAL_RATIO if higher_better else ratio <= GOAL_RATIO
            margin = ratio - GOAL_RATIO if higher_better else GOAL_RATIO - ratio
            goals.append(Goal(name, target, f"{ratio:.2f}x", met, f"{margin:+.2f}x"))
    env_line = ""
    if env_seconds is not None:
        made = f"created in this run in {env_seconds:.0f} s" if env_seconds else "already there"
        env_line = f"  The environment was {made} (`python -m bench.mlflow_env`)."
    versions = ", ".join(f"{k} {v}" for k, v in mlflow_versions.items())
    markdown = "\n".join([
        "## Serving peer: MLflow's scoring server",
        "",
        f"Model: the QB pipeline of the serving section ({source}), its exported `.pkl` "
        "converted with `mlflow.sklearn.save_model(..., pyfunc_predict_fn=\"predict_proba\")` "
        "(signature inferred from generated rows) and served by `mlflow models serve "
        "--env-manager local` from the benchmark-only environment `.venv-bench-mlflow/`"
        + (f" ({versions})" if versions else "") + "; MLflow is no dependency of the product."
        + env_line,
        "",
        "Both servers are uvicorn, one worker, on localhost, up at the same time; the load "
        "comes from the same client as the serving section (keep-alive HTTP/1.1 on asyncio "
        f"streams) and the four request kinds take turns within each of {repeats} run(s) "
        f"({single_n} sequential requests on one connection; {CLIENTS} clients x "
        f"{per_client} requests).  Figures are medians over the runs.  Before timing, "
        "MLflow's probabilities are checked against the pipeline's `predict_proba` for the "
        "same rows.",
        "",
        "With what-if: MLflow has no what-if.  Its request carries every row recruit-reveal's "
        f"what-if scores for this athlete ({whatif_rows}: the athlete, each lever's "
        "candidates and the factor rows), so its answer holds the same model outputs; "
        "picking the smallest change per lever, ranking the factors and writing the text "
        "are left to its client, while /predict does them and answers with the result.",
        "",
        table(["comparison", "server", "request", "p50, 1 client", "p99, 1 client",
               f"throughput, {CLIENTS} clients", f"p99, {CLIENTS} clients"], rows),
        "",
        "Ratios recruit-reveal / MLflow (latency: below 1 is faster; throughput: above 1 "
        "is more):",
        "",
        table(["comparison", "measure", "ratio"], ratio_rows),
        "",
        *( [f"MLflow not measured: {not_measured}.", ""] if not_measured else [
            f"Converting took {convert_s:.1f} s; `mlflow models serve` answered /ping "
            f"{mlflow_start_s:.1f} s after starting.", ""]),
        "Reproduce: `python -m bench.mlflow_serving`",
    ])
    smoke = bool(not_measured and not_measured.startswith("smoke"))
    return Section(markdown=markdown, goals=() if smoke else tuple(goals))


if __name__ == "__main__":
    print(run().markdown)
