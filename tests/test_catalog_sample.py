"""The catalog's sample sections: read into plain parameters, every mistake one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from recruit_reveal.catalog import default_catalog, load_catalog
from recruit_reveal.catalog.sample import Draw, Latent, Recipe
from recruit_reveal.errors import CatalogError

FIVE = Path(__file__).resolve().parent / "fixtures" / "catalog_five_levels.toml"

#: A catalog of its own (no extends): one position on a three-level ladder.
OWN = """
name = "own"
[ladder]
levels = ["low", "mid", "high"]
[positions.k]
inputs = ["state", "height_inches", "weight_lbs", "forty_yard_dash"]
[sample]
priors = [0.5, 0.3, 0.2]
combine_attendance = [0.3, 0.5, 0.7]
test_recorded = { forty_yard_dash = 0.9 }
state_tiers = [[0.2, 0.3, 0.3, 0.2], [0.25, 0.3, 0.25, 0.2], [0.3, 0.3, 0.2, 0.2]]
correlations = [{ between = ["height", "weight"], r = 0.5 }]
[positions.k.sample]
latent = [
    { input = "height_inches", role = "height", step = 0.5, medians = [70.0, 71.0, 72.0], sd = 1.5 },
    { input = "weight_lbs", role = "weight", step = 1.0, medians = [190.0, 200.0, 210.0], sd = 12 },
    { input = "forty_yard_dash", step = 0.01, medians = [4.9, 4.8, 4.7], sd = [0.1, 0.1, 0.12] },
]
"""


def _load(tmp_path: Path, text: str):
    path = tmp_path / "catalog.toml"
    path.write_text(text, encoding="utf-8")
    return load_catalog(path)


def _problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(CatalogError) as info:
        _load(tmp_path, text)
    lines = info.value.problems
    assert all("\n" not in line and line.startswith(str(tmp_path)) for line in lines)
    return lines


def test_the_default_sample_is_read_into_plain_parameters():
    sample = default_catalog().sample["qb"]
    assert sample.levels == ("D3", "D2", "FCS", "Power 5")
    assert sample.priors == (0.40, 0.25, 0.20, 0.15)
    assert sample.latent[0] == Latent("height_inches", "height", 0.5, (72.0, 73.0, 74.0, 75.0),
                                      (1.6,) * 4)
    # cv: sd = median x cv, to four decimals, as the generator always computed it.
    assert sample.latent[6].sd == (40.5, 48.6, 57.24, 67.5)
    assert [d.name for d in sample.draws] == ["grad_year", "games", "junior_games"]
    assert sample.draws[0] == Draw("grad_year", tuple(float(y) for y in range(2019, 2027)))
    assert sample.recipes[0] == Recipe("total", "senior_yds",
                                       {"rate": "senior_ypg", "games": "games"})
    assert [name for name, _ in sample.missing_at_random][:3] == ["grad_year", "state", "games"]
    assert sample.ceiling["exact_accuracy"] == 0.6423
    assert set(sample.test_recorded) == set(default_catalog().position("qb").combine)


def test_a_catalog_of_its_own_with_a_three_level_ladder(tmp_path):
    from recruit_reveal.data import posterior, synthetic

    catalog = _load(tmp_path, OWN)
    sample = catalog.sample["k"]
    assert sample.latent[2].role == "forty_yard_dash"  # the role defaults to the input
    assert sample.latent[2].sd == (0.1, 0.1, 0.12)
    assert sample.junior_missing == () and sample.recipes == ()
    frame = synthetic.generate("k", 500, 1, catalog)
    assert set(frame["division"]) == {"low", "mid", "high"}
    proba = posterior.true_proba(frame, "k", catalog)
    assert proba.shape == (500, 3)


def test_an_inherited_position_off_its_ladder_has_no_sample(tmp_path):
    # Extending the default onto five levels without re-tuning QB: QB has no sample, no error.
    text = FIVE.read_text(encoding="utf-8")
    cut = text.index("[sample.positions.qb]")
    catalog = _load(tmp_path, text[:cut])
    assert "qb" not in catalog.sample and {"te", "lb"} <= set(catalog.sample)


@pytest.mark.parametrize("change,where,says", [
    (("priors = [0.5, 0.3, 0.2]", "priors = [0.5, 0.5]"),
     "sample.priors", "one per ladder level (3), got 2"),
    (("priors = [0.5, 0.3, 0.2]", "priors = [0.5, 0.3, 0.3]"),
     "sample.priors", "must sum to 1"),
    (("combine_attendance = [0.3, 0.5, 0.7]", "combine_attendance = [0.3, 1.5, 0.7]"),
     "combine_attendance", "between 0 and 1"),
    (("test_recorded = { forty_yard_dash = 0.9 }", "test_recorded = {}"),
     "test_recorded", "forty_yard_dash needs the probability"),
    (("medians = [70.0, 71.0, 72.0]", "medians = [70.0, 71.0, 90.0]"),
     "latent[0].medians", "inside the range of height_inches"),
    (("sd = 1.5 }", "sd = 1.5, cv = 0.1 }"), "latent[0]", "either sd or cv"),
    (("step = 0.5,", "step = 0,"), "latent[0].step", "must be positive"),
    (('input = "height_inches", role', 'input = "arm_length", role'),
     "latent[0].input", "'arm_length' is not one of the position's inputs"),
    (("r = 0.5 }", "r = 0.5 }, { between = [\"height\", \"weight\"], r = -0.99 }"),
     "correlations", "not safely positive definite"),
    (("[positions.k.sample]", "[positions.k.sample]\nrecipes = [{ kind = \"magic\", "
      "input = \"state\" }]"), "recipes[0].kind", "unknown recipe 'magic'"),
    (("[positions.k.sample]", "[positions.k.sample]\nrecipes = [{ kind = \"total\", "
      "input = \"weight_lbs\", rate = \"senior_ypg\", games = \"games\" }]"),
     "recipes[0]", "before it is drawn"),
    (("    { input = \"weight_lbs\"", "    # { input = \"weight_lbs\""),
     "positions.k.sample", "no way to draw weight_lbs"),
    (("state_tiers = [[0.2, 0.3, 0.3, 0.2], ", "state_tiers = ["),
     "state_tiers", "one list of tier probabilities per ladder level (3)"),
    (("correlations = [", "missing_at_random = { forty_yard_dash = 0.1 }\ncorrelations = ["),
     "missing_at_random.forty_yard_dash", "goes missing by level only"),
    (("[positions.k.sample]", "[positions.k.sample]\nrecipes = [{ kind = \"scaled\", "
      "input = \"state\", of = \"weight_lbs\", mean = \"big\", sd = 1 }]"),
     "recipes[0].mean", "expected a number, got 'big'"),
    (("[positions.k.sample]", "[sample.positions.x]\npriors = [1.0, 0.0, 0.0]\n"
      "[positions.k.sample]"), "sample.positions.x", "not a position of this catalog"),
])
def test_each_mistake_is_one_line_naming_its_place(tmp_path, change, where, says):
    old, new = change
    assert old in OWN
    lines = _problems(tmp_path, OWN.replace(old, new, 1))
    # Shared keys are named at the position that reads them (positions.k.sample.priors).
    assert any(f"{where}:" in line and says in line for line in lines), lines
    # Only the mistake is named (a coordinate naming no input also leaves that input undrawn).
    assert len(lines) == (2 if "arm_length" in new else 1), lines


def test_unknown_keys_are_named(tmp_path):
    lines = _problems(tmp_path, OWN.replace("[positions.k.sample]",
                                            "[positions.k.sample]\nlatnet = []"))
    assert any("positions.k.sample.latnet: unknown field" in line for line in lines), lines


def test_a_two_level_position_without_latent_coordinates(tmp_path):
    # State and stars only: the posterior is prior x tier x stars, checked by hand.
    from recruit_reveal.data import posterior, synthetic

    catalog = _load(tmp_path, """
name = "minimal"
[ladder]
levels = ["low", "high"]
[inputs.stars]
kind = "int"
unit = "stars"
low = 1
high = 5
[positions.x]
inputs = ["state", "stars"]
[sample]
priors = [0.7, 0.3]
state_tiers = [[0.2, 0.3, 0.3, 0.2], [0.4, 0.3, 0.2, 0.1]]
[positions.x.sample]
levelled = [{ input = "stars", values = [1, 2, 3, 4, 5], p = [
    [0.4, 0.3, 0.2, 0.05, 0.05], [0.05, 0.1, 0.25, 0.3, 0.3]] }]
""")
    frame = synthetic.generate("x", 2000, 1, catalog)
    assert list(frame.columns) == ["name", "position", "division", "state", "stars"]
    proba = posterior.true_proba(frame.iloc[:1].assign(state="GA", stars=3.0), "x", catalog)
    low, high = 0.7 * 0.2 * 0.2, 0.3 * 0.4 * 0.25
    assert proba[0] == pytest.approx([low / (low + high), high / (low + high)])
    accuracy = posterior.ceiling_metrics(posterior.true_proba(frame, "x", catalog),
                                         frame["division"], catalog.ladder.levels)
    assert accuracy["exact_accuracy"] > 0.75  # the prior alone scores 0.70


def test_year_priors_give_a_level_mix_per_class_year(tmp_path):
    own = OWN.replace('inputs = ["state",', 'inputs = ["grad_year", "state",').replace(
        "[positions.k.sample]", "draws = { grad_year = { values = [2020, 2021] } }\n"
        "year_priors = { 2020 = [0.6, 0.3, 0.1], 2021 = [0.4, 0.3, 0.3] }\n[positions.k.sample]")
    sample = _load(tmp_path, own).sample["k"]
    assert sample.year_priors == ((2020.0, (0.6, 0.3, 0.1)), (2021.0, (0.4, 0.3, 0.3)))
    assert default_catalog().sample["qb"].year_priors == ()


@pytest.mark.parametrize("change,says", [
    (("2021 = [0.4, 0.3, 0.3]", "2021 = [0.4, 0.3, 0.2]"), "year_priors.2021: probabilities"),
    (("2021 = [0.4, 0.3, 0.3]", "2022 = [0.4, 0.3, 0.3]"), "no priors for the drawn class years"),
    (('inputs = ["grad_year", "state",', 'inputs = ["state",'), "needs a class-year input"),
])
def test_year_priors_mistakes_are_named(tmp_path, change, says):
    own = OWN.replace('inputs = ["state",', 'inputs = ["grad_year", "state",').replace(
        "[positions.k.sample]", "draws = { grad_year = { values = [2020, 2021] } }\n"
        "year_priors = { 2020 = [0.6, 0.3, 0.1], 2021 = [0.4, 0.3, 0.3] }\n[positions.k.sample]")
    lines = _problems(tmp_path, own.replace(*change))
    assert any(says in line and "positions.k.sample." in line for line in lines), lines
