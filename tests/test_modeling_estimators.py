"""The estimator pipelines: probabilities in division order, errors, pickling, determinism."""

from __future__ import annotations

import io

import joblib
import numpy as np
import pandas as pd
import pytest
from test_modeling_features import _frame
from threadpoolctl import threadpool_limits

from recruit_reveal import schema
from recruit_reveal.catalog import default_catalog
from recruit_reveal.errors import TrainingError
from recruit_reveal.modeling.estimators import (
    ESTIMATORS,
    CumulativeOrdinalClassifier,
    DivisionClassifier,
    build_pipeline,
    decide,
    encode_divisions,
    resolve_params,
)

#: The default catalog's ladder.
DIVISIONS = default_catalog().ladder.levels


def _labelled(position: str, n: int = 160, seed: int = 0):
    """Rows whose division follows production, so there is something to learn."""
    frame = _frame(position, n=n, seed=seed)
    prod = frame[schema.spec_of(position).production]
    codes = pd.qcut(prod.rank(method="first"), 4, labels=False).to_numpy()
    return frame, pd.Series(np.array(DIVISIONS, dtype=object)[codes], index=frame.index)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_every_estimator_gives_four_probabilities_in_division_order(estimator):
    frame, target = _labelled("qb")
    params = {"max_iter": 30} if "hgb" in estimator else None
    # One OpenMP thread: on a busy 2-core machine, HGB's thread pool spins and
    # a 0.1 s fit can take a minute.
    with threadpool_limits(1):
        pipe = build_pipeline("qb", estimator, params, seed=1).fit(frame, target)
    proba = pipe.predict_proba(frame)
    assert proba.shape == (len(frame), 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(pipe.classes_) == list(DIVISIONS)
    pred = pipe.predict(frame)
    assert set(pred) <= set(DIVISIONS)
    np.testing.assert_array_equal(pred, np.array(DIVISIONS)[proba.argmax(axis=1)])
    # Production decides the division here: the model must have learned it.
    assert np.mean(pred == target) > 0.6


def test_a_division_absent_from_training_gets_zero_probability():
    frame, target = _labelled("rb")
    keep = target != "FCS"
    pipe = build_pipeline("rb").fit(frame[keep], target[keep])
    proba = pipe.predict_proba(frame)
    assert np.all(proba[:, DIVISIONS.index("FCS")] == 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_unknown_estimator_and_parameter_raise_training_error():
    with pytest.raises(TrainingError, match="unknown estimator 'forest'"):
        build_pipeline("qb", "forest")
    with pytest.raises(TrainingError, match="unknown parameter.*learning_rat"):
        build_pipeline("qb", "hgb", {"learning_rat": 0.1})
    with pytest.raises(TrainingError, match="unknown feature group"):
        build_pipeline("qb", "logreg", {"feature_groups": ["bmi", "vibes"]})
    with pytest.raises(TrainingError, match="exclude_features names unknown"):
        build_pipeline("qb", "logreg", {"exclude_features": ["shoe_size"]})


def test_resolved_params_show_the_defaults_and_overrides():
    params = resolve_params("logreg", {"C": 2.0}, "wr")
    assert params["C"] == 2.0 and params["class_weight"] is None
    assert "junior_tds" in params["exclude_features"]
    assert resolve_params("logreg", {"exclude_features": []}, "wr")["exclude_features"] == []


def test_pipeline_pickles_with_joblib_and_predicts_the_same():
    frame, target = _labelled("wr")
    pipe = build_pipeline("wr", "ordinal_logreg").fit(frame, target)
    buffer = io.BytesIO()
    joblib.dump(pipe, buffer)
    buffer.seek(0)
    again = joblib.load(buffer)
    np.testing.assert_array_equal(again.predict_proba(frame), pipe.predict_proba(frame))


def test_same_seed_same_model_for_the_randomized_estimator():
    frame, target = _labelled("qb", n=200)
    params = {"max_iter": 40, "early_stopping": True, "validation_fraction": 0.2}
    with threadpool_limits(1):
        a = build_pipeline("qb", "hgb", params, seed=3).fit(frame, target).predict_proba(frame)
    # Another thread count must not change the model.
    with threadpool_limits(2):
        b = build_pipeline("qb", "hgb", params, seed=3).fit(frame, target).predict_proba(frame)
    np.testing.assert_array_equal(a, b)


def test_cumulative_ordinal_probabilities_are_valid():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = np.digitize(X[:, 0] + 0.5 * rng.normal(size=300), [-1, 0, 1])
    from sklearn.linear_model import LogisticRegression

    model = CumulativeOrdinalClassifier(LogisticRegression(), class_weight="balanced").fit(X, y)
    proba = model.predict_proba(X)
    assert proba.shape == (300, 4)
    assert np.all(proba >= 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.mean(model.predict(X) == y) > 0.5


def test_division_classifier_accepts_spellings_and_codes():
    assert list(encode_divisions(["P5", "naia", "FCS", 1])) == [3, 0, 2, 1]
    with pytest.raises(ValueError, match="unknown division"):
        encode_divisions(["Division X"])
    X = np.arange(8, dtype=float).reshape(-1, 1)
    model = DivisionClassifier(CumulativeOrdinalClassifier()).fit(X, ["D3"] * 8)
    np.testing.assert_array_equal(model.predict_proba(X)[:, 0], 1.0)


def test_decision_rules_by_hand():
    proba = np.array([[0.40, 0.05, 0.15, 0.40],   # argmax D3 (first max); median FCS (0.6 at k=2)
                      [0.10, 0.30, 0.25, 0.35]])  # argmax Power 5; median FCS (0.4, 0.65)
    np.testing.assert_array_equal(decide(proba, "argmax"), [0, 3])
    np.testing.assert_array_equal(decide(proba, "median"), [2, 2])
    with pytest.raises(ValueError, match="unknown decision rule"):
        decide(proba, "mode")
    with pytest.raises(TrainingError, match="decision must be one of"):
        build_pipeline("qb", params={"decision": "mean"})


def test_median_decision_is_used_by_predict():
    frame, target = _labelled("qb")
    pipe = build_pipeline("qb", params={"decision": "median"}).fit(frame, target)
    expected = np.array(DIVISIONS)[decide(pipe.predict_proba(frame), "median")]
    np.testing.assert_array_equal(pipe.predict(frame), expected)


def test_encode_divisions_text_codes_and_errors_on_every_path():
    labels = pd.Series(["Power 5", " d2 ", "FCS", "NAIA", "Power 5", "division iii"] * 50)
    assert encode_divisions(labels)[:6].tolist() == [3, 1, 2, 0, 3, 0]
    assert encode_divisions(labels).tolist() == encode_divisions(list(labels)).tolist()
    assert encode_divisions(np.array([[0, 3], [2, 1]])).tolist() == [0, 3, 2, 1]
    assert encode_divisions(np.array([], dtype=int)).tolist() == []
    # The first bad row is named, whichever path reads the labels.
    with pytest.raises(ValueError, match="'D9' at position 3"):
        encode_divisions(["D3", "D2", "D3", "D9", "D8", "D9"])
    with pytest.raises(ValueError, match="4 at position 1"):
        encode_divisions(np.array([0, 4, 1]))


# -- positions of another catalog -------------------------------------------------------

@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_a_five_level_ladder_gives_five_probabilities_in_ladder_order(estimator):
    from catalog_frames import five_levels, frame_for

    spec = five_levels().position("lb")
    frame, target = frame_for(spec, n=200)
    params = {"max_iter": 20} if estimator.endswith("hgb") else {}
    pipeline = build_pipeline(spec, estimator, params, seed=0).fit(frame, target)
    proba = pipeline.predict_proba(frame)
    assert proba.shape == (200, 5)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(pipeline.classes_) == ["D3", "D2", "FCS", "G5", "Power 4"]
    assert set(pipeline.predict(frame)) <= set(spec.levels)
    # Every level is predicted with some probability, the top one included.
    assert proba[:, 4].max() > 0.2 and proba[:, 0].max() > 0.2


def test_a_pipeline_fitted_under_a_custom_catalog_predicts_without_it(monkeypatch):
    from catalog_frames import FIVE_LEVELS, five_levels, frame_for

    from recruit_reveal.artifacts.formats import dump_skops, load_skops

    frame, target = frame_for(five_levels().position("te"), n=200)
    monkeypatch.setenv("CATALOG", str(FIVE_LEVELS))
    pipeline = build_pipeline("te", "ordinal_logreg", seed=0).fit(frame, target)
    expected = pipeline.predict_proba(frame)
    data = dump_skops(pipeline)
    monkeypatch.delenv("CATALOG")
    # No new trusted type: load_skops refuses anything outside TRUSTED_TYPES.
    loaded = load_skops(data, "te model")
    np.testing.assert_array_equal(loaded.predict_proba(frame), expected)
    assert list(loaded.predict(frame)) == list(pipeline.predict(frame))
    assert list(loaded.classes_) == ["D3", "D2", "FCS", "G5", "Power 4"]


def test_the_default_exclusions_are_the_specs():
    from catalog_frames import five_levels

    te = five_levels().position("te")
    assert resolve_params("logreg", None, te)["exclude_features"] == list(te.exclude)
    assert resolve_params("logreg", None, "qb")["exclude_features"] == list(
        schema.spec_of("qb").exclude)


def test_labels_are_read_on_the_given_ladder():
    from catalog_frames import five_levels

    ladder = five_levels().ladder
    # "fbs" is the top level on four levels, the fourth (G5) on five.
    assert encode_divisions(["fbs", "p5", "naia", 3], ladder).tolist() == [3, 4, 0, 3]
    assert encode_divisions(["fbs"]).tolist() == [3]  # the active (default) catalog
    assert encode_divisions([4], ladder).tolist() == [4]
    with pytest.raises(ValueError, match="unknown division label"):
        encode_divisions([4])  # no fifth level on the default ladder
