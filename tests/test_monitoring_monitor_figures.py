"""monitoring.monitor_figures: each figure draws the numbers it is given."""

from __future__ import annotations

import pandas as pd
import pytest

from recruit_reveal.monitoring.accuracy import LiveAccuracy
from recruit_reveal.monitoring.drift import InputDrift
from recruit_reveal.monitoring.monitor_figures import (
    plot_division_mix,
    plot_input_shift,
    plot_live_accuracy,
)
from recruit_reveal.monitoring.training_profile import CvFigure


def _heights(ax) -> list[float]:
    return [round(p.get_height(), 6) for p in ax.patches]


def test_the_input_shift_draws_training_then_live_shares_per_bin():
    drift = InputDrift(input="weight_lbs", values=400, missing_share=0.0,
                       training_missing_share=0.0, psi=0.8, band="large", test="K-S",
                       statistic=0.4, p_value=1e-9, p_corrected=1e-8, drifted=True,
                       bins=("<= 180", "180 to 200", "> 200"), expected=(0.3, 0.4, 0.3),
                       live=(0.05, 0.15, 0.8))
    fig = plot_input_shift(drift, "wr 1.0.0")
    (ax,) = fig.axes
    assert _heights(ax) == [0.3, 0.4, 0.3, 0.05, 0.15, 0.8]
    assert [t.get_text() for t in ax.get_xticklabels()] == list(drift.bins)
    assert fig._suptitle.get_text() == ("wr 1.0.0: weight_lbs now against training "
                                        "(PSI 0.80, drifted)")


def test_the_level_mix_is_bars_of_training_and_live():
    mix = pd.DataFrame({"division": ["D3", "D2", "FCS", "Power 5"],
                        "live share": [0.1, 0.2, 0.3, 0.4],
                        "training share": [0.4, 0.3, 0.2, None]})
    (ax,) = plot_division_mix(mix, "qb 1.0.0").axes
    assert _heights(ax) == [0.4, 0.3, 0.2, 0.0, 0.1, 0.2, 0.3, 0.4]


def test_live_accuracy_is_drawn_against_the_cv_interval():
    accuracy = LiveAccuracy(outcomes=200, exact=0.4, exact_ci=(0.33, 0.47), within_one=0.9,
                            within_one_ci=(0.85, 0.94), ece=0.05, ece_ci=(0.03, 0.08),
                            cv_exact=CvFigure(0.6, 0.02, 4), cv_within_one=CvFigure(0.92, 0.01, 4),
                            cv_ece=None)
    fig = plot_live_accuracy(accuracy, "rb 1.0.0")
    exact, _, ece = fig.axes
    band = exact.patches[0].get_y(), exact.patches[0].get_y() + exact.patches[0].get_height()
    assert band == (pytest.approx(0.6 - 1.96 * 0.02 / 2), pytest.approx(0.6 + 1.96 * 0.02 / 2))
    # the CV mean as a line, the live figure as a point, its interval's caps at 0.33, 0.47
    assert [list(line.get_ydata()) for line in exact.lines] == [[0.6, 0.6], [0.4], [0.33],
                                                               [0.47]]
    assert not ece.patches  # no CV figure for ECE: no band drawn
    assert "200 outcomes" in fig._suptitle.get_text()
