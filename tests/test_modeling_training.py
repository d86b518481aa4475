"""train_position: result contents, no leakage, determinism, robustness, bad parameters."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recruit_reveal import schema
from recruit_reveal.catalog import default_catalog
from recruit_reveal.data.loading import load_training_data
from recruit_reveal.errors import TrainingError
from recruit_reveal.modeling import cross_validation
from recruit_reveal.modeling.estimators import build_pipeline
from recruit_reveal.modeling.features import DerivedFeatures
from recruit_reveal.modeling.summaries import METRIC_NAMES
from recruit_reveal.modeling.training import TrainingResult, train_position

SAMPLE_ATHLETES = [{"position": key, **spec.example}
                   for key, spec in default_catalog().positions.items()]
DIVISIONS = default_catalog().ladder.levels


@pytest.fixture(scope="module")
def qb_data(sample_csv):
    return load_training_data(sample_csv, "qb")


def test_result_carries_everything_export_needs(trained_results, sample_csv):
    for position, result in trained_results.items():
        assert isinstance(result, TrainingResult)
        assert result.position == position and result.cv_folds == 3 and result.seed == 0
        for metric in METRIC_NAMES:
            assert metric in result.cv_metrics
            for baseline in ("majority", "rule_based"):
                assert metric in result.baselines[baseline]
        assert set(result.cv_metrics["recall_per_division"]) == set(DIVISIONS)
        assert np.sum(result.cv_metrics["confusion_matrix"]) == result.data_fingerprint["rows"]
        fp = result.data_fingerprint
        assert fp["file"] == sample_csv.name and len(fp["sha256"]) == 64
        assert sum(fp["rows_per_division"].values()) == fp["rows"]
        assert list(fp["rows_per_division"]) == list(DIVISIONS)
        assert result.input_schema == schema.input_schema(position)
        assert "bmi" in result.features and "speed_score" in result.features
        assert set(result.typical_values) <= set(schema.feature_names(position))
        assert result.typical_values["height_inches"] > 60
        assert {"load", "cv", "baselines", "final_fit"} <= set(result.timings)
        assert all(isinstance(w, str) for w in result.validation_warnings)
        # The sample CSV is the synthetic sample: the ceiling is computed.
        assert set(result.bayes_ceiling) >= {"exact_accuracy", "within_one_accuracy", "log_loss"}
        assert result.oof_proba.shape == (fp["rows"], 4)
        np.testing.assert_allclose(result.oof_proba.sum(axis=1), 1.0)
        assert result.estimator and isinstance(result.params, dict)


def test_model_beats_majority_on_real_target(trained_results):
    for result in trained_results.values():
        model = result.cv_metrics["exact_accuracy"]["mean"]
        assert model > result.baselines["majority"]["exact_accuracy"]["mean"] + 0.05
        assert result.cv_metrics["within_one_accuracy"]["mean"] > 0.85


def test_sample_athletes_get_valid_probabilities(trained_results):
    for athlete in SAMPLE_ATHLETES:
        pipeline = trained_results[athlete["position"]].pipeline
        proba = pipeline.predict_proba(pd.DataFrame([athlete]))
        assert proba.shape == (1, 4)
        assert np.all((proba >= 0) & (proba <= 1))
        assert proba.sum() == pytest.approx(1.0)
        assert pipeline.predict(pd.DataFrame([athlete]))[0] in DIVISIONS


def test_shuffled_target_gives_about_chance_accuracy(qb_data, trained_results):
    rng = np.random.default_rng(0)
    shuffled = pd.Series(rng.permutation(qb_data.target.to_numpy()), index=qb_data.target.index)
    data = dataclasses.replace(qb_data, target=shuffled)
    result = train_position(data, "qb", seed=0, cv_folds=3, bayes=False)
    majority = result.baselines["majority"]["exact_accuracy"]["mean"]
    exact = result.cv_metrics["exact_accuracy"]["mean"]
    # Nothing to learn: no better than always guessing the largest division.
    assert exact < majority + 0.05
    assert exact < trained_results["qb"].cv_metrics["exact_accuracy"]["mean"] - 0.1
    assert result.cv_metrics["quadratic_weighted_kappa"]["mean"] < 0.15


class _RecordingFeatures(DerivedFeatures):
    """DerivedFeatures that records which rows each fit (and transform) saw."""

    fitted_on: list[frozenset] = []

    def fit(self, X, y=None):
        _RecordingFeatures.fitted_on.append(frozenset(X.index))
        return super().fit(X, y)


def test_transformers_are_fitted_on_training_folds_only(qb_data):
    pipeline = build_pipeline("qb")
    pipeline.steps[0] = ("features", _RecordingFeatures(**pipeline.steps[0][1].get_params()))
    folds = cross_validation.stratified_folds(qb_data.target, 3, seed=0)
    _RecordingFeatures.fitted_on.clear()
    cross_validation.cross_validate(pipeline, qb_data.frame, qb_data.target, folds)
    index = qb_data.frame.index
    assert len(_RecordingFeatures.fitted_on) == 3
    for seen, (train, test) in zip(_RecordingFeatures.fitted_on, folds, strict=True):
        assert seen == frozenset(index[train])
        assert not seen & frozenset(index[test])


def test_same_inputs_same_metrics_and_predictions(qb_data):
    a = train_position(qb_data, "qb", seed=5, cv_folds=3, n_jobs=1)
    b = train_position(qb_data, "qb", seed=5, cv_folds=3, n_jobs=2)
    assert a.cv_metrics == b.cv_metrics
    assert a.baselines == b.baselines
    np.testing.assert_array_equal(a.oof_proba, b.oof_proba)
    np.testing.assert_array_equal(a.pipeline.predict_proba(qb_data.frame),
                                  b.pipeline.predict_proba(qb_data.frame))


def test_csv_path_and_training_data_give_the_same_model(sample_csv, trained_results):
    data = load_training_data(sample_csv, "rb")
    again = train_position(data, "rb", seed=0, cv_folds=3)
    assert again.cv_metrics == trained_results["rb"].cv_metrics
    np.testing.assert_array_equal(again.pipeline.predict_proba(data.frame),
                                  trained_results["rb"].pipeline.predict_proba(data.frame))


def test_row_with_every_optional_column_missing_still_predicts(trained_results):
    for position, result in trained_results.items():
        row = {name: 70.0 if name == "height_inches" else np.nan
               for name in schema.feature_names(position)}
        row["weight_lbs"] = 190.0
        row[schema.spec_of(position).production] = 100.0
        proba = result.pipeline.predict_proba(pd.DataFrame([row]))
        assert np.isfinite(proba).all() and proba.sum() == pytest.approx(1.0)
        # Only the required columns, nothing else at all:
        sparse = pd.DataFrame([{k: row[k] for k in schema.required_columns(position)}])
        assert result.pipeline.predict_proba(sparse).shape == (1, 4)


def test_a_column_entirely_missing_in_training_does_not_crash(qb_data):
    frame = qb_data.frame.copy()
    frame["forty_yard_dash"] = np.nan
    frame["state"] = np.nan
    data = dataclasses.replace(qb_data, frame=frame)
    result = train_position(data, "qb", seed=0, cv_folds=3, bayes=False)
    assert any("forty_yard_dash" in w for w in result.validation_warnings)
    proba = result.pipeline.predict_proba(pd.DataFrame([SAMPLE_ATHLETES[0]]))
    assert proba.sum() == pytest.approx(1.0)


def test_ceiling_only_for_the_synthetic_sample(sample_csv, tmp_path):
    plain = tmp_path / "copy.csv"
    shutil.copyfile(sample_csv, plain)  # same bytes, no provenance sidecar
    result = train_position(plain, "wr", seed=0, cv_folds=2)
    assert result.bayes_ceiling is None
    assert result.data_fingerprint["file"] == "copy.csv"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"cv_folds": 1}, "cv_folds must be at least 2"),
    ({"cv_folds": 1000}, "needs at least 1000 rows in every division"),
    ({"cv_folds": "3"}, "cv_folds must be an integer"),
    ({"estimator": "svm"}, "unknown estimator 'svm'"),
    ({"params": {"depth": 3}}, "unknown parameter"),
])
def test_unusable_parameters_raise_training_error(qb_data, kwargs, message):
    with pytest.raises(TrainingError, match=message):
        train_position(qb_data, "qb", **kwargs)


def test_estimator_may_be_named_in_params(qb_data):
    result = train_position(qb_data, "qb", seed=0, cv_folds=2, bayes=False,
                            params={"estimator": "logreg", "C": 0.5})
    assert result.estimator == "logreg" and result.params["C"] == 0.5
    assert "estimator" not in result.params
    with pytest.raises(TrainingError, match="estimator given twice"):
        train_position(qb_data, "qb", estimator="lda", params={"estimator": "logreg"})


def test_position_mismatch_is_an_error(qb_data):
    with pytest.raises(TrainingError, match="holds position 'qb'"):
        train_position(qb_data, "wr")


# -- positions of another catalog -------------------------------------------------------

@pytest.mark.parametrize("key", ["te", "lb"])
def test_a_custom_position_trains_end_to_end_on_its_ladder(key):
    from catalog_frames import five_levels, trained

    spec = five_levels().position(key)
    result = trained(key)
    assert result.position == key and result.spec == spec
    assert result.spec.digest == spec.digest  # what the metadata embeds, with to_dict()
    assert result.classes == spec.levels and len(result.classes) == 5
    assert result.oof_proba.shape == (300, 5) and not np.isnan(result.oof_proba).any()
    assert set(result.cv_metrics["recall_per_division"]) == set(spec.levels)
    assert np.asarray(result.cv_metrics["confusion_matrix"]).shape == (5, 5)
    assert list(result.division_mix) == list(spec.levels)
    assert result.input_schema["target"]["classes"] == list(spec.levels)
    # Better than always answering the most frequent level: talent drives the labels.
    assert result.headline()["exact_accuracy"] > \
        result.baselines["majority"]["exact_accuracy"]["mean"]
    # Neither position has rule-based tiers: that baseline is not offered.
    assert "rule_based" not in result.baselines
    # A measurables-only position has nothing to integrate over, a TE has.
    assert (result.partial_profiles is None) == (key == "lb")


def test_train_position_takes_a_key_of_the_active_catalog(monkeypatch):
    from catalog_frames import FIVE_LEVELS, five_levels, training_data

    spec = five_levels().position("te")
    monkeypatch.setenv("CATALOG", str(FIVE_LEVELS))
    result = train_position(training_data(spec, n=200), "te", seed=0, cv_folds=3)
    assert result.spec == spec and result.pipeline.steps[0][1].spec_ == spec.to_dict()
    monkeypatch.delenv("CATALOG")
    with pytest.raises(Exception, match="qb, rb, wr"):  # unknown here: names the known ones
        train_position(training_data(spec, n=200), "te", seed=0, cv_folds=3)


def test_a_two_level_position_without_combine_state_production_or_levers_works():
    import dataclasses

    from catalog_frames import five_levels, training_data

    from recruit_reveal.catalog import Ladder
    from recruit_reveal.modeling import explanations, scoring
    from recruit_reveal.modeling.reference import reference_rows

    lb = five_levels().position("lb")
    bare = dataclasses.replace(
        lb, key="k", inputs=tuple(c for c in lb.inputs if c.group != "combine"
                                  and c.kind != "state"),
        ladder=Ladder(("low", "high")), levers={}, example={})
    assert bare.combine == () and bare.production is None
    result = train_position(training_data(bare, n=120), bare, seed=0, cv_folds=3)
    assert result.oof_proba.shape == (120, 2) and result.classes == ("low", "high")
    assert list(result.baselines) == ["majority"]
    scorer = scoring.build_scorer(result.pipeline, None, result.typical_values)
    assert scorer.mode == "fast", scorer.reason
    x, state = reference_rows(bare, result.typical_values)
    out = explanations.explain_arrays(scorer, x[:4], state[:4], None)
    assert all(row["what_if"]["options"] == [] for row in out)
    assert {row["division"] for row in out} <= {"low", "high"}


def test_recency_half_life_weights_the_backtest_and_the_final_fit(tmp_path, monkeypatch):
    from recruit_reveal.catalog import CATALOG_ENV
    from recruit_reveal.data import synthetic

    drifting = Path(__file__).resolve().parent / "fixtures" / "catalog_drifting.toml"
    monkeypatch.setenv(CATALOG_ENV, str(drifting))
    csv = synthetic.write_sample(tmp_path / "drifting.csv", rows_per_position=800, seed=4)
    data = load_training_data(csv, "wr")
    plain = train_position(data, "wr", cv_folds=3)
    weighted = train_position(data, "wr", cv_folds=3, params={"recency_half_life": 1.5})
    assert plain.backtest["options"]["half_life"] is None
    assert weighted.backtest["options"]["half_life"] == 1.5
    # The ceiling per class comes from the drifting catalog's own (per-year) posterior.
    assert all("bayes_log_loss" in c for c in weighted.backtest["classes"])
    # Shuffled CV is unweighted (it cannot judge recency); the served model is weighted.
    assert weighted.cv_metrics == plain.cv_metrics
    frame = data.frame.head(200)
    assert not np.allclose(weighted.pipeline.predict_proba(frame),
                           plain.pipeline.predict_proba(frame))
    with pytest.raises(TrainingError, match="recency_half_life needs a class-year input"):
        train_position(dataclasses.replace(data, frame=data.frame.drop(columns="grad_year")),
                       "wr", cv_folds=3, params={"recency_half_life": 1.5})
