"""modeling.input_profile: the training rows' percentiles, usual range, missing and division shares."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recruit_reveal.catalog import default_catalog
from recruit_reveal.modeling.input_profile import (
    division_mix,
    input_profile,
    numeric_profile,
    state_profile,
)
from recruit_reveal.schema import feature_names

DIVISIONS = default_catalog().ladder.levels


def test_numeric_profile_gives_numpys_percentiles_and_the_missing_share():
    rng = np.random.default_rng(3)
    values = rng.normal(72, 3, 500)
    with_gaps = np.concatenate([values, [np.nan] * 125])
    profile = numeric_profile(pd.Series(with_gaps))
    assert profile["quantiles"] == np.percentile(values, np.arange(101)).tolist()
    assert np.all(np.diff(profile["quantiles"]) >= 0)
    assert [profile["low"], profile["high"]] == np.percentile(values, [0.5, 99.5]).tolist()
    assert profile["low"] > values.min() and profile["high"] < values.max()
    assert profile["missing_share"] == 0.2


def test_a_column_without_values_has_no_range():
    assert numeric_profile(pd.Series([np.nan, None, np.nan])) == {
        "quantiles": [], "low": None, "high": None, "missing_share": 1.0}


def test_state_shares_are_over_the_rows_giving_a_state():
    profile = state_profile(pd.Series(["TX", "TX", "CA", None, "OH", np.nan, "TX", "CA"]))
    assert profile == {"shares": {"CA": 2 / 6, "OH": 1 / 6, "TX": 3 / 6}, "missing_share": 0.25}


def test_every_input_of_the_position_is_profiled_even_when_absent():
    frame = pd.DataFrame({"height_inches": [70.0, 72.0, 74.0], "state": ["TX", None, "TX"]})
    profile = input_profile(frame, "qb")
    assert list(profile) == feature_names("qb")
    assert profile["height_inches"]["low"] == pytest.approx(70.02)
    assert profile["shuttle"]["missing_share"] == 1.0 and profile["shuttle"]["low"] is None
    assert profile["state"] == {"shares": {"TX": 1.0}, "missing_share": 1 / 3}


def test_division_mix_covers_every_division_and_sums_to_one():
    mix = division_mix(pd.Series(["D3", "D3", "FCS", "D2"]))
    assert list(mix) == list(DIVISIONS)
    assert mix == {"D3": 0.5, "D2": 0.25, "FCS": 0.25, "Power 5": 0.0}
    assert division_mix([]) == {d: 0.0 for d in DIVISIONS}


def test_training_carries_the_profile_of_its_rows(trained_results):
    result = trained_results["wr"]
    assert list(result.input_profile) == feature_names("wr")
    assert sum(result.division_mix.values()) == pytest.approx(1)
    rows = result.data_fingerprint["rows"]
    assert result.division_mix == {d: n / rows
                                   for d, n in result.data_fingerprint["rows_per_division"].items()}
