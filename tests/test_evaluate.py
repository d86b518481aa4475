"""Metric functions against hand-computed values, baselines, tables and figures."""

from __future__ import annotations

import dataclasses
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from recruit_reveal.data.loading import load_training_data
from recruit_reveal.modeling import evaluation as evaluate


def test_exact_and_within_one_accuracy():
    y_true = [0, 1, 2, 3, 3]
    y_pred = ["D2", "Power 5", "FCS", "D3", "FCS"]  # off by 1, 2, 0, 3, 1
    assert evaluate.exact_accuracy(y_true, y_pred) == pytest.approx(1 / 5)
    assert evaluate.within_one_accuracy(y_true, y_pred) == pytest.approx(3 / 5)


def test_quadratic_weighted_kappa_by_hand():
    # Observed: (0,0) (0,1) (1,1) (2,3) (3,3); weights (i-j)^2/9.
    # sum W*O = 2/9; row totals (2,1,1,1), column totals (1,2,0,2), n=5:
    # sum W*E = 74/45, so kappa = 1 - (2/9)/(74/45) = 32/37.
    y_true = [0, 0, 1, 2, 3]
    y_pred = [0, 1, 1, 3, 3]
    assert evaluate.quadratic_weighted_kappa(y_true, y_pred) == pytest.approx(32 / 37)
    assert evaluate.quadratic_weighted_kappa([0, 1, 2, 3], [0, 1, 2, 3]) == pytest.approx(1.0)


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
    assert evaluate.expected_calibration_error(_TRUE, _PROBA) == pytest.approx(0.375)
    bins = evaluate.calibration_bins(_TRUE, _PROBA)
    assert list(bins["bin"]) == [3, 5, 8]
    assert list(bins["rows"]) == [1, 1, 2]


def test_log_loss_by_hand():
    expected = -np.mean(np.log([0.85, 0.05, 0.55, 0.15]))
    assert evaluate.log_loss(_TRUE, _PROBA) == pytest.approx(expected)
    # A zero probability on the truth is clipped, not infinite.
    assert math.isfinite(evaluate.log_loss([3], [[1.0, 0.0, 0.0, 0.0]]))


def test_recall_confusion_matrix_and_macro_f1():
    y_true = [0, 0, 1, 1, 2, 3]
    y_pred = [0, 1, 1, 1, 3, 3]
    recall = evaluate.recall_per_division(y_true, y_pred)
    assert recall == {"D3": 0.5, "D2": 1.0, "FCS": 0.0, "Power 5": 1.0}
    cm = evaluate.confusion_matrix(y_true, y_pred)
    assert cm == [[1, 1, 0, 0], [0, 2, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1]]
    # F1 per class: D3 2/3, D2 0.8, FCS 0, Power 5 2/3
    assert evaluate.macro_f1(y_true, y_pred) == pytest.approx((2 / 3 + 0.8 + 0 + 2 / 3) / 4)


def test_summarize_folds_means_stds_and_summed_confusion():
    a = evaluate.fold_metrics([0, 1, 2, 3], np.eye(4))
    b = evaluate.fold_metrics([0, 1, 2, 3], np.eye(4)[[1, 1, 2, 3]])
    summary = evaluate.summarize_folds([a, b])
    assert summary["exact_accuracy"] == {"mean": pytest.approx(0.875), "std": pytest.approx(0.125)}
    assert summary["recall_per_division"]["D3"]["mean"] == pytest.approx(0.5)
    assert summary["confusion_matrix"][0] == [1, 1, 0, 0]
    assert np.sum(summary["confusion_matrix"]) == 8


def test_rule_based_tiers_top_down_with_60_percent_of_available_checks():
    # Power 5: production, weight and 40 pass, height 72 fails -> 3 of 4.
    assert evaluate.rule_based_tier({"senior_ypg": 250, "height_inches": 72, "weight_lbs": 200,
                                     "forty_yard_dash": 4.7}, "qb") == "Power 5"
    # P5 0/3, FCS 1/3, D2: production and weight pass, height fails -> 2/3.
    row = {"senior_ypg": 210, "height_inches": 70, "weight_lbs": 185}
    assert evaluate.rule_based_tier(row, "qb") == "D2"
    # A missing value is skipped, not failed: with only production known, it decides.
    assert evaluate.rule_based_tier({"senior_rec_ypg": 101, "height_inches": float("nan")},
                                    "wr") == "Power 5"
    assert evaluate.rule_based_tier({"senior_ypg": 20, "height_inches": 60,
                                     "weight_lbs": 130}, "rb") == "D3"


def test_baseline_estimators():
    frame = pd.DataFrame({"height_inches": [75, 70, 70, 70], "weight_lbs": [210, 150, 150, 150],
                          "senior_ypg": [300, 10, 10, 10]})
    target = pd.Series(["Power 5", "D3", "D3", "D2"])
    rules = evaluate.RuleBasedTierClassifier("qb").fit(frame, target)
    assert list(rules.predict(frame)) == ["Power 5", "D3", "D3", "D3"]
    proba = rules.predict_proba(frame)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # P(true | tier D3) from 3 rows (2 D3, 1 D2) with add-one smoothing: (3, 2, 1, 1) / 7
    np.testing.assert_allclose(proba[1], [3 / 7, 2 / 7, 1 / 7, 1 / 7])
    majority = evaluate.majority_baseline().fit(frame, target)
    assert set(majority.predict(frame)) == {"D3"}
    np.testing.assert_allclose(majority.predict_proba(frame)[0], [0.5, 0.25, 0, 0.25])


def test_tables_and_figures_do_not_touch_pyplot_state(trained_results, sample_csv):
    result = trained_results["qb"]
    data = load_training_data(sample_csv, "qb")
    before = plt.get_fignums()
    figures = [
        evaluate.plot_class_balance(data),
        evaluate.plot_inputs_by_division(data),
        evaluate.plot_confusion_matrix(result),
        evaluate.plot_calibration(result),
        evaluate.plot_metrics_vs_baselines(result),
    ]
    assert all(isinstance(f, Figure) for f in figures)
    assert plt.get_fignums() == before
    table = evaluate.metrics_table(result)
    assert table.loc["exact_accuracy", "model_mean"] == result.cv_metrics["exact_accuracy"]["mean"]
    assert {"rule_based_mean", "majority_mean", "bayes_ceiling"} <= set(table.columns)
    assert "recall FCS" in table.index


def test_permutation_importance_on_held_out_folds(trained_results, sample_csv):
    result = trained_results["wr"]
    data = load_training_data(sample_csv, "wr")
    table = evaluate.permutation_importance_cv(result, data, n_repeats=2)
    assert set(table["feature"]) == set(data.frame.columns)
    assert np.isfinite(table["importance"]).all()
    # Receiving production is what the divisions differ by most.
    prod = table.set_index("feature").loc["senior_rec_ypg", "importance"]
    assert prod > 0
    assert isinstance(evaluate.plot_permutation_importance(result, data, n_repeats=1), Figure)


def test_permutation_importance_reuses_cv_fold_models_without_changing_it(
        trained_results, sample_csv, monkeypatch):
    result = trained_results["wr"]
    data = load_training_data(sample_csv, "wr")
    assert len(result.fold_models) == result.cv_folds
    folds = evaluate.stratified_folds(data.target, result.cv_folds, result.seed)
    for model, (train, _) in zip(result.fold_models, folds, strict=True):
        # Each kept model was fitted on its training fold only: what its
        # features learned comes from the training rows, never the held-out ones.
        features = model.named_steps["features"]
        assert features.n_fit_rows_ == len(train)
        forty = data.frame.iloc[train]["forty_yard_dash"].dropna()
        assert features.norms_["forty_yard_dash"][0] == pytest.approx(forty.mean())
    reused = evaluate.permutation_importance_cv(result, data, n_repeats=2)
    refits = []
    real_clone = evaluate.clone
    monkeypatch.setattr(evaluate, "clone", lambda m: refits.append(1) or real_clone(m))
    evaluate.permutation_importance_cv(result, data, n_repeats=1)
    assert refits == []  # the kept fold models were used, nothing was fitted again
    # Without the kept models every fold is re-fitted, and the figures are the same.
    monkeypatch.setattr(result, "fold_models", [])
    refitted = evaluate.permutation_importance_cv(result, data, n_repeats=2)
    assert len(refits) == result.cv_folds
    pd.testing.assert_frame_equal(reused, refitted)


def test_permutation_importance_refits_when_data_is_not_the_training_data(
        trained_results, sample_csv, monkeypatch):
    result = trained_results["wr"]
    data = load_training_data(sample_csv, "wr")
    rows = data.frame.index[: len(data.frame) - 10]
    other = dataclasses.replace(data, frame=data.frame.loc[rows], target=data.target.loc[rows],
                                sha256=None)
    refits = []
    real_clone = evaluate.clone
    monkeypatch.setattr(evaluate, "clone", lambda m: refits.append(1) or real_clone(m))
    evaluate.permutation_importance_cv(result, other, n_repeats=1)
    assert len(refits) == result.cv_folds


def test_importance_log_loss_is_bit_identical_to_log_loss():
    rng = np.random.default_rng(0)
    for trial in range(60):
        n = int(rng.integers(1, 300))
        logits = rng.normal(scale=[0.5, 5.0, 40.0][trial % 3], size=(n, 4))
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        if trial % 4 == 0:  # certain mistakes: the clipping paths
            proba[: max(1, n // 5)] = [1.0, 0.0, 0.0, 0.0]
        codes = rng.integers(0, 4, size=n)
        assert evaluate._log_loss_unchecked(codes, proba) == evaluate.log_loss(codes, proba)
