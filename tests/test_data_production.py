"""data.production: the per-game rate from a season total and games, one rule."""

from __future__ import annotations

import numpy as np
import pytest

from recruit_reveal.data import production, synthetic
from recruit_reveal.data.loading import load_training_data
from recruit_reveal.errors import DataValidationError


def test_rate_is_total_over_games_only_where_missing_and_plausible():
    rate = np.array([250.0, np.nan, np.nan, np.nan, np.nan])
    total = np.array([9999.0, 3000.0, 7000.0, 3000.0, np.nan])
    games = np.array([12.0, 12.0, 7.0, np.nan, 10.0])
    out = production.derive_rates(rate, total, games, "qb")
    np.testing.assert_array_equal(out.rate[:2], [250.0, 250.0])
    assert np.isnan(out.rate[2:]).all()
    assert out.derived.tolist() == [False, True, False, False, False]
    assert out.out_of_range.tolist() == [False, False, True, False, False]
    assert "outside the plausible range of senior_ypg" in production.out_of_range_message(
        "qb", 7000, 7)


def test_production_columns_leave_the_measurables():
    cols = production.production_columns("wr")
    assert {"games", "senior_rec_ypg", "senior_rec_yds", "junior_rec_ypg"} <= set(cols)
    assert not {"height_inches", "weight_lbs", "forty_yard_dash", "state"} & set(cols)


def test_a_training_file_with_totals_and_games_but_no_rate(tmp_path):
    frame = synthetic.generate("qb", 300, seed=1)
    path = tmp_path / "totals.csv"
    frame.drop(columns=["senior_ypg"]).to_csv(path, index=False)
    data = load_training_data(path, "qb", invalid_rows="quarantine")
    has_games = frame["games"].notna().to_numpy()
    assert len(data.frame) == has_games.sum()
    np.testing.assert_allclose(data.frame["senior_ypg"].to_numpy(),
                               (frame["senior_yds"] / frame["games"]).to_numpy()[has_games])
    assert {g.rule for g in data.problem_groups} == {"missing value"}
    frame.loc[0, ["senior_yds", "games"]] = [7000, 7]
    frame.drop(columns=["senior_ypg"]).to_csv(path, index=False)
    with pytest.raises(DataValidationError, match="7000 / 7 = 1000.0 passing yards/game"):
        load_training_data(path, "qb")
