"""modeling.partial_profiles: predictions without a per-game rate integrate, and stay calibrated."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from bench.partial_profiles import evaluate
from recruit_reveal.artifacts import formats
from recruit_reveal.catalog import default_catalog
from recruit_reveal.errors import IncompatibleModelError
from recruit_reveal.modeling import partial_profiles, probabilities, scoring
from recruit_reveal.modeling.estimators import build_pipeline
from recruit_reveal.modeling.metrics import expected_calibration_error

POSITIONS = default_catalog().keys


@pytest.fixture(scope="module")
def evaluations():
    with threadpool_limits(1):
        return [evaluate(pos, 2000, 3000) for pos in POSITIONS]


@pytest.mark.parametrize("case", ["full", "total kept", "no production"])
def test_held_out_predictions_stay_calibrated(evaluations, case):
    target = np.concatenate([e.target for e in evaluations])
    pooled = np.vstack([e.proba[case] for e in evaluations])
    assert expected_calibration_error(target, pooled) <= 0.05


def test_a_total_keeps_most_of_what_the_rate_says(evaluations):
    for e in evaluations:
        full, meas = e.log_loss(e.proba["full"]), e.log_loss(e.measurables)
        kept = e.log_loss(e.proba["total kept"])
        assert abs(kept - full) < abs(kept - meas), e.position
        # The total is worth something: better than the exact posterior without the rate
        # would allow a model of this data to be, up to sampling noise.
        assert kept < e.log_loss(e.bayes["total kept"]) + 0.05, e.position


def test_no_production_is_the_measurables_only_model(evaluations):
    for e in evaluations:
        assert abs(e.log_loss(e.proba["no production"]) - e.log_loss(e.measurables)) <= 0.02
        assert e.log_loss(e.proba["no production"]) > e.log_loss(e.proba["full"])


@pytest.fixture(scope="module")
def qb_model():
    from recruit_reveal.data import synthetic

    frame = synthetic.generate("qb", 800, seed=5)
    inputs = frame.drop(columns=["name", "position", "division"])
    with threadpool_limits(1):
        pipe = build_pipeline("qb").fit(inputs, frame["division"])
        summary = partial_profiles.fit_partial_profiles(pipe, inputs, frame["division"], "qb")
    return pipe, inputs, summary


def _x(inputs, names=()):
    numeric = probabilities.numeric_names("qb")
    x = inputs[numeric].to_numpy(dtype="float64")
    x[:, [numeric.index(n) for n in names]] = np.nan
    return x, inputs["state"].to_numpy(dtype=object)


def test_the_parts_hold_aggregates_only_and_survive_skops(qb_model):
    pipe, inputs, summary = qb_model
    assert sum(summary["games_histogram"].values()) == inputs["games"].notna().sum()
    assert set(summary) == {"games_histogram", "log_rate_mean", "log_rate_sd",
                            "measurables_model", "production_inputs"}
    data = formats.dump_skops(pipe)
    assert set(formats.untrusted_types(data)) <= set(formats.TRUSTED_TYPES)
    loaded = formats.load_skops(data, "test")
    x, state = _x(inputs, ["senior_ypg", "games"])
    np.testing.assert_allclose(scoring.build_scorer(loaded, "qb").predict_arrays(x, state),
                               scoring.build_scorer(pipe, "qb").predict_arrays(x, state))


def test_a_total_without_games_averages_the_full_model_over_games(qb_model):
    pipe, inputs, _ = qb_model
    scorer = scoring.build_scorer(pipe, "qb")
    assert scorer.mode == "fast" and scorer.profiles is not None
    x, state = _x(inputs.iloc[:5], ["senior_ypg", "games"])
    numeric = probabilities.numeric_names("qb")
    total, games, rate = (numeric.index(n) for n in ("senior_yds", "games", "senior_ypg"))
    parts = pipe.partial_profiles_
    g = np.flatnonzero(parts["games_histogram"]) + 1.0
    w = partial_profiles.game_weights(x[:, total], g, parts["games_histogram"][g.astype(int) - 1],
                                      tuple(parts["log_rate"]), "qb")
    expected = []
    for i in range(len(x)):
        rows = np.repeat(x[i:i + 1], len(g), axis=0)
        rows[:, games], rows[:, rate] = g, x[i, total] / g
        expected.append(w[i] @ probabilities.predict_proba(
            pipe, probabilities.model_frame(rows, np.repeat(state[i:i + 1], len(g)), "qb")))
    np.testing.assert_allclose(scorer.predict_arrays(x, state), np.array(expected), atol=1e-9)
    # A bigger season total is more likely more games: the weights lean that way.
    big = partial_profiles.game_weights(np.array([1500.0, 4500.0]), g, np.ones(len(g)),
                                        tuple(parts["log_rate"]), "qb")
    assert big[1] @ g > big[0] @ g


def test_rows_with_a_rate_are_scored_exactly_as_before(qb_model):
    pipe, inputs, _ = qb_model
    x, state = _x(inputs)
    x[::3, probabilities.numeric_names("qb").index("senior_ypg")] = np.nan  # derivable: total/games
    x[::3, probabilities.numeric_names("qb").index("games")] = 10
    want = probabilities.predict_proba(pipe, probabilities.model_frame(x, state, "qb"))
    np.testing.assert_allclose(scoring.build_scorer(pipe, "qb").predict_arrays(x, state), want,
                               atol=1e-9)
    assert partial_profiles.integrated(x, "qb") == [([], None)] * len(x)


def test_a_model_exported_before_partial_profiles_refuses_rather_than_imputes(qb_model):
    pipe, inputs, _ = qb_model
    legacy = build_pipeline("qb").fit(inputs, pipe.predict(inputs))
    scorer = scoring.build_scorer(legacy, "qb")
    x, state = _x(inputs.iloc[:3])
    assert scorer.predict_arrays(x, state).shape == (3, 4)
    with pytest.raises(IncompatibleModelError, match="senior_ypg"):
        scorer.predict_arrays(*_x(inputs.iloc[:3], ["senior_ypg", "senior_yds"]))


def test_integrated_names_what_was_unknown():
    x = np.full((3, len(probabilities.numeric_names("wr"))), np.nan)
    numeric = probabilities.numeric_names("wr")
    x[0, numeric.index("senior_rec_ypg")] = 60
    x[1, numeric.index("senior_rec_yds")] = 700
    x[2, numeric.index("senior_tds")] = 8
    done, kept, nothing = partial_profiles.integrated(x, "wr")
    assert done == ([], None)
    assert kept[0] == ["senior_rec_ypg", "games"] and "training distribution for wr" in kept[1]
    assert "senior_tds" not in nothing[0] and "senior_rec_ypg" in nothing[0]
    assert "not used without senior_rec_ypg or senior_rec_yds: senior_tds" in nothing[1]


# -- positions of another catalog -------------------------------------------------------

def test_a_custom_position_integrates_over_games_and_a_measurables_one_needs_not():
    from catalog_frames import five_levels, trained

    te = five_levels().position("te")
    result = trained("te")
    scorer = scoring.build_scorer(result.pipeline, None, result.typical_values)
    names = probabilities.numeric_names(te)
    row = np.full((3, len(names)), np.nan)
    row[:, names.index("height_inches")], row[:, names.index("weight_lbs")] = 76, 240
    row[0, names.index("senior_rec_ypg")] = 45.0
    row[1, names.index("senior_rec_yds")] = 450.0  # a total without games
    state = np.array(["TX"] * 3, dtype=object)
    kinds = partial_profiles.row_kinds(row, te)
    assert kinds.tolist() == [partial_profiles.COMPLETE, partial_profiles.TOTAL_ONLY,
                              partial_profiles.NO_PRODUCTION]
    proba = scorer.predict_arrays(row, state)
    assert proba.shape == (3, 5)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert partial_profiles.integrated(row, te)[1][0] == ["senior_rec_ypg", "games"]
    lb = five_levels().position("lb")
    lb_rows = np.full((2, len(probabilities.numeric_names(lb))), np.nan)
    assert (partial_profiles.row_kinds(lb_rows, lb) == partial_profiles.COMPLETE).all()
    assert partial_profiles.integrated(lb_rows, lb) == [([], None), ([], None)]
