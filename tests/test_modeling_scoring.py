"""modeling.scoring: the fast path equals the pipeline (not timed), and falls back with a reason."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from test_modeling_estimators import _labelled
from threadpoolctl import threadpool_limits

from recruit_reveal import schema
from recruit_reveal.catalog import default_catalog
from recruit_reveal.data.loading import load_training_data
from recruit_reveal.modeling import explanations, partial_profiles, probabilities, scoring
from recruit_reveal.modeling.estimators import build_pipeline
from recruit_reveal.modeling.features import FEATURE_GROUPS
from recruit_reveal.modeling.reference import reference_rows

POSITIONS = default_catalog().keys
DIVISIONS = default_catalog().ladder.levels


def _arrays(frame: pd.DataFrame, position: str) -> tuple[np.ndarray, np.ndarray]:
    numeric = probabilities.numeric_names(position)
    x = frame.reindex(columns=numeric).to_numpy(dtype=float, na_value=np.nan)
    return x, frame["state"].to_numpy(dtype=object)


def _pipeline_proba(pipeline, x, state, position):
    return probabilities.predict_proba(pipeline, probabilities.model_frame(x, state, position))


@pytest.mark.parametrize("position", POSITIONS)
def test_fast_path_equals_the_pipeline_on_the_sample_data(position, trained_results, sample_csv):
    result = trained_results[position]
    scorer = scoring.build_scorer(result.pipeline, position, result.typical_values)
    assert scorer.mode == "fast", scorer.reason
    assert "matches the pipeline" in scorer.reason
    # Every row of the sample CSV (in the test only: nothing stores them), the sample
    # athlete and the reference rows, through both paths.
    x, state = _arrays(load_training_data(sample_csv, position).frame, position)
    sample = {"position": position, **schema.spec_of(position).example}
    xs, ss = _arrays(pd.DataFrame([{**sample, "state": np.nan}]), position)
    xr, sr = reference_rows(position, result.typical_values)
    # Rows without a per-game rate integrate over it (test_modeling_partial_profiles.py).
    keep = partial_profiles.row_kinds(xr, position) == partial_profiles.COMPLETE
    assert keep.sum() > len(xr) / 2
    for rows, states in ((x, state), (xs, ss), (xr[keep], sr[keep])):
        fast = scorer.predict_arrays(rows, states)
        assert fast.shape == (len(rows), len(DIVISIONS))
        assert np.max(np.abs(fast - _pipeline_proba(result.pipeline, rows, states, position))) \
            <= scoring.CHECK_TOLERANCE
    assert scorer.decision == probabilities.decision_rule(result.pipeline)


@pytest.mark.parametrize("estimator", ["ordinal_logreg", "logreg", "lda"])
@pytest.mark.parametrize("position", POSITIONS)
def test_every_feature_group_and_linear_estimator_has_a_fast_path(position, estimator):
    frame, target = _labelled(position, n=200, seed=3)
    for params in ({"feature_groups": list(FEATURE_GROUPS), "exclude_features": []},
                   {"feature_groups": ["state_tier"], "decision": "median"}, None):
        pipe = build_pipeline(position, estimator, params, seed=0).fit(frame, target)
        scorer = scoring.build_scorer(pipe, position)
        assert scorer.mode == "fast", (params, scorer.reason)
        x, state = _arrays(frame, position)
        assert np.max(np.abs(scorer.predict_arrays(x, state)
                             - _pipeline_proba(pipe, x, state, position))) <= 1e-9
        assert scorer.decision == ("median" if params and params.get("decision") else "argmax")


def test_a_division_missing_from_training_is_zero_on_the_fast_path_too():
    frame, target = _labelled("rb")
    keep = target != "FCS"
    pipe = build_pipeline("rb").fit(frame[keep], target[keep])
    scorer = scoring.build_scorer(pipe, "rb")
    assert scorer.mode == "fast", scorer.reason
    proba = scorer.predict_arrays(*_arrays(frame, "rb"))
    assert np.all(proba[:, DIVISIONS.index("FCS")] == 0)


def test_hgb_has_no_fast_path_and_says_why():
    frame, target = _labelled("qb")
    with threadpool_limits(1):
        pipe = build_pipeline("qb", "hgb", {"max_iter": 10}, seed=1).fit(frame, target)
    scorer = scoring.build_scorer(pipe, "qb")
    assert scorer.mode == "pipeline"
    assert scorer.reason.startswith("no fast path") and "HistGradientBoosting" in scorer.reason
    x, state = _arrays(frame, "qb")
    np.testing.assert_array_equal(scorer.predict_arrays(x, state),
                                  _pipeline_proba(pipe, x, state, "qb"))


def test_a_pipeline_of_another_shape_or_position_falls_back(trained_results):
    pipe = trained_results["qb"].pipeline
    assert "not a feature-and-model Pipeline" in scoring.build_scorer(object(), "qb").reason
    assert "fitted for position 'qb'" in scoring.build_scorer(pipe, "rb").reason
    subclassed = copy.deepcopy(pipe)
    features = subclassed.steps[0][1]
    features.__class__ = type("PatchedFeatures", (type(features),), {})
    assert "not DerivedFeatures" in scoring.build_scorer(subclassed, "qb").reason


def test_a_fast_path_that_disagrees_with_the_pipeline_is_not_used(trained_results, monkeypatch):
    result = trained_results["wr"]
    real = scoring.compile_pipeline

    def tampered(pipeline, position):
        fast = real(pipeline, position)
        fast.model.intercept[0] += 1e-3  # as if the arithmetic had drifted
        return fast

    monkeypatch.setattr(scoring, "compile_pipeline", tampered)
    scorer = scoring.build_scorer(result.pipeline, "wr", result.typical_values)
    assert scorer.mode == "pipeline"
    assert "differs from the pipeline by" in scorer.reason and "tolerance 1e-09" in scorer.reason
    x, state = reference_rows("wr", result.typical_values)
    keep = partial_profiles.row_kinds(x, "wr") == partial_profiles.COMPLETE
    x, state = x[keep], state[keep]
    np.testing.assert_array_equal(scorer.predict_arrays(x, state),
                                  _pipeline_proba(result.pipeline, x, state, "wr"))


def test_state_tiers_read_codes_as_the_features_do():
    codes = sorted(schema.US_STATES)
    odd = ["tx", " oh ", "", "XX", None, np.nan, float("nan"), 5]
    tiers = scoring.state_tiers(np.array(codes + odd, dtype=object))
    expected = [default_catalog().position("qb").state_tier(c) if isinstance(c, str) else None for c in codes + odd]
    assert [None if np.isnan(t) else int(t) for t in tiers] == expected
    assert scoring.state_tiers(np.array([], dtype=object)).shape == (0,)


@pytest.mark.parametrize("position", POSITIONS)
def test_reference_rows_are_deterministic_valid_and_cover_the_branches(position):
    typical = {"height_inches": 73.0, "weight_lbs": 200.0, "forty_yard_dash": 4.8}
    x, state = reference_rows(position, typical)
    x2, state2 = reference_rows(position, typical)
    np.testing.assert_array_equal(x, x2)
    assert list(state) == list(state2)
    cols = schema.numeric_columns(position)
    for j, col in enumerate(cols):
        values = x[:, j][~np.isnan(x[:, j])]
        assert values.min() >= col.low and values.max() <= col.high, col.name
        assert np.isnan(x[:, j]).any() and values.size > 0
        if col.kind == "int":
            assert np.all(values == np.round(values)), col.name
    tiers = {default_catalog().position("qb").state_tier(s) for s in state}
    assert tiers == {1, 2, 3, 4, None}
    combine = [probabilities.numeric_names(position).index(c) for c in schema.spec_of(position).combine]
    patterns = {tuple(row) for row in np.isnan(x[:, combine])}
    assert len(patterns) == 16


# -- positions of another catalog -------------------------------------------------------

@pytest.mark.parametrize("key", ["te", "lb"])
def test_the_fast_path_of_a_custom_position_matches_its_pipeline(key):
    from catalog_frames import five_levels, trained

    result = trained(key)
    spec = five_levels().position(key)
    # No position given: the pipeline carries its spec (no catalog names a te or lb here).
    scorer = scoring.build_scorer(result.pipeline, None, result.typical_values)
    assert scorer.mode == "fast", scorer.reason
    assert scorer.position == key and scorer.spec == spec
    x, state = reference_rows(spec, result.typical_values)
    keep = partial_profiles.row_kinds(x, spec) == partial_profiles.COMPLETE
    got = scorer.predict_arrays(x[keep], state[keep])
    want = _pipeline_proba(result.pipeline, x[keep], state[keep], spec)
    assert got.shape == (int(keep.sum()), 5)
    np.testing.assert_allclose(got, want, rtol=0, atol=scoring.CHECK_TOLERANCE)
    # A combine of two results: every one of its 4 patterns is a reference row.
    combine = [probabilities.numeric_names(spec).index(c) for c in spec.combine]
    assert len({tuple(r) for r in np.isnan(x[:, combine])}) == 2 ** len(combine)


def test_a_scorer_needs_no_catalog_for_a_model_that_carries_its_spec(monkeypatch):
    from catalog_frames import FIVE_LEVELS, five_levels, frame_for

    from recruit_reveal.artifacts.formats import dump_skops, load_skops

    spec = five_levels().position("te")
    frame, target = frame_for(spec, n=200)
    monkeypatch.setenv("CATALOG", str(FIVE_LEVELS))
    pipeline = build_pipeline("te", seed=0).fit(frame, target)
    partial_profiles.fit_partial_profiles(pipeline, frame, target, "te")
    data = dump_skops(pipeline)
    monkeypatch.delenv("CATALOG")
    loaded = load_skops(data, "te model")
    scorer = scoring.build_scorer(loaded, "te")  # a key, checked against the carried spec
    assert scorer.mode == "fast", scorer.reason
    x, state = reference_rows(spec)
    np.testing.assert_allclose(scorer.predict_arrays(x, state)[:5],
                               scoring.build_scorer(pipeline, None).predict_arrays(x, state)[:5],
                               rtol=0, atol=1e-12)
    out = explanations.explain_arrays(scorer, x[:3], state[:3], "te")
    assert all(row["division"] in spec.levels for row in out)
