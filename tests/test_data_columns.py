"""data.columns: one rule for which input a column name is, in files and in requests."""

from __future__ import annotations

from pathlib import Path

import pytest

from recruit_reveal import schema
from recruit_reveal.catalog import default_catalog
from recruit_reveal.data.columns import column_name, match, same_value

#: Every name an intake form sends, by position: what each reads as (None: ignored).
FORM_NAMES = {
    "Height_Inches": {"qb": "height_inches", "rb": "height_inches", "wr": "height_inches"},
    "Weight_Lbs": {"qb": "weight_lbs", "rb": "weight_lbs", "wr": "weight_lbs"},
    "Forty_Yard_Dash": {"qb": "forty_yard_dash", "rb": "forty_yard_dash",
                        "wr": "forty_yard_dash"},
    "Vertical_Jump": {"qb": "vertical_jump", "rb": "vertical_jump", "wr": "vertical_jump"},
    "Grad_year": {"qb": "grad_year", "rb": "grad_year", "wr": "grad_year"},
    "State": {"qb": "state", "rb": "state", "wr": "state"},
    "Senior_YPG": {"qb": "senior_ypg", "rb": "senior_ypg", "wr": "senior_rec_ypg"},
    "Senior_TD_Passes": {"qb": "senior_tds", "rb": None, "wr": None},
    "Senior_rec_yds": {"qb": None, "rb": "senior_rec_yds", "wr": "senior_rec_yds"},
    "Senior_rec_td": {"qb": None, "rb": None, "wr": "senior_tds"},
    "Senior_Avg": {"qb": None, "rb": "senior_ypc", "wr": "senior_avg"},
}
CASES = [(raw, pos, want) for raw, by_pos in FORM_NAMES.items() for pos, want in by_pos.items()]

CATALOG = default_catalog()


@pytest.mark.parametrize("raw,position,canonical", CASES)
def test_every_form_name_per_position(raw, position, canonical):
    matched = match([raw], position)
    if canonical is None:
        assert matched.ignored == (raw,)
    else:
        assert matched.names == (canonical,) and matched.ignored == ()


@pytest.mark.parametrize("raw", ["Height_Inches", "HEIGHT INCHES", " height-inches ",
                                 "Height Inches.", "height"])
def test_case_spaces_and_punctuation_aside(raw):
    assert column_name(raw) == column_name(raw, "qb") == "height_inches"


def test_position_spellings_apply_only_once_the_position_is_known():
    assert column_name("Senior_Avg") == "senior_avg"
    assert column_name("Senior_TD_Passes") == "senior_td_passes"
    assert column_name("Senior_Avg", "rb") == "senior_ypc"


def test_another_positions_column_yields_to_the_positions_own():
    # A file holding every position's columns: a WR's senior_ypg is then the QB/RB column.
    both = match(["senior_ypg", "Senior_Rec_YPG"], "wr")
    assert both.names == ("senior_ypg", "senior_rec_ypg") and both.ignored == ("senior_ypg",)
    rb = match(["senior_avg", "senior_ypc"], "rb")
    assert rb.names == ("senior_avg", "senior_ypc") and rb.ignored == ("senior_avg",)
    # A spelling that is no column of any position does not yield: the duplicate rule applies.
    assert match(["Senior_TD_Passes", "senior_tds"], "qb").names == ("senior_tds", "senior_tds")


def test_what_is_not_an_input_is_ignored_and_listed_as_given():
    raw = ["Position", "Height_Inches", "Player Name", "name", "College", "High_School",
           "Profile_URL", "Notes", "Division", "favourite_colour"]
    matched = match(raw, "qb")
    assert matched.ignored == tuple(raw[2:])
    assert matched.names[:2] == ("position", "height_inches")
    assert match(["division", "Weight_Lbs"], None).ignored == ("division",)


def test_the_explicit_mapping_wins_over_every_spelling():
    mapped = match(["Senior_Avg", "Height"], "rb", {"senior_avg": "senior_rec_yds"})
    assert mapped.names == ("senior_rec_yds", "height_inches")
    # Without it, the same names read through the built-in and per-position spellings.
    assert match(["Senior_Avg", "Height"], "rb").names == ("senior_ypc", "height_inches")


@pytest.mark.parametrize("a,b,same", [
    (72, 72.0, True), (72, "72", True), ("3,200", 3200, True), ("TX", " tx ", True),
    (None, "", True), (72, 73, False), (72, None, False), ("TX", "OH", False),
    (True, 1, False), ("6-2", "6-2", True), ("6-2", 74, False),
])
def test_same_value(a, b, same):
    assert same_value(a, b) is same
    assert same_value(b, a) is same


def test_the_per_position_spellings_are_consistent():
    shared = schema.header_aliases(CATALOG)
    for position in CATALOG.keys:
        aliases = schema.position_header_aliases(position)
        own = set(schema.feature_names(position))
        assert set(aliases.values()) <= own, position
        assert not aliases.keys() & own, position  # never renames the position's own column
        assert not aliases.keys() & shared.keys()
        for spelling in aliases:
            assert schema.header_key(spelling) == spelling


def test_the_data_contract_lists_every_per_position_spelling():
    contract = Path(__file__).resolve().parents[1] / "docs" / "data-contract.md"
    lines = contract.read_text(encoding="utf-8").split("### Per-position spellings", 1)[1]
    rows = [line for line in lines.splitlines() if line.startswith("| ")][2:]
    table: dict[str, dict[str, tuple[str, ...]]] = {}
    for line in rows:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] not in CATALOG.keys:
            break
        table.setdefault(cells[0], {})[cells[1]] = tuple(cells[2].split(", "))
    assert table == {key: dict(spec.header_spellings) for key, spec in CATALOG.positions.items()}
