"""Wilson intervals and the accuracy alert against the CV lower bound."""

from __future__ import annotations

import pandas as pd
import pytest

from recruit_reveal.monitoring import accuracy
from recruit_reveal.monitoring.training_profile import CvFigure


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
    assert accuracy.live_accuracy(_joined(20, 100), cv).alert is True
    assert accuracy.live_accuracy(_joined(55, 100), cv).alert is False
    assert accuracy.live_accuracy(_joined(2, 10), cv).alert is False  # too few outcomes
