"""Derived features: scikit-learn transformers fitted on training folds only.

Every transformer here takes the *raw canonical* frame of a position (the
columns of :func:`recruit_reveal.schema.feature_names`, missing values and
even missing columns allowed) and never sees the target.  The earlier system
imputed combine results from the athlete's own division, which leaked the
answer into the inputs; here ``fit`` ignores ``y`` entirely, so nothing a
transformer learns can depend on the division.

Feature groups (names used by ``DerivedFeatures(groups=...)``):

``per_game``
    fills per-game stats from season totals and games (and totals from
    per-game x games) when one of the pair is missing; replaces columns in place.
``combine_impute``
    for an athlete with *some* combine results, fills the missing ones with
    their conditional mean given the recorded ones, under a Gaussian fitted
    in ``fit`` to the training fold's complete combine rows (no target):
    a 4.45 forty says something about the missing shuttle.  Athletes with no
    combine result at all are left missing (the ``missing`` indicators speak
    for them).
``log_production``
    log(1 + yards per game), senior and junior: production spreads more at
    higher levels, and on a log scale the levels differ by a shift.
``bmi``
    body-mass index, 703 x lb / in^2.
``speed_score``
    weight x 200 / forty^4 (the NFL combine "speed score").
``trajectory``
    junior -> senior change in production (yards per game and TDs).
``efficiency``
    TD rate and per-play efficiency of the position (TDs per game, TD/INT,
    yards per touch, catches per game, ...).
``athletic``
    mean z-score of the available combine results against the position's
    norms, learned in ``fit`` from the training fold's inputs (never the target).
``state_tier``
    recruiting-density tier of the state (1 elite .. 4 other), as a number
    and one-hot; the raw state code is otherwise dropped, since no model
    step takes strings.
``missing``
    one indicator per combine result, the count of missing results, "no
    combine at all", and "no junior season" (production missing):
    at lower levels combine results are missing more often, and that is a
    real, legitimate signal (it is known before any division is).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .. import schema

logger = logging.getLogger(__name__)

COMBINE_COLUMNS: tuple[str, ...] = ("forty_yard_dash", "vertical_jump", "shuttle", "broad_jump")
#: Combine results where a lower value is better (times).
_LOWER_IS_BETTER = frozenset({"forty_yard_dash", "shuttle"})

FEATURE_GROUPS: tuple[str, ...] = (
    "per_game", "combine_impute", "log_production", "bmi", "speed_score", "trajectory", "efficiency", "athletic",
    "state_tier", "missing",
)

# (per-game column, season-total column) pairs per position.  Junior seasons
# have no games column, so the junior pair falls back to the training fold's
# typical number of senior games (learned in fit).
_PER_GAME_PAIRS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "qb": (("senior_ypg", "senior_yds", True), ("junior_ypg", "junior_yds", False)),
    "rb": (("senior_ypg", "senior_yds", True), ("junior_ypg", "junior_yds", False)),
    "wr": (("senior_rec_ypg", "senior_rec_yds", True),
           ("junior_rec_ypg", "junior_rec_yds", False)),
}

# (senior per-game, junior per-game) production columns per position.
_PRODUCTION_PAIR: dict[str, tuple[str, str]] = {
    "qb": ("senior_ypg", "junior_ypg"),
    "rb": ("senior_ypg", "junior_ypg"),
    "wr": ("senior_rec_ypg", "junior_rec_ypg"),
}


def _numeric_and_state(position: str) -> tuple[list[str], str | None, int]:
    """(numeric column names in order, the state column or None, its place among the names)."""
    numeric, state, place = [], None, -1
    for i, col in enumerate(schema.columns_for(position)):
        if col.kind == "state":
            state, place = col.name, i
        else:
            numeric.append(col.name)
    return numeric, state, place


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

    def __init__(self, X: object, position: str):
        names = schema.feature_names(position)
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
        numeric, state, place = _numeric_and_state(position)
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


def canonical_frame(X: object, position: str) -> pd.DataFrame:
    """The raw canonical columns of ``position`` as a frame, whatever ``X`` held.

    Missing columns become all-NaN, extra columns are dropped, numeric
    columns are float64 (text that is not a number becomes NaN: validation
    is the job of :mod:`recruit_reveal.data.loading` and the API, not of the model)
    and ``state`` is an upper-case string or NaN.  A 2-D array is read as
    the canonical columns in order.
    """
    # One float64 block filled column by column without building a Series per
    # column: serving predicts one row at a time, where pandas' per-column
    # overhead (to_numeric, astype, a dict-of-Series frame) dominated.
    canon = _Canonical(X, position)
    out = pd.DataFrame(canon.block, columns=canon.numeric, index=canon.index)
    if canon.state is not None:
        out.insert(canon.place, canon.state, canon.states)
    return out


def _tier_number(state: object) -> float:
    tier = schema.state_tier(state)
    return np.nan if tier is None else float(tier)


def _state_tiers(states: np.ndarray) -> np.ndarray:
    return _by_unique(states, _tier_number).astype("float64")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where den is missing or not positive (never inf)."""
    out = np.full_like(num, np.nan, dtype="float64")
    ok = np.isfinite(num) & np.isfinite(den) & (den > 0)
    out[ok] = num[ok] / den[ok]
    return out


def _impute_combine(cols: dict[str, np.ndarray], mean: np.ndarray, cov: np.ndarray) -> None:
    """Fill partly recorded combine rows in ``cols`` with their conditional Gaussian mean."""
    block = np.column_stack([cols[name] for name in COMBINE_COLUMNS])
    observed = np.isfinite(block)
    partial = observed.any(axis=1) & ~observed.all(axis=1)
    # Each missingness pattern (at most 2^4) as one integer, first column
    # most significant: the distinct patterns come without a Python loop
    # over rows (or a row-wise np.unique), in the order sorted() gave the tuples.
    n_cols = len(COMBINE_COLUMNS)
    weights = 1 << np.arange(n_cols - 1, -1, -1)
    keys = observed @ weights
    for key in np.unique(keys[partial]):
        o = (int(key) & weights) > 0
        m = ~o
        rows = partial & (keys == key)
        # E[x_m | x_o] = mu_m + S_mo S_oo^-1 (x_o - mu_o)
        coef = np.linalg.solve(cov[np.ix_(o, o)], cov[np.ix_(o, m)])
        block[np.ix_(rows, m)] = mean[m] + (block[np.ix_(rows, o)] - mean[o]) @ coef
    for j, name in enumerate(COMBINE_COLUMNS):
        cols[name] = block[:, j]


class DerivedFeatures(TransformerMixin, BaseEstimator):
    """Raw canonical columns of a position -> numeric model features.

    Output: the numeric raw columns (after ``per_game`` filling, when that
    group is on), then the derived features of the selected groups, as a
    float64 array with NaN for missing values; names from
    :meth:`get_feature_names_out`.  ``fit`` learns only from ``X``:

    - ``norms_``: mean and std of each combine result over the training rows
      (for the ``athletic`` composite);
    - ``typical_games_``: median senior games (to turn junior totals into
      per-game figures);
    - ``feature_names_out_``.

    Parameters
    ----------
    position : "qb", "rb" or "wr"
    groups : sequence of names from :data:`FEATURE_GROUPS`, or None for all.
    exclude : output feature names to leave out (raw or derived), or None.
    """

    def __init__(self, position: str = "qb", groups: Sequence[str] | None = None,
                 exclude: Sequence[str] | None = None):
        self.position = position
        self.groups = groups
        self.exclude = exclude

    def _groups(self) -> tuple[str, ...]:
        groups = FEATURE_GROUPS if self.groups is None else tuple(self.groups)
        unknown = sorted(set(groups) - set(FEATURE_GROUPS))
        if unknown:
            raise ValueError(
                f"unknown feature group(s) {unknown}; choose from {', '.join(FEATURE_GROUPS)}")
        return groups

    def fit(self, X, y=None):
        # y is accepted for API compatibility and deliberately ignored: no
        # statistic in this transformer may depend on the target.
        position = schema.check_position(self.position)
        groups = self._groups()
        frame = _Canonical(X, position)
        self.position_ = position
        self.groups_ = groups
        games = frame.column("games")
        finite_games = games[np.isfinite(games)]
        self.typical_games_ = float(np.median(finite_games)) if finite_games.size else 10.0
        self.norms_ = {}
        for name in COMBINE_COLUMNS:
            values = frame.column(name)
            values = values[np.isfinite(values)]
            if values.size >= 2 and np.std(values) > 0:
                self.norms_[name] = (float(np.mean(values)), float(np.std(values)))
            else:
                # A result never (or once) measured in training carries no norm;
                # it simply drops out of the composite.
                self.norms_[name] = (float("nan"), float("nan"))
        block = np.column_stack([frame.column(name) for name in COMBINE_COLUMNS])
        complete = block[np.isfinite(block).all(axis=1)]
        self.combine_mean_: np.ndarray | None
        self.combine_cov_: np.ndarray | None
        if len(complete) > 2 * len(COMBINE_COLUMNS):
            self.combine_mean_ = complete.mean(axis=0)
            self.combine_cov_ = np.cov(complete, rowvar=False)
        else:
            self.combine_mean_ = None
            self.combine_cov_ = None
        self.n_fit_rows_ = len(frame)
        self.feature_names_in_ = np.array(schema.feature_names(position), dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        _, names = self._compute(frame)
        self.feature_names_out_ = np.array(names, dtype=object)
        return self

    def transform(self, X):
        check_is_fitted(self, "feature_names_out_")
        frame = _Canonical(X, self.position_)
        values, _ = self._compute(frame)
        return values

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()

    # -- the features -------------------------------------------------------

    def _compute(self, frame: _Canonical) -> tuple[np.ndarray, list[str]]:
        groups = self.groups_
        # A private copy: the missing-value flags below read the untouched inputs.
        own = frame.block.copy(order="F")
        cols = {name: own[:, j] for j, name in enumerate(frame.numeric)}
        if "per_game" in groups:
            self._fill_seasons(cols)
        mean, cov = self.combine_mean_, self.combine_cov_
        if "combine_impute" in groups and mean is not None and cov is not None:
            _impute_combine(cols, mean, cov)
        out: dict[str, np.ndarray] = dict(cols)
        self._derived(out, cols)
        if "efficiency" in groups:
            self._efficiency(out, cols)
        if "athletic" in groups:
            out["athletic_composite"] = self._athletic(cols)
        if "state_tier" in groups:
            _state_tier_features(out, frame)
        if "missing" in groups:
            self._missing(out, cols, frame)
        names = [n for n in out if n not in set(self.exclude or ())]
        values = np.column_stack([out[n] for n in names]) if len(frame) else np.empty(
            (0, len(names)))
        return values.astype("float64"), names

    def _fill_seasons(self, cols: dict[str, np.ndarray]) -> None:
        """Per-game figures and season totals, each filled from the other where missing."""
        games = cols["games"]
        for per_game, total, senior in _PER_GAME_PAIRS[self.position_]:
            g = games if senior else np.full_like(games, self.typical_games_)
            if senior:
                g = np.where(np.isfinite(g), g, self.typical_games_)
            fill = _ratio(cols[total], g)
            cols[per_game] = np.where(np.isfinite(cols[per_game]), cols[per_game], fill)
            back = cols[per_game] * g
            cols[total] = np.where(np.isfinite(cols[total]), cols[total], back)
        if self.position_ == "wr":
            avg = _ratio(cols["senior_rec_yds"], cols["senior_rec"])
            cols["senior_avg"] = np.where(np.isfinite(cols["senior_avg"]),
                                          cols["senior_avg"], avg)

    def _derived(self, out: dict[str, np.ndarray], cols: dict[str, np.ndarray]) -> None:
        """Production on a log scale, body size, speed and trajectory."""
        groups, pos = self.groups_, self.position_
        h, w = cols["height_inches"], cols["weight_lbs"]
        if "log_production" in groups:
            # Production is multiplicative (its spread grows with its level), so
            # on a log scale the divisions differ by a shift, which linear models fit.
            for name in _PRODUCTION_PAIR[pos]:
                out[f"log_{name}"] = np.log1p(np.clip(cols[name], 0.0, None))
        if "bmi" in groups:
            out["bmi"] = 703.0 * _ratio(w, h * h)
        if "speed_score" in groups:
            out["speed_score"] = 200.0 * _ratio(w, cols["forty_yard_dash"] ** 4)
        if "trajectory" in groups:
            senior_prod, junior_prod = _PRODUCTION_PAIR[pos]
            out["production_growth"] = cols[senior_prod] - cols[junior_prod]
            out["td_growth"] = cols["senior_tds"] - cols["junior_tds"]

    def _efficiency(self, out: dict[str, np.ndarray], cols: dict[str, np.ndarray]) -> None:
        """Senior production per game (and per pass or catch)."""
        games = cols["games"]
        eff_games = np.where(np.isfinite(games), games, self.typical_games_)
        out["tds_per_game"] = _ratio(cols["senior_tds"], eff_games)
        if self.position_ == "qb":
            out["td_int_ratio"] = _ratio(cols["senior_tds"], cols["senior_int"] + 1.0)
            out["rush_ypg"] = _ratio(cols["senior_rush_yds"], eff_games)
        elif self.position_ == "rb":
            out["scrimmage_ypg"] = _ratio(
                cols["senior_yds"] + np.nan_to_num(cols["senior_rec_yds"]), eff_games)
            out["rec_per_game"] = _ratio(cols["senior_rec"], eff_games)
        else:
            out["rec_per_game"] = _ratio(cols["senior_rec"], eff_games)
            out["td_per_catch"] = _ratio(cols["senior_tds"], cols["senior_rec"])

    def _missing(self, out: dict[str, np.ndarray], cols: dict[str, np.ndarray],
                 frame: _Canonical) -> None:
        """Which combine results the input lacked, and whether it has a junior season."""
        flags = [np.isnan(frame.column(name)).astype("float64") for name in COMBINE_COLUMNS]
        for name, flag in zip(COMBINE_COLUMNS, flags, strict=True):
            out[f"{name}_missing"] = flag
        out["combine_missing_count"] = np.sum(flags, axis=0)
        out["no_combine"] = (out["combine_missing_count"] == len(COMBINE_COLUMNS)).astype(
            "float64")
        junior = _PRODUCTION_PAIR[self.position_][1]
        out["junior_season_missing"] = np.isnan(cols[junior]).astype("float64")

    def _athletic(self, cols: dict[str, np.ndarray]) -> np.ndarray:
        zs = []
        for name in COMBINE_COLUMNS:
            mean, std = self.norms_[name]
            if not np.isfinite(std):
                continue
            z = (cols[name] - mean) / std
            zs.append(-z if name in _LOWER_IS_BETTER else z)
        if not zs:
            return np.full(len(cols["height_inches"]), np.nan)
        stacked = np.column_stack(zs)
        counts = np.isfinite(stacked).sum(axis=1)
        total = np.nansum(stacked, axis=1)
        return np.where(counts > 0, total / np.maximum(counts, 1), np.nan)


def _state_tier_features(out: dict[str, np.ndarray], frame: _Canonical) -> None:
    """The state's recruiting tier (NaN when unknown), and one 0/1 column per tier."""
    tiers = (_state_tiers(frame.states) if frame.states is not None
             else np.full(len(frame), np.nan))
    out["state_tier"] = tiers
    # One column per tier as well: the share of recruits by tier need
    # not change by the same step from one tier to the next.
    for tier in (1, 2, 3, 4):
        out[f"state_tier_{tier}"] = (tiers == tier).astype("float64")
