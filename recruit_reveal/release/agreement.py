"""Prediction agreement of two model versions, and the rows it is measured on.

Three sets of rows: the training rows (the validated rows of one position of a
CSV, read by :func:`recruit_reveal.data.load_training_data`), the position's
sample athlete (the ``example`` of the position's spec, the API's example) and the reference athletes (:mod:`recruit_reveal.modeling.reference`,
which exercise every input missing, at its limits, every state tier).
Both versions are scored exactly as the API scores them: probabilities through
:func:`recruit_reveal.modeling.probabilities.predict_proba`, the division by the
model's own decision rule.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RecruitRevealError
from ..schema import PositionLike, spec_of


@dataclass(frozen=True)
class Agreement:
    """How often the two versions predict the same division on one set of rows."""

    rows: str
    source: str
    count: int
    same_division: int
    #: Largest |P_b(d) - P_a(d)| over the rows and the levels, and where.
    max_probability_change: float
    max_change_at: str
    #: Mean over the rows of each row's largest change.
    mean_probability_change: float
    #: "D2 -> FCS": how many rows moved that way (only rows whose division changed).
    transitions: dict[str, int] = field(default_factory=dict)

    @property
    def share_same(self) -> float:
        return self.same_division / self.count if self.count else math.nan


def training_rows(position: str, meta_a: Any, meta_b: Any, csv: Any, columns: Any,
                  notes: list[str]) -> tuple[Any, str] | None:
    """(validated rows of ``position``, where they come from), or None with a note."""
    from recruit_reveal.data import load_training_data

    if csv is None:
        csv, meta = find_training_file(meta_b, meta_a)
        if csv is None:
            found = _recorded_source(position, meta_b, meta_a)
            if found is not None:
                return found
            named = sorted({m.data_fingerprint.file for m in (meta_a, meta_b)
                            if m.data_fingerprint.file})
            notes.append(f"training rows not compared: {', '.join(named) or 'the training file'}"
                         " not found with the recorded sha256 (give --csv)")
            return None
        columns = columns if columns is not None else (meta.data_fingerprint.column_mapping
                                                       or None)
    # Quarantine with no ceiling keeps exactly the rows that pass validation.
    data = load_training_data(csv, position, columns=columns, invalid_rows="quarantine",
                              max_invalid_fraction=1.0, min_rows_per_division=0)
    trained_on = [m.model_version for m in (meta_a, meta_b)
                  if m.data_fingerprint.sha256 == data.sha256]
    which = (" and ".join(trained_on) + "'s training data") if trained_on else \
        "data neither version was trained on"
    return data, f"{Path(csv).name} (sha256 {data.sha256[:12]}, {which})"


def _recorded_source(position: str, *metas: Any) -> tuple[Any, str] | None:
    """The rows a version trained on, read again from its recorded source (a Delta table
    pinned to the version read, a database table), when they still give its content digest."""
    from recruit_reveal.data import load_training_data

    for meta in metas:
        fp = meta.data_fingerprint
        if fp.source is None or not fp.content_digest:
            continue
        try:
            data = load_training_data(fp.source.spec, position, columns=fp.column_mapping or None,
                                      invalid_rows="quarantine", max_invalid_fraction=1.0,
                                      min_rows_per_division=0)
        except RecruitRevealError:  # gone or unreachable: the rows are not compared
            continue
        if data.content_digest == fp.content_digest:
            trained_on = [m.model_version for m in metas
                          if m.data_fingerprint.content_digest == data.content_digest]
            return data, (f"{fp.source.spec} (content digest {data.content_digest[:12]}, "
                          f"{' and '.join(trained_on)}'s training data)")
    return None


def find_training_file(*metas: Any) -> tuple[Path | None, Any]:
    """The training file the first of ``metas`` names, if it is still there unchanged.

    The metadata keeps only the file's name (its folder may name a person or a
    machine), so the usual places are tried: the working directory and ``data/``
    under it and under the project root.  A file whose sha256 differs is not
    the data the model saw, and is passed over.
    """
    from .contract import project_path

    for meta in metas:
        name, digest = meta.data_fingerprint.file, meta.data_fingerprint.sha256
        if not name or not digest:
            continue
        for candidate in (Path(name), Path("data") / name, project_path(Path("data") / name)):
            if candidate.is_file() and _sha256(candidate) == digest:
                return candidate, meta
    return None, None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sample_athletes(position: PositionLike) -> tuple[Any, list[str]]:
    """The position's sample athlete (its spec's ``example``) as the pipeline's input
    frame, and its name."""
    import pandas as pd

    spec = spec_of(position)
    frame = pd.DataFrame([dict(spec.example)]).reindex(columns=spec.feature_names)
    return frame, [str(spec.example.get("name", spec.key))]


def reference_athletes(position: str, typical: dict[str, float | None]) -> Any:
    """The reference athletes of ``position`` (built around ``typical``) as an input frame."""
    from recruit_reveal.modeling.probabilities import model_frame
    from recruit_reveal.modeling.reference import reference_rows

    x, state = reference_rows(position, {k: v for k, v in typical.items() if v is not None})
    return model_frame(x, state, position)


def compare(label: str, source: str, frame: Any, ids: list[str] | None,
            pipe_a: Any, pipe_b: Any, levels: Sequence[str]) -> Agreement:
    """Score ``frame`` with both pipelines; ``ids`` name its rows (None: by position);
    ``levels`` name the probability columns, lowest first (the models' ladder)."""
    import numpy as np

    from recruit_reveal.modeling import probabilities

    pa = probabilities.predict_proba(pipe_a, frame)
    pb = probabilities.predict_proba(pipe_b, frame)
    labels = np.asarray(levels, dtype=object)
    da = labels[probabilities.decide(pa, probabilities.decision_rule(pipe_a))]
    db = labels[probabilities.decide(pb, probabilities.decision_rule(pipe_b))]
    change = np.abs(pb - pa)
    row, col = np.unravel_index(int(np.argmax(change)), change.shape)
    where = ids[row] if ids is not None else f"athlete {row}"
    moved: dict[str, int] = {}
    for x, y in zip(map(str, da), map(str, db), strict=True):
        if x != y:
            moved[f"{x} -> {y}"] = moved.get(f"{x} -> {y}", 0) + 1
    return Agreement(
        rows=label, source=source, count=len(frame), same_division=int(np.sum(da == db)),
        max_probability_change=float(change[row, col]),
        max_change_at=f"{where}, P({levels[int(col)]})",
        mean_probability_change=float(change.max(axis=1).mean()),
        transitions=dict(sorted(moved.items(), key=lambda kv: -kv[1])))
