"""The monitor run over a month of traffic, and false alarms on unshifted streams.

A 10M-record prediction log (the shared log contract: hive-partitioned Parquet, 30 days,
the three positions) is generated with pyarrow from resampled synthetic athletes, in
chunks, vectorised.  ``monitoring.monitor_report.build_report`` (traffic, division mix,
drift of every input against the training profile, input rates) then runs in a fresh
interpreter, which reports its wall time and peak RSS.  Goals: <= 60 s and <= 2 GB.
Then 20 unshifted streams (fresh synthetic athletes of another seed) are judged against
the same profile: goal, at most one false alarm.

Reproduce: ``python -m bench.monitoring``
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from recruit_reveal.data.synthetic import generate
from recruit_reveal.monitoring.training_profile import division_mix, input_profile
from recruit_reveal.schema import DIVISIONS, POSITIONS, feature_names

from ._common import Goal, Section, run_isolated

RECORDS = 10_000_000
SMOKE_RECORDS = 300_000
CHUNK = 500_000
DAYS = 30
TRAINING_ROWS = 2000
STREAMS, STREAM_RECORDS = 20, 2000
ALL_INPUTS = sorted({c for p in POSITIONS for c in feature_names(p)})
START_MS = 1_772_323_200_000  # 2026-03-01T00:00Z


def _models(root: Path) -> Path:
    """Metadata with the training profile of TRAINING_ROWS synthetic rows per position."""
    models = root / "models"
    models.mkdir()
    for position in POSITIONS:
        frame = generate(position, TRAINING_ROWS, seed=1)
        doc = {"input_profile": input_profile(frame, position),
               "division_mix": division_mix(frame["division"]),
               "data_fingerprint": {"rows": TRAINING_ROWS},
               "metrics": {"cv": {"exact_accuracy": {"mean": 0.5, "std": 0.02}},
                           "cv_folds": 5}}
        (models / f"recruit_reveal_{position}_pipeline_v1.0.0.metadata.json").write_text(
            json.dumps(doc))
    return models


def _pool(seed: int) -> dict[str, dict[str, pa.Array]]:
    """Per position, 20k synthetic athletes as arrow columns to resample from."""
    pools = {}
    for position in POSITIONS:
        frame = generate(position, 20_000, seed=seed)
        pools[position] = {name: pa.array(frame[name] if name in frame else [None] * len(frame),
                                          pa.string() if name == "state" else pa.float64(),
                                          from_pandas=True)
                           for name in ALL_INPUTS}
    return pools


def _chunk(pools, n: int, rng: np.random.Generator, start: int) -> pa.Table:
    picks = pa.array(rng.integers(0, 20_000, n))
    columns: dict[str, pa.Array] = {
        "time": pa.array(START_MS + np.sort(rng.integers(0, DAYS * 86_400_000, n)),
                         pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
        "request_id": pa.array(np.arange(start, start + n)).cast(pa.string()),
        "athlete_ref": pa.nulls(n, pa.string()),
        "route": pa.array(np.full(n, "/predict")),
        "release_id": pa.array(np.ones(n, dtype="int64")),
        "version": pa.array(np.full(n, "1.0.0")),
    }
    # one position per chunk (in turn) keeps the resampling a single take per column
    position = POSITIONS[start // CHUNK % len(POSITIONS)]
    columns["position"] = pa.array(np.full(n, position))
    for name in ALL_INPUTS:
        columns[f"in_{name}"] = pools[position][name].take(picks)
    empty = pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, dtype="int32")),
                                     pa.array([], pa.string()))
    columns["integrated_inputs"] = empty
    columns["unusual_inputs"] = empty
    proba = rng.dirichlet(np.ones(4), n)
    for k, name in enumerate(("p_d3", "p_d2", "p_fcs", "p_p5")):
        columns[name] = pa.array(proba[:, k])
    columns["predicted"] = pa.array(np.array(DIVISIONS)[proba.argmax(axis=1)])
    return pa.table(columns)


def write_log(log: Path, records: int, seed: int = 0) -> float:
    """Write ``records`` log records in chunks, one file per (chunk, day); returns seconds."""
    began = time.perf_counter()
    rng, pools = np.random.default_rng(seed), _pool(seed + 2)
    for start in range(0, records, CHUNK):
        table = _chunk(pools, min(CHUNK, records - start), rng, start)
        days = ((table["time"].cast(pa.int64()).to_numpy() - START_MS) // 86_400_000)
        for day in np.unique(days):
            folder = log / "predictions" / f"date=2026-03-{day + 1:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(table.filter(pa.array(days == day)),
                           folder / f"part-{start:09d}-{day:02d}.parquet")
    return time.perf_counter() - began


_SCAN = """
import json, resource, sys, time
from recruit_reveal.monitoring.monitor_report import build_report
began = time.perf_counter()
report = build_report(sys.argv[1], sys.argv[2], "all")
seconds = time.perf_counter() - began
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "rss": rss, "records": report.verdict()["records"],
                  "drifted": report.verdict()["drifted"]}))
"""


def false_alarms(models: Path, root: Path) -> int:
    from recruit_reveal.monitoring.monitor_report import build_report

    alarms = 0
    for seed in range(STREAMS):
        log = root / f"stream-{seed}"
        write_log(log, STREAM_RECORDS, seed=100 + seed)
        alarms += bool(build_report(log, models, "all").verdict()["drifted"])
    return alarms


def run(smoke: bool = False) -> Section:
    records = SMOKE_RECORDS if smoke else RECORDS
    with tempfile.TemporaryDirectory(prefix="bench-monitoring-") as folder:
        root = Path(folder)
        models = _models(root)
        generated = write_log(root / "log", records)
        scan = run_isolated(_SCAN, str(root / "log"), str(models), timeout=1800)
        alarms = false_alarms(models, root)
    gib = scan["rss"] / 2**30
    goals = (
        Goal(f"monitor run over {records:,} log records", "<= 60 s",
             f"{scan['seconds']:.1f} s", scan["seconds"] <= 60),
        Goal(f"monitor run peak memory ({records:,} records)", "<= 2 GB", f"{gib:.2f} GiB",
             gib <= 2.0),
        Goal(f"false alarms over {STREAMS} unshifted streams", "<= 1", str(alarms),
             alarms <= 1),
    )
    md = (f"## Monitoring\n\nA prediction log of {scan['records']:,} records over {DAYS} "
          f"days (written in {generated:.0f} s) summarized by `build_report` in "
          f"{scan['seconds']:.1f} s with a peak RSS of {gib:.2f} GiB (fresh interpreter); "
          f"drifted: {scan['drifted'] or 'none'}. {STREAMS} unshifted streams of "
          f"{STREAM_RECORDS:,} records: {alarms} false alarm(s).\n\n"
          "Reproduce: `python -m bench.monitoring`\n")
    return Section(markdown=md, goals=goals)


if __name__ == "__main__":
    print(run().markdown)
