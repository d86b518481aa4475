"""The synthetic generator and its Bayes posterior."""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

from recruit_reveal.data import synthetic
from recruit_reveal.errors import DataValidationError
from recruit_reveal.schema import (
    DIVISIONS,
    POSITIONS,
    TARGET_COLUMN,
    columns_for,
    feature_names,
    state_tier,
)

ROOT = Path(__file__).resolve().parents[1]
LARGE = 20_000
LARGE_SEED = 31337  # not CEILING_SEED: the check must be on fresh rows


def _labels(frame: pd.DataFrame) -> np.ndarray:
    return np.array([DIVISIONS.index(d) for d in frame[TARGET_COLUMN]])


@pytest.fixture(scope="module")
def large():
    """20,000 rows per position with their posterior."""
    out = {}
    for pos in POSITIONS:
        frame = synthetic.generate(pos, LARGE, LARGE_SEED)
        out[pos] = (frame, synthetic.true_proba(frame, pos))
    return out


# --- determinism and the sample file -------------------------------------------------

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
        proba = synthetic.true_proba(data.frame, pos)
        expected = synthetic.true_proba(synthetic.generate(pos, 200, 11), pos)
        np.testing.assert_allclose(proba, expected, atol=1e-9)


def test_bad_position_is_a_validation_error():
    with pytest.raises(DataValidationError, match="position"):
        synthetic.generate("ol", 10, 1)
    with pytest.raises(DataValidationError, match="position"):
        synthetic.true_proba(pd.DataFrame({"height_inches": [70.0]}), "kicker")


# --- the posterior ---------------------------------------------------------------------

@pytest.mark.parametrize("position", POSITIONS)
def test_true_proba_is_a_valid_distribution(large, position):
    frame, proba = large[position]
    assert proba.shape == (len(frame), len(DIVISIONS))
    assert np.isfinite(proba).all() and (proba >= 0).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.parametrize("position", POSITIONS)
def test_true_proba_ignores_division_and_hidden_columns(position):
    frame = synthetic.generate(position, 500, 4)
    reference = synthetic.true_proba(frame, position)
    dropped = frame.drop(columns=[TARGET_COLUMN, "name", "position"])
    shuffled = frame.assign(division=frame[TARGET_COLUMN].sample(frac=1, random_state=0).values)
    np.testing.assert_array_equal(synthetic.true_proba(dropped, position), reference)
    np.testing.assert_array_equal(synthetic.true_proba(shuffled, position), reference)


def test_true_proba_accepts_sparse_frames():
    # Only the required columns, a missing state, and one row at a range bound.
    frame = pd.DataFrame({"height_inches": [72.0, 84.0], "weight_lbs": [200.0, 120.0],
                          "senior_ypg": [250.0, 0.0], "state": [np.nan, "tx"]})
    proba = synthetic.true_proba(frame, "qb")
    assert proba.shape == (2, 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


@pytest.mark.parametrize("position", POSITIONS)
def test_argmax_accuracy_matches_the_quoted_ceiling(large, position):
    frame, proba = large[position]
    measured = synthetic.ceiling_metrics(proba, frame[TARGET_COLUMN])
    quoted = synthetic.BAYES_CEILING[position]
    for key in ("exact_accuracy", "within_one_accuracy"):
        p = quoted[key]
        # Both figures are estimates: 20,000 rows here, 50,000 for the quoted one.
        se = math.sqrt(p * (1 - p) * (1 / LARGE + 1 / 50_000))
        assert abs(measured[key] - p) < 4 * se, (key, measured[key], p)
    assert abs(measured["log_loss"] - quoted["log_loss"]) < 0.02
    # The brief's realism band.
    assert 0.60 <= quoted["exact_accuracy"] <= 0.75
    assert quoted["within_one_accuracy"] >= 0.93


def test_data_card_quotes_the_ceiling():
    card = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    for pos in POSITIONS:
        row = re.search(rf"^\|\s*{pos.upper()}\s*\|(.+)$", card, flags=re.MULTILINE)
        assert row, f"data card has no ceiling row for {pos}"
        cells = [c.strip() for c in row.group(1).split("|")]
        quoted = synthetic.BAYES_CEILING[pos]
        assert cells[0] == f"{quoted['exact_accuracy']:.1%}"
        assert cells[1] == f"{quoted['within_one_accuracy']:.1%}"
        assert cells[2] == f"{quoted['log_loss']:.3f}"


@pytest.mark.parametrize("position", POSITIONS)
def test_posterior_is_calibrated(large, position):
    frame, proba = large[position]
    y = _labels(frame)
    for k in range(4):
        freq = (y == k).mean()
        se = math.sqrt(freq * (1 - freq) / len(y))
        assert abs(proba[:, k].mean() - freq) < 4 * se
    # Reliability of the top prediction, by confidence band.
    top, pred = proba.max(axis=1), proba.argmax(axis=1)
    for lo, hi in ((0.25, 0.5), (0.5, 0.7), (0.7, 0.9), (0.9, 1.01)):
        sel = (top >= lo) & (top < hi)
        assert sel.sum() > 500
        conf = top[sel].mean()
        se = math.sqrt(conf * (1 - conf) / sel.sum())
        assert abs((pred[sel] == y[sel]).mean() - conf) < 4 * se, (lo, hi)


def _posterior_by_hand(row: pd.Series, position: str) -> np.ndarray:
    """The posterior written out the slow way, one row, with scipy's Gaussian."""
    model = synthetic._model(position)
    x = np.array([row.get(c, np.nan) for c in model.columns], dtype=float)
    obs = ~np.isnan(x)
    u = synthetic._to_latent(x[obs], model.low[obs], model.high[obs])
    combine = [row[c] == row[c] for c in synthetic._COMBINE]
    tier = state_tier(row.get("state"))
    post = []
    for k in range(4):
        p = synthetic.DIVISION_PRIORS[k]
        each = [r if seen else 1 - r for r, seen in zip(synthetic._TEST_RECORDED, combine,
                                                         strict=True)]
        att = synthetic.COMBINE_ATTENDANCE[k]
        p *= att * np.prod(each) + (0 if any(combine) else 1 - att)
        jm = synthetic.JUNIOR_MISSING[k]
        p *= (1 - jm) if obs[model.junior_idx] else jm
        if tier is not None:
            p *= synthetic.STATE_TIER_PROBS[k, tier - 1]
        mean, cov = model.mean[k][obs], model.cov[k][np.ix_(obs, obs)]
        p *= multivariate_normal(mean, cov).pdf(u)
        post.append(p)
    post = np.array(post)
    return post / post.sum()


@pytest.mark.parametrize("position", POSITIONS)
def test_vectorised_posterior_matches_the_formula(position):
    frame = synthetic.generate(position, 60, 8)
    fast = synthetic.true_proba(frame, position)
    slow = np.array([_posterior_by_hand(r, position) for _, r in frame.iterrows()])
    np.testing.assert_allclose(fast, slow, rtol=1e-7, atol=1e-12)


# --- what the generated values look like ------------------------------------------------

@pytest.mark.parametrize("position", POSITIONS)
def test_values_lie_within_schema_ranges(large, position):
    frame, _ = large[position]
    for col in columns_for(position):
        values = frame[col.name].dropna()
        if col.kind == "state":
            assert values.map(lambda s: state_tier(s) is not None).all()
            continue
        assert values.map(col.check).all(), col.name
        if col.kind == "int":
            assert (values == values.round()).all(), col.name


@pytest.mark.parametrize("position", POSITIONS)
def test_per_game_stats_agree_with_totals(large, position):
    frame, _ = large[position]
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


@pytest.mark.parametrize("position", POSITIONS)
def test_missingness_is_higher_at_lower_levels(large, position):
    frame, _ = large[position]
    y = _labels(frame)
    junior = [c for c in feature_names(position) if c.startswith("junior_") and "yds" in c][0]
    for col in (*synthetic._COMBINE, junior):
        rates = [frame.loc[y == k, col].isna().mean() for k in range(4)]
        assert all(a > b for a, b in zip(rates, rates[1:], strict=False)), (col, rates)


def test_division_priors_favour_lower_levels(large):
    frame, _ = large["rb"]
    counts = np.bincount(_labels(frame), minlength=4)
    assert list(counts) == sorted(counts, reverse=True)
    np.testing.assert_allclose(counts / counts.sum(), synthetic.DIVISION_PRIORS, atol=0.015)


def test_measurables_are_correlated_as_in_life(large):
    frame, _ = large["wr"]
    corr = frame[["height_inches", "weight_lbs", "forty_yard_dash", "vertical_jump",
                  "shuttle", "broad_jump", "senior_rec_ypg", "junior_rec_ypg"]].corr()
    assert corr.loc["height_inches", "weight_lbs"] > 0.5
    assert corr.loc["forty_yard_dash", "shuttle"] > 0.5
    assert corr.loc["forty_yard_dash", "vertical_jump"] < -0.5
    assert corr.loc["vertical_jump", "broad_jump"] > 0.6
    assert corr.loc["senior_rec_ypg", "junior_rec_ypg"] > 0.5
