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
from recruit_reveal.artifacts.record_format import FOLDER, input_column
from recruit_reveal.catalog import default_catalog, load_catalog
from recruit_reveal.catalog.spec import probability_columns
from recruit_reveal.data.loading import load_training_data
from recruit_reveal.data.synthetic import generate
from recruit_reveal.monitoring.training_profile import division_mix, input_profile
from recruit_reveal.schema import feature_names

POSITIONS = default_catalog().keys
ALL_INPUTS = sorted({c for p in POSITIONS for c in feature_names(p)})
#: The shared five-level test catalog (TE and LB; stars).
FIVE_LEVELS = load_catalog(Path(__file__).with_name("fixtures") / "catalog_five_levels.toml")
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
           days: int = 3, version: str = "1.0.0", catalog=None,
           class_year: float | None = None) -> tuple[pa.Table, pd.Series]:
    """``n`` log records of fresh synthetic athletes scored by ``pipeline`` (and their truth);
    with ``class_year``, only the athletes of that class among ``n`` drawn."""
    frame = generate(position, n, seed=seed, catalog=catalog).reset_index(drop=True)
    if class_year is not None:
        frame = frame[frame["grad_year"] == class_year].reset_index(drop=True)
    truth = frame["division"]
    inputs = frame[feature_names(position)].copy()
    for name, delta in (shift or {}).items():
        inputs[name] = inputs[name] + delta
    proba = pipeline.predict_proba(inputs)
    levels = default_catalog().ladder.levels
    return records(position, inputs, proba, levels, seed, days=days, version=version), truth


def records(position: str, inputs: pd.DataFrame, proba: np.ndarray, levels, seed: int, *,
            days: int = 3, version: str = "1.0.0", all_inputs=ALL_INPUTS) -> pa.Table:
    """Log records of ``inputs`` answered with ``proba`` over ``levels`` (lowest first)."""
    n = len(inputs)
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
    for name in all_inputs:
        values = inputs[name] if name in inputs else pd.Series([None] * n)
        if name == "state":
            columns[input_column(name)] = pa.array(values.where(values.notna(), None).tolist(),
                                              pa.string())
        else:
            columns[input_column(name)] = pa.array(pd.to_numeric(values).to_numpy("float64"),
                                              pa.float64(), from_pandas=True)
    columns["integrated_inputs"] = pa.array([[] if i % 7 else ["senior_tds"] for i in range(n)],
                                            pa.list_(pa.string()))
    columns["unusual_inputs"] = pa.array([[] if i % 11 else ["weight_lbs"] for i in range(n)],
                                         pa.list_(pa.string()))
    for k, name in enumerate(probability_columns(levels)):
        columns[name] = pa.array(proba[:, k], pa.float64())
    columns["predicted"] = pa.array([levels[i] for i in proba.argmax(axis=1)])
    return pa.table(columns)


def athletes(spec, n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.Series]:
    """``n`` made-up athletes of any position (uniform within each input's range, the
    top ones taller and faster), and their level on ``spec``'s ladder: no generator or
    trained model needed, so any catalog's position can be monitored in a test."""
    levels = spec.levels
    code = rng.integers(0, len(levels), n)
    frame = pd.DataFrame(index=range(n))
    for c in spec.inputs:
        if c.kind == "state":
            frame[c.name] = rng.choice(["TX", "OH", "IA", "ME"], n)
            continue
        low, high = c.low if c.low is not None else 0.0, c.high if c.high is not None else 1.0
        share = (code + rng.uniform(0, 1, n)) / len(levels)
        frame[c.name] = low + (high - low) * (0.2 + 0.6 * share)
        if c.kind == "int":
            frame[c.name] = frame[c.name].round()
    return frame, pd.Series(np.asarray(levels, dtype=object)[code], name="division")


def write_release(models: Path, spec, frame: pd.DataFrame, target: pd.Series,
                  version: str = "1.0.0") -> None:
    """The metadata a monitoring run reads of a release of ``spec`` (its spec, classes,
    input schema and training profile), with no model file: the server has no catalog."""
    models.mkdir(parents=True, exist_ok=True)
    doc = {"position": spec.key, "model_version": version, "classes": list(spec.levels),
           "input_schema": {"columns": [{"name": n} for n in spec.feature_names]},
           "spec": spec.to_dict(), "data_fingerprint": {"rows": len(frame)},
           "input_profile": input_profile(frame, spec),
           "division_mix": division_mix(target, spec.levels), "metrics": {}}
    metadata_path(models, spec.key, version).write_text(json.dumps(doc))


def write_log(log: Path, table: pa.Table) -> None:
    """The records as the API writes them: one Parquet file per UTC date."""
    dates = pa.compute.strftime(table["time"], format="%Y-%m-%d").to_pylist()
    for day in sorted(set(dates)):
        mask = pa.array([d == day for d in dates])
        folder = log / FOLDER / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        pq.write_table(table.filter(mask), buffer)
        (folder / f"part-{day.replace('-', '')}T000000-1-{uuid.uuid4().hex[:8]}.parquet"
         ).write_bytes(buffer.getvalue())
