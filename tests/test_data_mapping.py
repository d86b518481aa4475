"""Which column is which: built-in header spellings and an explicit column mapping."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from training_csv import ROWS, load_fails, valid_rows, write_csv

from recruit_reveal import schema
from recruit_reveal.catalog import default_catalog
from recruit_reveal.data import load_training_data, read_column_mapping
from recruit_reveal.data.columns import canonical_columns
from recruit_reveal.errors import DataValidationError

CONTRACT = Path(__file__).resolve().parents[1] / "docs" / "data-contract.md"

CATALOG = default_catalog()


def _renamed(seed: int, names: dict[str, str]):
    return valid_rows("qb", seed).rename(columns=names)


@pytest.mark.parametrize("header,canonical", [
    ("Height", "height_inches"), ("Ht", "height_inches"), (" HT. ", "height_inches"),
    ("Weight", "weight_lbs"), ("Wt", "weight_lbs"),
    ("40", "forty_yard_dash"), ("Forty", "forty_yard_dash"), ("40 Time", "forty_yard_dash"),
    ("40-yard dash", "forty_yard_dash"),
    ("State", "state"), ("ST", "state"), ("Home State", "state"),
    ("Level", "division"), ("College Level", "division"),
    ("Vertical", "vertical_jump"), ("Vert", "vertical_jump"), ("Shuttle", "shuttle"),
    ("Broad Jump", "broad_jump"), ("Grad Year", "grad_year"), ("Class", "grad_year"),
    ("Pos", "position"), ("Position", "position"), ("Name", "name"), ("Player", "name"),
    ("Senior YPG", "senior_ypg"), ("senior-ypg", "senior_ypg"),
])
def test_built_in_header_spellings(header, canonical):
    assert schema.resolve_header(header) == canonical


def test_built_in_spellings_are_not_canonical_names_themselves():
    aliases, canonical = schema.header_aliases(), canonical_columns()
    assert not aliases.keys() & canonical
    assert set(aliases.values()) <= canonical
    for spelling in aliases:
        assert schema.header_key(spelling) == spelling


def test_a_file_with_export_headers_loads_and_reports_the_mapping_used(tmp_path):
    frame = _renamed(31, {"height_inches": "Ht", "weight_lbs": "Wt", "forty_yard_dash": "40 Time",
                          "state": "Home State", "division": "Level", "position": "Pos",
                          "name": "Player", "grad_year": "Grad Year"})
    data = load_training_data(write_csv(tmp_path, frame), "qb")
    assert len(data) == ROWS and data.unknown_columns == []
    assert data.frame["forty_yard_dash"].notna().all() and data.frame["state"].notna().all()
    assert data.column_mapping == {
        "Player": "name", "Pos": "position", "Level": "division",  # Grad Year is grad_year
        "Home State": "state", "Ht": "height_inches", "Wt": "weight_lbs",
        "40 Time": "forty_yard_dash"}
    assert data.mapping_file is None


def test_a_mapping_dict_names_columns_nothing_else_would(tmp_path):
    frame = _renamed(32, {"state": "region_a", "senior_ypg": "Pass YPG"})
    data = load_training_data(write_csv(tmp_path, frame), "qb",
                              columns={"region_a": "state", "pass ypg ": "senior_ypg"})
    assert data.frame["state"].notna().all() and data.frame["senior_ypg"].notna().all()
    assert data.column_mapping == {"region_a": "state", "Pass YPG": "senior_ypg"}


def test_a_mapping_file_and_its_entries_unused_in_this_file(tmp_path, caplog):
    frame = _renamed(33, {"state": "region_a"})
    mapping = tmp_path / "columns.json"
    mapping.write_text(json.dumps({"region_a": "state", "Hometown": "name"}), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="recruit_reveal.data.loading"):
        data = load_training_data(write_csv(tmp_path, frame), "qb", columns=mapping)
    assert data.mapping_file == str(mapping)
    assert data.column_mapping == {"region_a": "state"}
    unused = [w for w in data.warnings if "'Hometown'" in w.message]
    assert len(unused) == 1 and str(mapping) in unused[0].message


def test_the_explicit_mapping_wins_over_the_built_in_spellings(tmp_path):
    frame = valid_rows("qb", 34)
    frame["Height"] = 0  # an alias of height_inches, but the mapping reads another column
    frame = frame.rename(columns={"height_inches": "Measured Height"})
    path = write_csv(tmp_path, frame)
    error = load_fails(path)  # without the mapping, 'Height' is the height: all zeros
    assert {(g.column, g.rule, g.count) for g in error.groups} == {
        ("Height", "outside the plausible range", ROWS)}

    data = load_training_data(path, "qb", columns={"Measured Height": "height_inches"})
    assert data.frame["height_inches"].between(60, 84).all()
    assert data.column_mapping == {"Measured Height": "height_inches"}
    displaced = [w for w in data.warnings if w.column == "Height"]
    assert len(displaced) == 1 and "not used" in displaced[0].message

    # A mapping may also read a header somewhere else than its built-in spelling says.
    frame = valid_rows("qb", 35).rename(columns={"state": "Level", "division": "Offer Level"})
    data = load_training_data(write_csv(tmp_path, frame, "b.csv"), "qb",
                              columns={"Level": "state", "Offer Level": "division"})
    assert data.frame["state"].notna().all()


def test_a_mapping_target_that_is_not_canonical_names_it_and_the_file(tmp_path):
    mapping = tmp_path / "cols.json"
    mapping.write_text(json.dumps({"fourty": "forty", "ht": "height"}), encoding="utf-8")
    with pytest.raises(DataValidationError) as info:
        load_training_data(write_csv(tmp_path, valid_rows("qb", 36)), "qb", columns=mapping)
    message = str(info.value)
    assert message.count(str(mapping)) == 1
    assert "'forty', which is not a canonical column (did you mean 'forty_yard_dash'?)" in message
    assert "'height', which is not a canonical column (did you mean 'height_inches'?)" in message
    assert {p.file for p in info.value.problems} == {str(mapping)}


@pytest.mark.parametrize("content,says", [
    ("not json", "not valid JSON"), ("[1, 2]", "JSON list, not an object"),
    ('{"a": 3}', "not a column name"), ('{"": "state"}', "empty"),
    ('{"Ht": "height_inches", "HT": "weight_lbs"}', "same header"),
])
def test_a_broken_mapping_file(tmp_path, content, says):
    mapping = tmp_path / "cols.json"
    mapping.write_text(content, encoding="utf-8")
    with pytest.raises(DataValidationError, match=says) as info:
        read_column_mapping(mapping)
    assert str(mapping) in str(info.value)


def test_a_missing_mapping_file(tmp_path):
    with pytest.raises(DataValidationError, match="column mapping file not found"):
        read_column_mapping(tmp_path / "nope.json")
    assert read_column_mapping(None).targets == {}
    assert read_column_mapping({"Ht ": "Height_Inches"}).targets == {"ht": "height_inches"}


@pytest.mark.parametrize("spelling,label", [
    ("QB", "qb"), ("Quarterback", "qb"), ("Pro-Style QB", "qb"), ("DUAL", "qb"),
    ("Running Back", "rb"), ("APB", "rb"), ("Wide Receiver", "wr"), (" wr ", "wr"),
    ("ATH", "ath"), ("OL", "ol"), ("Tight End", "te"), ("LB", "lb"), ("CB", "cb"),
])
def test_position_spellings(spelling, label):
    assert schema.position_label(spelling) == label


def test_a_requested_position_stays_strict():
    # Positions name files and routes: only the exact labels, case and spaces aside.
    assert schema.normalize_position(" QB ") == "qb"
    for other in ("Quarterback", "../qb", "q-b", "te"):
        assert schema.normalize_position(other) is None


def test_an_unknown_position_spelling_is_skipped_counted_and_warned(tmp_path):
    frame = valid_rows("qb", 37)
    frame = frame.astype(object)
    frame.loc[len(frame)] = frame.loc[0].to_dict() | {"position": "Long Snapper/Holder"}
    frame.loc[len(frame)] = frame.loc[0].to_dict() | {"position": "ls"}
    data = load_training_data(write_csv(tmp_path, frame), "qb")
    assert data.row_counts.other_positions == {"long snapper/holder": 1, "ls": 1}
    warned = [w for w in data.warnings if "not one we know" in w.message]
    assert len(warned) == 1 and warned[0].row == ROWS + 2


def _doc_table(title: str) -> dict[str, list[str]]:
    """The two-column table that follows ``title`` in docs/data-contract.md."""
    lines = CONTRACT.read_text(encoding="utf-8").split(title, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table: dict[str, list[str]] = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        key, values = (cell.strip() for cell in line.strip().strip("|").split("|"))
        table[key] = values.split(", ")
    return table


def test_the_data_contract_lists_every_built_in_spelling():
    assert _doc_table("## Column names") == {
        c: list(s) for c, s in schema.header_spellings(CATALOG).items()}
    positions = {**{k: spec.spellings for k, spec in CATALOG.positions.items()},
                 **CATALOG.other_positions}
    assert _doc_table("## Positions") == {c: list(s) for c, s in positions.items()}
