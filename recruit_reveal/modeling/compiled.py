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

from ..catalog import default_catalog
from .features import DerivedFeatures, derived_value, tier_table


class UnsupportedPipeline(ValueError):
    """The pipeline has a step or estimator the fast path does not compute."""


def _default_tiers() -> dict[Any, float]:
    """The default catalog's state tiers (every position of it shares them)."""
    spec = default_catalog().position(default_catalog().keys[0])
    return tier_table(spec.state_tiers)


def state_tiers(state: np.ndarray, table: dict[Any, float] | None = None) -> np.ndarray:
    """Recruiting tier (1..last, NaN when missing or unknown) of every state code,
    as ``DerivedFeatures`` reads them (case and surrounding spaces ignored).

    ``table`` is :func:`~recruit_reveal.modeling.features.tier_table` of the model's
    spec (the default catalog's tiers when None)."""
    table = _default_tiers() if table is None else table
    try:
        return np.array([table[s] for s in state], dtype=float)
    except (KeyError, TypeError):  # lower case, spaces, a missing value: rare
        return np.array([table.get(s.strip().upper(), math.nan) if isinstance(s, str)
                         else math.nan for s in state], dtype=float)


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


def _patterns(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Pattern weights of ``k`` combine results (first most significant, as
    ``features._impute_combine`` numbers them) and, per pattern, which are recorded."""
    weights = 1 << np.arange(k - 1, -1, -1)
    return weights, (np.arange(2 ** k)[:, None] & weights) > 0


def _regression(mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """E[x_m | x_o] = mu_m + (x_o - mu_o) S_oo^-1 S_om, as features._impute_combine solves
    it, laid out per pattern as a k x k map from (x - mu, 0 where missing)."""
    k = len(mean)
    _, observed = _patterns(k)
    coefs, base = np.zeros((2 ** k, k, k)), np.tile(np.asarray(mean, float), (2 ** k, 1))
    base[0] = np.nan  # nothing recorded: left missing
    for key in range(1, 2 ** k - 1):
        o = observed[key]
        m = ~o
        coefs[key][np.ix_(o, m)] = np.linalg.solve(cov[np.ix_(o, o)], cov[np.ix_(o, m)])
    return coefs, base


@dataclass(frozen=True, eq=False)
class CompiledFeatures:
    """A fitted DerivedFeatures as plain arrays; ``__call__`` mirrors its ``_compute``."""

    position: str
    #: The transformer's plan (``DerivedFeatures.plan_``: the spec's part it uses).
    plan: dict[str, Any]
    index: dict[str, int]
    groups: frozenset[str]
    typical_games: float
    combine_idx: np.ndarray
    #: Combine imputation, per missingness pattern (see :meth:`_impute`): the
    #: regression of the missing results on the recorded ones (2^k x k x k) and
    #: the mean they are added to (2^k x k; NaN when nothing was recorded).
    regression: tuple[np.ndarray, np.ndarray] | None
    #: Combine columns with a finite norm: (positions among the combine, mean, std, sign).
    norms: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    #: The transformer's outputs (names), and the raw inputs among them passed through as given.
    kept: frozenset[str]
    raw_idx: tuple[int, ...]
    #: State code -> tier, and the tiers 1..last.
    tier_of: dict[Any, float]
    tiers: np.ndarray
    #: Combine pattern weights, and per pattern which results are recorded (``_patterns``).
    pattern: tuple[np.ndarray, np.ndarray]
    #: The outputs in the order ``__call__`` returns them (set by :meth:`compile`).
    order: tuple[str, ...] = ()

    @classmethod
    def compile(cls, step: DerivedFeatures, position: str | None = None) -> CompiledFeatures:
        if type(step) is not DerivedFeatures:
            raise UnsupportedPipeline(f"first step is {type(step).__name__}, not DerivedFeatures")
        if position is not None and getattr(step, "position_", None) != position:
            raise UnsupportedPipeline(f"features are fitted for position "
                                      f"{getattr(step, 'position_', None)!r}, not {position!r}")
        plan = step.fitted_plan()
        numeric, combine = plan["numeric"], plan["combine"]
        groups = frozenset(step.groups_)
        mean, cov = step.combine_mean_, step.combine_cov_
        regression = None
        if "combine_impute" in groups and mean is not None and cov is not None:
            regression = _regression(np.asarray(mean, float), np.asarray(cov, float))
        finite = [(j, *step.norms_[name]) for j, name in enumerate(combine)
                  if np.isfinite(step.norms_[name][1])]
        norms = (np.array([f[0] for f in finite], dtype=int),
                 np.array([f[1] for f in finite], dtype=float),
                 np.array([f[2] for f in finite], dtype=float),
                 np.array([-1.0 if combine[f[0]] in plan["lower_better"] else 1.0
                           for f in finite]))
        names = [str(n) for n in step.feature_names_out_]
        modified = set(combine) if regression is not None else set()
        if "per_game" in groups:
            modified |= {n for pair in plan["pairs"] for n in pair[:2]}
            modified |= {fill[0] for fill in plan["ratio_fills"]}
        raw = tuple(j for j, n in enumerate(numeric) if n in names and n not in modified)
        table: dict[Any, float] = dict(tier_table(plan["state_tiers"]))
        table.update({None: math.nan, np.nan: math.nan, "": math.nan})
        plan_ = cls(str(step.position_), plan, {n: j for j, n in enumerate(numeric)}, groups,
                    float(step.typical_games_), np.array([numeric.index(c) for c in combine],
                                                         dtype=int),
                    regression, norms, frozenset(names), raw, table,
                    np.arange(1.0, len(plan["state_tiers"]) + 2.0), _patterns(len(combine)))
        # One traced call on a dummy row: the outputs must be exactly the transformer's.
        order = [numeric[j] for j in raw]
        plan_(np.ones((1, len(numeric))), np.ones(1), trace=order)
        if sorted(order) != sorted(names):
            raise UnsupportedPipeline("the fast path's features differ from the fitted "
                                      f"DerivedFeatures ({sorted(set(order) ^ set(names))})")
        return replace(plan_, order=tuple(order))

    def state_tiers(self, state: np.ndarray) -> np.ndarray:
        """The tiers of state codes under this model's spec."""
        return state_tiers(state, self.tier_of)

    def __call__(self, x: np.ndarray, tiers: np.ndarray,
                 trace: list[str] | None = None) -> np.ndarray:
        """The features of the rows of ``x``, feature-major: (outputs in :attr:`order`, n)."""
        out = _Outputs(self.kept, trace)
        col = _Columns(x, self.index)
        games_name = self.plan["games"]
        games = x[:, self.index[games_name]] if games_name else np.full(len(x), np.nan)
        if "per_game" in self.groups:
            self._fill_seasons(col, games)
        combine = x[:, self.combine_idx]  # a copy
        observed = np.isfinite(combine)
        weights, pattern_observed = self.pattern
        keys = observed.dot(weights)  # the missingness pattern of every row
        if self.regression is not None:
            combine = self._impute(combine, observed, keys)
            for j, name in enumerate(self.plan["combine"]):
                col.filled[name] = combine[:, j]
        for name, value in col.filled.items():
            out.put(name, value)
        self._derived(out.put, col, np.where(np.isfinite(games), games, self.typical_games))
        if "athletic" in self.groups:
            out.put("athletic_composite", self._athletic(combine))
        if "state_tier" in self.groups:
            out.put("state_tier", tiers)
            onehot = (tiers[:, None] == self.tiers).astype("float64")
            for j, tier in enumerate(self.tiers.tolist()):
                out.put(f"state_tier_{int(tier)}", onehot[:, j])
        if "missing" in self.groups:
            self._missing(out.put, col, keys, pattern_observed)
        return np.concatenate((x.T.take(self.raw_idx, axis=0),
                               np.array(out.values, dtype="float64").reshape(-1, len(x))))

    def _fill_seasons(self, col: _Columns, games: np.ndarray) -> None:
        """Per-game figures and season totals, each filled from the other where missing,
        then ratios of inputs from their parts (as ``DerivedFeatures._fill_seasons``)."""
        # A season without a games column (junior) uses the typical number (NaN if
        # that is not positive); senior games are at least 1 (schema range).
        tg, filled = self.typical_games, col.filled
        for per_game, total, games_name in self.plan["pairs"]:
            g = (np.where(np.isfinite(games), games, tg) if games_name is not None
                 else (tg if tg > 0 else np.nan))
            given, season = col(per_game), col(total)
            rate = np.where(np.isfinite(given), given, season / g)
            filled[per_game] = rate
            filled[total] = np.where(np.isfinite(season), season, rate * g)
        for name, num, den in self.plan["ratio_fills"]:
            given = col(name)
            filled[name] = np.where(np.isfinite(given), given, _ratio(col(num), col(den)))

    def _derived(self, put: Any, col: _Columns, games: np.ndarray) -> None:
        """Production on a log scale, body size, speed, then trajectory and efficiency."""
        groups, idx = self.groups, self.index
        if "log_production" in groups:
            for name in self.plan["production"]:
                put("log_" + name, np.log1p(np.maximum(col(name), 0.0)))
        h = x_col(col, idx, "height_inches")
        w = x_col(col, idx, "weight_lbs")
        if "bmi" in groups and h is not None and w is not None:
            put("bmi", 703.0 * (w / (h * h)))  # height >= 60 (schema): _ratio's guard is moot
        if "speed_score" in groups and w is not None and "forty_yard_dash" in idx:
            put("speed_score", 200.0 * (w / col("forty_yard_dash") ** 4))
        for group in ("trajectory", "efficiency"):
            if group in groups:
                for d in self.plan["derived"]:
                    if d["group"] == group:
                        put(d["name"], derived_value(d, col, games, _ratio))

    def _athletic(self, combine: np.ndarray) -> np.ndarray:
        """The mean signed z-score of the recorded combine results (NaN when none is)."""
        which, mean, std, sign = self.norms
        if not len(which):
            return np.full(len(combine), np.nan)
        z = (combine[:, which] - mean) / std * sign
        counts = np.isfinite(z).sum(axis=1)
        return np.where(counts > 0, np.nansum(z, axis=1) / np.maximum(counts, 1), np.nan)

    def _missing(self, put: Any, col: _Columns, keys: np.ndarray,
                 pattern_observed: np.ndarray) -> None:
        """Missingness flags, from each row's combine pattern and its junior season."""
        combine = self.plan["combine"]
        if combine:
            missing = (~pattern_observed).astype("float64")
            flags = missing.take(keys, axis=0)
            for j, name in enumerate(combine):
                put(f"{name}_missing", flags[:, j])
            put("combine_missing_count", missing.sum(axis=1).take(keys))
            put("no_combine", (keys == 0).astype("float64"))
        if self.plan["junior"] is not None:
            put("junior_season_missing", np.isnan(col(self.plan["junior"])).astype("float64"))

    def _impute(self, combine: np.ndarray, observed: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Partly recorded combine rows with their missing results at the conditional mean."""
        assert self.regression is not None
        coefs, base = self.regression
        mean = base[-1]
        centred = np.where(observed, combine - mean, 0.0)
        imputed = (centred[:, None, :] @ coefs.take(keys, axis=0))[:, 0] + base.take(keys, axis=0)
        return np.where(observed, combine, imputed)


def x_col(col: _Columns, index: dict[str, int], name: str) -> np.ndarray | None:
    """An input as given (body size is never filled), None when the position lacks it."""
    return col.x[:, index[name]] if name in index else None


@dataclass(frozen=True, eq=False)
class CompiledModel:
    """Imputation, scaling and the classifier of a pipeline, folded into one affine map.

    ``decision = F_imputed @ weights + intercept``; ``link`` turns it into the
    probabilities of ``classes`` (ordinal codes), which are spread over the
    ``n_classes`` levels of the ladder.
    """

    fill: np.ndarray
    #: Transposed (outputs x features), to multiply feature-major features directly.
    weights_t: np.ndarray
    intercept: np.ndarray
    link: Literal["constant", "expit", "softmax", "ordinal"]
    classes: np.ndarray
    #: Levels of the model's ladder (the columns of its probabilities).
    n_classes: int

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
        k = len(final.classes_)
        linear = (LogisticRegression, LinearDiscriminantAnalysis)
        if inner is None:  # one class seen in training: predicted with certainty
            return cls(fill, np.zeros((0, n_features)), np.zeros(0), "constant",
                       np.asarray(final.seen_classes_, dtype=int), k)
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
                   bias - (shift / scale) @ coef.T, link, classes, k)

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """Probabilities (n, levels) from feature-major features (k, n), which are imputed in place."""
        n = features.shape[1]
        full = np.zeros((n, self.n_classes))
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
        if len(self.classes) == self.n_classes:  # classes_ are always sorted codes
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
