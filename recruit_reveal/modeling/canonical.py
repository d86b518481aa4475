"""What a position's features are made of, read once from its spec, and its raw columns.

:func:`feature_plan` is the part of a :class:`~recruit_reveal.catalog.PositionSpec` the
derived features use, as plain data (a fitted ``DerivedFeatures`` keeps it as
``plan_``, so transforming never asks a catalog); :func:`canonical_frame` and
``_Canonical`` read any input into the position's raw canonical columns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import schema
from ..catalog import US_STATES, PositionSpec


def feature_plan(spec: PositionSpec) -> dict[str, Any]:
    """What the features of a position need from its spec, as plain data (lists, str).

    A fitted :class:`DerivedFeatures` keeps this as ``plan_``: transforming never
    consults a catalog, and skops loads it without trusting new types.
    """
    names = spec.feature_names
    numeric = [c.name for c in spec.numeric]
    state = next((c.name for c in spec.inputs if c.kind == "state"), None)
    # Rates whose season total is an input too; a rate without its games column
    # (a junior season) is turned into a total with the typical number of games.
    pairs = [[r.name, r.total, r.games if r.games in numeric else None]
             for r in spec.rates if r.total in numeric and r.kind != "state"]
    games = next((g for *_, g in pairs if g is not None), None)
    fills = [[c.name, *c.ratio_of] for c in spec.numeric
             if len(c.ratio_of) == 2 and all(n in numeric for n in c.ratio_of)]
    production = [spec.production] if spec.production in numeric else []
    junior = spec.junior_of(production[0]) if production else None
    return {
        "names": names, "numeric": numeric, "state": state,
        "place": names.index(state) if state is not None else -1,
        "combine": [n for n in spec.combine if n in numeric],
        "lower_better": [n for n in spec.combine if spec.column(n).better == "lower"],
        "games": games, "pairs": pairs, "ratio_fills": fills,
        "production": production + ([junior] if junior in numeric else []),
        "junior": junior if junior in numeric else None,
        "derived": [{"name": d.name, "group": d.group, "op": d.op, "of": list(d.of),
                     "plus": d.plus} for d in spec.derived if all(n in numeric for n in d.of)],
        "state_tiers": [list(t) for t in spec.state_tiers],
    }


def _clean_state(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) and value.strip() else np.nan


def _by_unique(values: pd.Series | np.ndarray, fn: Callable[[object], object]) -> np.ndarray:
    """``fn`` applied to every value, evaluated once per distinct value.

    A column of states holds a few dozen distinct codes however many rows
    it has, so this keeps the Python-level work off the row count.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    # Code -1 (missing) indexes the appended NaN.
    mapped = np.empty(len(uniques) + 1, dtype=object)
    mapped[:-1] = [fn(u) for u in uniques]
    mapped[-1] = np.nan
    return mapped[codes]


class _Canonical:
    """The canonical columns as arrays: one float64 block plus the state codes.

    What :func:`canonical_frame` holds, without building the frame: the
    transformer reads these directly, which keeps a one-row prediction free
    of pandas' per-column overhead.
    """

    __slots__ = ("block", "numeric", "state", "place", "states", "index")

    def __init__(self, X: object, plan: dict[str, Any]):
        names = plan["names"]
        if isinstance(X, pd.DataFrame):
            if not X.columns.is_unique:
                X.reindex(columns=names)  # raises pandas' own error naming the duplicates
            frame = X
        else:
            arr = np.asarray(X, dtype=object)
            if arr.ndim != 2 or arr.shape[1] != len(names):
                raise ValueError(
                    f"expected a DataFrame or an array with {len(names)} columns "
                    f"({', '.join(names)}), got shape {arr.shape}")
            frame = pd.DataFrame(arr, columns=names)
        numeric, state, place = plan["numeric"], plan["state"], plan["place"]
        # Column-major, so each column is contiguous for the feature arithmetic.
        block = np.full((len(frame), len(numeric)), np.nan, order="F")
        present = frame.columns
        for j, name in enumerate(numeric):
            if name not in present:
                continue
            values = frame[name]
            if values.dtype.kind in "fiub":
                # Already numbers: a cast, with pandas' missing values as NaN.
                block[:, j] = values.to_numpy(dtype="float64", na_value=np.nan)
            else:
                block[:, j] = pd.to_numeric(values, errors="coerce").astype(
                    "float64").to_numpy()
        states = None
        if state is not None:
            if state not in present:
                states = np.full(len(frame), np.nan)
            else:
                states = _by_unique(frame[state], _clean_state)
                if not pd.notna(states).any():
                    # No code at all is a float column of NaN, whichever missing
                    # values the column held.
                    states = np.full(len(frame), np.nan)
        self.block, self.numeric, self.state, self.place = block, numeric, state, place
        self.states, self.index = states, frame.index

    def __len__(self) -> int:
        return self.block.shape[0]

    def column(self, name: str) -> np.ndarray:
        """A numeric column (a view: callers must not write to it)."""
        return self.block[:, self.numeric.index(name)]


def canonical_frame(X: object, position: schema.PositionLike) -> pd.DataFrame:
    """The raw canonical columns of ``position`` as a frame, whatever ``X`` held.

    Missing columns become all-NaN, extra columns are dropped, numeric
    columns are float64 (text that is not a number becomes NaN: validation
    is the job of :mod:`recruit_reveal.data.loading` and the API, not of the model)
    and the state column is an upper-case string or NaN.  A 2-D array is read as
    the canonical columns in order.
    """
    # One float64 block filled column by column without building a Series per
    # column: serving predicts one row at a time, where pandas' per-column
    # overhead (to_numeric, astype, a dict-of-Series frame) dominated.
    canon = _Canonical(X, feature_plan(schema.spec_of(position)))
    out = pd.DataFrame(canon.block, columns=canon.numeric, index=canon.index)
    if canon.state is not None:
        out.insert(canon.place, canon.state, canon.states)
    return out


def tier_table(state_tiers: Sequence[Sequence[str]]) -> dict[str, float]:
    """State code -> recruiting tier (1 elite .. the last, every state not listed)."""
    other = float(len(state_tiers) + 1)
    table = dict.fromkeys(US_STATES, other)
    for tier, codes in enumerate(state_tiers, 1):
        table.update(dict.fromkeys(codes, float(tier)))
    return table


def _state_tiers(states: np.ndarray, table: dict[str, float]) -> np.ndarray:
    def tier(state: object) -> float:
        return table.get(state.strip().upper(), np.nan) if isinstance(state, str) else np.nan

    return _by_unique(states, tier).astype("float64")
