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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import schema
from ..data import production
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


def blank_production(frame: Any, position: str) -> Any:
    """A copy of the frame with every production input missing (the measurables)."""
    out = frame.copy()
    for name in production.production_columns(position):
        if name in out.columns:
            out[name] = np.nan
    return out


def fit_partial_profiles(pipeline: Any, frame: Any, target: Any, position: str) -> dict[str, Any]:
    """Fit the measurables-only model beside a fitted ``pipeline`` and attach both parts.

    The measurables model is an unfitted clone of ``pipeline`` (same steps, estimator
    and parameters) fitted on ``frame`` with the production inputs removed.  Returns
    the aggregates written to the model's metadata (:func:`summary`).
    """
    from sklearn.base import clone

    position = schema.check_position(position)
    blank = blank_production(frame, position)
    measurables = clone(pipeline)
    _exclude_constant_features(measurables, blank)
    measurables.fit(blank, target)
    rate_name, _ = production.rate_pair(position)
    mean, sd = log_rate_stats(frame[rate_name].to_numpy(dtype="float64"))
    parts = {
        "position": position,
        "measurables_model": measurables,
        "games_histogram": games_histogram(frame[production.GAMES_COLUMN].to_numpy(
            dtype="float64")),
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
    return {
        "games_histogram": {str(g + 1): int(c) for g, c in enumerate(parts["games_histogram"])
                            if c > 0},
        "log_rate_mean": mean if np.isfinite(mean) else None,
        "log_rate_sd": sd if np.isfinite(sd) else None,
        "measurables_model": True,
        "production_inputs": list(production.production_columns(parts["position"])),
    }


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class _Columns:
    """Where the production inputs sit among the numeric columns of a position."""

    rate: int
    total: int
    games: int
    production: np.ndarray
    names: tuple[str, ...]

    @classmethod
    def of(cls, position: str) -> _Columns:
        names = tuple(c.name for c in schema.numeric_columns(position))
        rate, total = production.rate_pair(position)
        prod = [names.index(n) for n in production.production_columns(position)]
        return cls(names.index(rate), names.index(total), names.index(production.GAMES_COLUMN),
                   np.asarray(prod, dtype=np.int64), names)


_COLUMNS = {pos: _Columns.of(pos) for pos in schema.POSITIONS}


def row_kinds(x: np.ndarray, position: str) -> np.ndarray:
    """Per row: COMPLETE (the rate is given or derivable from total and games),
    TOTAL_ONLY (a total without games) or NO_PRODUCTION (neither rate nor total)."""
    cols = _COLUMNS[position]
    rate, total, games = x[:, cols.rate], x[:, cols.total], x[:, cols.games]
    kinds = np.full(len(x), COMPLETE, dtype=np.int64)
    unknown = np.isnan(rate) & ~production.derive_rates(rate, total, games, position).derived
    kinds[unknown & np.isfinite(total)] = TOTAL_ONLY
    kinds[unknown & ~np.isfinite(total)] = NO_PRODUCTION
    return kinds


def integrated(x: np.ndarray, position: str) -> list[tuple[list[str], str | None]]:
    """Per row, the inputs the prediction integrated over and a short description of how
    (``([], None)`` for a row whose rate is given or derived)."""
    position = schema.check_position(position)
    cols = _COLUMNS[position]
    if not np.isnan(x[:, cols.rate]).any():
        return [([], None) for _ in range(len(x))]
    rate, total = production.rate_pair(position)
    prod_names = [cols.names[j] for j in cols.production]
    out: list[tuple[list[str], str | None]] = []
    for kind, row in zip(row_kinds(x, position).tolist(), x, strict=True):
        if kind == COMPLETE:
            out.append(([], None))
        elif kind == TOTAL_ONLY:
            text = (f"games played: the release's training distribution for {position} "
                    f"({rate} = {total} / games for each number of games)")
            games = row[cols.games]
            if not np.isnan(games):
                text += (f"; the games given ({games:g}) make {total} / games outside the "
                         f"plausible range of {rate}")
            out.append(([rate, production.GAMES_COLUMN], text))
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

    def predict(self, complete: Predict, x: np.ndarray, state: np.ndarray) -> np.ndarray:
        """Probabilities of every row: ``complete`` for rows with a rate, the integrals
        for the others.  Rows with a rate pay one NaN check."""
        cols = _COLUMNS[self.position]
        if not np.isnan(x[:, cols.rate]).any():
            return complete(x, state)
        kinds = row_kinds(x, self.position)
        if (kinds == COMPLETE).all():
            return complete(x, state)
        self._refuse_without_parts(kinds)
        out = np.empty((len(x), len(schema.DIVISIONS)))
        for kind, score in ((COMPLETE, None), (TOTAL_ONLY, self._over_games),
                            (NO_PRODUCTION, self._measurables_only)):
            rows = np.flatnonzero(kinds == kind)
            if rows.size:
                out[rows] = complete(x[rows], state[rows]) if score is None else \
                    score(complete, x[rows], state[rows])
        return out

    def _refuse_without_parts(self, kinds: np.ndarray) -> None:
        if self.measurables is None:
            rate, total = production.rate_pair(self.position)
            raise IncompatibleModelError(
                f"{rate}: the served {self.position} model was exported before partial "
                f"profiles and cannot integrate over unknown production; give {rate}, or "
                f"{total} and {production.GAMES_COLUMN}, or serve a newer version")

    def _measurables_only(self, complete: Predict, x: np.ndarray,
                          state: np.ndarray) -> np.ndarray:
        assert self.measurables is not None
        blank = x.copy()
        blank[:, _COLUMNS[self.position].production] = np.nan
        return self.measurables(blank, state)

    def _over_games(self, complete: Predict, x: np.ndarray, state: np.ndarray) -> np.ndarray:
        """The full model averaged over games with weights p(g | total), all rows at once."""
        weights = self.weights
        if weights is None or not weights.any():
            # A release trained without games played holds no distribution to integrate over.
            return self._measurables_only(complete, x, state)
        cols = _COLUMNS[self.position]
        games = np.flatnonzero(weights > 0) + 1.0
        w = game_weights(x[:, cols.total], games, weights[games.astype(int) - 1],
                         self.log_rate, self.position)
        n, m = len(x), len(games)
        grid = np.repeat(x, m, axis=0)
        grid[:, cols.games] = np.tile(games, n)
        grid[:, cols.rate] = _rates(grid[:, cols.total], grid[:, cols.games], self.position)
        proba = complete(grid, np.repeat(state, m)).reshape(n, m, -1)
        return np.einsum("nm,nmk->nk", w, proba)


def _rates(total: np.ndarray, games: np.ndarray, position: str) -> np.ndarray:
    """total / games, held inside the rate's plausible range (only reached by rows whose
    every number of games gives an implausible rate, e.g. a negative rushing total)."""
    rate_name, _ = production.rate_pair(position)
    col = schema.column(position, rate_name)
    return np.clip(total / games, col.low, col.high)


def game_weights(total: np.ndarray, games: np.ndarray, prior: np.ndarray,
                 log_rate: tuple[float, float], position: str) -> np.ndarray:
    """(n, len(games)) weights p(g | total) of each row, each row summing to 1.

    ``prior`` (the games histogram) times the log-normal density of the rate at
    ``total / g`` (the Jacobian of total = rate x g cancels on the log scale); zero
    where ``total / g`` is outside the rate's range.  A row with no plausible ``g``
    (or a total of 0, for which every ``g`` is alike) keeps the prior alone.
    """
    rate_name, _ = production.rate_pair(position)
    col = schema.column(position, rate_name)
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


def profiles_for(pipeline: Any, position: str,
                 compile_measurables: Callable[[Any], Predict]) -> PartialProfiles:
    """The :class:`PartialProfiles` of a fitted pipeline; ``compile_measurables`` turns
    the measurables-only pipeline into a scoring function (the fast path when it has one)."""
    position = schema.check_position(position)
    parts = parts_of(pipeline)
    if parts is None or parts.get("position") != position:
        return PartialProfiles(position)
    mean, sd = (float(v) for v in np.asarray(parts["log_rate"], dtype="float64"))
    return PartialProfiles(position, compile_measurables(parts["measurables_model"]),
                           np.asarray(parts["games_histogram"], dtype="float64"), (mean, sd))
