"""Cross-validation folds and permutation importance on held-out folds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from recruit_reveal.data.loading import load_training_data
from recruit_reveal.modeling import cross_validation
from recruit_reveal.modeling.metrics import log_loss


def test_permutation_importance_on_held_out_folds(trained_results, sample_csv):
    result = trained_results["wr"]
    data = load_training_data(sample_csv, "wr")
    table = cross_validation.permutation_importance_cv(result, data, n_repeats=2)
    assert set(table["feature"]) == set(data.frame.columns)
    assert np.isfinite(table["importance"]).all()
    # Receiving production is what the divisions differ by most.
    prod = table.set_index("feature").loc["senior_rec_ypg", "importance"]
    assert prod > 0


def test_permutation_importance_reuses_cv_fold_models_without_changing_it(
        trained_results, sample_csv, monkeypatch):
    result = trained_results["wr"]
    data = load_training_data(sample_csv, "wr")
    assert len(result.fold_models) == result.cv_folds
    folds = cross_validation.stratified_folds(data.target, result.cv_folds, result.seed)
    for model, (train, _) in zip(result.fold_models, folds, strict=True):
        # Each kept model was fitted on its training fold only: what its
        # features learned comes from the training rows, never the held-out ones.
        features = model.named_steps["features"]
        assert features.n_fit_rows_ == len(train)
        forty = data.frame.iloc[train]["forty_yard_dash"].dropna()
        assert features.norms_["forty_yard_dash"][0] == pytest.approx(forty.mean())
    reused = cross_validation.permutation_importance_cv(result, data, n_repeats=2)
    refits = []
    real_clone = cross_validation.clone
    monkeypatch.setattr(cross_validation, "clone", lambda m: refits.append(1) or real_clone(m))
    cross_validation.permutation_importance_cv(result, data, n_repeats=1)
    assert refits == []  # the kept fold models were used, nothing was fitted again
    # Without the kept models every fold is re-fitted, and the figures are the same.
    monkeypatch.setattr(result, "fold_models", [])
    refitted = cross_validation.permutation_importance_cv(result, data, n_repeats=2)
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
    real_clone = cross_validation.clone
    monkeypatch.setattr(cross_validation, "clone", lambda m: refits.append(1) or real_clone(m))
    cross_validation.permutation_importance_cv(result, other, n_repeats=1)
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
        assert cross_validation._log_loss_unchecked(codes, proba) == log_loss(codes, proba)


def test_permutation_importance_of_a_custom_position_reuses_its_fold_models():
    from catalog_frames import five_levels, trained, training_data

    spec = five_levels().position("lb")
    result = trained("lb")
    data = training_data(spec)  # the very rows the result was trained on
    assert cross_validation._reusable_fold_models(result, data, 3, spec.ladder) is not None
    table = cross_validation.permutation_importance_cv(result, data, n_repeats=2)
    assert set(table["feature"]) == set(spec.feature_names)
    # Talent drives the labels through every input: some input must matter.
    assert table["importance"].max() > 0
