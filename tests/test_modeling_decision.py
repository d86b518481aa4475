"""Tier and confidence of predictions, computed for many athletes at once."""

import math

import numpy as np
import pytest

from recruit_reveal.catalog import default_catalog
from recruit_reveal.modeling import decision

DIVISIONS = default_catalog().ladder.levels


@pytest.mark.parametrize(("row", "predicted", "band"), [
    # FCS predicted: 0.15 above it and nothing below is exactly the margin: still Mid.
    ([0.0, 0.0, 0.85, 0.15], 2, "Mid"),
    ([0.0, 0.0, 0.84, 0.16], 2, "High"),
    ([0.0, 0.15, 0.85, 0.0], 2, "Mid"),
    ([0.0, 0.16, 0.84, 0.0], 2, "Low"),
    # Below and above weigh against each other.
    ([0.1, 0.1, 0.4, 0.4], 2, "High"),
    ([0.2, 0.2, 0.4, 0.2], 2, "Low"),
    ([0.2, 0.0, 0.5, 0.3], 2, "Mid"),
    # The top and bottom divisions lean one way only.
    ([0.0, 0.0, 0.2, 0.8], 3, "Low"),
    ([0.8, 0.2, 0.0, 0.0], 0, "High"),
    ([0.0, 0.0, 0.15, 0.85], 3, "Mid"),
])
def test_tier_band_boundaries(row, predicted, band):
    proba = np.array([row])
    assert decision.tier_bands(proba, np.array([predicted])) == [band]
    assert decision.predicted_tiers(proba, np.array([predicted])) == \
        [f"{band} {DIVISIONS[predicted]}"]


def test_tiers_follow_the_given_division_not_the_most_probable():
    # A median decision can predict a division that is not the most probable one.
    proba = np.array([[0.3, 0.05, 0.3, 0.35]])
    assert decision.predicted_tiers(proba, np.array([2])) == ["Mid FCS"]
    assert decision.predicted_tiers(proba, np.array([3])) == ["Low Power 5"]


def test_rows_are_independent_in_a_batch():
    rows = np.array([[0.0, 0.0, 0.84, 0.16], [0.0, 0.16, 0.84, 0.0], [0.25] * 4,
                     [0.0, 0.0, 0.0, 1.0]])
    predicted = np.array([2, 2, 1, 3])
    assert decision.predicted_tiers(rows, predicted) == \
        ["High FCS", "Low FCS", "High D2", "Mid Power 5"]
    batch = decision.confidence_scores(rows)
    assert batch.shape == (4,)
    for row, score in zip(rows, batch, strict=True):
        assert decision.confidence_scores(row[None, :])[0] == score


def test_empty_batch():
    empty = np.zeros((0, len(DIVISIONS)))
    assert decision.predicted_tiers(empty, np.zeros(0, dtype=int)) == []
    assert decision.confidence_scores(empty).shape == (0,)


def test_confidence_ends_and_entropy():
    # Uniform: no information at all; one certain division: full confidence.
    assert decision.confidence_scores(np.full((1, 4), 0.25))[0] == pytest.approx(0.0, abs=1e-12)
    certain = decision.confidence_scores(np.array([[0.0, 0.0, 0.0, 1.0]]))[0]
    assert certain == pytest.approx(1.0, abs=1e-9) and certain <= 1.0
    # In between: 1 minus the entropy over its largest possible value, log(4).
    p = np.array([0.1, 0.2, 0.3, 0.4])
    want = 1 - float(-(p * np.log(p)).sum()) / math.log(4)
    assert decision.confidence_scores(p[None, :])[0] == pytest.approx(want, rel=1e-12)
    # Rounding noise beyond a distribution never leaves [0, 1].
    noisy = decision.confidence_scores(np.array([[0.25 + 1e-9] * 4, [0.0, 0.0, 0.0, 1 + 1e-9]]))
    assert noisy.min() >= 0.0 and noisy.max() <= 1.0


def test_more_concentrated_is_more_confident():
    rows = np.array([[0.25, 0.25, 0.25, 0.25], [0.1, 0.2, 0.3, 0.4], [0.05, 0.05, 0.1, 0.8],
                     [0.0, 0.0, 0.01, 0.99]])
    assert np.all(np.diff(decision.confidence_scores(rows)) > 0)


def test_tiers_and_confidence_on_a_five_level_ladder():
    levels = ("D3", "D2", "FCS", "G5", "Power 4")
    proba = np.array([[0.0, 0.1, 0.3, 0.5, 0.1], [0.2] * 5])
    assert decision.predicted_tiers(proba, np.array([3, 4]), levels) == [
        "Low G5", "Low Power 4"]
    np.testing.assert_allclose(decision.confidence_scores(proba)[1], 0.0, atol=1e-12)
    assert decision.confidence_scores(np.eye(5)[[2]])[0] == pytest.approx(1.0)
