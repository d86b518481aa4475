"""Predictions for athletes whose per-game production is unknown: integrate, never guess.

The models take a per-game rate (a QB's passing yards per game).  When a request
gives the season total and the games played, the rate is derived by the rule of
:mod:`recruit_reveal.data.production`.  When it cannot be derived, the
prediction is ``p(division | what is known)``, the model's probabilities averaged
over what is not known:

* **a season total without games played** (or with a number of games that makes
  ``total / games`` an implausible rate): for every number of games ``g`` the
  release's training data holds, the full model scores the athlete with
  ``games = g`` and ``rate = total / g``; the probabilities are averaged with
  weights ``p(g | total)`` proportional to the games histogram of the training
  data times the training data's (log-normal) rate density at ``total / g``.
  That is Bayes' rule for ``g``: a 3,600-yard season is more likely 12 games at
  300 than 8 at 450.  Numbers of games whose rate falls outside the rate's
  plausible range get no weight;
* **no rate and no total** ("no production"): a second model of the same
  estimator, fitted at training time on the same rows with every production
  input removed (:func:`production_columns`), scores the athlete's
  measurables.  A model fitted without an input *is* ``p(division |
  measurables)``, the integral over the input's distribution given the
  measurables, learned from the same data rather than approximated.

Both parts ride inside the exported pipeline object, as the attribute
:data:`ATTRIBUTE` (a dict of a fitted ``Pipeline``, numpy arrays and floats:
types skops trusts already), so one artifact file still holds the whole model
and its checksum and signature cover them.  They hold aggregates only: a
histogram of games 1..16 and the mean and spread of the log rate, no row.

A pipeline exported before partial profiles has no such attribute: it answers
complete rows as before and refuses the others
(:class:`~recruit_reveal.errors.IncompatibleModelError`) rather than impute.

Which inputs are the rate, its season total and the games come from the position's
spec (its production stat's ``total`` and ``games``).  A position without a
production stat (measurables only) has no partial profile: every row is complete.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import schema
from ..catalog import Input, PositionSpec
from ..errors import IncompatibleModelError

#: Where the parts live on a fitted pipeline.
ATTRIBUTE = "partial_profiles_"
#: Games 1..MAX_GAMES: the range of the games column.
MAX_GAMES = 16

#: Row kinds, by what is known of the senior production.
COMPLETE, TOTAL_ONLY, NO_PRODUCTION = 0, 1, 2

Predict = Callable[[np.ndarray, np.ndarray], np.ndarray]


# --------------------------------------------------------------------------- training


def games_histogram(games: np.ndarray) -> np.ndarray:
    """Counts of 1..MAX_GAMES senior games among the given values (missing ones skipped)."""
    games = np.asarray(games, dtype="float64")
    known = games[np.isfinite(games)]
    whole = np.rint(known).astype(np.int64)
    whole = whole[(whole >= 1) & (whole <= MAX_GAMES)]
    return np.bincount(whole - 1, minlength=MAX_GAMES).astype("float64")


def log_rate_stats(rate: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of log(rate) over the positive known rates."""
    rate = np.asarray(rate, dtype="float64")
    positive = rate[np.isfinite(rate) & (rate > 0)]
    if positive.size < 2:
        return float("nan"), float("nan")
    logs = np.log(positive)
    return float(logs.mean()), float(logs.std())


def blank_production(frame: Any, position: schema.PositionLike) -> Any:
    """A copy of the frame with every production input missing (the measurables)."""
    out = frame.copy()
    for name in schema.spec_of(position).production_inputs:
        if name in out.columns:
            out[name] = np.nan
    return out


def _column(frame: Any, name: str) -> np.ndarray:
    return frame[name].to_numpy(dtype="float64") if name in frame else \
        np.full(len(frame), np.nan)


def fit_partial_profiles(pipeline: Any, frame: Any, target: Any,
                         position: schema.PositionLike) -> dict[str, Any] | None:
    """Fit the measurables-only model beside a fitted ``pipeline`` and attach both parts.

    The measurables model is an unfitted clone of ``pipeline`` (same steps, estimator
    and parameters) fitted on ``frame`` with the production inputs removed.  Returns
    the aggregates written to the model's metadata (:func:`summary`); None for a
    position without a production rate (nothing to integrate over).
    """
    from sklearn.base import clone

    spec = schema.spec_of(position)
    cols = _Columns.of(spec)
    if cols is None:
        return None
    blank = blank_production(frame, spec)
    measurables = clone(pipeline)
    _exclude_constant_features(measurables, blank)
    measurables.fit(blank, target)
    mean, sd = log_rate_stats(_column(frame, cols.names[cols.rate]))
    parts = {
        "position": spec.key,
        "measurables_model": measurables,
        "games_histogram": games_histogram(_column(frame, cols.names[cols.games])),
        "log_rate": np.array([mean, sd]),
    }
    setattr(pipeline, ATTRIBUTE, parts)
    return summary(pipeline) or {}


def _exclude_constant_features(pipeline: Any, blank: Any) -> None:
    """Leave out the derived features that carry nothing once production is removed (all
    missing or constant): some estimators (gradient boosting) cannot bin an empty column."""
    from sklearn.base import clone

    name, features = pipeline.steps[0]
    fitted = clone(features).fit(blank)
    values = fitted.transform(blank)
    with np.errstate(invalid="ignore"):
        constant = ~(np.nanmax(values, axis=0, initial=-np.inf)
                     > np.nanmin(values, axis=0, initial=np.inf))
    dead = [str(n) for n, c in zip(fitted.get_feature_names_out(), constant, strict=True) if c]
    pipeline.set_params(**{f"{name}__exclude": [*(features.exclude or ()), *dead]})


def parts_of(pipeline: Any) -> dict[str, Any] | None:
    """The partial-profile parts a pipeline carries, or None (exported before them)."""
    parts = getattr(pipeline, ATTRIBUTE, None)
    return parts if isinstance(parts, dict) and "measurables_model" in parts else None


def summary(pipeline: Any) -> dict[str, Any] | None:
    """The aggregates of a pipeline's parts, JSON-ready (the ``partial_profiles`` metadata)."""
    parts = parts_of(pipeline)
    if parts is None:
        return None
    mean, sd = (float(v) for v in parts["log_rate"])
    spec = pipeline.steps[0][1].spec_ if hasattr(pipeline.steps[0][1], "spec_") else None
    inputs = (PositionSpec.from_dict(spec) if spec else schema.spec_of(parts["position"])
              ).production_inputs
    return {
        "games_histogram": {str(g + 1): int(c) for g, c in enumerate(parts["games_histogram"])
                            if c > 0},
        "log_rate_mean": mean if np.isfinite(mean) else None,
        "log_rate_sd": sd if np.isfinite(sd) else None,
        "measurables_model": True,
        "production_inputs": list(inputs),
    }


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True, eq=False)
class _Columns:
    """Where the production inputs sit among the numeric columns of a position."""

    rate: int
    total: int
    games: int
    production: np.ndarray
    names: tuple[str, ...]
    #: The rate input (its range bounds the rates tried).
    column: Input

    @classmethod
    def of(cls, spec: PositionSpec) -> _Columns | None:
        """None for a position whose production stat is not a rate of a season total over
        games among its inputs (e.g. measurables only)."""
        names = tuple(c.name for c in spec.numeric)
        rate = spec.column(spec.production) if spec.production in names else None
        if rate is None or rate.total not in names or rate.games not in names:
            return None
        prod = [names.index(n) for n in spec.production_inputs if n in names]
        return cls(names.index(rate.name), names.index(rate.total), names.index(rate.games),
                   np.asarray(prod, dtype=np.int64), names, rate)


def _columns(position: schema.PositionLike) -> _Columns | None:
    return _Columns.of(schema.spec_of(position))


def _derivable(rate: np.ndarray, total: np.ndarray, games: np.ndarray,
               col: Input) -> np.ndarray:
    """Rows whose missing rate follows from total / games within the rate's range: the rule
    of :mod:`recruit_reveal.data.production`, read off the spec."""
    usable = np.isnan(rate) & np.isfinite(total) & np.isfinite(games) & (games > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(usable, total / np.where(usable, games, 1.0), np.nan)
        bad = (value < (col.low if col.low is not None else -np.inf)) | \
            (value > (col.high if col.high is not None else np.inf))
    return usable & ~bad


def row_kinds(x: np.ndarray, position: schema.PositionLike) -> np.ndarray:
    """Per row: COMPLETE (the rate is given or derivable from total and games),
    TOTAL_ONLY (a total without games) or NO_PRODUCTION (neither rate nor total).
    Every row of a position without a production rate is complete."""
    return _row_kinds(x, _columns(position))


def _row_kinds(x: np.ndarray, cols: _Columns | None) -> np.ndarray:
    kinds = np.full(len(x), COMPLETE, dtype=np.int64)
    if cols is None:
        return kinds
    rate, total, games = x[:, cols.rate], x[:, cols.total], x[:, cols.games]
    unknown = np.isnan(rate) & ~_derivable(rate, total, games, cols.column)
    kinds[unknown & np.isfinite(total)] = TOTAL_ONLY
    kinds[unknown & ~np.isfinite(total)] = NO_PRODUCTION
    return kinds


def integrated(x: np.ndarray, position: schema.PositionLike
               ) -> list[tuple[list[str], str | None]]:
    """Per row, the inputs the prediction integrated over and a short description of how
    (``([], None)`` for a row whose rate is given or derived)."""
    spec = schema.spec_of(position)
    position, cols = spec.key, _Columns.of(spec)
    if cols is None or not np.isnan(x[:, cols.rate]).any():
        return [([], None) for _ in range(len(x))]
    rate, total, games_name = (cols.names[j] for j in (cols.rate, cols.total, cols.games))
    prod_names = [cols.names[j] for j in cols.production]
    out: list[tuple[list[str], str | None]] = []
    for kind, row in zip(row_kinds(x, spec).tolist(), x, strict=True):
        if kind == COMPLETE:
            out.append(([], None))
        elif kind == TOTAL_ONLY:
            text = (f"games played: the release's training distribution for {position} "
                    f"({rate} = {total} / games for each number of games)")
            games = row[cols.games]
            if not np.isnan(games):
                text += (f"; the games given ({games:g}) make {total} / games outside the "
                         f"plausible range of {rate}")
            out.append(([rate, games_name], text))
        else:
            given = [n for n, v in zip(prod_names, row[cols.production], strict=True)
                     if not np.isnan(v)]
            missing = [n for n in prod_names if n not in given]
            text = (f"production: the release's measurables-only model for {position}, "
                    "p(division | measurables)")
            if given:
                text += f"; not used without {rate} or {total}: {', '.join(given)}"
            out.append((missing, text))
    return out


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True, eq=False)
class PartialProfiles:
    """How a scorer answers rows whose rate is unknown (see the module docstring).

    ``measurables`` scores the measurables-only model (None: the pipeline has no parts,
    and such rows are refused); ``weights`` is the games histogram over 1..MAX_GAMES.
    """

    position: str
    measurables: Predict | None = None
    weights: np.ndarray | None = None
    log_rate: tuple[float, float] = (float("nan"), float("nan"))
    #: Where the rate, total and games sit (None: no production rate, every row complete).
    columns: _Columns | None = None

    def predict(self, complete: Predict, x: np.ndarray, state: np.ndarray) -> np.ndarray:
        """Probabilities of every row: ``complete`` for rows with a rate, the integrals
        for the others.  Rows with a rate pay one NaN check."""
        cols = self.columns
        if cols is None or not np.isnan(x[:, cols.rate]).any():
            return complete(x, state)
        kinds = _row_kinds(x, cols)
        if (kinds == COMPLETE).all():
            return complete(x, state)
        self._refuse_without_parts(kinds)
        out: np.ndarray | None = None
        for kind, score in ((COMPLETE, None), (TOTAL_ONLY, self._over_games),
                            (NO_PRODUCTION, self._measurables_only)):
            rows = np.flatnonzero(kinds == kind)
            if rows.size:
                part = complete(x[rows], state[rows]) if score is None else \
                    score(complete, x[rows], state[rows])
                if out is None:  # as many columns as the model's ladder has levels
                    out = np.empty((len(x), part.shape[1]))
                out[rows] = part
        assert out is not None
        return out

    def _refuse_without_parts(self, kinds: np.ndarray) -> None:
        if self.measurables is None:
            assert self.columns is not None
            rate, total, games = (self.columns.names[j] for j in
                                  (self.columns.rate, self.columns.total, self.columns.games))
            raise IncompatibleModelError(
                f"{rate}: the served {self.position} model was exported before partial "
                f"profiles and cannot integrate over unknown production; give {rate}, or "
                f"{total} and {games}, or serve a newer version")

    def _measurables_only(self, complete: Predict, x: np.ndarray,
                          state: np.ndarray) -> np.ndarray:
        assert self.measurables is not None
        blank = x.copy()
        assert self.columns is not None
        blank[:, self.columns.production] = np.nan
        return self.measurables(blank, state)

    def _over_games(self, complete: Predict, x: np.ndarray, state: np.ndarray) -> np.ndarray:
        """The full model averaged over games with weights p(g | total), all rows at once."""
        weights = self.weights
        if weights is None or not weights.any():
            # A release trained without games played holds no distribution to integrate over.
            return self._measurables_only(complete, x, state)
        cols = self.columns
        assert cols is not None
        games = np.flatnonzero(weights > 0) + 1.0
        w = game_weights(x[:, cols.total], games, weights[games.astype(int) - 1],
                         self.log_rate, cols.column)
        n, m = len(x), len(games)
        grid = np.repeat(x, m, axis=0)
        grid[:, cols.games] = np.tile(games, n)
        grid[:, cols.rate] = np.clip(grid[:, cols.total] / grid[:, cols.games],
                                     cols.column.low, cols.column.high)
        proba = complete(grid, np.repeat(state, m)).reshape(n, m, -1)
        return np.einsum("nm,nmk->nk", w, proba)


def game_weights(total: np.ndarray, games: np.ndarray, prior: np.ndarray,
                 log_rate: tuple[float, float],
                 position: Input | schema.PositionLike) -> np.ndarray:
    """(n, len(games)) weights p(g | total) of each row, each row summing to 1.

    ``prior`` (the games histogram) times the log-normal density of the rate at
    ``total / g`` (the Jacobian of total = rate x g cancels on the log scale); zero
    where ``total / g`` is outside the rate's range.  A row with no plausible ``g``
    (or a total of 0, for which every ``g`` is alike) keeps the prior alone.
    ``position``: a position (its production rate) or the rate input itself.
    """
    col = position if isinstance(position, Input) else _rate_input(position)
    total = np.asarray(total, dtype="float64")[:, None]
    rate = total / games[None, :]
    plausible = (rate >= (col.low if col.low is not None else -np.inf)) & \
        (rate <= (col.high if col.high is not None else np.inf))
    mean, sd = log_rate
    with np.errstate(divide="ignore", invalid="ignore"):
        if np.isfinite(mean) and np.isfinite(sd) and sd > 0:
            z = (np.log(rate) - mean) / sd
            likelihood = np.where(rate > 0, np.exp(-0.5 * z * z), 1.0)
        else:
            likelihood = np.ones_like(rate)
    w = prior[None, :] * likelihood * plausible
    none = ~(w.sum(axis=1) > 0)
    w[none] = prior
    return w / w.sum(axis=1, keepdims=True)


def _rate_input(position: schema.PositionLike) -> Input:
    cols = _columns(position)
    if cols is None:
        raise ValueError(f"position {schema.spec_of(position).key!r} has no production rate")
    return cols.column


def profiles_for(pipeline: Any, position: schema.PositionLike,
                 compile_measurables: Callable[[Any], Predict]) -> PartialProfiles:
    """The :class:`PartialProfiles` of a fitted pipeline; ``compile_measurables`` turns
    the measurables-only pipeline into a scoring function (the fast path when it has one)."""
    spec = schema.spec_of(position)
    cols = _Columns.of(spec)
    parts = parts_of(pipeline)
    if parts is None or parts.get("position") != spec.key:
        return PartialProfiles(spec.key, columns=cols)
    mean, sd = (float(v) for v in np.asarray(parts["log_rate"], dtype="float64"))
    return PartialProfiles(spec.key, compile_measurables(parts["measurables_model"]),
                           np.asarray(parts["games_histogram"], dtype="float64"), (mean, sd),
                           cols)
