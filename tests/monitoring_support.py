"""A synthetic prediction log for the monitoring tests: sample athletes scored by a model.

Records follow the shared log contract (docs/monitoring.md); the models folder gets the
training profile written into its metadata, as exports do.
"""

from __future__ import annotations

import io
import json
import shutil
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from recruit_reveal.artifacts.layout import metadata_path
from recruit_reveal.data.loading import load_training_data
from recruit_reveal.data.synthetic import generate
from recruit_reveal.monitoring.training_profile import division_mix, input_profile
from recruit_reveal.schema import DIVISIONS, POSITIONS, feature_names

ALL_INPUTS = sorted({c for p in POSITIONS for c in feature_names(p)})
START = datetime(2026, 3, 1, tzinfo=timezone.utc)


def profiled_models(target: Path, exported: Path, sample_csv: Path) -> Path:
    """A copy of ``exported`` whose 1.0.0 metadata holds input_profile and division_mix."""
    shutil.copytree(exported, target, symlinks=True)
    for position in POSITIONS:
        data = load_training_data(sample_csv, position)
        path = metadata_path(target, position, "1.0.0")
        doc = json.loads(path.read_text())
        doc["input_profile"] = input_profile(data.frame, position)
        doc["division_mix"] = division_mix(data.target)
        path.write_text(json.dumps(doc))
    return target


def stream(pipeline, position: str, n: int, seed: int, *, shift: dict[str, float] | None = None,
           days: int = 3, version: str = "1.0.0") -> tuple[pa.Table, pd.Series]:
    """``n`` log records of fresh synthetic athletes scored by ``pipeline`` (and their truth)."""
    frame = generate(position, n, seed=seed).reset_index(drop=True)
    truth = frame["division"]
    inputs = frame[feature_names(position)].copy()
    for name, delta in (shift or {}).items():
        inputs[name] = inputs[name] + delta
    proba = pipeline.predict_proba(inputs)
    rng = np.random.default_rng(seed)
    times = [START + timedelta(seconds=float(s)) for s in
             np.sort(rng.uniform(0, days * 86400, n))]
    columns: dict[str, pa.Array] = {
        "time": pa.array(times, pa.timestamp("ms", tz="UTC")),
        "request_id": pa.array([uuid.UUID(int=int(rng.integers(2**62)) << 40 | i).hex
                                for i in range(n)]),
        "athlete_ref": pa.array([f"{position}-{seed}-{i}" for i in range(n)], pa.string()),
        "route": pa.array(["/predict"] * n),
        "position": pa.array([position] * n),
        "release_id": pa.array([1] * n, pa.int64()),
        "version": pa.array([version] * n),
    }
    for name in ALL_INPUTS:
        values = inputs[name] if name in inputs else pd.Series([None] * n)
        if name == "state":
            columns[f"in_{name}"] = pa.array(values.where(values.notna(), None).tolist(),
                                              pa.string())
        else:
            columns[f"in_{name}"] = pa.array(pd.to_numeric(values).to_numpy("float64"),
                                              pa.float64(), from_pandas=True)
    columns["integrated_inputs"] = pa.array([[] if i % 7 else ["senior_tds"] for i in range(n)],
                                            pa.list_(pa.string()))
    columns["unusual_inputs"] = pa.array([[] if i % 11 else ["weight_lbs"] for i in range(n)],
                                         pa.list_(pa.string()))
    for k, name in enumerate(("p_d3", "p_d2", "p_fcs", "p_p5")):
        columns[name] = pa.array(proba[:, k], pa.float64())
    columns["predicted"] = pa.array([DIVISIONS[i] for i in proba.argmax(axis=1)])
    return pa.table(columns), truth


def write_log(log: Path, table: pa.Table) -> None:
    """The records as the API writes them: one Parquet file per UTC date."""
    dates = pa.compute.strftime(table["time"], format="%Y-%m-%d").to_pylist()
    for day in sorted(set(dates)):
        mask = pa.array([d == day for d in dates])
        folder = log / "predictions" / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        pq.write_table(table.filter(mask), buffer)
        (folder / f"part-{day.replace('-', '')}T000000-1-{uuid.uuid4().hex[:8]}.parquet"
         ).write_bytes(buffer.getvalue())
