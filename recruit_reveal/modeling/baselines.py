"""What the model is compared with, on the same folds: two baselines and the Bayes ceiling.

``majority``
    always the most frequent level of the training fold; its
    probabilities are the training fold's class shares.
``rule_based``
    the earlier system's tier score, from the spec's ``tiers``, see
    :class:`RuleBasedTierClassifier`; not offered for a position without tiers.
Bayes ceiling
    the generator's exact posterior on the rows (synthetic data only): the
    best any model could do on them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier
from sklearn.utils.validation import check_is_fitted

from recruit_reveal.data.posterior import true_proba
from recruit_reveal.modeling.cross_validation import Folds, cross_validate
from recruit_reveal.modeling.estimators import DivisionClassifier, encode_divisions
from recruit_reveal.modeling.features import canonical_frame
from recruit_reveal.modeling.metrics import (
    exact_accuracy,
    expected_calibration_error,
    log_loss,
    macro_f1,
    quadratic_weighted_kappa,
    within_one_accuracy,
)

from .. import schema


def majority_baseline(position: schema.PositionLike | None = None) -> DivisionClassifier:
    """Predicts the training fold's most frequent level, with its class shares."""
    return DivisionClassifier(DummyClassifier(strategy="prior"), decision="argmax",
                              position=position)


#: A level is earned when at least this share of its available checks pass.
TIER_PASS_SHARE = 0.6


def _tier_passes(frame: pd.DataFrame, checks: Mapping[str, Sequence[float]]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(checks passed, checks available) per row for one level; missing inputs are skipped.

    Each check is an inclusive [low, high] window of an input (the spec's ``tiers``).
    Height and weight must fall inside the level's window, as in the earlier
    system.  The combine windows only bound the *bad* side (open on the other): a 40
    or shuttle faster than the window, or a jump higher, passes (the earlier tables list
    the typical range of the level, and beating it is no reason to demote).
    """
    passed = np.zeros(len(frame))
    available = np.zeros(len(frame))
    for name, (low, high) in checks.items():
        if name not in frame:
            continue
        values = frame[name].to_numpy(dtype="float64")
        have = np.isfinite(values)
        available += have
        passed += have & (values >= low) & (values <= high)
    return passed, available


def rule_based_tiers(frame: pd.DataFrame, position: schema.PositionLike) -> np.ndarray:
    """The earlier system's tier (ordinal code) for every row of a raw canonical frame.

    Levels with checks (the spec's ``tiers``) are tried top-down; a level is assigned
    when at least 60% of its *available* checks pass (a missing input is neither a
    pass nor a fail; a level with no available check is not assigned).  An athlete
    who earns no level is at the bottom level, whose own checks cannot move anyone
    anywhere.  A position without tiers puts everyone at the bottom.
    """
    spec = schema.spec_of(position)
    frame = canonical_frame(frame, spec)
    codes = np.zeros(len(frame), dtype=np.int64)
    decided = np.zeros(len(frame), dtype=bool)
    for level, checks in spec.tiers.items():
        passed, available = _tier_passes(frame, checks)
        earns = ~decided & (available > 0) & (passed >= TIER_PASS_SHARE * available)
        codes[earns] = spec.ladder.index(level)
        decided |= earns
    return codes


class RuleBasedTierClassifier(ClassifierMixin, BaseEstimator):
    """The rule-based baseline as an estimator, so it runs on the same folds.

    ``predict`` is :func:`rule_based_tiers` and learns nothing.  For the log
    loss and calibration, ``predict_proba`` returns P(true level | tier)
    estimated on the training fold with add-one smoothing (``tier_table_``):
    the earlier system gave no probabilities, and this is the fairest ones
    its tiers can carry.  The spec is resolved in ``fit`` and kept as ``spec_``.
    """

    def __init__(self, position: schema.PositionLike | None = None):
        self.position = position

    def _tiers(self, X) -> np.ndarray:
        return rule_based_tiers(X, self.spec_)

    def fit(self, X, y):
        if self.position is None:
            raise ValueError("RuleBasedTierClassifier needs a position (a key, a spec or its data)")
        spec = schema.spec_of(self.position)
        self.spec_ = spec.to_dict()
        codes = encode_divisions(y, spec.ladder)
        tiers = self._tiers(X)
        k = len(spec.levels)
        table = np.ones((k, k))
        np.add.at(table, (tiers, codes), 1.0)
        self.tier_table_ = table / table.sum(axis=1, keepdims=True)
        self.classes_ = np.array(spec.levels, dtype=object)
        return self

    def predict(self, X):
        check_is_fitted(self, "tier_table_")
        return self.classes_[self._tiers(X)]

    def predict_proba(self, X):
        check_is_fitted(self, "tier_table_")
        return self.tier_table_[self._tiers(X)]


def run_baselines(frame: pd.DataFrame, target: pd.Series, position: schema.PositionLike,
                  folds: Folds) -> dict[str, dict[str, Any]]:
    """Majority and rule-based baselines on ``folds``: {name: summary of fold metrics}.

    The rule-based baseline is the spec's tiers; a position without them (a new
    position the earlier system never scored) has no ``rule_based`` entry."""
    spec = schema.spec_of(position)
    given = position if isinstance(position, str) else spec.to_dict()
    majority, _ = cross_validate(majority_baseline(given), frame, target, folds,
                                 ladder=spec.ladder)
    out = {"majority": majority}
    if spec.tiers:
        out["rule_based"], _ = cross_validate(RuleBasedTierClassifier(given), frame, target,
                                              folds, ladder=spec.ladder)
    return out


def bayes_ceiling(frame: pd.DataFrame, target: pd.Series,
                  position: schema.PositionLike) -> dict[str, float]:
    """Metrics of the generator's exact posterior on these rows (synthetic data only).

    The ceiling predicts the argmax of :func:`recruit_reveal.data.posterior.true_proba`,
    the same decision rule as the models, so its exact and within-one accuracy
    are the best any model using argmax can expect on these rows (up to
    sampling noise).
    """
    spec = schema.spec_of(position)
    ladder = spec.ladder
    proba = np.asarray(true_proba(frame, spec.key), dtype="float64")
    pred = proba.argmax(axis=1)
    return {
        "exact_accuracy": exact_accuracy(target, pred, ladder),
        "within_one_accuracy": within_one_accuracy(target, pred, ladder),
        "log_loss": log_loss(target, proba, ladder),
        "macro_f1": macro_f1(target, pred, ladder),
        "quadratic_weighted_kappa": quadratic_weighted_kappa(target, pred, ladder),
        "expected_calibration_error": expected_calibration_error(target, proba, ladder=ladder),
    }
