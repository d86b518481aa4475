"""What the model is compared with, on the same folds: two baselines and the Bayes ceiling.

``majority``
    always the most frequent division of the training fold; its
    probabilities are the training fold's class shares.
``rule_based``
    the earlier system's tier score, see :class:`RuleBasedTierClassifier`.
Bayes ceiling
    the generator's exact posterior on the rows (synthetic data only): the
    best any model could do on them.
"""

from __future__ import annotations

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
from ..schema import DIVISIONS


def majority_baseline() -> DivisionClassifier:
    """Predicts the training fold's most frequent division, with its class shares."""
    return DivisionClassifier(DummyClassifier(strategy="prior"), decision="argmax")


# Tier thresholds of the earlier rule-based score.
# Per tier: production >= , height window, weight window, 40-yard window,
# vertical window, broad jump >=, shuttle <=.  None = no check.
_TierRow = tuple[float, tuple[float, float], tuple[float, float], tuple[float, float] | None,
                 tuple[float, float] | None, float | None, float | None]
TIER_THRESHOLDS: dict[str, dict[str, _TierRow]] = {
    "qb": {
        "Power 5": (250, (74, 78), (200, 240), (4.6, 4.9), (30, 34), 108, 4.5),
        "FCS": (200, (72, 76), (190, 220), (4.7, 5.0), (28, 32), 102, 4.6),
        "D2": (150, (71, 74), (180, 210), (4.8, 5.1), (26, 30), 96, 4.7),
    },
    "rb": {
        "Power 5": (150, (69, 74), (190, 230), (4.2, 4.4), (34, 36), 120, 4.2),
        "FCS": (120, (68, 73), (180, 220), (4.3, 4.5), (32, 34), 110, 4.3),
        "D2": (90, (67, 72), (170, 210), (4.4, 4.6), (31, 33), 100, 4.4),
    },
    "wr": {
        "Power 5": (100, (71, 75), (180, 210), (4.4, 4.6), (34, 36), 120, 4.3),
        "FCS": (80, (70, 74), (170, 200), (4.5, 4.7), (32, 35), 110, 4.4),
        "D2": (60, (69, 73), (165, 195), (4.6, 4.8), (30, 33), 100, 4.5),
    },
}
TIER_PASS_SHARE = 0.6


def _tier_passes(frame: pd.DataFrame, tier: _TierRow, production: str
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(checks passed, checks available) per row for one tier; missing inputs are skipped.

    Height and weight must fall inside the tier's window, as in the earlier
    system.  The combine windows only bound the *bad* side: a 40 or shuttle
    faster than the window, or a jump higher, passes (the earlier tables list
    the typical range of the level, and beating it is no reason to demote).
    """
    prod, height, weight, forty, vertical, broad, shuttle = tier
    inf = np.inf
    # (column, low, high) per check, inclusive.
    checks = [(production, prod, inf), ("height_inches", *height), ("weight_lbs", *weight)]
    if forty is not None:
        checks.append(("forty_yard_dash", -inf, forty[1]))
    if vertical is not None:
        checks.append(("vertical_jump", vertical[0], inf))
    if broad is not None:
        checks.append(("broad_jump", broad, inf))
    if shuttle is not None:
        checks.append(("shuttle", -inf, shuttle))
    passed = np.zeros(len(frame))
    available = np.zeros(len(frame))
    for name, low, high in checks:
        values = frame[name].to_numpy(dtype="float64")
        have = np.isfinite(values)
        available += have
        passed += have & (values >= low) & (values <= high)
    return passed, available


def rule_based_tiers(frame: pd.DataFrame, position: str) -> np.ndarray:
    """The earlier system's tier (ordinal code) for every row of a raw canonical frame.

    Tiers are tried top-down (Power 5, FCS, D2); a tier is assigned when at
    least 60% of its *available* checks pass (a missing input is neither a
    pass nor a fail; a tier with no available check is not assigned).  An
    athlete who earns no higher tier is D3/NAIA, the bottom tier, whose own
    checks cannot move anyone anywhere.
    """
    position = schema.check_position(position)
    frame = canonical_frame(frame, position)
    production = schema.PRODUCTION_COLUMN[position]
    codes = np.zeros(len(frame), dtype=np.int64)
    decided = np.zeros(len(frame), dtype=bool)
    for division, tier in TIER_THRESHOLDS[position].items():
        passed, available = _tier_passes(frame, tier, production)
        earns = ~decided & (available > 0) & (passed >= TIER_PASS_SHARE * available)
        codes[earns] = schema.division_index(division)
        decided |= earns
    return codes


class RuleBasedTierClassifier(ClassifierMixin, BaseEstimator):
    """The rule-based baseline as an estimator, so it runs on the same folds.

    ``predict`` is :func:`rule_based_tiers` and learns nothing.  For the log
    loss and calibration, ``predict_proba`` returns P(true division | tier)
    estimated on the training fold with add-one smoothing (``tier_table_``):
    the earlier system gave no probabilities, and this is the fairest ones
    its tiers can carry.
    """

    def __init__(self, position: str = "qb"):
        self.position = position

    def _tiers(self, X) -> np.ndarray:
        return rule_based_tiers(X, self.position)

    def fit(self, X, y):
        codes = encode_divisions(y)
        tiers = self._tiers(X)
        table = np.ones((len(DIVISIONS), len(DIVISIONS)))
        np.add.at(table, (tiers, codes), 1.0)
        self.tier_table_ = table / table.sum(axis=1, keepdims=True)
        self.classes_ = np.array(DIVISIONS, dtype=object)
        return self

    def predict(self, X):
        check_is_fitted(self, "tier_table_")
        return self.classes_[self._tiers(X)]

    def predict_proba(self, X):
        check_is_fitted(self, "tier_table_")
        return self.tier_table_[self._tiers(X)]


def run_baselines(frame: pd.DataFrame, target: pd.Series, position: str,
                  folds: Folds) -> dict[str, dict[str, Any]]:
    """Majority and rule-based baselines on ``folds``: {name: summary of fold metrics}."""
    majority, _ = cross_validate(majority_baseline(), frame, target, folds)
    rules, _ = cross_validate(RuleBasedTierClassifier(position), frame, target, folds)
    return {"majority": majority, "rule_based": rules}


def bayes_ceiling(frame: pd.DataFrame, target: pd.Series, position: str) -> dict[str, float]:
    """Metrics of the generator's exact posterior on these rows (synthetic data only).

    The ceiling predicts the argmax of :func:`recruit_reveal.data.posterior.true_proba`,
    the same decision rule as the models, so its exact and within-one accuracy
    are the best any model using argmax can expect on these rows (up to
    sampling noise).
    """
    proba = np.asarray(true_proba(frame, position), dtype="float64")
    pred = proba.argmax(axis=1)
    return {
        "exact_accuracy": exact_accuracy(target, pred),
        "within_one_accuracy": within_one_accuracy(target, pred),
        "log_loss": log_loss(target, proba),
        "macro_f1": macro_f1(target, pred),
        "quadratic_weighted_kappa": quadratic_weighted_kappa(target, pred),
        "expected_calibration_error": expected_calibration_error(target, proba),
    }
