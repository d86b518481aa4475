"""explanations: prediction, what-if, top factors and narrative in one scoring call, on a
hand-made model with known thresholds and on the models trained by the shared fixtures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from threshold_model import TYPICAL, ThresholdModel, athlete

from recruit_reveal.catalog import default_catalog
from recruit_reveal.modeling import explanations, levers, probabilities
from recruit_reveal.schema import column, feature_names

DIVISIONS = default_catalog().ladder.levels


def test_what_if_scores_every_candidate_in_one_call():
    model = ThresholdModel()
    explanations.what_if(model, athlete(), "qb", typical_values=TYPICAL)
    assert model.calls == 1
    assert model.rows > len(levers.levers("qb"))  # a real grid, not one row per lever

    model = ThresholdModel()
    frame = pd.concat([athlete(senior_ypg=v) for v in (50, 120, 170, 250)], ignore_index=True)
    explanations.explain_frame(model, frame, "qb", TYPICAL)
    assert model.calls == 1


def test_top_factors_rank_by_change_in_expected_division():
    factors = explanations.top_factors(ThresholdModel(), athlete(senior_ypg=210), "qb", TYPICAL)
    # Only senior_ypg moves the model: 210 (Power 5) vs typical 180 (FCS) -> +~0.92 levels.
    assert [f["input"] for f in factors] == ["senior_ypg"]
    f = factors[0]
    assert f["effect"] == pytest.approx(0.92 * 1, abs=1e-6)
    assert f["direction"] == "raises" and f["division_if_typical"] == "FCS"
    assert f["value"] == 210 and f["typical"] == 180

    factors = explanations.top_factors(ThresholdModel(), athlete(senior_ypg=120), "qb", TYPICAL)
    assert factors[0]["effect"] < 0 and factors[0]["direction"] == "lowers"


def test_narrative_is_built_from_this_athletes_numbers():
    model = ThresholdModel()
    a = explanations.explain_frame(model, athlete(senior_ypg=140), "qb", TYPICAL)[0]
    b = explanations.explain_frame(model, athlete(senior_ypg=110), "qb", TYPICAL)[0]
    ta, tb = explanations.narrative("qb", a), explanations.narrative("qb", b)
    # Same division (D2), different athletes: different text.
    assert np.argmax(a["probabilities"]) == np.argmax(b["probabilities"]) == 1
    assert ta["goals"] != tb["goals"] and ta["notes"] != tb["notes"]
    assert str(int(a["what_if"]["best"]["suggested"])) in ta["goals"][0]
    assert "140" in ta["goals"][0]
    assert ta["switches"] and "FCS" in ta["switches"][0]
    assert isinstance(ta["calendar_advice"], str) and ta["calendar_advice"]
    top = explanations.narrative("qb", explanations.explain_frame(model, athlete(senior_ypg=320), "qb",
                                                          TYPICAL)[0])
    assert "Power 5" in top["notes"] and all("reach" not in g for g in top["goals"])


def test_predict_proba_orders_string_classes_by_division():
    class Shuffled(ThresholdModel):
        classes_ = np.array(["FCS", "D3", "Power 5", "D2"])

        def predict_proba(self, frame):
            return np.array([[0.3, 0.1, 0.4, 0.2]])

    proba = probabilities.predict_proba(Shuffled(), athlete())
    assert proba.tolist() == [[0.1, 0.2, 0.3, 0.4]]


def test_the_models_own_decision_rule_is_used():
    class MedianRule(ThresholdModel):
        decision = "median"

        def predict_proba(self, frame):
            # Most probable: Power 5 (0.4); median division: FCS (cumulative 0.6).
            return np.tile([0.2, 0.1, 0.3, 0.4], (len(frame), 1))

    assert probabilities.decision_rule(MedianRule()) == "median"
    assert probabilities.decision_rule(ThresholdModel()) == "argmax"

    class UnknownRule(ThresholdModel):
        decision = "mode"

    assert probabilities.decision_rule(UnknownRule()) == "argmax"
    # One implementation of the rules: estimators.decide, as pipeline.predict uses.
    from recruit_reveal.modeling import estimators as model

    assert probabilities._DECISION_RULES == model.DECISION_RULES
    proba = np.array([[0.2, 0.1, 0.3, 0.4], [0.5, 0.1, 0.1, 0.3]])
    for rule in model.DECISION_RULES:
        np.testing.assert_array_equal(probabilities.decide(proba, rule), model.decide(proba, rule))
    with pytest.raises(ValueError, match="unknown decision rule"):
        probabilities.decide(proba, "mode")
    result = explanations.explain_frame(MedianRule(), athlete(), "qb")[0]
    assert result["division"] == "FCS"
    assert result["what_if"]["current_division"] == "FCS"
    assert explanations.narrative("qb", result)["notes"].startswith("The QB model predicts FCS")
    assert explanations.predicted_tier(result["probabilities"], "FCS") == "Mid FCS"


def test_confidence_and_tier():
    assert explanations.confidence(np.full(4, 0.25)) == pytest.approx(0.0, abs=1e-9)
    assert explanations.confidence(np.array([0, 0, 0, 1.0])) == pytest.approx(1.0, abs=1e-6)
    assert explanations.predicted_tier(np.array([0.0, 0.1, 0.6, 0.3])) == "High FCS"
    assert explanations.predicted_tier(np.array([0.0, 0.3, 0.6, 0.1])) == "Low FCS"
    assert explanations.predicted_tier(np.array([0.1, 0.1, 0.7, 0.1])) == "Mid FCS"


@pytest.mark.parametrize("position", ["qb", "rb", "wr"])
def test_trained_models_batch_equals_one_by_one(trained_results, position):
    result = trained_results[position]
    from recruit_reveal.data.synthetic import generate

    frame = generate(position, 12, seed=3)[feature_names(position)]
    batch = explanations.explain_frame(result.pipeline, frame, position, result.typical_values)
    for i in range(len(frame)):
        one = explanations.what_if(result.pipeline, frame.iloc[[i]], position,
                               typical_values=result.typical_values)
        _assert_same_what_if(one, batch[i]["what_if"])
        proba = probabilities.predict_proba(result.pipeline, frame.iloc[[i]])[0]
        np.testing.assert_allclose(batch[i]["probabilities"], proba, rtol=1e-9, atol=1e-12)
        pred = int(np.argmax(proba))
        wi = batch[i]["what_if"]
        assert wi["current_division"] == DIVISIONS[pred]
        for option in wi["options"]:
            col = column(position, option["input"])
            assert col.low <= option["suggested"] <= col.high
            assert DIVISIONS.index(option["new_division"]) > pred


def _assert_same_what_if(a: dict, b: dict) -> None:
    """Equal up to float noise between different-sized predict_proba calls."""
    assert {k: v for k, v in a.items() if k not in ("options", "best")} == \
        {k: v for k, v in b.items() if k not in ("options", "best")}
    assert [(o["input"], o["suggested"]) for o in a["options"]] == \
        [(o["input"], o["suggested"]) for o in b["options"]]
    for x, y in zip(a["options"], b["options"], strict=True):
        assert x["new_probability"] == pytest.approx(y["new_probability"], abs=1e-9)


# -- positions of another catalog -------------------------------------------------------

def test_a_custom_positions_explanation_speaks_its_ladder_and_levers():
    from catalog_frames import five_levels, frame_for, trained

    spec = five_levels().position("te")
    result = trained("te")
    frame, _ = frame_for(spec, n=40, seed=5)
    # No position given: the pipeline carries its spec.
    out = explanations.explain_frame(result.pipeline, frame, None, result.typical_values)
    assert len(out) == 40
    for row in out:
        assert row["probabilities"].shape == (5,) and row["division"] in spec.levels
        for option in row["what_if"]["options"]:
            assert option["input"] in spec.levers and option["new_division"] in spec.levels
            assert spec.levels.index(option["new_division"]) > spec.levels.index(row["division"])
        assert {f["input"] for f in row["top_factors"]} <= {c.name for c in spec.numeric}
    tops = [r for r in out if r["division"] == "Power 4"]
    assert all(r["what_if"]["at_top"] for r in tops)
    assert any(r["what_if"]["options"] for r in out)  # someone can climb with a lever
    story = explanations.narrative(spec, out[0])
    assert story["notes"].startswith(f"The TE model predicts {out[0]['division']}")


def test_a_custom_positions_target_search_reads_its_levels():
    from catalog_frames import five_levels, frame_for, trained

    spec = five_levels().position("lb")
    result = trained("lb")
    frame, _ = frame_for(spec, n=10, seed=6)
    x = frame[probabilities.numeric_names(spec)].to_numpy(dtype=float)
    state = frame["state"].to_numpy(dtype=object)
    out = explanations.explain_arrays(result.pipeline, x, state, "lb", result.typical_values,
                                  target=(3, 0.5))
    for row in out:
        search = row["target_search"]
        assert search["target_division"] == "G5"
        # Answers quote probabilities to 6 places.
    assert search["current_probability"] == round(float(row["probabilities"][3:].sum()), 6)
