"""The catalog reader: the default catalog, extends, and every mistake named on one line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from recruit_reveal.catalog import default_catalog, load_catalog
from recruit_reveal.errors import CatalogError, UnknownPositionError

FIXTURE = Path(__file__).parent / "fixtures" / "catalog_five_levels.toml"

GOOD_TE = """
    [ladder]
    levels = ["FCS", "G5", "Power 5"]
    [ladder.spellings]
    "G5" = ["group of 5", "fbs"]
    [inputs.stars]
    kind = "int"
    unit = "stars"
    low = 1
    high = 5
    description = "recruiting-service star rating"
    [positions.te]
    label = "Tight end"
    spellings = ["te", "tight end"]
    inputs = ["height_inches", "weight_lbs", "state", "grad_year", "stars"]
    required = ["height_inches", "weight_lbs"]
"""


def _write(tmp_path: Path, text: str, name: str = "team.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_the_issue_example_reads_with_default_inputs_named_not_defined(tmp_path):
    catalog = load_catalog(_write(tmp_path, GOOD_TE))
    te = catalog.position("te")
    assert catalog.keys == ("te",)
    assert te.levels == ("FCS", "G5", "Power 5")
    assert te.feature_names == ["height_inches", "weight_lbs", "state", "grad_year", "stars"]
    assert te.required == ["height_inches", "weight_lbs"]
    assert te.column("height_inches").low == 60  # the default catalog's definition
    assert te.column("stars").high == 5
    assert catalog.ladder.normalize(" Group  of 5 ") == "G5"
    assert catalog.ladder.normalize("power 5") == "Power 5"
    assert catalog.ladder.normalize("D2") is None


def test_extends_default_brings_its_positions_and_a_new_ladder_replaces_its_tiers():
    catalog = load_catalog(FIXTURE)
    assert catalog.keys == ("qb", "rb", "wr", "te", "lb")
    qb = catalog.position("qb")
    assert qb.levels == ("D3", "D2", "FCS", "G5", "Power 4")
    # The default's tiers name "Power 5", which this ladder lacks: kept where they still fit.
    assert list(qb.tiers) == ["FCS", "D2"]
    assert catalog.position("lb").production is None
    assert "stars" in catalog.position("te").feature_names


def test_default_catalog_is_todays_football():
    catalog = default_catalog()
    assert catalog.keys == ("qb", "rb", "wr")
    assert catalog.ladder.levels == ("D3", "D2", "FCS", "Power 5")
    assert catalog.ladder.probability_columns() == ("p_d3", "p_d2", "p_fcs", "p_p5")
    assert catalog.position("rb").column("senior_ypg").unit == "rushing yards/game"
    assert catalog.position("qb").column("senior_ypg").unit == "passing yards/game"
    assert catalog.position_label("Tight End") == "te"  # a position without a model
    assert catalog.ladder.normalize("G5") == "Power 5"


def test_unknown_position_names_the_known_ones():
    with pytest.raises(UnknownPositionError, match="qb, rb, wr"):
        default_catalog().position("te")


def test_a_spec_round_trips_through_plain_data_with_the_same_digest():
    from recruit_reveal.catalog import PositionSpec

    for spec in load_catalog(FIXTURE).positions.values():
        again = PositionSpec.from_dict(spec.to_dict())
        assert again == spec and again.digest == spec.digest
        assert again.tiers == spec.tiers and again.levers == spec.levers
    qb = default_catalog().position("qb")
    assert load_catalog(FIXTURE).position("qb").digest != qb.digest  # another ladder


MISTAKES = {
    "unknown kind": ('[inputs.stars]\nkind = "stars"\nunit = "x"\nlow = 1\nhigh = 5\n',
                     "inputs.stars.kind: unknown kind 'stars'"),
    "low >= high": ('[inputs.stars]\nkind = "int"\nunit = "x"\nlow = 5\nhigh = 1\n',
                    "inputs.stars.low: low (5) must be below high (1)"),
    "spelling claimed by two positions": (
        '[positions.lb]\ninputs = ["height_inches"]\nspellings = ["te"]\n',
        "spelling 'te' is also claimed by position"),
    "spelling claimed by two levels": (
        '[ladder.spellings]\n"FCS" = ["g5"]\n', "spelling 'g5' is also claimed by level 'G5'"),
    "required not an input": ('[positions.lb]\ninputs = ["height_inches"]\n'
                              'required = ["weight_lbs"]\n',
                              "positions.lb.required: 'weight_lbs' is not among the position's"),
    "lever not an input": ('[positions.lb]\ninputs = ["height_inches"]\n[positions.lb.levers]\n'
                           'stars = { direction = 1, span = 1.0, decimals = 0 }\n',
                           "positions.lb.levers.stars: a lever must be one of the position's"),
    "ladder of one level": ('', "ladder.levels: a ladder needs at least two levels, got 1"),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_every_mistake_is_one_line_naming_file_place_and_field(tmp_path, mistake):
    extra, expected = MISTAKES[mistake]
    base = textwrap.dedent(GOOD_TE)
    if mistake == "ladder of one level":
        base = base.replace('levels = ["FCS", "G5", "Power 5"]', 'levels = ["FCS"]').replace(
            '"G5" = ["group of 5", "fbs"]', "")
    if "[ladder.spellings]" in extra:
        base = base.replace('[ladder.spellings]\n"G5" = ["group of 5", "fbs"]\n',
                            '[ladder.spellings]\n"G5" = ["group of 5", "fbs", "g5"]\n')
        extra = extra.replace("[ladder.spellings]\n", "")
        base = base.replace('"G5" = ["group of 5", "fbs", "g5"]\n',
                            '"G5" = ["group of 5", "fbs", "g5"]\n' + extra)
        extra = ""
    if mistake == "unknown kind" or mistake == "low >= high":
        base = base.replace(base[base.index("[inputs.stars]"):base.index("[positions.te]")], "")
    path = _write(tmp_path, base + extra)
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    lines = [line for line in caught.value.problems if expected in line]
    assert lines, caught.value.problems
    assert all(line.startswith(f"{path}: ") and "\n" not in line for line in caught.value.problems)


def test_all_problems_are_listed_at_once(tmp_path):
    path = _write(tmp_path, GOOD_TE + '[positions.lb]\ninputs = ["nope"]\nrequired = ["x"]\n'
                  'bogus = 1\n')
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    text = "\n".join(caught.value.problems)
    assert "positions.lb.inputs: 'nope' is not a defined input" in text
    assert "positions.lb.required: 'x' is not among" in text
    assert "positions.lb.bogus: unknown field" in text


def test_unreadable_files_name_the_file(tmp_path):
    with pytest.raises(CatalogError, match="no such catalog file"):
        load_catalog(tmp_path / "missing.toml")
    bad = _write(tmp_path, "[ladder\nlevels = 1", "bad.toml")
    with pytest.raises(CatalogError, match=r"bad.toml: file: not a readable TOML file"):
        load_catalog(bad)


def _code_strings(path: Path) -> list[tuple[int, str]]:
    """String constants of a module's code (docstrings and ``open(..., "rb")`` modes left
    out: they are prose and file modes, not football)."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant):
            skipped.add(id(body[0].value))
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) \
                == "open":
            skipped.update(id(a) for a in node.args)
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in skipped]


def test_no_module_outside_the_catalog_knows_a_position_or_a_level():
    football = {*default_catalog().keys, *(k.upper() for k in default_catalog().keys),
                *default_catalog().ladder.levels}
    package = Path(__file__).resolve().parents[1] / "recruit_reveal"
    found = [f"{path.relative_to(package)}:{line}: {value!r}"
             for path in sorted(package.rglob("*.py")) if "catalog" not in path.parts
             for line, value in _code_strings(path) if value in football]
    assert found == []
