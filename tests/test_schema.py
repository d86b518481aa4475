"""The data contract: positions, division labels, columns, heights."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from recruit_reveal import schema
from recruit_reveal.catalog import default_catalog
from recruit_reveal.errors import DataValidationError, RecruitRevealError

SPELLINGS = {
    "Power 5": ["Power 5", "Power5", "P5", "Power 4", "P4", "FBS", "G5"],
    "FCS": ["FCS", "FCS (I-AA)"],
    "D2": ["D2", "DII", "Division II"],
    "D3": ["D3", "DIII", "Division III", "NAIA", "D3/NAIA"],
}


CATALOG = default_catalog()
POSITIONS = CATALOG.keys
LEVELS = CATALOG.ladder.levels


def _tier(state):
    return default_catalog().position("qb").state_tier(state)


def _in_range(col: schema.Column, value: float) -> bool:
    """Whether ``value`` lies within the column's plausible range (inclusive)."""
    return col.low <= value <= col.high


def test_divisions_are_ordered_low_to_high():
    assert LEVELS == ("D3", "D2", "FCS", "Power 5")
    assert [default_catalog().ladder.index(d) for d in LEVELS] == [0, 1, 2, 3]


@pytest.mark.parametrize("canonical,spellings", SPELLINGS.items())
def test_every_spelling_normalizes(canonical, spellings):
    for spelling in spellings:
        for variant in (spelling, spelling.lower(), spelling.upper(), f"  {spelling} "):
            assert schema.normalize_division(variant) == canonical, variant


def test_inner_whitespace_in_division_is_collapsed():
    assert schema.normalize_division("Division   II") == "D2"
    assert schema.normalize_division("power\t5") == "Power 5"


@pytest.mark.parametrize("label", ["", "Juco", "D1", "Power 6", "FCS I-AA x", None, math.nan])
def test_unknown_or_missing_division_is_none(label):
    assert schema.normalize_division(label) is None


def test_position_normalization_and_check():
    assert schema.normalize_position(" QB ") == "qb"
    assert schema.normalize_position("te") is None
    assert schema.normalize_position(None) is None
    assert schema.check_position("WR") == "wr"
    with pytest.raises(DataValidationError, match="one of qb, rb, wr") as info:
        schema.check_position("kicker")
    assert isinstance(info.value, RecruitRevealError)


def _common_columns() -> list[str]:
    """The leading inputs every position of the default catalog shares, in model order."""
    names = [CATALOG.position(p).feature_names for p in POSITIONS]
    common = []
    for column in zip(*names, strict=False):
        if len(set(column)) > 1:
            break
        common.append(column[0])
    return common


@pytest.mark.parametrize("position", POSITIONS)
def test_columns_per_position(position):
    names = schema.feature_names(position)
    common = _common_columns()
    assert names[: len(common)] == common
    assert common[:4] == ["grad_year", "state", "height_inches", "weight_lbs"]
    assert len(common) == 9  # the measurables, games and the four combine results
    assert len(names) == len(set(names))
    production = CATALOG.position(position).production
    assert production in names
    assert schema.required_columns(position) == ["height_inches", "weight_lbs", production]
    assert "state" not in [c.name for c in schema.numeric_columns(position)]
    assert schema.TARGET_COLUMN not in names and schema.POSITION_COLUMN not in names
    assert not schema.IGNORED_COLUMNS & set(names)


@pytest.mark.parametrize("position", POSITIONS)
def test_ranges_are_well_formed(position):
    for col in schema.numeric_columns(position):
        assert col.kind in ("float", "int")
        assert col.low is not None and col.high is not None and col.low < col.high, col.name
        assert col.unit
        assert _in_range(col, col.low) and _in_range(col, col.high)
        assert not _in_range(col, col.high + 1) and not _in_range(col, col.low - 1)


def test_ranges_catch_unit_mistakes():
    height = schema.column("qb", "height_inches")
    assert _in_range(height, 74) and not _in_range(height, 188)  # centimetres
    weight = schema.column("qb", "weight_lbs")
    assert _in_range(weight, 200) and not _in_range(weight, 90)  # kilograms
    ypg = schema.column("wr", "senior_rec_ypg")
    assert not _in_range(ypg, 1200)  # a season total typed as per game


@pytest.mark.parametrize("athlete", [{"position": k, **CATALOG.position(k).example}
                                     for k in POSITIONS], ids=lambda a: a["position"])
def test_sample_athletes_are_plausible(athlete):
    position = athlete["position"]
    for name, value in athlete.items():
        if name not in {"position", "name"}:
            assert _in_range(schema.column(position, name), value), name
    assert set(schema.required_columns(position)) <= athlete.keys()


def test_input_schema_is_json_ready():
    spec = schema.input_schema("RB")
    again = json.loads(json.dumps(spec))
    assert again["position"] == "rb"
    assert again["target"]["classes"] == list(LEVELS)
    assert [c["name"] for c in again["columns"]] == schema.feature_names("rb")
    assert again["required"] == schema.required_columns("rb")


@pytest.mark.parametrize("raw,canonical", [
    ("height_inches", "height_inches"),
    (" Height_Inches ", "height_inches"),
    ("HEIGHT", "height_inches"),
    ("Weight", "weight_lbs"),
    ("Senior YPG", "senior_ypg"),
    ("Division", "division"),
])
def test_canonical_column_name(raw, canonical):
    assert schema.resolve_header(raw) == canonical


@pytest.mark.parametrize("text,inches", [
    ("74", 74.0), ("74.5", 74.5), (74, 74.0), ("6-2", 74.0), ("6'2\"", 74.0), ("6' 2", 74.0),
    ("6 ft 2 in", 74.0), ("5'11", 71.0), ("6'", 72.0), ("6-0", 72.0), (" 6-2 ", 74.0),
])
def test_parse_height_accepts_common_formats(text, inches):
    assert schema.parse_height(text) == inches


@pytest.mark.parametrize("text", ["tall", "6'13", "6-2-1", "six two", "", "74cm", "1.88 m"])
def test_parse_height_rejects_other_text(text):
    assert schema.parse_height(text) is None


def test_state_codes_and_tiers():
    assert len(schema.US_STATES) == 51 and "DC" in schema.US_STATES
    assert _tier("tx") == 1
    assert _tier("OH") == 2
    assert _tier("WY") == 4
    assert _tier("XX") is None and _tier(None) is None
    assert set().union(*CATALOG.position("qb").state_tiers) <= schema.US_STATES


# --------------------------------------------------------------------------- the data card

CONTRACT = Path(__file__).resolve().parents[1] / "docs" / "data-contract.md"


def _doc_tables() -> list[list[list[str]]]:
    """Every markdown table of docs/data-contract.md, as rows of stripped cells (header dropped)."""
    tables, current = [], []
    for line in CONTRACT.read_text(encoding="utf-8").splitlines():
        if line.startswith("|"):
            current.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif current:
            tables.append(current[2:])
            current = []
    return tables + ([current[2:]] if current else [])


def _range_cell(col: schema.Column) -> str:
    return f"{col.low:g} to {col.high:g}"


def test_contract_column_tables_match_schema():
    tables = _doc_tables()
    common = _common_columns()
    spec = CATALOG.position(POSITIONS[0])
    expected = [[spec.column(n) for n in common]] + [
        [c for c in CATALOG.position(p).inputs if c.name not in common] for p in POSITIONS]
    for table, columns in zip(tables[: len(expected)], expected, strict=True):
        assert [row[0] for row in table] == [c.name for c in columns]
        for row, col in zip(table, columns, strict=True):
            assert (row[-1] == "required") == col.required, col.name
            if col.kind != "state":
                assert row[-2] == _range_cell(col), col.name
                assert ("(whole)" in row[-3]) == (col.kind == "int"), col.name


def test_contract_division_spellings_match_schema():
    table = _doc_tables()[1 + len(POSITIONS)]
    listed = set()
    for canonical, spellings in table:
        for spelling in spellings.split(", "):
            assert schema.normalize_division(spelling) == canonical, spelling
            listed.add(spelling.lower())
    assert listed == set(CATALOG.ladder.spellings)
