"""The training data's profile: what a served model knows about the rows it learned from.

Aggregates only, never rows, so that the metadata of an export can hold them:

* :func:`input_profile` gives, per numeric input, the 0th..100th percentiles of the
  training rows' values, the 0.5th and 99.5th percentiles (``low``, ``high``: the
  range outside which an input is "unusual" at prediction time) and the share of
  rows missing it; for ``state``, the share of each state among the rows that give
  one and the share of rows missing it.
* :func:`division_mix` gives the share of training rows in each division.

Percentiles are numpy's defaults (linear interpolation), so a reader can
reproduce ``low`` and ``high`` with ``np.percentile(values, [0.5, 99.5])``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import schema
from ..catalog import active_catalog

#: The percentiles bounding an input's usual range.
LOW_PERCENTILE = 0.5
HIGH_PERCENTILE = 99.5
_PERCENTILES = np.arange(101, dtype=float)


def numeric_profile(values: Iterable[float | None]) -> dict[str, Any]:
    """Quantiles, usual range and missing share of one numeric input's training values.

    A column without any value has no quantiles and a null range.
    """
    x = pd.to_numeric(pd.Series(values), errors="coerce").astype("float64").to_numpy()
    present = x[~np.isnan(x)]
    missing = (len(x) - len(present)) / len(x) if len(x) else 1.0
    if not len(present):
        return {"quantiles": [], "low": None, "high": None, "missing_share": missing}
    # Linear interpolation is monotone in exact arithmetic; rounding must not make a
    # reader's binning see a decreasing edge.
    quantiles = np.maximum.accumulate(np.percentile(present, _PERCENTILES))
    low, high = np.percentile(present, [LOW_PERCENTILE, HIGH_PERCENTILE])
    return {"quantiles": [float(q) for q in quantiles], "low": float(low),
            "high": float(high), "missing_share": missing}


def state_profile(values: Iterable[object]) -> dict[str, Any]:
    """Share of each state among the rows that give one, and the share missing it."""
    states = pd.Series(values, dtype=object)
    present = states[states.notna()].astype(str)
    missing = (len(states) - len(present)) / len(states) if len(states) else 1.0
    shares = present.value_counts(normalize=True).sort_index()
    return {"shares": {str(k): float(v) for k, v in shares.items()}, "missing_share": missing}


def input_profile(frame: pd.DataFrame,
                  position: schema.PositionLike) -> dict[str, dict[str, Any]]:
    """The profile of every input of ``position`` over the training rows of ``frame``.

    An input absent from ``frame`` is profiled as missing from every row.
    """
    empty = pd.Series([None] * len(frame), dtype=object)
    out: dict[str, dict[str, Any]] = {}
    for col in schema.spec_of(position).inputs:
        values = frame[col.name] if col.name in frame else empty
        out[col.name] = (state_profile(values) if col.kind == "state"
                         else numeric_profile(values))
    return out


def division_mix(target: Iterable[object],
                 levels: Sequence[str] | None = None) -> dict[str, float]:
    """Share of the training rows in each level of ``levels`` (the ladder; the active
    catalog's by default), every level, zero when absent."""
    levels = active_catalog().ladder.levels if levels is None else levels
    labels = pd.Series(target, dtype=object)
    counts = labels.value_counts()
    return {d: float(counts.get(d, 0) / len(labels)) if len(labels) else 0.0
            for d in levels}
