"""The synthetic generator: determinism, the sample file and the values it writes."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recruit_reveal.catalog import default_catalog, load_catalog
from recruit_reveal.data import posterior, synthetic
from recruit_reveal.errors import CatalogError, DataValidationError
from recruit_reveal.schema import columns_for, feature_names

ROOT = Path(__file__).resolve().parents[1]
LARGE = 20_000
LARGE_SEED = 31337  # not CEILING_SEED: the check must be on fresh rows
CATALOG = default_catalog()
POSITIONS = CATALOG.keys
DIVISIONS = CATALOG.ladder.levels
FIVE_PATH = ROOT / "tests" / "fixtures" / "catalog_five_levels.toml"


@pytest.fixture(scope="module")
def large():
    """20,000 rows per position."""
    return {pos: synthetic.generate(pos, LARGE, LARGE_SEED) for pos in POSITIONS}


def test_same_seed_same_bytes_and_sidecar(tmp_path):
    a = synthetic.write_sample(tmp_path / "a" / "training.csv", rows_per_position=150, seed=5)
    b = synthetic.write_sample(tmp_path / "b" / "training.csv", rows_per_position=150, seed=5)
    assert a.read_bytes() == b.read_bytes()
    meta = json.loads((a.parent / "training.synthetic.json").read_text())
    assert meta["csv_sha256"] == hashlib.sha256(a.read_bytes()).hexdigest()
    assert meta["seed"] == 5 and meta["rows"] == 450
    assert meta["generator_version"] == synthetic.GENERATOR_VERSION
    assert synthetic.is_synthetic_sample(a)


def test_different_seed_different_data():
    a = synthetic.generate("qb", 300, seed=1)
    b = synthetic.generate("qb", 300, seed=2)
    assert not a.equals(b)
    assert not np.allclose(a["height_inches"], b["height_inches"])


def test_positions_use_independent_streams():
    frame = synthetic.generate_all(rows_per_position=100, seed=3)
    assert list(frame["position"].unique()) == list(POSITIONS)
    assert frame["name"].is_unique
    qb = synthetic.generate("qb", 100, seed=3)
    rb = synthetic.generate("rb", 100, seed=3)
    assert not np.allclose(qb["weight_lbs"], rb["weight_lbs"])


def test_is_synthetic_sample_rejects_edited_or_unmarked_files(tmp_path):
    path = synthetic.write_sample(tmp_path / "t.csv", rows_per_position=50, seed=1)
    assert synthetic.is_synthetic_sample(path)
    path.write_bytes(path.read_bytes().replace(b"Athlete 00001", b"Athlete 99999"))
    assert not synthetic.is_synthetic_sample(path)
    other = tmp_path / "real.csv"
    other.write_text("a,b\n1,2\n")
    assert not synthetic.is_synthetic_sample(other)
    (tmp_path / "real.synthetic.json").write_text("not json")
    assert not synthetic.is_synthetic_sample(other)


def test_committed_sample_is_reproduced_byte_for_byte(tmp_path):
    committed = ROOT / "data" / "training.csv"
    fresh = synthetic.write_sample(tmp_path / "training.csv")  # the defaults `make data` uses
    assert fresh.read_bytes() == committed.read_bytes(), (
        "data/training.csv is stale: run `make data` and commit it "
        "(and bump GENERATOR_VERSION if the generator changed)")
    assert synthetic.is_synthetic_sample(committed)


def test_csv_column_order_and_formatting(tmp_path):
    path = synthetic.write_sample(tmp_path / "t.csv", rows_per_position=40, seed=9)
    header = path.read_text().splitlines()[0].split(",")
    assert header[:3] == ["name", "position", "division"]
    # The union of every position's columns, each in the order it first appears.
    union = [c for pos in POSITIONS for c in feature_names(pos)]
    assert header[3:] == list(dict.fromkeys(union))
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert raw["forty_yard_dash"].str.fullmatch(r"(\d\.\d\d)?").all()
    assert raw["senior_yds"].str.fullmatch(r"(-?\d+)?").all()
    assert set(raw["division"]) <= set(DIVISIONS)


def test_sample_loads_with_the_loader(tmp_path):
    from recruit_reveal.data.loading import load_training_data

    path = synthetic.write_sample(tmp_path / "t.csv", rows_per_position=200, seed=11)
    for pos in POSITIONS:
        data = load_training_data(path, pos)
        assert list(data.frame.columns) == feature_names(pos)
        assert len(data.frame) == 200
        proba = posterior.true_proba(data.frame, pos)
        expected = posterior.true_proba(synthetic.generate(pos, 200, 11), pos)
        np.testing.assert_allclose(proba, expected, atol=1e-9)


def test_bad_position_is_a_validation_error():
    with pytest.raises(DataValidationError, match="position"):
        synthetic.generate("ol", 10, 1)
    with pytest.raises(DataValidationError, match="position"):
        posterior.true_proba(pd.DataFrame({"height_inches": [70.0]}), "kicker")


@pytest.mark.parametrize("position", POSITIONS)
def test_values_lie_within_schema_ranges(large, position):
    frame = large[position]
    for col in columns_for(position):
        values = frame[col.name].dropna()
        if col.kind == "state":
            assert values.map(CATALOG.position(position).state_tier).notna().all()
            continue
        assert values.between(col.low, col.high).all(), col.name
        if col.kind == "int":
            assert (values == values.round()).all(), col.name


@pytest.mark.parametrize("position", POSITIONS)
def test_per_game_stats_agree_with_totals(large, position):
    frame = large[position]
    if position == "wr":
        ypg, total, jypg, jtotal = ("senior_rec_ypg", "senior_rec_yds",
                                    "junior_rec_ypg", "junior_rec_yds")
        both = frame.dropna(subset=["senior_rec", "senior_avg"])
        assert (abs(both["senior_rec"] * both["senior_avg"] - both["senior_rec_yds"])
                <= 0.5 * both["senior_avg"] + 0.05 * both["senior_rec"] + 0.5).all()
    else:
        ypg, total, jypg, jtotal = "senior_ypg", "senior_yds", "junior_ypg", "junior_yds"
    s = frame.dropna(subset=["games"])
    assert (abs(s[ypg] * s["games"] - s[total]) <= 0.5 + 1e-6).all()
    j = frame.dropna(subset=[jypg])
    assert frame[jtotal].isna().equals(frame[jypg].isna())
    games = (j[jtotal] / j[jypg]).round()
    assert games.between(7, 13).all()
    assert (abs(j[jypg] * games - j[jtotal]) <= 0.5 + 1e-6).all()


def test_committed_sidecar_is_reproduced_byte_for_byte(tmp_path):
    fresh = synthetic.write_sample(tmp_path / "training.csv")
    committed = ROOT / "data" / "training.synthetic.json"
    assert (tmp_path / "training.synthetic.json").read_bytes() == committed.read_bytes()
    assert fresh.name == "training.csv"


def test_a_position_stream_is_seeded_by_its_catalog_index():
    # The first rows of a position come from the stream [seed, index in catalog order].
    rng = np.random.default_rng([7, POSITIONS.index("rb")])
    levels = rng.choice(len(DIVISIONS), size=50, p=CATALOG.sample["rb"].priors)
    frame = synthetic.generate("rb", 50, 7)
    assert list(frame["division"]) == [DIVISIONS[k] for k in levels]


def test_five_level_catalog_draws_all_five_positions(tmp_path):
    five = load_catalog(FIVE_PATH)
    path = synthetic.write_sample(tmp_path / "t.csv", rows_per_position=400, seed=3,
                                  catalog=five)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(raw["position"].unique()) == ["qb", "rb", "wr", "te", "lb"]
    assert set(raw["division"]) == set(five.ladder.levels) and "G5" in set(raw["division"])
    assert raw["stars"].isin(["", "1", "2", "3", "4", "5"]).all()
    lb = raw[raw["position"] == "lb"]
    assert (lb["stars"] != "").all() and (lb["senior_tds"] == "").all()
    meta = json.loads((tmp_path / "t.synthetic.json").read_text())
    assert meta["positions"] == ["qb", "rb", "wr", "te", "lb"]
    assert meta["catalog"] == "five-level test catalog"
    again = synthetic.write_sample(tmp_path / "u.csv", rows_per_position=400, seed=3,
                                   catalog=five)
    assert again.read_bytes() == path.read_bytes()


@pytest.mark.parametrize("position", ["te", "lb"])
def test_five_level_positions_lie_within_their_ranges_and_load(tmp_path, position):
    from recruit_reveal.data.loading import load_training_data

    five = load_catalog(FIVE_PATH)
    spec = five.position(position)
    frame = synthetic.generate(position, 3000, 21, five)
    for col in spec.numeric:
        values = frame[col.name].dropna()
        assert values.between(col.low, col.high).all(), col.name
    # Tests are recorded given attendance: missing more often at lower levels.
    missing = frame.groupby("division")["forty_yard_dash"].apply(lambda s: s.isna().mean())
    assert missing["D3"] > missing["Power 4"]
    path = synthetic.write_sample(tmp_path / "t.csv", rows_per_position=200, seed=4, catalog=five)
    data = load_training_data(path, spec)
    assert list(data.frame.columns) == spec.feature_names and len(data.frame) == 200
    assert list(data.rows_per_division) == list(five.ladder.levels)


def test_te_season_totals_agree_with_per_game_values():
    five = load_catalog(FIVE_PATH)
    frame = synthetic.generate("te", 3000, 2, five).dropna(subset=["games"])
    gap = (frame["senior_rec_ypg"] * frame["games"] - frame["senior_rec_yds"]).abs()
    assert (gap <= 0.5 + 1e-6).all()


def test_cli_generate_data_with_a_catalog(tmp_path):
    from recruit_reveal.cli import main

    out = tmp_path / "five.csv"
    assert main(["generate-data", "--catalog", str(FIVE_PATH), "--out", str(out),
                 "--rows", "60"]) == 0
    raw = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(raw) == 300 and "Power 4" in set(raw["division"])


def test_a_catalog_whose_sample_does_not_fit_its_ladder_is_refused(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(FIVE_PATH.read_text().replace(
        "priors = [0.38, 0.24, 0.19, 0.11, 0.08]", "priors = [0.4, 0.3, 0.3]"))
    with pytest.raises(CatalogError, match=r"sample\.priors.*one per ladder level"):
        load_catalog(bad)


def test_a_drifting_catalog_draws_each_class_from_its_own_level_mix():
    drifting = load_catalog(Path(__file__).resolve().parent / "fixtures" / "catalog_drifting.toml")
    frame = synthetic.generate("qb", 16_000, 5, drifting)
    top = drifting.ladder.levels[-1]
    share = (frame["division"] == top).groupby(frame["grad_year"]).mean()
    priors = dict(drifting.sample["qb"].year_priors)
    for year, observed in share.items():
        se = math.sqrt(priors[year][-1] * (1 - priors[year][-1]) / (frame["grad_year"] == year).sum())
        assert abs(observed - priors[year][-1]) < 4 * se, year
    assert share.iloc[-1] > 3 * share.iloc[0]
    # Same arguments, same rows: the drifting draw is seeded like the stationary one.
    pd.testing.assert_frame_equal(frame.head(50), synthetic.generate("qb", 16_000, 5, drifting).head(50))
