"""The analyses of notebooks/explore.ipynb, on the fixture release and on hand-made models."""

from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from recruit_reveal import schema
from recruit_reveal.catalog import default_catalog
from recruit_reveal.errors import ModelNotFoundError
from recruit_reveal.modeling import metrics, probabilities
from recruit_reveal.reporting import exploration

D = list(default_catalog().ladder.levels)


@pytest.fixture(scope="module")
def loaded(exported_models_dir):
    return exploration.load_release("wr", "latest", exported_models_dir)


@pytest.fixture(scope="module")
def data(loaded, sample_csv):
    return exploration.load_rows(loaded, sample_csv)


@pytest.fixture(scope="module")
def oos(loaded, data):
    return exploration.out_of_sample(loaded, data)


@pytest.fixture(scope="module")
def errors(data, oos):
    return exploration.athlete_errors(data, oos)


class FortyOnly:
    """P(division) a softmax of the 40-yard dash alone: faster lifts every athlete."""

    classes_ = np.array(D)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        forty = frame["forty_yard_dash"].to_numpy(dtype=float)
        forty = np.where(np.isnan(forty), 4.8, forty)
        logits = np.outer(4.8 - forty, np.arange(4) * 3.0)
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)


def _expected(curve: pd.DataFrame) -> np.ndarray:
    return curve[D].to_numpy() @ np.arange(len(D))


def test_load_release_refuses_a_fallback(exported_models_dir):
    with pytest.raises(ModelNotFoundError, match=r"asked for wr 9\.9\.9 .* only 1\.0\.0 loads"):
        exploration.load_release("wr", "9.9.9", exported_models_dir)


def test_release_and_rows_tables(loaded, data, sample_csv, tmp_path):
    assert exploration.title(loaded) == "WR 1.0.0"
    table = exploration.release_table(loaded)
    assert table.loc["loaded", "value"].startswith("WR 1.0.0: requested latest")
    assert table.loc["CV folds, seed", "value"] == (3, 0)
    rows = exploration.rows_table(loaded, data)
    assert rows.loc["wr rows", D].sum() == rows.loc["wr rows", "all"] == len(data.frame) == 240
    assert rows.loc["wr rows", "training file of the release"] == "yes"
    # One row fewer: another file, and the table says so.
    lines = sample_csv.read_text().splitlines(keepends=True)
    other = tmp_path / "other.csv"
    other.write_text("".join(lines[:-1]))
    changed = exploration.rows_table(loaded, exploration.load_rows(loaded, other))
    assert changed.loc["wr rows", "training file of the release"].startswith("NO")


def test_load_rows_without_a_file_names_the_training_file(loaded):
    with pytest.raises(FileNotFoundError, match=r"training\.csv \(sha256 [0-9a-f]{12}\).*set csv"):
        exploration.load_rows(loaded, None)


def test_out_of_sample_reproduces_the_metadata(loaded, data, oos):
    assert oos.proba.shape == (len(data.frame), len(D))
    np.testing.assert_allclose(oos.proba.sum(axis=1), 1.0)
    assert set(np.unique(oos.target)) <= set(range(len(D)))
    table = exploration.cv_comparison(oos, loaded)
    assert list(table.index) == list(exploration.COMPARED_METRICS)
    assert (table["re-run here"] == table["metadata"]).all(), table


def test_athlete_errors(data, oos, errors):
    assert len(errors) == len(data.frame)
    assert list(errors.index) == list(data.source_rows)
    codes = errors["predicted"].map(D.index).to_numpy()
    assert (errors["off by"].to_numpy() == codes - errors["division"].cat.codes.to_numpy()).all()
    assert (errors["P(true)"] <= errors["confidence"] + 1e-12).all()
    assert set(errors["state tier"]) <= {"tier 1", "tier 2", "tier 3", "tier 4", "missing"}
    assert errors["combine results missing"].between(0, 4).all()


def test_error_tables_partition_the_rows(errors, oos):
    tables = exploration.error_tables(errors, oos)
    assert list(dict.fromkeys(tables.index.get_level_values("grouping"))) == \
        list(exploration.ERROR_GROUPS)
    for by in exploration.ERROR_GROUPS:
        assert tables.xs(by, level="grouping")["rows"].sum() == len(errors)
    assert (tables["within one"] >= tables["exact"]).all()
    by_division = tables.xs("division", level="grouping")
    recall = metrics.recall_per_division(oos.target, oos.predicted)
    for division in D:
        assert by_division.loc[division, "exact"] == pytest.approx(recall[division], abs=5e-4)
    # The pooled log loss is the row-weighted mean of the groups'.
    pooled = (by_division["log loss"] * by_division["rows"]).sum() / len(errors)
    assert pooled == pytest.approx(metrics.log_loss(oos.target, oos.proba), abs=5e-3)


def test_largest_misses(errors):
    misses = exploration.largest_misses(errors, min_off_by=2, n=5)
    assert len(misses) <= 5 and (misses["off by"].abs() >= 2).all()
    assert misses["confidence"].is_monotonic_decreasing
    assert len(exploration.largest_misses(errors, min_off_by=4)) == 0


def test_partial_dependence_follows_the_generative_model(loaded, data):
    curves = exploration.partial_dependence(loaded, data.frame, points=9)
    assert list(curves.columns) == ["input", "value", *D]
    np.testing.assert_allclose(curves[D].sum(axis=1), 1.0)
    assert set(curves["input"]) == set(exploration.dependence_inputs(loaded, data.frame))
    assert curves.groupby("input").size().max() <= 9
    # The synthetic divisions differ in means that rise with speed and production.
    assert (np.diff(_expected(curves[curves["input"] == "forty_yard_dash"])) < 0).all()
    assert (np.diff(_expected(curves[curves["input"] == "senior_rec_ypg"])) > 0).all()


def test_partial_dependence_matches_the_pipeline_point_by_point(loaded, data):
    curves = exploration.partial_dependence(loaded, data.frame, ["weight_lbs"], points=4,
                                            sample=50, seed=3)
    rows = data.frame.sample(50, random_state=3)
    for _, point in curves.iterrows():
        want = probabilities.predict_proba(loaded.pipeline,
                                          rows.assign(weight_lbs=point["value"])).mean(axis=0)
        np.testing.assert_allclose(point[D].to_numpy(dtype=float), want, atol=1e-9)


def test_partial_dependence_of_a_one_input_model(loaded, data):
    model = dataclasses.replace(loaded, pipeline=FortyOnly())
    curves = exploration.partial_dependence(model, data.frame, ["forty_yard_dash", "weight_lbs"])
    forty = curves[curves["input"] == "forty_yard_dash"]
    assert (np.diff(_expected(forty)) < 0).all()
    assert forty["value"].is_monotonic_increasing
    assert forty["value"].min() >= data.frame["forty_yard_dash"].min()
    ranges = exploration.dependence_ranges(curves)
    assert list(ranges.index) == ["forty_yard_dash", "weight_lbs"]
    assert (ranges.loc["weight_lbs"] < 1e-12).all()
    assert ranges.loc["forty_yard_dash", "P(Power 5) range"] == pytest.approx(
        round(forty["Power 5"].max() - forty["Power 5"].min(), 3))


def test_state_dependence(loaded, data):
    tiers = exploration.state_dependence(loaded, data.frame)
    assert list(tiers.index) == ["tier 1", "tier 2", "tier 3", "tier 4", "missing"]
    np.testing.assert_allclose(tiers.sum(axis=1), 1.0)
    # Power 5 recruits come from tier-1 states more often in the generative model.
    assert tiers.loc["tier 1", "Power 5"] > tiers.loc["tier 4", "Power 5"]
    assert exploration.tier_states(schema.spec_of("qb"))["tier 1"] in {"CA", "FL", "GA", "TX"}


def _calibrated(n: int, seed: int = 0) -> exploration.OutOfSample:
    """Rows whose divisions are drawn from their own predicted probabilities."""
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet(np.ones(len(D)), size=n)
    target = np.array([rng.choice(len(D), p=p) for p in proba])
    return exploration.OutOfSample(target, proba, proba.argmax(axis=1), {}, np.arange(n),
                                   schema.spec_of("qb"))


def test_division_reliability_bins_cover_every_row(oos):
    bins = exploration.division_reliability(oos)
    assert list(bins.columns) == ["division", "bin", "rows", "predicted", "observed"]
    for k, division in enumerate(D):
        part = bins[bins["division"] == division]
        assert part["rows"].sum() == len(oos.target)
        assert len(part) <= 10 and part["predicted"].is_monotonic_increasing
        assert (part["rows"] * part["observed"]).sum() == pytest.approx((oos.target == k).sum())


def test_calibration_table_tells_calibrated_from_overconfident():
    good = _calibrated(4000)
    table = exploration.calibration_table(good)
    assert table.loc[D, "rows"].sum() == table.loc["largest P (pooled)", "rows"] == 4000
    assert (table.loc[D, "calibration error"] < 0.04).all()
    assert table.loc["largest P (pooled)", "calibration error"] == pytest.approx(
        metrics.expected_calibration_error(good.target, good.proba), abs=5e-4)
    # Sharpen the same probabilities: the model claims more than it knows.
    sharp = good.proba ** 4 / (good.proba ** 4).sum(axis=1, keepdims=True)
    over = exploration.calibration_table(dataclasses.replace(good, proba=sharp))
    assert (over.loc[D, "calibration error"] > table.loc[D, "calibration error"] + 0.03).all()
    brier = np.mean((good.proba[:, 0] - (good.target == 0)) ** 2)
    assert table.loc[D[0], "Brier"] == pytest.approx(brier, abs=5e-4)


def test_figures_do_not_touch_pyplot_state(loaded, data, oos, errors):
    before = plt.get_fignums()
    curves = exploration.partial_dependence(loaded, data.frame, ["forty_yard_dash", "shuttle"],
                                            points=5, sample=40)
    tiers = exploration.state_dependence(loaded, data.frame, sample=40)
    made = [exploration.plot_error_groups(exploration.error_tables(errors, oos), "WR 1.0.0"),
            exploration.plot_partial_dependence(curves, tiers, "WR 1.0.0", "wr"),
            exploration.plot_division_reliability(exploration.division_reliability(oos))]
    assert all(isinstance(f, Figure) for f in made)
    assert plt.get_fignums() == before
    assert len(made[0].axes) == len(exploration.ERROR_GROUPS)
    assert sum(ax.get_visible() for ax in made[1].axes) == 3  # two inputs and the tiers
    assert made[0].get_suptitle() == "WR 1.0.0: where the model is wrong"


def test_athlete_tables(loaded):
    athlete = exploration.sample_athlete("wr")
    assert "position" not in athlete and "name" not in athlete
    table = exploration.compare_athlete(loaded, athlete, {"forty_yard_dash": 6.0})
    assert list(table.columns) == ["athlete", "with changes"]
    proba = [table.loc[f"P({d})"] for d in D]
    assert sum(p["athlete"] for p in proba) == pytest.approx(1.0, abs=0.01)
    # Far slower: the model's expected division drops.
    expected = {c: sum(k * p[c] for k, p in enumerate(proba)) for c in table.columns}
    assert expected["with changes"] < expected["athlete"]
    options = exploration.what_if_options(loaded, athlete)
    assert {"what it takes", "input", "suggested", "new_division"} <= set(options.columns)
    assert options["effort"].is_monotonic_increasing


def test_what_if_at_the_top_is_one_message(loaded):
    model = dataclasses.replace(loaded, pipeline=FortyOnly())
    options = exploration.what_if_options(model, {"forty_yard_dash": 4.2})
    assert list(options.columns) == ["what it takes"] and len(options) == 1
    assert exploration.score_athlete(model, {"forty_yard_dash": 4.2})["division"] == "Power 5"


def _five_level_oos(n: int = 300):
    """Out-of-sample predictions of a five-level TE of the test catalog."""
    from pathlib import Path

    from recruit_reveal.catalog import load_catalog

    te = load_catalog(Path(__file__).with_name("fixtures") / "catalog_five_levels.toml"
                      ).position("te")
    rng = np.random.default_rng(1)
    proba = rng.dirichlet(np.ones(5), size=n)
    target = np.array([rng.choice(5, p=p) for p in proba])
    return te, proba, exploration.OutOfSample(target, proba, proba.argmax(axis=1), {},
                                              np.arange(n), te)


def test_figures_take_a_ladder_of_any_length():
    # One colour, curve and panel per level (four colours zipped strictly crashed here).
    te, proba, oos = _five_level_oos()
    reliability = exploration.division_reliability(oos)
    assert list(dict.fromkeys(reliability["division"])) == list(te.levels)
    fig = exploration.plot_division_reliability(reliability, "TE 1.0.0")
    assert [ax.get_title() for ax in fig.get_axes()] == list(te.levels)
    curves = pd.DataFrame(proba[:4], columns=list(te.levels)).assign(
        input="stars", value=[1.0, 2.0, 3.0, 4.0])[["input", "value", *te.levels]]
    tiers = pd.DataFrame(proba[:2], columns=list(te.levels), index=["tier 1", "missing"])
    fig = exploration.plot_partial_dependence(curves, tiers, "TE 1.0.0", te)
    colors = [line.get_color() for line in fig.get_axes()[0].get_lines()]
    assert len(set(colors)) == 5 and colors == list(exploration.level_colors(5))
    assert exploration.dependence_ranges(curves).columns[-1] == "P(Power 4) range"
    assert exploration.level_colors(4) == exploration.COLORS  # the default ladder's, as before
    assert len(set(exploration.level_colors(9))) == 9


def test_tier_states_follow_the_spec_s_state_tiers():
    spec = schema.spec_of("qb")
    states = exploration.tier_states(spec)
    assert list(states) == [f"tier {t}" for t in range(1, spec.n_state_tiers + 1)] + ["missing"]
    assert all(spec.state_tier(s) == int(k.split()[1]) for k, s in states.items() if s)


def test_junior_inputs_come_from_the_spec():
    from pathlib import Path

    from recruit_reveal.catalog import load_catalog

    lb = load_catalog(Path(__file__).with_name("fixtures") / "catalog_five_levels.toml"
                      ).position("lb")
    assert exploration.junior_inputs(lb) == []
    assert exploration.junior_inputs(schema.spec_of("qb")) == ["junior_yds", "junior_ypg",
                                                               "junior_tds"]


def test_the_calibration_table_of_a_five_level_ladder():
    te, _, oos = _five_level_oos()
    table = exploration.calibration_table(oos)
    assert table.loc[list(te.levels), "rows"].sum() == 300
