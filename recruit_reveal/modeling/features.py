"""Derived features: scikit-learn transformers fitted on training folds only.

Every transformer here takes the *raw canonical* frame of a position (the
columns of its spec, missing values and even missing columns allowed) and
never sees the target.  What a position's features are comes from its
:class:`~recruit_reveal.catalog.PositionSpec` alone (rates and their totals,
junior stats, the combine group, the production stat, derived features, state
tiers), resolved once in ``fit`` and kept as plain data, so a fitted
transformer needs no catalog to transform.  The earlier system
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
    the spec's derived features of that group (junior -> senior change in
    production).
``efficiency``
    the spec's derived features of that group (TDs per game, TD/INT, yards
    per touch, catches per game, ...).
``athletic``
    mean z-score of the available combine results against the position's
    norms, learned in ``fit`` from the training fold's inputs (never the target).
``state_tier``
    recruiting-density tier of the state (1 elite .. the last, "other"), as a number
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
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .. import schema
from ..catalog import default_catalog
from .canonical import (
    _Canonical,
    _state_tiers,
    canonical_frame,
    feature_plan,
    tier_table,
)

__all__ = ["FEATURE_GROUPS", "DerivedFeatures", "canonical_frame", "derived_value",
           "feature_plan", "tier_table"]

logger = logging.getLogger(__name__)

FEATURE_GROUPS: tuple[str, ...] = (
    "per_game", "combine_impute", "log_production", "bmi", "speed_score", "trajectory", "efficiency", "athletic",
    "state_tier", "missing",
)
#: Typical senior games when the training rows give none (the earlier system's season).
_FALLBACK_GAMES = 10.0


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where den is missing or not positive (never inf)."""
    out = np.full_like(num, np.nan, dtype="float64")
    ok = np.isfinite(num) & np.isfinite(den) & (den > 0)
    out[ok] = num[ok] / den[ok]
    return out


def derived_value(d: dict[str, Any], cols: Callable[[str], np.ndarray], games: np.ndarray,
                  ratio: Callable[[np.ndarray, np.ndarray], np.ndarray] = _ratio) -> np.ndarray:
    """A derived feature of the spec (``Derived``, as plain data) from the filled inputs;
    ``games``: senior games, the typical number where missing."""
    first, *rest = (cols(n) for n in d["of"])
    if d["op"] == "difference":
        return first - rest[0]
    if d["op"] == "ratio":
        den = rest[0] + d["plus"] if d["plus"] else rest[0]
        return ratio(first, den)
    # per_game: the first as given, the others with a missing value as 0.
    for other in rest:
        first = first + np.nan_to_num(other)
    return ratio(first, games)


def _impute_combine(cols: dict[str, np.ndarray], combine: list[str], mean: np.ndarray,
                    cov: np.ndarray) -> None:
    """Fill partly recorded combine rows in ``cols`` with their conditional Gaussian mean."""
    block = np.column_stack([cols[name] for name in combine])
    observed = np.isfinite(block)
    partial = observed.any(axis=1) & ~observed.all(axis=1)
    # Each missingness pattern as one integer, first column most significant:
    # the distinct patterns come without a Python loop over rows (or a row-wise
    # np.unique), in the order sorted() gave the tuples.
    n_cols = len(combine)
    weights = 1 << np.arange(n_cols - 1, -1, -1)
    keys = observed @ weights
    for key in np.unique(keys[partial]):
        o = (int(key) & weights) > 0
        m = ~o
        rows = partial & (keys == key)
        # E[x_m | x_o] = mu_m + S_mo S_oo^-1 (x_o - mu_o)
        coef = np.linalg.solve(cov[np.ix_(o, o)], cov[np.ix_(o, m)])
        block[np.ix_(rows, m)] = mean[m] + (block[np.ix_(rows, o)] - mean[o]) @ coef
    for j, name in enumerate(combine):
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
    - ``spec_`` (the spec's plain data) and ``plan_`` (:func:`feature_plan`):
      everything ``transform`` needs about the position;
    - ``feature_names_out_``.

    Parameters
    ----------
    position : a position key of the active catalog, a ``PositionSpec`` or its plain data
        (a model to be exported with skops takes a key or the plain data, as
        ``estimators.build_pipeline`` passes it: parameters are stored as given)
    groups : sequence of names from :data:`FEATURE_GROUPS`, or None for all.
    exclude : output feature names to leave out (raw or derived), or None.
    """

    def __init__(self, position: schema.PositionLike | None = None,
                 groups: Sequence[str] | None = None, exclude: Sequence[str] | None = None):
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
        if self.position is None:
            raise ValueError("DerivedFeatures needs a position (a key, a spec or its data)")
        spec = schema.spec_of(self.position)
        groups = self._groups()
        plan = feature_plan(spec)
        frame = _Canonical(X, plan)
        self.position_, self.spec_, self.plan_ = spec.key, spec.to_dict(), plan
        self.groups_ = groups
        games = frame.column(plan["games"]) if plan["games"] else np.zeros(0)
        finite_games = games[np.isfinite(games)]
        self.typical_games_ = (float(np.median(finite_games)) if finite_games.size
                               else _FALLBACK_GAMES)
        self.norms_ = {}
        combine = plan["combine"]
        for name in combine:
            values = frame.column(name)
            values = values[np.isfinite(values)]
            if values.size >= 2 and np.std(values) > 0:
                self.norms_[name] = (float(np.mean(values)), float(np.std(values)))
            else:
                # A result never (or once) measured in training carries no norm;
                # it simply drops out of the composite.
                self.norms_[name] = (float("nan"), float("nan"))
        block = np.column_stack([frame.column(name) for name in combine]) if combine \
            else np.zeros((len(frame), 0))
        complete = block[np.isfinite(block).all(axis=1)]
        self.combine_mean_: np.ndarray | None
        self.combine_cov_: np.ndarray | None
        if combine and len(complete) > 2 * len(combine):
            self.combine_mean_ = complete.mean(axis=0)
            self.combine_cov_ = np.atleast_2d(np.cov(complete, rowvar=False))
        else:
            self.combine_mean_ = None
            self.combine_cov_ = None
        self.n_fit_rows_ = len(frame)
        self.feature_names_in_ = np.array(plan["names"], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        _, names = self._compute(frame)
        self.feature_names_out_ = np.array(names, dtype=object)
        return self

    def fitted_plan(self) -> dict[str, Any]:
        """``plan_``; a transformer fitted before specs travelled with models has none and
        was fitted on the default catalog's football, whose spec gives it."""
        plan = getattr(self, "plan_", None)
        if plan is None:
            plan = feature_plan(default_catalog().position(self.position_))
            self.plan_ = plan
        return plan

    def transform(self, X):
        check_is_fitted(self, "feature_names_out_")
        frame = _Canonical(X, self.fitted_plan())
        values, _ = self._compute(frame)
        return values

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()

    # -- the features -------------------------------------------------------

    def _compute(self, frame: _Canonical) -> tuple[np.ndarray, list[str]]:
        groups, plan = self.groups_, self.fitted_plan()
        # A private copy: the missing-value flags below read the untouched inputs.
        own = frame.block.copy(order="F")
        cols = {name: own[:, j] for j, name in enumerate(frame.numeric)}
        if "per_game" in groups:
            self._fill_seasons(cols, plan)
        mean, cov = self.combine_mean_, self.combine_cov_
        if "combine_impute" in groups and mean is not None and cov is not None:
            _impute_combine(cols, plan["combine"], mean, cov)
        out: dict[str, np.ndarray] = dict(cols)
        self._derived(out, cols, plan, len(frame))
        if "athletic" in groups:
            out["athletic_composite"] = self._athletic(cols, plan, len(frame))
        if "state_tier" in groups:
            _state_tier_features(out, frame, plan["state_tiers"])
        if "missing" in groups:
            _missing(out, cols, frame, plan)
        names = [n for n in out if n not in set(self.exclude or ())]
        values = np.column_stack([out[n] for n in names]) if len(frame) else np.empty(
            (0, len(names)))
        return values.astype("float64"), names

    def _games(self, cols: dict[str, np.ndarray], name: str | None, n: int) -> np.ndarray:
        """Games played, the typical number where missing (or without a games column)."""
        if name is None:
            return np.full(n, self.typical_games_)
        return np.where(np.isfinite(cols[name]), cols[name], self.typical_games_)

    def _fill_seasons(self, cols: dict[str, np.ndarray], plan: dict[str, Any]) -> None:
        """Per-game figures and season totals, each filled from the other where missing;
        then ratios of inputs (yards per catch) from their parts."""
        n = len(next(iter(cols.values()))) if cols else 0
        for per_game, total, games in plan["pairs"]:
            g = self._games(cols, games, n)
            fill = _ratio(cols[total], g)
            cols[per_game] = np.where(np.isfinite(cols[per_game]), cols[per_game], fill)
            back = cols[per_game] * g
            cols[total] = np.where(np.isfinite(cols[total]), cols[total], back)
        for name, num, den in plan["ratio_fills"]:
            cols[name] = np.where(np.isfinite(cols[name]), cols[name],
                                  _ratio(cols[num], cols[den]))

    def _derived(self, out: dict[str, np.ndarray], cols: dict[str, np.ndarray],
                 plan: dict[str, Any], n: int) -> None:
        """Production on a log scale, body size, speed, then the spec's derived features
        by group (trajectory, efficiency)."""
        groups = self.groups_
        if "log_production" in groups:
            # Production is multiplicative (its spread grows with its level), so
            # on a log scale the divisions differ by a shift, which linear models fit.
            for name in plan["production"]:
                out[f"log_{name}"] = np.log1p(np.clip(cols[name], 0.0, None))
        h, w = cols.get("height_inches"), cols.get("weight_lbs")
        if "bmi" in groups and h is not None and w is not None:
            out["bmi"] = 703.0 * _ratio(w, h * h)
        forty = cols.get("forty_yard_dash")
        if "speed_score" in groups and w is not None and forty is not None:
            out["speed_score"] = 200.0 * _ratio(w, forty ** 4)
        games = self._games(cols, plan["games"], n)
        for group in ("trajectory", "efficiency"):
            if group in groups:
                for d in plan["derived"]:
                    if d["group"] == group:
                        out[d["name"]] = derived_value(d, cols.__getitem__, games)

    def _athletic(self, cols: dict[str, np.ndarray], plan: dict[str, Any], n: int) -> np.ndarray:
        zs = []
        for name in plan["combine"]:
            mean, std = self.norms_[name]
            if not np.isfinite(std):
                continue
            z = (cols[name] - mean) / std
            zs.append(-z if name in plan["lower_better"] else z)
        if not zs:
            return np.full(n, np.nan)
        stacked = np.column_stack(zs)
        counts = np.isfinite(stacked).sum(axis=1)
        total = np.nansum(stacked, axis=1)
        return np.where(counts > 0, total / np.maximum(counts, 1), np.nan)


def _missing(out: dict[str, np.ndarray], cols: dict[str, np.ndarray], frame: _Canonical,
             plan: dict[str, Any]) -> None:
    """Which combine results the input lacked, and whether it has a junior season."""
    combine = plan["combine"]
    if combine:
        flags = [np.isnan(frame.column(name)).astype("float64") for name in combine]
        for name, flag in zip(combine, flags, strict=True):
            out[f"{name}_missing"] = flag
        out["combine_missing_count"] = np.sum(flags, axis=0)
        out["no_combine"] = (out["combine_missing_count"] == len(combine)).astype("float64")
    if plan["junior"] is not None:
        out["junior_season_missing"] = np.isnan(cols[plan["junior"]]).astype("float64")


def _state_tier_features(out: dict[str, np.ndarray], frame: _Canonical,
                         state_tiers: list[list[str]]) -> None:
    """The state's recruiting tier (NaN when unknown), and one 0/1 column per tier."""
    tiers = (_state_tiers(frame.states, tier_table(state_tiers))
             if frame.states is not None else np.full(len(frame), np.nan))
    out["state_tier"] = tiers
    # One column per tier as well: the share of recruits by tier need
    # not change by the same step from one tier to the next.
    for tier in range(1, len(state_tiers) + 2):
        out[f"state_tier_{tier}"] = (tiers == tier).astype("float64")
