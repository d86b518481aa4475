"""Retrain a release exactly from its record: ``recruit-reveal retrain POSITION VERSION``.

The metadata of a version records its source pinned to the version read
(:class:`~recruit_reveal.artifacts.metadata.DataSource`), the column mapping,
the estimator and its parameters, the seed, the folds and whether a notebook
ran it.  :func:`retrain` reads the source again, checks the content digest of
the rows against the recorded one and only then trains: the same rows give the
same model.  Changed data (a CSV rewritten in place) is refused, naming what
changed, unless ``allow_changed_data``; then the changelog records the change.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import DataValidationError, Problem, RecruitRevealError
from .runner import train
from .summary import RunSummary


def retrain(position: str, version: str, new_version: str | None = None, *,
            allow_changed_data: bool = False, models_dir: str | os.PathLike[str] = "models",
            runs_dir: str | os.PathLike[str] = "runs") -> RunSummary:
    """Train ``position`` again as its ``version`` was trained; the summary of the run."""
    from ..artifacts.registry import describe
    from ..data import load_training_data

    meta = describe(position, version, models_dir=models_dir)
    fp = meta.data_fingerprint
    if fp.source is None or not fp.content_digest:
        raise RecruitRevealError(
            f"{position} v{meta.model_version} records no data source (it was exported before "
            "sources were recorded); train it again with --data")
    columns = dict(fp.column_mapping) or None
    invalid_rows: Any = fp.invalid_rows or "fail"
    data = load_training_data(fp.source.spec, meta.position, columns=columns,
                              invalid_rows=invalid_rows)
    note = f"retrain of v{meta.model_version}"
    if data.content_digest != fp.content_digest:
        change = _what_changed(fp, data)
        if not allow_changed_data:
            raise DataValidationError(Problem(
                f"the data changed since v{meta.model_version} trained on it: {change}",
                fp.source.spec, expected="the same rows; --allow-changed-data trains on the "
                "new rows and records the change"))
        note += f" on changed data ({change})"
    params = {**meta.estimator.params, "estimator": meta.estimator.name}
    notebook = meta.audit_record is not None and meta.audit_record.notebook is not None
    return train(fp.source.spec, meta.position, new_version,
                 engine="notebook" if notebook else "direct", models_dir=models_dir,
                 runs_dir=runs_dir, changelog=note, seed=meta.seed if meta.seed is not None
                 else 42, cv_folds=meta.metrics.cv_folds or 5, params=params,
                 invalid_rows=invalid_rows, recorded_columns=columns)


def _what_changed(fp: Any, data: Any) -> str:
    """Rows, divisions and digests then and now, in one line."""
    parts = []
    if fp.rows != len(data.frame):
        parts.append(f"{fp.rows} rows then, {len(data.frame)} now")
    now = data.rows_per_division
    moved = [f"{d} {fp.rows_per_division.get(d)}->{now.get(d)}" for d in now
             if fp.rows_per_division.get(d) != now.get(d)]
    if moved:
        parts.append("per division " + ", ".join(moved))
    if fp.sha256 and data.sha256 and fp.sha256 != data.sha256:
        parts.append("the file's sha256 differs")
    parts.append(f"content digest {str(fp.content_digest)[:12]} then, "
                 f"{data.content_digest[:12]} now")
    return "; ".join(parts)
