"""The rolling-origin backtest by class year, recency weights and prior-shift correction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recruit_reveal.catalog import default_catalog, load_catalog
from recruit_reveal.data import posterior, synthetic
from recruit_reveal.errors import TrainingError
from recruit_reveal.modeling import backtest as bt
from recruit_reveal.modeling.cross_validation import cross_validate, stratified_folds
from recruit_reveal.modeling.estimators import DEFAULT_ESTIMATOR, build_pipeline
from recruit_reveal.modeling.training import train_position

ROOT = Path(__file__).resolve().parents[1]
DRIFTING = load_catalog(ROOT / "tests" / "fixtures" / "catalog_drifting.toml")


def _drifting(seed: int = 1):
    spec = DRIFTING.position("qb")
    frame = synthetic.generate("qb", 2000, seed, DRIFTING)
    target, features = frame["division"], frame.drop(columns=["name", "position", "division"])
    return spec, features, target, build_pipeline(spec.to_dict(), DEFAULT_ESTIMATOR, {}, 42)


def test_the_stationary_sample_shows_backtest_and_cv_agreeing():
    result = train_position(ROOT / "data" / "training.csv", "qb")
    record = result.backtest
    assert record is not None and record["class_year"] == "grad_year"
    assert [c["year"] for c in record["classes"]] == [2024, 2025, 2026]
    # Each class is scored by a model that never saw it or any later class.
    rows = pd.read_csv(ROOT / "data" / "training.csv")
    rows = rows[rows["position"] == "qb"]
    for c in record["classes"]:
        assert c["train_rows"] == int((rows["grad_year"] < c["year"]).sum())
        assert c["rows"] == int((rows["grad_year"] == c["year"]).sum())
    assert record["comparison"]["cv_flatters"] is False, record["comparison"]["verdict"]
    assert "agree" in record["comparison"]["verdict"]
    # The ceiling per class: the generator's posterior is the best any model can do.
    assert all(c["bayes_log_loss"] < c["log_loss"] for c in record["classes"])
    assert record["class_year_in_model"] is False
    assert record["class_year_trial"]["class_year_in_model"] is True
    assert isinstance(record["class_year_helps"], bool)
    assert "the model leaves out the class year" in record["class_year_verdict"]


def test_the_drifting_sample_is_caught_by_the_backtest():
    spec, frame, target, pipeline = _drifting()
    cv, _ = cross_validate(pipeline, frame, target, stratified_folds(target, 5, 42, spec.ladder),
                           ladder=spec.ladder)
    record = bt.backtest(pipeline, frame, target, spec)
    assert record is not None
    comparison = bt.compare_with_cv(record, cv)
    assert comparison["cv_flatters"] is True
    assert comparison["log_loss_gap"] > comparison["noise"] > 0
    assert "flatters" in comparison["verdict"]


def test_prior_shift_correction_improves_the_next_class_on_the_drifting_sample():
    spec, frame, target, pipeline = _drifting()
    plain = bt.backtest(pipeline, frame, target, spec)
    shifted = bt.backtest(pipeline, frame, target, spec, prior_shift="em")
    assert plain is not None and shifted is not None
    assert shifted["log_loss"]["mean"] < plain["log_loss"]["mean"]
    assert shifted["options"] == {"half_life": None, "prior_shift": "em"}


def test_em_recovers_the_level_mix_of_unlabelled_rows_from_exact_posteriors():
    # The default generator's posterior is exact under its priors; rows of the drifting
    # catalog's last class have another mix, which EM must find from the rows alone.
    frame = synthetic.generate("qb", 20_000, 9, DRIFTING)
    last = frame[frame["grad_year"] == 2026]
    proba = posterior.true_proba(last.drop(columns="grad_year"), "qb", default_catalog())
    train_mix = np.array(default_catalog().sample["qb"].priors)
    mix = bt.estimate_mix(proba, train_mix)
    observed = last["division"].value_counts(normalize=True).reindex(
        default_catalog().ladder.levels).to_numpy()
    assert np.abs(mix - observed).max() < 0.03
    assert np.abs(train_mix - observed).max() > 0.1
    np.testing.assert_allclose(bt.shift_priors(proba, train_mix, train_mix), proba)


def test_recency_weights_halve_every_half_life():
    weights = bt.recency_weights(np.array([2020.0, 2022.0, 2024.0]), 2024.0, 2.0)
    np.testing.assert_allclose(weights, [0.25, 0.5, 1.0])
    assert bt.recency_weights(np.array([2020.0]), 2024.0, None) is None  # an unweighted fit
    with pytest.raises(TrainingError, match="half_life"):
        bt.recency_weights(np.array([2020.0]), 2024.0, 0)


def test_an_estimator_without_sample_weights_is_named_when_weighted():
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.pipeline import Pipeline

    pipeline = Pipeline([("classifier", LinearDiscriminantAnalysis())])
    x, y = np.arange(12.0).reshape(6, 2), np.array([0, 1] * 3)
    assert bt.fit_weighted(pipeline, x, y, None) is pipeline  # the plain fit
    with pytest.raises(TrainingError, match="LinearDiscriminantAnalysis takes no sample weights"):
        bt.fit_weighted(pipeline, x, y, np.ones(6))


def test_recency_weighting_runs_in_the_backtest():
    spec, frame, target, pipeline = _drifting()
    weighted = bt.backtest(pipeline, frame, target, spec, half_life=1.0, classes=1)
    plain = bt.backtest(pipeline, frame, target, spec, classes=1)
    assert weighted is not None and plain is not None
    assert len(weighted["classes"]) == 1
    assert weighted["log_loss"]["mean"] != plain["log_loss"]["mean"]


def test_no_backtest_without_three_classes_and_bad_options_are_named():
    spec, frame, target, pipeline = _drifting()
    two = frame["grad_year"].isin([2019, 2020]).to_numpy()
    assert bt.backtest(pipeline, frame[two], target[two], spec) is None
    assert bt.backtest(pipeline, frame.drop(columns="grad_year"), target, spec) is None
    with pytest.raises(TrainingError, match="prior_shift"):
        bt.backtest(pipeline, frame, target, spec, prior_shift="magic")
    with pytest.raises(TrainingError, match="backtest classes"):
        bt.backtest(pipeline, frame, target, spec, classes=0)


def test_the_class_year_trial_flips_its_place_and_the_record_says_which():
    spec, frame, target, pipeline = _drifting()
    trial = bt.class_year_trial(pipeline, frame, target, spec)
    plain = bt.backtest(pipeline, frame, target, spec)
    assert trial is not None and plain is not None
    assert trial["class_year_in_model"] is True  # the default pipeline leaves it out
    assert len(trial["class_log_loss"]) == 3
    assert trial["log_loss"]["mean"] != plain["log_loss"]["mean"]
