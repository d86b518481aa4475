"""A fitted pipeline compiled to plain numpy arithmetic (the fast scoring path's parts).

:class:`CompiledFeatures` is a fitted
:class:`~recruit_reveal.modeling.features.DerivedFeatures` as arrays, computing the
same features on numeric inputs in schema order (float64, NaN for missing, within
the schema's plausible ranges: there is no per-call validation) and state tiers;
:class:`CompiledModel` is the imputer, the scaler and the linear or
cumulative-ordinal classifier folded into one affine map and a link.
:mod:`recruit_reveal.modeling.scoring` puts them together and checks the result
against the pipeline.  Either raises :class:`UnsupportedPipeline` for a step it
does not compute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from scipy.special import expit

from .. import schema
from .features import _PER_GAME_PAIRS, _PRODUCTION_PAIR, COMBINE_COLUMNS, DerivedFeatures

_LOWER_IS_BETTER = frozenset({"forty_yard_dash", "shuttle"})
_TIER_OF: dict[object, float] = {code: float(schema.state_tier(code) or math.nan)
                                 for code in schema.US_STATES}
_TIER_OF.update({None: math.nan, np.nan: math.nan, "": math.nan})
_TIERS = np.array([1.0, 2.0, 3.0, 4.0])
_TIER_NAMES = tuple(f"state_tier_{t}" for t in (1, 2, 3, 4))
_MISSING_NAMES = tuple(f"{name}_missing" for name in COMBINE_COLUMNS)
#: A combine missingness pattern as one number (first column most significant), as
#: ``features._impute_combine`` numbers them.
_PATTERN_WEIGHTS = np.array([8, 4, 2, 1])
#: Per pattern: which combine results are recorded / missing (as 0/1), and how many are missing.
_OBSERVED = ((np.arange(16)[:, None] & _PATTERN_WEIGHTS) > 0)
_MISSING = (~_OBSERVED).astype("float64")
_MISSING_COUNT = _MISSING.sum(axis=1)


class UnsupportedPipeline(ValueError):
    """The pipeline has a step or estimator the fast path does not compute."""


def _slow_tier(value: object) -> float:
    tier = schema.state_tier(value) if isinstance(value, str) else None
    return math.nan if tier is None else float(tier)


def state_tiers(state: np.ndarray) -> np.ndarray:
    """Recruiting tier (1..4, NaN when missing or unknown) of every state code,
    as ``DerivedFeatures`` reads them (case and surrounding spaces ignored)."""
    table = _TIER_OF
    try:
        return np.array([table[s] for s in state], dtype=float)
    except (KeyError, TypeError):  # lower case, spaces, another NaN object: rare
        return np.array([_slow_tier(s) for s in state], dtype=float)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``features._ratio`` for finite-or-NaN inputs: NaN where ``den`` is not positive."""
    return num / np.where(den > 0, den, np.nan)


class _Outputs:
    """The features one call computes, in order, keeping only the transformer's outputs."""

    __slots__ = ("kept", "trace", "values")

    def __init__(self, kept: frozenset[str], trace: list[str] | None):
        self.kept, self.trace = kept, trace
        self.values: list[np.ndarray] = []

    def put(self, name: str, value: np.ndarray) -> None:
        if name in self.kept:
            self.values.append(value)
            if self.trace is not None:
                self.trace.append(name)


class _Columns:
    """An input column of one call: its filled version once there is one, else as given."""

    __slots__ = ("x", "index", "filled")

    def __init__(self, x: np.ndarray, index: dict[str, int]):
        self.x, self.index = x, index
        self.filled: dict[str, np.ndarray] = {}

    def __call__(self, name: str) -> np.ndarray:
        c = self.filled.get(name)
        return self.x[:, self.index[name]] if c is None else c


@dataclass(frozen=True, eq=False)
class CompiledFeatures:
    """A fitted DerivedFeatures as plain arrays; ``__call__`` mirrors its ``_compute``."""

    position: str
    index: dict[str, int]
    groups: frozenset[str]
    typical_games: float
    combine_idx: np.ndarray
    #: Combine imputation, per missingness pattern (see :meth:`_impute`): the
    #: regression of the missing results on the recorded ones (16 x 4 x 4) and
    #: the mean they are added to (16 x 4; NaN when nothing was recorded).
    regression: tuple[np.ndarray, np.ndarray] | None
    #: Combine columns with a finite norm: (positions among COMBINE_COLUMNS, mean, std, sign).
    norms: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    #: The transformer's outputs (names), and the raw inputs among them passed through as given.
    kept: frozenset[str]
    raw_idx: tuple[int, ...]
    #: Season totals whose gaps are filled (those the outputs use).
    totals: frozenset[str]
    #: Input columns of the (senior, junior) per-game figures and season totals.
    pair_idx: tuple[tuple[int, int], tuple[int, int]]
    #: The outputs in the order ``__call__`` returns them (set by :meth:`compile`).
    order: tuple[str, ...] = ()

    @classmethod
    def compile(cls, step: DerivedFeatures, position: str) -> CompiledFeatures:
        if type(step) is not DerivedFeatures:
            raise UnsupportedPipeline(f"first step is {type(step).__name__}, not DerivedFeatures")
        if getattr(step, "position_", None) != position:
            raise UnsupportedPipeline(f"features are fitted for position "
                                      f"{getattr(step, 'position_', None)!r}, not {position!r}")
        numeric = [c.name for c in schema.numeric_columns(position)]
        groups = frozenset(step.groups_)
        mean, cov = step.combine_mean_, step.combine_cov_
        regression = None
        if "combine_impute" in groups and mean is not None and cov is not None:
            # E[x_m | x_o] = mu_m + (x_o - mu_o) S_oo^-1 S_om, as features._impute_combine
            # solves it, laid out as a 4 x 4 map from (x - mu, 0 where missing).
            k = len(COMBINE_COLUMNS)
            coefs, base = np.zeros((2 ** k, k, k)), np.tile(np.asarray(mean, float), (2 ** k, 1))
            base[0] = np.nan  # nothing recorded: left missing
            for key in range(1, 2 ** k - 1):
                o = _OBSERVED[key]
                m = ~o
                coefs[key][np.ix_(o, m)] = np.linalg.solve(cov[np.ix_(o, o)], cov[np.ix_(o, m)])
            regression = (coefs, base)
        finite = [(j, *step.norms_[name]) for j, name in enumerate(COMBINE_COLUMNS)
                  if np.isfinite(step.norms_[name][1])]
        norms = (np.array([f[0] for f in finite], dtype=int),
                 np.array([f[1] for f in finite], dtype=float),
                 np.array([f[2] for f in finite], dtype=float),
                 np.array([-1.0 if COMBINE_COLUMNS[f[0]] in _LOWER_IS_BETTER else 1.0
                           for f in finite]))
        names = [str(n) for n in step.feature_names_out_]
        modified = set(COMBINE_COLUMNS) if regression is not None else set()
        if "per_game" in groups:
            modified |= {n for pair in _PER_GAME_PAIRS[position] for n in pair[:2]}
            modified |= {"senior_avg"} if position == "wr" else set()
        raw = tuple(j for j, n in enumerate(numeric) if n in names and n not in modified)
        pairs = _PER_GAME_PAIRS[position]
        if [senior for *_, senior in pairs] != [True, False]:
            raise UnsupportedPipeline("per-game pairs other than (senior, junior)")
        totals = {pair[1] for pair in pairs} & set(names)
        if position == "rb" and "efficiency" in groups:
            totals.add("senior_yds")  # scrimmage yards
        if position == "wr" and "senior_avg" in names:
            totals.add("senior_rec_yds")  # fills the yards per catch
        plan = cls(position, {n: j for j, n in enumerate(numeric)}, groups,
                   float(step.typical_games_), np.array([numeric.index(c) for c in COMBINE_COLUMNS]),
                   regression, norms, frozenset(names), raw, frozenset(totals),
                   ((numeric.index(pairs[0][0]), numeric.index(pairs[1][0])),
                    (numeric.index(pairs[0][1]), numeric.index(pairs[1][1]))))
        # One traced call on a dummy row: the outputs must be exactly the transformer's.
        order = [numeric[j] for j in raw]
        plan(np.ones((1, len(numeric))), np.ones(1), trace=order)
        if sorted(order) != sorted(names):
            raise UnsupportedPipeline("the fast path's features differ from the fitted "
                                      f"DerivedFeatures ({sorted(set(order) ^ set(names))})")
        return replace(plan, order=tuple(order))

    def __call__(self, x: np.ndarray, tiers: np.ndarray,
                 trace: list[str] | None = None) -> np.ndarray:
        """The features of the rows of ``x``, feature-major: (outputs in :attr:`order`, n)."""
        out = _Outputs(self.kept, trace)
        col = _Columns(x, self.index)
        games = x[:, self.index["games"]]
        if "per_game" in self.groups:
            self._fill_seasons(x, col, games)
        combine = x[:, self.combine_idx]  # a copy
        observed = np.isfinite(combine)
        keys = observed.dot(_PATTERN_WEIGHTS)  # the missingness pattern of every row
        if self.regression is not None:
            combine = self._impute(combine, observed, keys)
            for j, name in enumerate(COMBINE_COLUMNS):
                col.filled[name] = combine[:, j]
        for name, value in col.filled.items():
            out.put(name, value)
        self._derived(out.put, col, x, games)
        if "athletic" in self.groups:
            out.put("athletic_composite", self._athletic(combine))
        if "state_tier" in self.groups:
            out.put("state_tier", tiers)
            onehot = (tiers[:, None] == _TIERS).astype("float64")
            for j, name in enumerate(_TIER_NAMES):
                out.put(name, onehot[:, j])
        if "missing" in self.groups:
            self._missing(out.put, col, keys)
        return np.concatenate((x.T.take(self.raw_idx, axis=0),
                               np.array(out.values, dtype="float64")))

    def _fill_seasons(self, x: np.ndarray, col: _Columns, games: np.ndarray) -> None:
        """Per-game figures and season totals, each filled from the other where missing."""
        # Senior and junior pairs side by side; the junior season has no games
        # column and uses the typical number (NaN if that is not positive).
        tg, filled = self.typical_games, col.filled
        (senior_pg, senior_total, _), (junior_pg, junior_total, _) = \
            _PER_GAME_PAIRS[self.position]
        per_game = x.take(self.pair_idx[0], axis=1)
        total = x.take(self.pair_idx[1], axis=1)
        g = np.empty((len(x), 2))
        g[:, 0] = np.where(np.isfinite(games), games, tg)  # at least 1 (schema range)
        g[:, 1] = tg if tg > 0 else np.nan
        per_game = np.where(np.isfinite(per_game), per_game, total / g)
        filled[senior_pg], filled[junior_pg] = per_game[:, 0], per_game[:, 1]
        if self.totals:
            total = np.where(np.isfinite(total), total, per_game * g)
            filled[senior_total], filled[junior_total] = total[:, 0], total[:, 1]
        if self.position == "wr" and "senior_avg" in self.kept:
            avg, given = _ratio(filled["senior_rec_yds"], col("senior_rec")), col("senior_avg")
            filled["senior_avg"] = np.where(np.isfinite(given), given, avg)

    def _derived(self, put: Any, col: _Columns, x: np.ndarray, games: np.ndarray) -> None:
        """Production on a log scale, body size, speed, trajectory and efficiency."""
        groups, pos, idx = self.groups, self.position, self.index
        h, w = x[:, idx["height_inches"]], x[:, idx["weight_lbs"]]
        if "log_production" in groups:
            for name in _PRODUCTION_PAIR[pos]:
                put("log_" + name, np.log1p(np.maximum(col(name), 0.0)))
        if "bmi" in groups:
            put("bmi", 703.0 * (w / (h * h)))  # height >= 60 (schema): _ratio's guard is moot
        if "speed_score" in groups:
            put("speed_score", 200.0 * (w / col("forty_yard_dash") ** 4))
        if "trajectory" in groups:
            senior_prod, junior_prod = _PRODUCTION_PAIR[pos]
            put("production_growth", col(senior_prod) - col(junior_prod))
            put("td_growth", col("senior_tds") - col("junior_tds"))
        if "efficiency" in groups:
            self._efficiency(put, col, np.where(np.isfinite(games), games, self.typical_games))

    def _athletic(self, combine: np.ndarray) -> np.ndarray:
        """The mean signed z-score of the recorded combine results (NaN when none is)."""
        which, mean, std, sign = self.norms
        if not len(which):
            return np.full(len(combine), np.nan)
        z = (combine[:, which] - mean) / std * sign
        counts = np.isfinite(z).sum(axis=1)
        return np.where(counts > 0, np.nansum(z, axis=1) / np.maximum(counts, 1), np.nan)

    def _missing(self, put: Any, col: _Columns, keys: np.ndarray) -> None:
        """Missingness flags, from each row's combine pattern and its junior season."""
        flags = _MISSING.take(keys, axis=0)
        for j, name in enumerate(_MISSING_NAMES):
            put(name, flags[:, j])
        put("combine_missing_count", _MISSING_COUNT.take(keys))
        put("no_combine", (keys == 0).astype("float64"))
        put("junior_season_missing",
            np.isnan(col(_PRODUCTION_PAIR[self.position][1])).astype("float64"))

    def _impute(self, combine: np.ndarray, observed: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Partly recorded combine rows with their missing results at the conditional mean."""
        assert self.regression is not None
        coefs, base = self.regression
        mean = base[-1]
        centred = np.where(observed, combine - mean, 0.0)
        imputed = (centred[:, None, :] @ coefs.take(keys, axis=0))[:, 0] + base.take(keys, axis=0)
        return np.where(observed, combine, imputed)

    def _efficiency(self, put: Any, col: Any, games: np.ndarray) -> None:
        # Games are at least 1 and interceptions at least 0 (schema ranges).
        put("tds_per_game", col("senior_tds") / games)
        if self.position == "qb":
            put("td_int_ratio", col("senior_tds") / (col("senior_int") + 1.0))
            put("rush_ypg", col("senior_rush_yds") / games)
        elif self.position == "rb":
            put("scrimmage_ypg", (col("senior_yds") + np.nan_to_num(col("senior_rec_yds")))
                / games)
            put("rec_per_game", col("senior_rec") / games)
        else:
            put("rec_per_game", col("senior_rec") / games)
            put("td_per_catch", _ratio(col("senior_tds"), col("senior_rec")))


@dataclass(frozen=True, eq=False)
class CompiledModel:
    """Imputation, scaling and the classifier of a pipeline, folded into one affine map.

    ``decision = F_imputed @ weights + intercept``; ``link`` turns it into the
    probabilities of ``classes`` (ordinal codes), which are spread over the
    four divisions.
    """

    fill: np.ndarray
    #: Transposed (outputs x features), to multiply feature-major features directly.
    weights_t: np.ndarray
    intercept: np.ndarray
    link: Literal["constant", "expit", "softmax", "ordinal"]
    classes: np.ndarray

    @classmethod
    def compile(cls, steps: list[tuple[str, Any]], order: list[int]) -> CompiledModel:
        """``order[i]``: the pipeline's feature column of the fast path's feature ``i``."""
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
        from sklearn.linear_model import LogisticRegression

        from .estimators import CumulativeOrdinalClassifier, DivisionClassifier

        n_features = len(order)
        *prep, (_, final) = steps
        fill, shift, scale = _imputer_and_scaler(prep, n_features)
        if type(final) is not DivisionClassifier:
            raise UnsupportedPipeline(f"final step is {type(final).__name__}, "
                                      "not DivisionClassifier")
        inner = final.estimator_
        linear = (LogisticRegression, LinearDiscriminantAnalysis)
        if inner is None:  # one class seen in training: predicted with certainty
            return cls(fill, np.zeros((0, n_features)), np.zeros(0), "constant",
                       np.asarray(final.seen_classes_, dtype=int))
        if type(inner) is CumulativeOrdinalClassifier:
            parts = inner.estimators_
            if not all(type(e) in linear and len(e.classes_) == 2 for e in parts):
                raise UnsupportedPipeline("ordinal thresholds are not all binary linear models")
            coef = np.vstack([np.asarray(e.coef_, dtype=float).reshape(1, -1) for e in parts])
            bias = np.concatenate([np.asarray(e.intercept_, dtype=float).ravel() for e in parts])
            link: Literal["expit", "softmax", "ordinal"] = "ordinal"
            classes = np.asarray(inner.classes_, dtype=int)
        elif type(inner) in linear:
            if getattr(inner, "multi_class", "auto") == "ovr":
                raise UnsupportedPipeline("one-vs-rest logistic regression has no fast path")
            coef = np.asarray(inner.coef_, dtype=float).reshape(-1, n_features)
            bias = np.asarray(inner.intercept_, dtype=float).ravel()
            link = "expit" if len(inner.classes_) == 2 else "softmax"
            classes = np.asarray(inner.classes_, dtype=int)
        else:
            raise UnsupportedPipeline(f"estimator {type(inner).__name__} has no fast path "
                                      "(linear models only)")
        if coef.shape[1] != n_features:
            raise UnsupportedPipeline(f"the classifier takes {coef.shape[1]} features, the "
                                      f"feature step makes {n_features}")
        # ((F - shift) / scale) @ coef.T + bias == F @ weights + intercept, with the
        # features in the fast path's order.
        weights_t = (coef / scale)[:, order]
        return cls(fill[order][:, None], np.ascontiguousarray(weights_t),
                   bias - (shift / scale) @ coef.T, link, classes)

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """Probabilities (n, 4) from feature-major features (k, n), which are imputed in place."""
        n = features.shape[1]
        full = np.zeros((n, len(schema.DIVISIONS)))
        if self.link == "constant":
            full[:, self.classes] = 1.0
            return full
        np.copyto(features, self.fill, where=np.isnan(features))
        d = (self.weights_t @ features).T + self.intercept  # (n, thresholds or classes)
        if self.link == "expit":
            p = expit(d[:, 0])
            proba = np.stack((1 - p, p), axis=1)
        elif self.link == "softmax":
            d -= d.max(axis=1, keepdims=True)
            np.exp(d, out=d)
            proba = d / d.sum(axis=1, keepdims=True)
        else:  # Frank & Hall, as CumulativeOrdinalClassifier.predict_proba
            # Differences of the monotone cumulative probabilities [1, P(y > k)..., 0]:
            # all in [0, 1] already, so the pipeline's clip changes nothing.
            exceed = np.minimum.accumulate(expit(d), axis=1)
            proba = np.empty((n, exceed.shape[1] + 1))
            proba[:, 0] = 1.0 - exceed[:, 0]
            proba[:, 1:-1] = exceed[:, :-1] - exceed[:, 1:]
            proba[:, -1] = exceed[:, -1]
            proba /= np.add.reduce(proba, axis=1, keepdims=True)
        if len(self.classes) == len(schema.DIVISIONS):  # classes_ are always sorted codes
            return proba
        full[:, self.classes] = proba
        return full


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _imputer_and_scaler(prep: list[tuple[str, Any]],
                        n_features: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fill values, shift, scale) of the steps between the features and the classifier:
    an optional SimpleImputer, then an optional StandardScaler."""
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler

    fill = np.full(n_features, np.nan)
    shift, scale = np.zeros(n_features), np.ones(n_features)
    expected: list[type] = [SimpleImputer, StandardScaler]  # each optional, in this order
    for name, step in prep:
        while expected and type(step) is not expected[0]:
            expected.pop(0)
        if not expected:
            raise UnsupportedPipeline(f"step {name!r} ({type(step).__name__}) has no fast "
                                      "path")
        expected.pop(0)
        if type(step) is SimpleImputer:
            fill = np.asarray(step.statistics_, dtype=float)
            if step.add_indicator or not _is_nan(step.missing_values) \
                    or fill.shape != (n_features,) or not np.all(np.isfinite(fill)):
                raise UnsupportedPipeline(f"imputer {name!r} adds, drops or cannot fill "
                                          "a column")
        else:
            if step.mean_ is not None:
                shift = np.asarray(step.mean_, dtype=float)
            if step.scale_ is not None:
                scale = np.asarray(step.scale_, dtype=float)
    return fill, shift, scale
