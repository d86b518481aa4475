"""The generative model's design, seen in what it generates: priors, missingness, correlations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recruit_reveal.catalog import default_catalog
from recruit_reveal.data import synthetic
from recruit_reveal.schema import TARGET_COLUMN, feature_names

CATALOG = default_catalog()
POSITIONS = CATALOG.keys
LEVELS = CATALOG.ladder.levels
COMBINE = CATALOG.position("qb").combine

LARGE = 20_000
LARGE_SEED = 31337  # not CEILING_SEED: the check must be on fresh rows


@pytest.fixture(scope="module")
def large():
    """20,000 rows per position."""
    return {pos: synthetic.generate(pos, LARGE, LARGE_SEED) for pos in POSITIONS}


def _labels(frame: pd.DataFrame) -> np.ndarray:
    return np.array([LEVELS.index(d) for d in frame[TARGET_COLUMN]])


@pytest.mark.parametrize("position", POSITIONS)
def test_missingness_is_higher_at_lower_levels(large, position):
    frame = large[position]
    y = _labels(frame)
    junior = [c for c in feature_names(position) if c.startswith("junior_") and "yds" in c][0]
    for col in (*COMBINE, junior):
        rates = [frame.loc[y == k, col].isna().mean() for k in range(4)]
        assert all(a > b for a, b in zip(rates, rates[1:], strict=False)), (col, rates)


def test_division_priors_favour_lower_levels(large):
    frame = large["rb"]
    counts = np.bincount(_labels(frame), minlength=4)
    assert list(counts) == sorted(counts, reverse=True)
    np.testing.assert_allclose(counts / counts.sum(), CATALOG.sample["rb"].priors,
                               atol=0.015)


def test_measurables_are_correlated_as_in_life(large):
    frame = large["wr"]
    corr = frame[["height_inches", "weight_lbs", "forty_yard_dash", "vertical_jump",
                  "shuttle", "broad_jump", "senior_rec_ypg", "junior_rec_ypg"]].corr()
    assert corr.loc["height_inches", "weight_lbs"] > 0.5
    assert corr.loc["forty_yard_dash", "shuttle"] > 0.5
    assert corr.loc["forty_yard_dash", "vertical_jump"] < -0.5
    assert corr.loc["vertical_jump", "broad_jump"] > 0.6
    assert corr.loc["senior_rec_ypg", "junior_rec_ypg"] > 0.5


def test_the_model_is_compiled_from_the_catalog_sample_section():
    from recruit_reveal.data import generative_model

    model = generative_model.position_model("wr")
    sample = CATALOG.sample["wr"]
    assert model.columns == tuple(c.input for c in sample.latent)
    np.testing.assert_array_equal(model.priors, sample.priors)
    assert [model.columns[i] for i in model.combine_idx] == list(COMBINE)
    assert [model.columns[i] for i in model.junior_idx] == ["junior_rec_ypg"]
    # The correlation table is read by role: height and weight correlate as the catalog says.
    sd = np.sqrt(np.diagonal(model.cov[0]))
    assert np.isclose(model.cov[0][0, 1] / (sd[0] * sd[1]), 0.60)
    assert model.mean.shape == (len(LEVELS), len(model.columns))
