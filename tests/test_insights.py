"""insights: what-if, top factors and narrative, on a hand-made model with known
thresholds (exact answers) and on the models trained by the shared fixtures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recruit_reveal.modeling import explanations as insights
from recruit_reveal.schema import DIVISIONS, column, feature_names

#: senior_ypg thresholds of the hand-made QB model: D3 < 100 <= D2 < 150 <= FCS < 200 <= P5.
THRESHOLDS = (100.0, 150.0, 200.0)


class ThresholdModel:
    """Division = number of senior_ypg thresholds passed; nothing else matters.

    Counts predict_proba calls and rows so tests can check vectorization.
    """

    def __init__(self, thresholds=THRESHOLDS, column_name="senior_ypg"):
        self.thresholds = thresholds
        self.column_name = column_name
        self.calls = 0
        self.rows = 0

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        self.calls += 1
        self.rows += len(frame)
        assert list(frame.columns) == feature_names("qb")
        values = frame[self.column_name].to_numpy(dtype=float)
        values = np.where(np.isnan(values), 0.0, values)
        level = np.searchsorted(np.asarray(self.thresholds), values, side="right")
        proba = np.full((len(frame), 4), 0.02)
        proba[np.arange(len(frame)), level] = 0.94
        return proba


TYPICAL = {"height_inches": 73.0, "weight_lbs": 200.0, "forty_yard_dash": 4.9,
           "senior_ypg": 180.0, "senior_tds": 18.0, "senior_comp_pct": 60.0}


def _athlete(**values) -> pd.DataFrame:
    base = {"height_inches": 72, "weight_lbs": 200, "forty_yard_dash": 4.7, "senior_ypg": 140,
            "senior_tds": 20, "senior_comp_pct": 65.0}
    return pd.DataFrame([{**base, **values}])


def test_what_if_finds_the_smallest_step_over_the_threshold():
    model = ThresholdModel()
    result = insights.what_if(model, _athlete(senior_ypg=140), "qb", typical_values=TYPICAL)
    assert result["current_division"] == "D2"
    assert result["target_division"] == "FCS"
    assert not result["at_top"]
    best = result["best"]
    assert best["input"] == "senior_ypg"
    step = insights.levers("qb")["senior_ypg"][1] / insights.DEFAULT_STEPS
    # The smallest grid value at or over the threshold, and not one step more.
    assert 150 <= best["suggested"] < 150 + step
    assert best["current"] == 140 and best["change"] == pytest.approx(best["suggested"] - 140)
    assert best["new_division"] == "FCS"
    assert best["new_probability"] == pytest.approx(0.94)
    # Only senior_ypg moves this model; every other lever is unreachable.
    assert [o["input"] for o in result["options"]] == ["senior_ypg"]
    assert "forty_yard_dash" in result["unreachable"]
    assert "senior ypg" in result["message"].lower() or "yards per game" in result["message"]


def test_what_if_scores_every_candidate_in_one_call():
    model = ThresholdModel()
    insights.what_if(model, _athlete(), "qb", typical_values=TYPICAL)
    assert model.calls == 1
    assert model.rows > len(insights.levers("qb"))  # a real grid, not one row per lever

    model = ThresholdModel()
    frame = pd.concat([_athlete(senior_ypg=v) for v in (50, 120, 170, 250)], ignore_index=True)
    insights.explain_frame(model, frame, "qb", TYPICAL)
    assert model.calls == 1


def test_what_if_at_the_top_division_says_so():
    result = insights.what_if(ThresholdModel(), _athlete(senior_ypg=320), "qb")
    assert result["at_top"] is True
    assert result["current_division"] == "Power 5"
    assert result["target_division"] is None and result["best"] is None
    assert result["options"] == []
    assert "top division" in result["message"]


def test_what_if_keeps_candidates_within_schema_ranges():
    # Only the 40-yard dash matters, and this athlete is already near the 4.2 s floor.
    model = ThresholdModel(thresholds=(-6.0, -5.0, -4.25), column_name="forty_yard_dash")
    model.predict_proba = _negated(model.predict_proba, "forty_yard_dash")
    result = insights.what_if(model, _athlete(forty_yard_dash=4.3), "qb")
    low = column("qb", "forty_yard_dash").low
    for option in result["options"]:
        if option["input"] == "forty_yard_dash":
            assert option["suggested"] >= low
    # Reaching Power 5 needs <= 4.25 s, which exists within range.
    assert result["best"]["input"] == "forty_yard_dash"
    assert low <= result["best"]["suggested"] <= 4.25

    # Needing 4.1 s (below the plausible floor) is reported as unreachable, never invented.
    model = ThresholdModel(thresholds=(-6.0, -5.0, -4.1), column_name="forty_yard_dash")
    model.predict_proba = _negated(model.predict_proba, "forty_yard_dash")
    result = insights.what_if(model, _athlete(forty_yard_dash=4.3), "qb")
    assert result["best"] is None
    assert "forty_yard_dash" in result["unreachable"]
    assert "No single improvement" in result["message"]


def test_weight_is_searched_both_ways_nearest_first():
    # A model that wants lighter athletes: losing weight is the improvement.
    model = ThresholdModel(thresholds=(-260.0, -230.0, -195.0), column_name="weight_lbs")
    model.predict_proba = _negated(model.predict_proba, "weight_lbs")
    result = insights.what_if(model, _athlete(weight_lbs=200), "qb")
    assert result["current_division"] == "FCS"
    best = result["best"]
    assert best["input"] == "weight_lbs" and best["direction"] == "lower"
    step = insights.levers("qb")["weight_lbs"][1] / insights.DEFAULT_STEPS
    assert 195 - step < best["suggested"] <= 195 and best["change"] < 0
    text = insights.narrative("qb", insights.explain_frame(model, _athlete(weight_lbs=200),
                                                           "qb")[0])
    assert text["goals"][0].startswith("Cut weight from 200 to")
    assert "weight <=" in text["switches"][0]


def _negated(predict_proba, name):
    def wrapped(frame):
        frame = frame.copy()
        frame[name] = -frame[name]
        return predict_proba(frame)
    return wrapped


def test_what_if_searches_a_missing_input_from_its_typical_value():
    result = insights.what_if(ThresholdModel(), _athlete(senior_ypg=np.nan), "qb",
                              typical_values={"senior_ypg": 180.0})
    # Missing -> model sees 0 -> D3; the search starts at the typical 180, which reaches D2+.
    option = next(o for o in result["options"] if o["input"] == "senior_ypg")
    assert option["current"] is None and option["change"] is None
    assert option["suggested"] > 180
    assert "record" in insights.narrative("qb", insights.explain_frame(
        ThresholdModel(), _athlete(senior_ypg=np.nan), "qb", {"senior_ypg": 180.0})[0])["goals"][0].lower()


def test_top_factors_rank_by_change_in_expected_division():
    factors = insights.top_factors(ThresholdModel(), _athlete(senior_ypg=210), "qb", TYPICAL)
    # Only senior_ypg moves the model: 210 (Power 5) vs typical 180 (FCS) -> +~0.92 levels.
    assert [f["input"] for f in factors] == ["senior_ypg"]
    f = factors[0]
    assert f["effect"] == pytest.approx(0.92 * 1, abs=1e-6)
    assert f["direction"] == "raises" and f["division_if_typical"] == "FCS"
    assert f["value"] == 210 and f["typical"] == 180

    factors = insights.top_factors(ThresholdModel(), _athlete(senior_ypg=120), "qb", TYPICAL)
    assert factors[0]["effect"] < 0 and factors[0]["direction"] == "lowers"


def test_narrative_is_built_from_this_athletes_numbers():
    model = ThresholdModel()
    a = insights.explain_frame(model, _athlete(senior_ypg=140), "qb", TYPICAL)[0]
    b = insights.explain_frame(model, _athlete(senior_ypg=110), "qb", TYPICAL)[0]
    ta, tb = insights.narrative("qb", a), insights.narrative("qb", b)
    # Same division (D2), different athletes: different text.
    assert np.argmax(a["probabilities"]) == np.argmax(b["probabilities"]) == 1
    assert ta["goals"] != tb["goals"] and ta["notes"] != tb["notes"]
    assert str(int(a["what_if"]["best"]["suggested"])) in ta["goals"][0]
    assert "140" in ta["goals"][0]
    assert ta["switches"] and "FCS" in ta["switches"][0]
    assert isinstance(ta["calendar_advice"], str) and ta["calendar_advice"]
    top = insights.narrative("qb", insights.explain_frame(model, _athlete(senior_ypg=320), "qb",
                                                          TYPICAL)[0])
    assert "Power 5" in top["notes"] and all("reach" not in g for g in top["goals"])


def test_predict_proba_orders_string_classes_by_division():
    class Shuffled(ThresholdModel):
        classes_ = np.array(["FCS", "D3", "Power 5", "D2"])

        def predict_proba(self, frame):
            return np.array([[0.3, 0.1, 0.4, 0.2]])

    proba = insights.predict_proba(Shuffled(), _athlete())
    assert proba.tolist() == [[0.1, 0.2, 0.3, 0.4]]


def test_the_models_own_decision_rule_is_used():
    class MedianRule(ThresholdModel):
        decision = "median"

        def predict_proba(self, frame):
            # Most probable: Power 5 (0.4); median division: FCS (cumulative 0.6).
            return np.tile([0.2, 0.1, 0.3, 0.4], (len(frame), 1))

    assert insights.decision_rule(MedianRule()) == "median"
    assert insights.decision_rule(ThresholdModel()) == "argmax"

    class UnknownRule(ThresholdModel):
        decision = "mode"

    assert insights.decision_rule(UnknownRule()) == "argmax"
    # One implementation of the rules: model.decide, as pipeline.predict uses.
    from recruit_reveal.modeling import estimators as model

    assert insights._DECISION_RULES == model.DECISION_RULES
    proba = np.array([[0.2, 0.1, 0.3, 0.4], [0.5, 0.1, 0.1, 0.3]])
    for rule in model.DECISION_RULES:
        np.testing.assert_array_equal(insights.decide(proba, rule), model.decide(proba, rule))
    with pytest.raises(ValueError, match="unknown decision rule"):
        insights.decide(proba, "mode")
    result = insights.explain_frame(MedianRule(), _athlete(), "qb")[0]
    assert result["division"] == "FCS"
    assert result["what_if"]["current_division"] == "FCS"
    assert insights.narrative("qb", result)["notes"].startswith("The QB model predicts FCS")
    assert insights.predicted_tier(result["probabilities"], "FCS") == "Mid FCS"


def test_confidence_and_tier():
    assert insights.confidence(np.full(4, 0.25)) == pytest.approx(0.0, abs=1e-9)
    assert insights.confidence(np.array([0, 0, 0, 1.0])) == pytest.approx(1.0, abs=1e-6)
    assert insights.predicted_tier(np.array([0.0, 0.1, 0.6, 0.3])) == "High FCS"
    assert insights.predicted_tier(np.array([0.0, 0.3, 0.6, 0.1])) == "Low FCS"
    assert insights.predicted_tier(np.array([0.1, 0.1, 0.7, 0.1])) == "Mid FCS"


@pytest.mark.parametrize("position", ["qb", "rb", "wr"])
def test_trained_models_batch_equals_one_by_one(trained_results, position):
    result = trained_results[position]
    from recruit_reveal.data.synthetic import generate

    frame = generate(position, 12, seed=3)[feature_names(position)]
    batch = insights.explain_frame(result.pipeline, frame, position, result.typical_values)
    for i in range(len(frame)):
        one = insights.what_if(result.pipeline, frame.iloc[[i]], position,
                               typical_values=result.typical_values)
        _assert_same_what_if(one, batch[i]["what_if"])
        proba = insights.predict_proba(result.pipeline, frame.iloc[[i]])[0]
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
