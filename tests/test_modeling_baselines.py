"""The rule-based and majority baselines."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from recruit_reveal.catalog import default_catalog
from recruit_reveal.modeling import baselines

DIVISIONS = default_catalog().ladder.levels


def _tier(row: dict[str, float], position: str) -> str:
    """The rule-based tier of one athlete, as a division label."""
    return DIVISIONS[int(baselines.rule_based_tiers(pd.DataFrame([row]), position)[0])]


def test_rule_based_tiers_top_down_with_60_percent_of_available_checks():
    # Power 5: production, weight and 40 pass, height 72 fails -> 3 of 4.
    assert _tier({"senior_ypg": 250, "height_inches": 72, "weight_lbs": 200,
                  "forty_yard_dash": 4.7}, "qb") == "Power 5"
    # P5 0/3, FCS 1/3, D2: production and weight pass, height fails -> 2/3.
    row = {"senior_ypg": 210, "height_inches": 70, "weight_lbs": 185}
    assert _tier(row, "qb") == "D2"
    # A missing value is skipped, not failed: with only production known, it decides.
    assert _tier({"senior_rec_ypg": 101, "height_inches": float("nan")}, "wr") == "Power 5"
    assert _tier({"senior_ypg": 20, "height_inches": 60, "weight_lbs": 130}, "rb") == "D3"


def test_baseline_estimators():
    frame = pd.DataFrame({"height_inches": [75, 70, 70, 70], "weight_lbs": [210, 150, 150, 150],
                          "senior_ypg": [300, 10, 10, 10]})
    target = pd.Series(["Power 5", "D3", "D3", "D2"])
    rules = baselines.RuleBasedTierClassifier("qb").fit(frame, target)
    assert list(rules.predict(frame)) == ["Power 5", "D3", "D3", "D3"]
    proba = rules.predict_proba(frame)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # P(true | tier D3) from 3 rows (2 D3, 1 D2) with add-one smoothing: (3, 2, 1, 1) / 7
    np.testing.assert_allclose(proba[1], [3 / 7, 2 / 7, 1 / 7, 1 / 7])
    majority = baselines.majority_baseline().fit(frame, target)
    assert set(majority.predict(frame)) == {"D3"}
    np.testing.assert_allclose(majority.predict_proba(frame)[0], [0.5, 0.25, 0, 0.25])


def test_rule_based_tiers_follow_the_ladder_of_the_catalog():
    from catalog_frames import five_levels, frame_for

    from recruit_reveal.modeling.cross_validation import stratified_folds

    qb = five_levels().position("qb")
    # A level the default ladder lacks: the code is its place on this ladder.
    g5 = dataclasses.replace(qb, tiers={"G5": {"senior_ypg": (280.0, math.inf),
                                                "height_inches": (74.0, 78.0)},
                                         **qb.tiers})
    frame = pd.DataFrame([{"height_inches": 75, "weight_lbs": 220, "senior_ypg": 300.0},
                          {"height_inches": 75, "weight_lbs": 200, "senior_ypg": 210.0},
                          {"height_inches": 60, "weight_lbs": 150, "senior_ypg": 20.0}])
    assert baselines.rule_based_tiers(frame, g5).tolist() == [3, 2, 0]
    lb = five_levels().position("lb")  # no tiers: no rule-based baseline
    lb_frame, target = frame_for(lb, n=120)
    folds = stratified_folds(target, 3, 0, lb.ladder)
    result = baselines.run_baselines(lb_frame, target, lb, folds)
    assert list(result) == ["majority"]
    assert len(result["majority"]["recall_per_division"]) == 5
