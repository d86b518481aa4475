"""Reference athletes: deterministic input rows that exercise every branch of a model.

:func:`reference_rows` builds them from the data contract alone (the
position's typical athlete from the model's metadata, the spec's example
athlete, its ranges and a fixed seed), so no training row is ever stored to check a model with.  The fast
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
from typing import Any, cast

import numpy as np

from .. import schema
from ..catalog import PositionSpec

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


def model_spec(model: Any, position: schema.PositionLike | None = None) -> PositionSpec:
    """The spec a fitted pipeline (its first step's ``spec_``) or a scorer (its ``spec``)
    carries, else ``position``'s.

    A model fitted before specs travelled with models carries none; its position is
    then resolved (the caller's key, in the active catalog).  A key that names another
    position than the carried spec is a ValueError."""
    step = model.steps[0][1] if hasattr(model, "steps") and model.steps else None
    data = getattr(step, "spec_", None)
    carried = getattr(model, "spec", None)  # a scorer's (modeling.scoring)
    if isinstance(data, Mapping) or isinstance(carried, PositionSpec | Mapping):
        spec = schema.spec_of(data if isinstance(data, Mapping) else cast(Any, carried))
        if isinstance(position, str) and position.strip().lower() != spec.key:
            raise ValueError(f"the model is fitted for position {spec.key!r}, not {position!r}")
        return spec
    if position is None:
        raise ValueError("the model carries no spec: name its position")
    return schema.spec_of(position)


def _typical_row(spec: PositionSpec, typical: Mapping[str, float] | None) -> np.ndarray:
    out = []
    for col in spec.numeric:
        value = (typical or {}).get(col.name)
        if value is None or not math.isfinite(value):
            value = ((col.low or 0.0) + (col.high or 0.0)) / 2
        out.append(_in_range(col, float(value)))
    return np.array(out)


def _sample_row(spec: PositionSpec, base: np.ndarray) -> np.ndarray:
    """The position's example athlete; inputs it does not give are missing."""
    sample = spec.example
    row = np.full_like(base, np.nan)
    for j, col in enumerate(spec.numeric):
        value = sample.get(col.name)
        if isinstance(value, int | float):
            row[j] = float(value)
    return row


def reference_rows(position: schema.PositionLike, typical_values: Mapping[str, float] | None = None,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(numeric inputs in schema order with NaN for missing, state codes) of the
    reference athletes of ``position``; the same for the same arguments."""
    spec = schema.spec_of(position)
    cols = spec.numeric
    names = [c.name for c in cols]
    base = _typical_row(spec, typical_values)
    sample = _sample_row(spec, base)
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
    combine = [names.index(c) for c in spec.combine]
    for key in range(2 ** len(combine)):
        for start in (base, sample):
            row = start.copy()
            for bit, j in enumerate(combine):
                if key >> bit & 1:
                    row[j] = np.nan
            add(row, "NY")
    for per_game, total, games in _per_game_pairs(spec):
        for drop in ((per_game,), (total,), (per_game, total), (per_game, games)):
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


def _per_game_pairs(spec: PositionSpec) -> list[tuple[str, str, str]]:
    """(per-game, season total, games) columns of a position, e.g. senior_ypg, senior_yds
    and games; a rate without a games column (junior) is paired with the senior one."""
    names = {c.name for c in spec.numeric}
    games = next((r.games for r in spec.rates if r.games in names), None)
    return [(r.name, r.total, r.games if r.games in names else games or r.name)
            for r in spec.rates if r.total in names]
