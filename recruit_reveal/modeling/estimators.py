"""The estimator pipeline of a position: raw canonical columns -> ordered probabilities.

``build_pipeline(position, estimator, params, seed)`` returns an unfitted
:class:`sklearn.pipeline.Pipeline`::

    features (DerivedFeatures) -> [impute -> scale] -> classifier (DivisionClassifier)

``predict_proba`` always has one column per level of the position's ladder, lowest
first (D3, D2, FCS, Power 5 in the default catalog), even when a training fold lacks
a level, and ``predict`` returns level labels.  The position (a key, a spec or its
plain data) is resolved once in ``fit``; what prediction needs is kept as plain
fitted attributes, so a fitted pipeline needs no catalog.  Every step is a module-level class (no
lambdas), so a fitted pipeline pickles with joblib, and every random choice
is seeded, so the same data and seed give the same model.

Estimators (compared in docs/model-card.md):

``logreg``
    multinomial logistic regression on imputed, standardized features.
``hgb``
    HistGradientBoostingClassifier (handles missing values natively).
``ordinal_logreg`` / ``ordinal_hgb``
    cumulative-link ordinal models: one binary model per threshold,
    P(y > k) for every level k but the top, combined into class probabilities
    (Frank & Hall, 2001), with the cumulative probabilities forced monotone.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import check_is_fitted

from recruit_reveal.modeling.features import FEATURE_GROUPS, DerivedFeatures

from .. import schema
from ..catalog import Ladder, active_catalog
from ..errors import TrainingError

logger = logging.getLogger(__name__)

#: The default estimator, chosen from the comparison in docs/model-card.md.
DEFAULT_ESTIMATOR = "ordinal_logreg"

#: Keys of ``params`` that configure the pipeline rather than the estimator.
PIPELINE_PARAMS = ("feature_groups", "exclude_features", "decision")

_HGB_DEFAULTS: dict[str, Any] = {
    "learning_rate": 0.05,
    "max_iter": 150,
    "max_leaf_nodes": 8,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "class_weight": None,
}
_LOGREG_DEFAULTS: dict[str, Any] = {"C": 0.3, "class_weight": None, "max_iter": 2000}

#: Feature groups on by default.  ``trajectory``, ``efficiency`` and ``athletic``
#: are linear combinations of (or noise around) features already present, and
#: in the CV ablation (docs/model-card.md) they did not improve accuracy and
#: cost a little log loss; they stay available through ``feature_groups``.
DEFAULT_FEATURE_GROUPS: tuple[str, ...] = (
    "per_game", "combine_impute", "log_production", "bmi", "speed_score", "state_tier",
    "missing",
)

# Raw columns left out by default are the spec's ``exclude`` (``exclude_features``;
# pass ``[]`` to keep them): in cross-validation on data/training.csv they added
# variance and no accuracy (docs/model-card.md).  They are still accepted as inputs
# and still feed the derived features; only their raw copies are dropped.

#: The cumulative binary models are each easier than the 4-class problem and
#: share their features, so they want stronger regularization (C chosen in CV
#: over 0.03 .. 1, docs/model-card.md).
_ORDINAL_LOGREG_DEFAULTS: dict[str, Any] = {**_LOGREG_DEFAULTS, "C": 0.05}
_LDA_DEFAULTS: dict[str, Any] = {"solver": "lsqr", "shrinkage": "auto"}

#: Estimator name -> its default parameters (what ``params`` may override).
ESTIMATOR_DEFAULTS: dict[str, dict[str, Any]] = {
    "logreg": _LOGREG_DEFAULTS,
    "lda": _LDA_DEFAULTS,
    "hgb": _HGB_DEFAULTS,
    "ordinal_logreg": _ORDINAL_LOGREG_DEFAULTS,
    "ordinal_hgb": _HGB_DEFAULTS,
}
ESTIMATORS: tuple[str, ...] = tuple(ESTIMATOR_DEFAULTS)


LadderLike = Ladder | schema.PositionLike | None


def ladder_of(ladder: LadderLike = None) -> Ladder:
    """A ladder from itself, a position (its spec's ladder) or None (the active catalog's)."""
    if isinstance(ladder, Ladder):
        return ladder
    return active_catalog().ladder if ladder is None else schema.spec_of(ladder).ladder


def encode_divisions(y, ladder: LadderLike = None) -> np.ndarray:
    """Level labels (any spelling of ``ladder``) or ordinal ints 0..K-1 -> int array.

    ``ladder``: a :class:`~recruit_reveal.catalog.Ladder`, a position whose ladder it
    is, or None for the active catalog's."""
    ladder = ladder_of(ladder)
    n_classes = len(ladder.levels)
    arr = np.asarray(y)
    if arr.dtype.kind in "iu":
        # Codes already: the common case inside evaluation, no per-row work.
        flat = arr.ravel().astype(np.int64)
        if flat.size == 0 or (flat.min() >= 0 and flat.max() < n_classes):
            return flat
    values = np.asarray(y, dtype=object).ravel()
    if len(values) and pd.api.types.infer_dtype(values, skipna=False) == "string":
        return _encode_labels(values, ladder)
    out = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        if isinstance(v, int | np.integer) and 0 <= int(v) < n_classes:
            out[i] = int(v)
            continue
        label = ladder.normalize(v)
        if label is None:
            raise ValueError(f"unknown division label {v!r} at position {i}")
        out[i] = ladder.index(label)
    return out


def _encode_labels(values: np.ndarray, ladder: Ladder) -> np.ndarray:
    """:func:`encode_divisions` for text labels, normalizing each distinct spelling once."""
    codes, uniques = pd.factorize(values)
    table = np.empty(len(uniques), dtype=np.int64)
    for k, v in enumerate(uniques):
        label = ladder.normalize(v)
        if label is None:
            # Distinct values come in order of first appearance, so this is the first bad row.
            raise ValueError(f"unknown division label {v!r} at position "
                             f"{int(np.argmax(codes == k))}")
        table[k] = ladder.index(label)
    return table[codes]


def _full_proba(proba: np.ndarray, seen: np.ndarray, n_classes: int) -> np.ndarray:
    """Spread an estimator's columns (for the classes it saw) over every level."""
    full = np.zeros((proba.shape[0], n_classes), dtype="float64")
    full[:, seen] = proba
    return full


DECISION_RULES = ("argmax", "median")


def decide(proba, rule: str = "argmax") -> np.ndarray:
    """Ordinal codes from (n, levels) probabilities in ladder order.

    ``"argmax"``: the most probable division (maximizes exact accuracy when
    the probabilities are right).  ``"median"``: the smallest division k with
    P(y <= k) >= 0.5, which minimizes the expected number of divisions the
    prediction is off by (the ordinal-aware rule of docs/model-card.md).
    """
    proba = np.asarray(proba, dtype="float64")
    if rule == "argmax":
        return np.argmax(proba, axis=1)
    if rule == "median":
        return np.argmax(np.cumsum(proba, axis=1) >= 0.5 - 1e-12, axis=1)
    raise ValueError(f"unknown decision rule {rule!r}; choose from {', '.join(DECISION_RULES)}")


class DivisionClassifier(ClassifierMixin, BaseEstimator):
    """Wraps a classifier so it trains on ordinal codes and speaks division labels.

    ``classes_`` is the levels of the position's ladder (lowest first, *not*
    sorted: pass ``labels`` explicitly to scikit-learn metrics) and ``predict_proba``
    has one column per level in that order, zero for a level absent from the
    training data.  ``position`` (a key, a spec or its plain data) gives the ladder;
    None: the active catalog's.  Only ``classes_`` is read when predicting.  ``predict`` applies ``decision`` (see
    :func:`decide`).  ``class_weight="balanced"`` on the inner estimator is
    the way to counter imbalance; this wrapper adds nothing there.
    """

    def __init__(self, estimator=None, decision: str = "argmax",
                 position: schema.PositionLike | None = None):
        self.estimator = estimator
        self.decision = decision
        self.position = position

    def fit(self, X, y, sample_weight=None):
        ladder = ladder_of(self.position)
        codes = encode_divisions(y, ladder)
        self.seen_classes_ = np.unique(codes)
        self.classes_ = np.array(ladder.levels, dtype=object)
        self.estimator_ = clone(self.estimator)
        if len(self.seen_classes_) == 1:
            # Nothing to learn from a single class; predict it with certainty.
            self.estimator_ = None
        elif sample_weight is None:
            self.estimator_.fit(X, codes)
        else:
            self.estimator_.fit(X, codes, sample_weight=sample_weight)
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def predict_proba(self, X):
        check_is_fitted(self, "classes_")
        n = np.asarray(X).shape[0]
        if self.estimator_ is None:
            return _full_proba(np.ones((n, 1)), self.seen_classes_, len(self.classes_))
        proba = self.estimator_.predict_proba(X)
        return _full_proba(proba, np.asarray(self.estimator_.classes_, dtype=np.int64),
                           len(self.classes_))

    def predict(self, X):
        return self.classes_[decide(self.predict_proba(X), self.decision)]


class CumulativeOrdinalClassifier(ClassifierMixin, BaseEstimator):
    """Ordinal classifier from K-1 binary models of P(y > k) (Frank & Hall).

    Class probabilities are differences of the cumulative probabilities,
    which are first made non-increasing in k (a later threshold can never be
    more likely to be exceeded than an earlier one).  ``class_weight=
    "balanced"`` weights rows by the inverse frequency of their *class*
    (not of the binary split), so every division counts equally in every
    binary model.  Trains on integer codes 0..K-1.
    """

    def __init__(self, estimator=None, class_weight=None):
        self.estimator = estimator
        self.class_weight = class_weight

    def fit(self, X, y, sample_weight=None):
        y = np.asarray(y, dtype=np.int64)
        self.classes_ = np.unique(y)
        if self.class_weight is not None:
            weights = compute_sample_weight(self.class_weight, y)
            sample_weight = weights if sample_weight is None else weights * sample_weight
        self.estimators_ = []
        for k in self.classes_[:-1]:
            target = (y > k).astype(np.int64)
            est = clone(self.estimator)
            if sample_weight is None:
                est.fit(X, target)
            else:
                est.fit(X, target, sample_weight=sample_weight)
            self.estimators_.append(est)
        return self

    def predict_proba(self, X):
        check_is_fitted(self, "estimators_")
        n = np.asarray(X).shape[0]
        exceed = np.column_stack([est.predict_proba(X)[:, 1] for est in self.estimators_]) \
            if self.estimators_ else np.empty((n, 0))
        exceed = np.minimum.accumulate(exceed, axis=1) if exceed.shape[1] else exceed
        cumulative = np.column_stack([np.ones(n), exceed, np.zeros(n)])
        proba = np.clip(cumulative[:, :-1] - cumulative[:, 1:], 0.0, 1.0)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def resolve_params(estimator: str, params: dict[str, Any] | None,
                   position: schema.PositionLike | None = None) -> dict[str, Any]:
    """Defaults of ``estimator`` (and of ``position``) overridden by ``params``.

    Raises :class:`TrainingError` for an unknown estimator or parameter.
    The result is what the pipeline is built from, and JSON-ready.
    """
    if estimator not in ESTIMATOR_DEFAULTS:
        raise TrainingError(
            f"unknown estimator {estimator!r}; choose from {', '.join(ESTIMATORS)}")
    params = dict(params or {})
    merged = dict(ESTIMATOR_DEFAULTS[estimator])
    merged["feature_groups"] = list(DEFAULT_FEATURE_GROUPS)
    if position is not None:
        merged["exclude_features"] = list(schema.spec_of(position).exclude)
    allowed = set(merged) | set(_estimator_param_names(estimator)) | set(PIPELINE_PARAMS)
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise TrainingError(
            f"unknown parameter(s) {', '.join(unknown)} for estimator {estimator!r}; "
            f"allowed: {', '.join(sorted(allowed))}")
    groups = params.get("feature_groups")
    if groups is not None:
        if isinstance(groups, str) or not all(isinstance(g, str) for g in groups):
            raise TrainingError("parameter feature_groups must be a list of group names")
        bad = sorted(set(groups) - set(FEATURE_GROUPS))
        if bad:
            raise TrainingError(
                f"unknown feature group(s) {', '.join(bad)}; "
                f"choose from {', '.join(FEATURE_GROUPS)}")
        params["feature_groups"] = list(groups)
    exclude = params.get("exclude_features")
    if exclude is not None:
        if isinstance(exclude, str) or not all(isinstance(g, str) for g in exclude):
            raise TrainingError("parameter exclude_features must be a list of feature names")
        params["exclude_features"] = list(exclude)
    decision = params.get("decision", "argmax")
    if decision not in DECISION_RULES:
        raise TrainingError(f"parameter decision must be one of {', '.join(DECISION_RULES)}, "
                            f"got {decision!r}")
    merged["decision"] = "argmax"
    merged.update(params)
    return merged


def _base_class(estimator: str) -> type:
    if estimator.endswith("hgb"):
        return HistGradientBoostingClassifier
    if estimator == "lda":
        return LinearDiscriminantAnalysis
    return LogisticRegression


def _estimator_param_names(estimator: str) -> list[str]:
    base = _base_class(estimator)()
    # random_state is set from the seed, never from params, so results follow the seed.
    return [p for p in base.get_params() if p != "random_state"]


def build_pipeline(position: schema.PositionLike, estimator: str = DEFAULT_ESTIMATOR,
                   params: dict[str, Any] | None = None, seed: int = 42) -> Pipeline:
    """An unfitted pipeline for ``position``: raw canonical frame -> division probabilities.

    ``params`` overrides the estimator's defaults (:data:`ESTIMATOR_DEFAULTS`;
    any parameter of the underlying scikit-learn estimator is accepted) and
    may hold ``feature_groups`` (a list from :data:`features.FEATURE_GROUPS`;
    default :data:`DEFAULT_FEATURE_GROUPS`)
    ``exclude_features`` (output feature names to drop; default the spec's
    ``exclude``, ``[]`` keeps every feature)
    and ``decision`` (``"argmax"``, the default, or ``"median"``: how
    ``predict`` turns probabilities into a division, see :func:`decide`).
    Raises :class:`TrainingError` for an unknown estimator or parameter.
    """
    spec = schema.spec_of(position)
    # A key stays a key (resolved in fit, under the catalog of the training run); a
    # spec is passed as its plain data, which any process can resolve.
    given: schema.PositionLike = position if isinstance(position, str) else spec.to_dict()
    resolved = resolve_params(estimator, params, spec)
    groups = resolved.pop("feature_groups", None)
    exclude = resolved.pop("exclude_features", None)
    if exclude:
        available = set(DerivedFeatures(spec, groups).fit(pd.DataFrame()).feature_names_out_)
        unknown = sorted(set(exclude) - available)
        if unknown:
            raise TrainingError(
                f"exclude_features names unknown feature(s) {', '.join(unknown)}; "
                f"features of {spec.key}: {', '.join(sorted(available))}")
    features = DerivedFeatures(position=given, groups=groups, exclude=exclude)
    try:
        steps = [("features", features)] + _model_steps(estimator, resolved, seed, given)
    except (TypeError, ValueError) as exc:
        raise TrainingError(f"invalid parameters for estimator {estimator!r}: {exc}") from exc
    return Pipeline(steps)


def _model_steps(estimator: str, params: dict[str, Any], seed: int,
                 position: schema.PositionLike) -> list[tuple[str, Any]]:
    ordinal = estimator.startswith("ordinal_")
    class_weight = params.pop("class_weight", None)
    decision = params.pop("decision", "argmax")
    if estimator.endswith("hgb"):
        base = HistGradientBoostingClassifier(
            random_state=seed, class_weight=None if ordinal else class_weight, **params)
        prep: list[tuple[str, Any]] = []
    else:
        if estimator == "lda":
            if class_weight is not None:
                raise TrainingError("estimator 'lda' takes no class_weight (set priors instead)")
            base = LinearDiscriminantAnalysis(**params)
        else:
            base = LogisticRegression(
                random_state=seed, class_weight=None if ordinal else class_weight, **params)
        # Indicators are not added here: the "missing" feature group carries
        # combine missingness explicitly; other gaps are imputed by the median.
        prep = [("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                ("scale", StandardScaler())]
    inner = CumulativeOrdinalClassifier(base, class_weight=class_weight) if ordinal else base
    return prep + [("classifier", DivisionClassifier(inner, decision=decision,
                                                     position=position))]
