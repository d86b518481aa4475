"""The what-if search on a hand-made model with known thresholds (exact answers)."""

from __future__ import annotations

import numpy as np
import pytest
from threshold_model import TYPICAL, ThresholdModel, athlete

from recruit_reveal.modeling import explanations, levers
from recruit_reveal.schema import column


def test_what_if_finds_the_smallest_step_over_the_threshold():
    model = ThresholdModel()
    result = explanations.what_if(model, athlete(senior_ypg=140), "qb", typical_values=TYPICAL)
    assert result["current_division"] == "D2"
    assert result["target_division"] == "FCS"
    assert not result["at_top"]
    best = result["best"]
    assert best["input"] == "senior_ypg"
    step = levers.levers("qb")["senior_ypg"][1] / explanations.DEFAULT_STEPS
    # The smallest grid value at or over the threshold, and not one step more.
    assert 150 <= best["suggested"] < 150 + step
    assert best["current"] == 140 and best["change"] == pytest.approx(best["suggested"] - 140)
    assert best["new_division"] == "FCS"
    assert best["new_probability"] == pytest.approx(0.94)
    # Only senior_ypg moves this model; every other lever is unreachable.
    assert [o["input"] for o in result["options"]] == ["senior_ypg"]
    assert "forty_yard_dash" in result["unreachable"]
    assert "senior ypg" in result["message"].lower() or "yards per game" in result["message"]


def test_what_if_at_the_top_division_says_so():
    result = explanations.what_if(ThresholdModel(), athlete(senior_ypg=320), "qb")
    assert result["at_top"] is True
    assert result["current_division"] == "Power 5"
    assert result["target_division"] is None and result["best"] is None
    assert result["options"] == []
    assert "top division" in result["message"]


def test_what_if_keeps_candidates_within_schema_ranges():
    # Only the 40-yard dash matters, and this athlete is already near the 4.2 s floor.
    model = ThresholdModel(thresholds=(-6.0, -5.0, -4.25), column_name="forty_yard_dash")
    model.predict_proba = negated(model.predict_proba, "forty_yard_dash")
    result = explanations.what_if(model, athlete(forty_yard_dash=4.3), "qb")
    low = column("qb", "forty_yard_dash").low
    for option in result["options"]:
        if option["input"] == "forty_yard_dash":
            assert option["suggested"] >= low
    # Reaching Power 5 needs <= 4.25 s, which exists within range.
    assert result["best"]["input"] == "forty_yard_dash"
    assert low <= result["best"]["suggested"] <= 4.25

    # Needing 4.1 s (below the plausible floor) is reported as unreachable, never invented.
    model = ThresholdModel(thresholds=(-6.0, -5.0, -4.1), column_name="forty_yard_dash")
    model.predict_proba = negated(model.predict_proba, "forty_yard_dash")
    result = explanations.what_if(model, athlete(forty_yard_dash=4.3), "qb")
    assert result["best"] is None
    assert "forty_yard_dash" in result["unreachable"]
    assert "No single improvement" in result["message"]


def test_weight_is_searched_both_ways_nearest_first():
    # A model that wants lighter athletes: losing weight is the improvement.
    model = ThresholdModel(thresholds=(-260.0, -230.0, -195.0), column_name="weight_lbs")
    model.predict_proba = negated(model.predict_proba, "weight_lbs")
    result = explanations.what_if(model, athlete(weight_lbs=200), "qb")
    assert result["current_division"] == "FCS"
    best = result["best"]
    assert best["input"] == "weight_lbs" and best["direction"] == "lower"
    step = levers.levers("qb")["weight_lbs"][1] / explanations.DEFAULT_STEPS
    assert 195 - step < best["suggested"] <= 195 and best["change"] < 0
    text = explanations.narrative("qb", explanations.explain_frame(model, athlete(weight_lbs=200),
                                                           "qb")[0])
    assert text["goals"][0].startswith("Cut weight from 200 to")
    assert "weight <=" in text["switches"][0]


def negated(predict_proba, name):
    def wrapped(frame):
        frame = frame.copy()
        frame[name] = -frame[name]
        return predict_proba(frame)
    return wrapped


def test_what_if_searches_a_missing_input_from_its_typical_value():
    result = explanations.what_if(ThresholdModel(), athlete(senior_ypg=np.nan), "qb",
                              typical_values={"senior_ypg": 180.0})
    # Missing -> model sees 0 -> D3; the search starts at the typical 180, which reaches D2+.
    option = next(o for o in result["options"] if o["input"] == "senior_ypg")
    assert option["current"] is None and option["change"] is None
    assert option["suggested"] > 180
    assert "record" in explanations.narrative("qb", explanations.explain_frame(
        ThresholdModel(), athlete(senior_ypg=np.nan), "qb", {"senior_ypg": 180.0})[0])["goals"][0].lower()


def test_the_levers_of_a_custom_position_are_its_specs():
    from catalog_frames import five_levels

    te, lb = five_levels().position("te"), five_levels().position("lb")
    assert levers.levers(te)["stars"] == (1, 2.0, 0)
    assert list(levers.levers(te)) == list(te.levers)
    assert "senior_rec_ypg" in levers.levers(te) and "senior_rec_ypg" not in levers.levers(lb)
    assert "vertical_jump" not in levers.levers(lb)  # not an input of a linebacker here
    result = levers.what_if_result(4, [], [], lb.levels)
    assert result["at_top"] and result["current_division"] == "Power 4"
    assert levers.what_if_result(1, [], ["stars"], lb.levels)["target_division"] == "FCS"
