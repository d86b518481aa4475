"""Reference athletes: deterministic input rows that exercise every branch of a model.

:func:`reference_rows` builds them from the data contract alone (the
position's typical athlete from the model's metadata, the sample athletes of
:data:`recruit_reveal.schema.SAMPLE_ATHLETES`, the schema's ranges and a fixed
seed), so no training row is ever stored to check a model with.  The fast
scoring path (:mod:`recruit_reveal.modeling.scoring`) is checked on them
against the pipeline it was compiled from.

The rows cover: the typical and the sample athlete in every state tier (and
with the state missing, in lower case, padded); every input missing in turn;
every input at the bottom and the top of its plausible range; every pattern
of recorded and missing combine results; per-game figures missing with the
season totals given and the reverse; and seeded random athletes within the
ranges with about a third of their inputs missing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from .. import schema

#: The seed of the random reference athletes (any fixed number would do).
SEED = 20260101
RANDOM_ROWS = 64

#: One state per tier (1..4), then the spellings the model must read alike.
_STATES: tuple[object, ...] = ("TX", "OH", "IN", "NY", "DC", None, "tx", " oh ", "")


def _in_range(col: schema.Column, value: float) -> float:
    low = -math.inf if col.low is None else col.low
    high = math.inf if col.high is None else col.high
    value = min(max(value, low), high)
    return float(round(value)) if col.kind == "int" else float(value)


def _typical_row(position: str, typical: Mapping[str, float] | None) -> np.ndarray:
    out = []
    for col in schema.numeric_columns(position):
        value = (typical or {}).get(col.name)
        if value is None or not math.isfinite(value):
            value = ((col.low or 0.0) + (col.high or 0.0)) / 2
        out.append(_in_range(col, float(value)))
    return np.array(out)


def _sample_row(position: str, base: np.ndarray) -> np.ndarray:
    """The position's sample athlete; inputs it does not give are missing."""
    sample = next(s for s in schema.SAMPLE_ATHLETES if s["position"] == position)
    row = np.full_like(base, np.nan)
    for j, col in enumerate(schema.numeric_columns(position)):
        value = sample.get(col.name)
        if isinstance(value, int | float):
            row[j] = float(value)
    return row


def reference_rows(position: str, typical_values: Mapping[str, float] | None = None,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(numeric inputs in schema order with NaN for missing, state codes) of the
    reference athletes of ``position``; the same for the same arguments."""
    position = schema.check_position(position)
    cols = schema.numeric_columns(position)
    names = [c.name for c in cols]
    base = _typical_row(position, typical_values)
    sample = _sample_row(position, base)
    rows: list[np.ndarray] = []
    states: list[object] = []

    def add(row: np.ndarray, state: object = "TX") -> None:
        rows.append(row)
        states.append(state)

    for state in _STATES:
        add(base, state)
        add(sample, state)
    optional = np.array([not c.required for c in cols])
    for j in range(len(cols)):
        alone = np.where(optional, np.nan, base)
        alone[j] = _in_range(cols[j], float(cols[j].low or 0.0))
        add(alone, None)
        missing = base.copy()
        missing[j] = np.nan
        add(missing, "OH")
        for value in (cols[j].low, cols[j].high):
            if value is not None:
                edge = base.copy()
                edge[j] = _in_range(cols[j], float(value))
                add(edge, "IN")
    combine = [names.index(c) for c in ("forty_yard_dash", "vertical_jump", "shuttle",
                                        "broad_jump")]
    for key in range(16):
        for start in (base, sample):
            row = start.copy()
            for bit, j in enumerate(combine):
                if key >> bit & 1:
                    row[j] = np.nan
            add(row, "NY")
    for per_game, total in _per_game_pairs(names):
        for drop in ((per_game,), (total,), (per_game, total), (per_game, "games")):
            row = base.copy()
            row[[names.index(n) for n in drop]] = np.nan
            add(row, "CA")
    rng = np.random.default_rng(SEED)
    low = np.array([c.low if c.low is not None else 0.0 for c in cols], dtype=float)
    high = np.array([c.high if c.high is not None else 1.0 for c in cols], dtype=float)
    for i in range(RANDOM_ROWS):
        # Mostly inside the range, some at its edges (zero counts: empty ratios).
        u = rng.random(len(cols))
        values = np.where(u < 0.15, low, np.where(u > 0.9, high, rng.uniform(low, high)))
        row = np.array([_in_range(c, v) for c, v in zip(cols, values, strict=True)])
        row[rng.random(len(cols)) < 1 / 3] = np.nan
        add(row, _STATES[i % len(_STATES)])
    return np.vstack(rows), np.array(states, dtype=object)


def _per_game_pairs(names: list[str]) -> list[tuple[str, str]]:
    """(per-game, season total) columns of a position, e.g. senior_ypg and senior_yds."""
    pairs = []
    for name in names:
        total = name.replace("_ypg", "_yds")
        if name.endswith("_ypg") and total in names:
            pairs.append((name, total))
    return pairs
