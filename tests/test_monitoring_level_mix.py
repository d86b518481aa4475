"""Level-mix drift: a moved mix is flagged, an unmoved one is quiet, small samples unjudged."""

from __future__ import annotations

import numpy as np
import pytest

from recruit_reveal.monitoring.level_mix import MIX_SHIFT, mix_shift

TRAINING = {"low": 0.4, "mid": 0.35, "high": 0.25}


def _labels(shares, n, seed):
    rng = np.random.default_rng(seed)
    return list(rng.choice(list(TRAINING), size=n, p=shares))


def test_a_moved_mix_is_flagged_with_the_prior_ratios():
    shift = mix_shift("observed", _labels([0.2, 0.35, 0.45], 600, 1), TRAINING)
    assert shift is not None and shift.shifted and shift.distance >= MIX_SHIFT
    assert shift.prior_ratios["high"] == pytest.approx(shift.live["high"] / 0.25)
    assert "correcting for the prior would re-weight" in shift.line()


def test_an_unmoved_mix_is_quiet_in_nineteen_streams_of_twenty():
    flagged = sum(mix_shift("predicted", _labels(list(TRAINING.values()), 400, seed),
                            TRAINING).shifted for seed in range(20))
    assert flagged <= 1


def test_a_small_or_barely_moved_sample_is_not_flagged():
    few = mix_shift("observed", ["high"] * 20, TRAINING)
    assert few is not None and few.p_value is None and not few.shifted
    # Significant on many rows, but a move below MIX_SHIFT is not material.
    slight = mix_shift("predicted", [], TRAINING, counts=[38_500, 35_000, 26_500])
    assert slight.p_value < 0.01 and not slight.shifted
    assert mix_shift("predicted", ["low"], {}) is None
