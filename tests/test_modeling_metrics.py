"""Metric functions against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recruit_reveal.modeling import metrics


def test_exact_and_within_one_accuracy():
    y_true = [0, 1, 2, 3, 3]
    y_pred = ["D2", "Power 5", "FCS", "D3", "FCS"]  # off by 1, 2, 0, 3, 1
    assert metrics.exact_accuracy(y_true, y_pred) == pytest.approx(1 / 5)
    assert metrics.within_one_accuracy(y_true, y_pred) == pytest.approx(3 / 5)


def test_quadratic_weighted_kappa_by_hand():
    # Observed: (0,0) (0,1) (1,1) (2,3) (3,3); weights (i-j)^2/9.
    # sum W*O = 2/9; row totals (2,1,1,1), column totals (1,2,0,2), n=5:
    # sum W*E = 74/45, so kappa = 1 - (2/9)/(74/45) = 32/37.
    y_true = [0, 0, 1, 2, 3]
    y_pred = [0, 1, 1, 3, 3]
    assert metrics.quadratic_weighted_kappa(y_true, y_pred) == pytest.approx(32 / 37)
    assert metrics.quadratic_weighted_kappa([0, 1, 2, 3], [0, 1, 2, 3]) == pytest.approx(1.0)


_PROBA = np.array([
    [0.85, 0.05, 0.05, 0.05],  # true D3: right, confidence 0.85 (bin 8)
    [0.05, 0.85, 0.05, 0.05],  # true D3: wrong, confidence 0.85 (bin 8)
    [0.15, 0.55, 0.15, 0.15],  # true D2: right, confidence 0.55 (bin 5)
    [0.35, 0.30, 0.20, 0.15],  # true Power 5: wrong, confidence 0.35 (bin 3)
])


_TRUE = ["D3", "D3", "D2", "Power 5"]


def test_expected_calibration_error_by_hand():
    # bin 8: 2 rows, accuracy 0.5, confidence 0.85 -> 0.35, weight 1/2
    # bin 5: 1 row, accuracy 1, confidence 0.55 -> 0.45, weight 1/4
    # bin 3: 1 row, accuracy 0, confidence 0.35 -> 0.35, weight 1/4
    assert metrics.expected_calibration_error(_TRUE, _PROBA) == pytest.approx(0.375)
    bins = metrics.calibration_bins(_TRUE, _PROBA)
    assert list(bins["bin"]) == [3, 5, 8]
    assert list(bins["rows"]) == [1, 1, 2]


def test_log_loss_by_hand():
    expected = -np.mean(np.log([0.85, 0.05, 0.55, 0.15]))
    assert metrics.log_loss(_TRUE, _PROBA) == pytest.approx(expected)
    # A zero probability on the truth is clipped, not infinite.
    assert math.isfinite(metrics.log_loss([3], [[1.0, 0.0, 0.0, 0.0]]))


def test_recall_confusion_matrix_and_macro_f1():
    y_true = [0, 0, 1, 1, 2, 3]
    y_pred = [0, 1, 1, 1, 3, 3]
    recall = metrics.recall_per_division(y_true, y_pred)
    assert recall == {"D3": 0.5, "D2": 1.0, "FCS": 0.0, "Power 5": 1.0}
    cm = metrics.confusion_matrix(y_true, y_pred)
    assert cm == [[1, 1, 0, 0], [0, 2, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1]]
    # F1 per class: D3 2/3, D2 0.8, FCS 0, Power 5 2/3
    assert metrics.macro_f1(y_true, y_pred) == pytest.approx((2 / 3 + 0.8 + 0 + 2 / 3) / 4)


def test_metrics_count_the_levels_of_the_ladder():
    from catalog_frames import five_levels

    ladder = five_levels().ladder
    truth = ["D3", "G5", "Power 4", "p5", "FCS"]  # "p5" is a spelling of Power 4 there
    proba = np.eye(5)[[0, 3, 4, 3, 2]]
    out = metrics.fold_metrics(truth, proba, ladder=ladder)
    assert np.asarray(out["confusion_matrix"]).shape == (5, 5)
    assert list(out["recall_per_division"]) == list(ladder.levels)
    assert out["exact_accuracy"] == pytest.approx(0.8)
    assert out["within_one_accuracy"] == pytest.approx(1.0)
    assert math.isnan(out["recall_per_division"]["D2"])
