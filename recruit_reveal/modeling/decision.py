"""How sure a prediction is and where it sits within its division, for many athletes at once.

Both rules read the probabilities in the order of the model's ladder, lowest
level first (one row per athlete) and the predicted division index of each row (the
model's own decision rule, :func:`recruit_reveal.modeling.probabilities.decide`):

* the **tier** is "High", "Mid" or "Low" within the predicted division, by where
  the rest of the probability leans: more than :data:`TIER_MARGIN` above it is
  "High", more than that below it is "Low";
* the **confidence** is 1 minus the normalized entropy of the probabilities:
  0 for a uniform guess, 1 for certainty.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..catalog import active_catalog

#: How far the probability above the predicted division must outweigh the probability
#: below it (or the reverse) for a "High" (or "Low") tier; anything closer is "Mid".
TIER_MARGIN = 0.15
#: Probabilities are clipped to this before the logarithm, so a zero adds nothing.
_FLOOR = 1e-12


def lean(proba: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per row, the probability above the predicted division minus the probability below it."""
    proba = np.asarray(proba, dtype=float)
    levels = np.arange(proba.shape[1])[None, :]
    at = np.asarray(predicted, dtype=int)[:, None]
    above = np.where(levels > at, proba, 0).sum(axis=1)
    below = np.where(levels < at, proba, 0).sum(axis=1)
    return np.asarray(above - below)


def tier_bands(proba: np.ndarray, predicted: np.ndarray) -> list[str]:
    """"High", "Mid" or "Low" per row (see :data:`TIER_MARGIN`)."""
    return ["High" if v > TIER_MARGIN else "Low" if v < -TIER_MARGIN else "Mid"
            for v in lean(proba, predicted).tolist()]


def levels_of(levels: Sequence[str] | None) -> tuple[str, ...]:
    """The ladder's levels as given, or the active catalog's."""
    return tuple(levels) if levels is not None else active_catalog().ladder.levels


def predicted_tiers(proba: np.ndarray, predicted: np.ndarray,
                    levels: Sequence[str] | None = None) -> list[str]:
    """The tier and level per row, e.g. ``"High FCS"``; ``levels``: the model's ladder
    (the active catalog's by default)."""
    names = levels_of(levels)
    return [f"{band} {names[k]}" for band, k in
            zip(tier_bands(proba, predicted), np.asarray(predicted).tolist(), strict=True)]


def confidence_scores(proba: np.ndarray) -> np.ndarray:
    """1 minus the normalized entropy per row, in [0, 1]."""
    clipped = np.clip(np.asarray(proba, dtype=float), _FLOOR, 1.0)
    # Normalized by the entropy of a uniform guess over the ladder's levels.
    return np.asarray(np.clip(1 + (clipped * np.log(clipped)).sum(axis=1)
                              / math.log(clipped.shape[1]), 0, 1))
