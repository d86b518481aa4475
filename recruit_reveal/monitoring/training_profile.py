"""What live traffic is compared with: a release's training profile and CV figures.

Each exported version's metadata holds ``input_profile`` (per numeric input the 101
percentiles of the training rows' non-missing values, the 0.5th/99.5th percentiles and
the missing share; for ``state`` the share of each state) and ``division_mix``.  A
version exported before those fields existed has none: :func:`load_reference` then
computes the same profile from the training CSV the metadata names, when that file can
still be read, and otherwise reports the reference as missing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..artifacts.layout import metadata_name
from ..catalog import active_catalog
from ..errors import UnknownPositionError
from ..schema import PositionLike, spec_of
from ..storage.locations import Location, open_store

logger = logging.getLogger(__name__)

PERCENTILES = np.arange(101)


def input_profile(frame: pd.DataFrame, position: PositionLike) -> dict[str, Any]:
    """The ``input_profile`` of training rows ``frame`` (the shared log contract's shape)."""
    profile: dict[str, Any] = {}
    for column in spec_of(position).inputs:
        name = column.name
        if name not in frame.columns:
            continue
        values = frame[name]
        missing = float(values.isna().mean()) if len(values) else 0.0
        if column.kind == "state":
            shares = values.dropna().astype(str).value_counts(normalize=True)
            profile[name] = {"shares": {k: float(v) for k, v in shares.items()},
                             "missing_share": missing}
            continue
        present = values.dropna().to_numpy(dtype="float64")
        if present.size == 0:
            continue
        quantiles = np.percentile(present, PERCENTILES)
        profile[name] = {"quantiles": [float(q) for q in quantiles],
                         "low": float(np.percentile(present, 0.5)),
                         "high": float(np.percentile(present, 99.5)),
                         "missing_share": missing}
    return profile


def division_mix(target: pd.Series, levels: Sequence[str] | None = None) -> dict[str, float]:
    """The share of training rows per level of ``levels`` (the active catalog's ladder when
    None), every level named, zeros included."""
    counts = pd.Series(target).value_counts(normalize=True)
    return {d: float(counts.get(d, 0.0))
            for d in (active_catalog().ladder.levels if levels is None else levels)}


@dataclass(frozen=True)
class CvFigure:
    """A CV metric: its mean over the folds, the fold-to-fold spread and the fold count."""

    mean: float | None
    std: float | None
    folds: int | None

    def lower_bound(self, z: float = 1.96) -> float | None:
        """The mean's lower 95% confidence bound over the folds (the mean alone: one fold)."""
        if self.mean is None:
            return None
        if not self.std or not self.folds:
            return self.mean
        return self.mean - z * self.std / float(np.sqrt(self.folds))


@dataclass(frozen=True)
class ReleaseReference:
    """One (position, version)'s training profile, division mix and CV figures."""

    position: str
    version: str
    input_profile: dict[str, Any] = field(default_factory=dict)
    division_mix: dict[str, float] = field(default_factory=dict)
    cv: dict[str, CvFigure] = field(default_factory=dict)
    #: Where the profile came from: "metadata", "training file" or None (no reference).
    source: str | None = None
    #: The training rows behind the profile (None: unknown).
    training_rows: int | None = None
    #: The model's levels, lowest first, and its raw inputs in order, as its metadata
    #: records them (a model carries its football: no catalog is consulted for them).
    levels: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()

    def values_behind(self, name: str) -> float | None:
        """How many training values made input ``name``'s profile (None: unknown)."""
        entry = self.input_profile.get(name) or {}
        if not self.training_rows:
            return None
        return self.training_rows * (1.0 - float(entry.get("missing_share") or 0.0))


def load_reference(models_dir: Location, position: str, version: str) -> ReleaseReference:
    """The reference of ``position`` ``version`` in ``models_dir`` (empty when unknown)."""
    try:
        doc = json.loads(open_store(models_dir).read(metadata_name(position, version)))
    except (FileNotFoundError, ValueError, OSError) as exc:
        logger.warning("no metadata for %s %s: %s", position, version, exc)
        # Live accuracy needs the ladder still: the catalog's, when it knows the position.
        return ReleaseReference(position, version, levels=model_football({}, position)[0])
    cv = _cv_figures(doc.get("metrics") or {})
    levels, inputs = model_football(doc, position)
    profile, mix = doc.get("input_profile"), doc.get("division_mix")
    source: str | None = "metadata"
    if not profile:
        profile, mix = _profile_from_training_file(doc, position, levels)
        source = "training file" if profile else None
    rows = (doc.get("data_fingerprint") or {}).get("rows")
    return ReleaseReference(position, version, profile or {}, mix or {}, cv, source,
                            rows if isinstance(rows, int) else None, levels, inputs)


def model_football(doc: dict[str, Any], position: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The levels and raw inputs of a model, from its metadata document: its ``spec`` when it
    has one, else its ``classes`` and ``input_schema``; the active catalog's position only
    for a document that records neither."""
    found = doc.get("spec")
    spec: dict[str, Any] = found if isinstance(found, dict) else {}
    levels = tuple((spec.get("ladder") or {}).get("levels") or doc.get("classes") or ())
    inputs = tuple(c["name"] for c in spec.get("inputs") or
                   (doc.get("input_schema") or {}).get("columns") or ())
    if levels and inputs:
        return levels, inputs
    try:
        known = spec_of(position)
    except (UnknownPositionError, ValueError):
        return levels, inputs
    return levels or known.levels, inputs or tuple(known.feature_names)


def _cv_figures(metrics: dict[str, Any]) -> dict[str, CvFigure]:
    folds = metrics.get("cv_folds")
    figures = {}
    for name, value in (metrics.get("cv") or {}).items():
        if isinstance(value, dict) and "mean" in value:
            figures[name] = CvFigure(value.get("mean"), value.get("std"), folds)
    return figures


def _profile_from_training_file(doc: dict[str, Any], position: str, levels: Sequence[str]
                                ) -> tuple[dict[str, Any] | None, dict[str, float] | None]:
    """The profile of the training CSV the metadata names, when it is still there."""
    from ..data.loading import load_training_data

    name = (doc.get("data_fingerprint") or {}).get("file")
    if not name or not Path(name).is_file():
        return None, None
    try:
        data = load_training_data(name, position, invalid_rows="quarantine",
                                  max_invalid_fraction=1.0)
    except Exception as exc:  # the reference is then missing, which the record says
        logger.warning("cannot profile the training file %s: %s", name, exc)
        return None, None
    return input_profile(data.frame, position), division_mix(data.target, levels or None)
