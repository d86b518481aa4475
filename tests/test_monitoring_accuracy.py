"""Wilson intervals and the accuracy alert against the CV lower bound."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from recruit_reveal.catalog import default_catalog, load_catalog
from recruit_reveal.monitoring import accuracy
from recruit_reveal.monitoring.training_profile import CvFigure

LEVELS = default_catalog().ladder.levels
FIVE = load_catalog(Path(__file__).with_name("fixtures") / "catalog_five_levels.toml").ladder


def test_wilson_interval_matches_the_textbook_value():
    low, high = accuracy.wilson(50, 100)
    assert (low, high) == pytest.approx((0.4038, 0.5962), abs=1e-4)


def _joined(correct: int, n: int) -> pd.DataFrame:
    predicted = ["FCS"] * n
    truth = ["FCS"] * correct + ["D3"] * (n - correct)
    return pd.DataFrame({"division": truth, "predicted": predicted, "p_d3": 0.1,
                         "p_d2": 0.1, "p_fcs": 0.7, "p_p5": 0.1})


def test_live_accuracy_alerts_only_when_clearly_below_cv():
    cv = {"exact_accuracy": CvFigure(0.6, 0.02, 5)}
    assert accuracy.live_accuracy(_joined(20, 100), cv, LEVELS).alert is True
    assert accuracy.live_accuracy(_joined(55, 100), cv, LEVELS).alert is False
    assert accuracy.live_accuracy(_joined(2, 10), cv, LEVELS).alert is False  # too few outcomes


def test_live_accuracy_reads_the_probability_columns_of_a_five_level_ladder():
    # A TE model of the five-level catalog logs p_d3 .. p_g5, p_p4: one column per level.
    n = 40
    joined = pd.DataFrame({"division": ["Power 4"] * 30 + ["FCS"] * 10,
                           "predicted": ["G5"] * 30 + ["FCS"] * 10,
                           **dict.fromkeys(FIVE.probability_columns(), 0.1)})
    joined["p_g5"] = 0.6
    live = accuracy.live_accuracy(joined, {}, FIVE.levels)
    assert FIVE.probability_columns() == ("p_d3", "p_d2", "p_fcs", "p_g5", "p_p4")
    assert live is not None and live.outcomes == n
    assert live.exact == pytest.approx(10 / n)
    assert live.within_one == pytest.approx(1.0)  # G5 is one level below Power 4


def test_outcomes_of_a_level_the_model_does_not_know_are_left_out():
    joined = _joined(5, 10)
    joined.loc[0, "division"] = "G5"  # not a level of the four-level ladder
    live = accuracy.live_accuracy(joined, {}, LEVELS)
    assert live is not None and live.outcomes == 9
