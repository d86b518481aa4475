"""Validating the cells: conversions, plausible ranges, targets, states, positions."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from training_csv import ROWS, load_fails, mixed_rows, one_problem, sheet_row, valid_rows, write_csv

from recruit_reveal.data.loading import load_training_data


def test_optional_columns_absent_or_blank_are_nan(tmp_path):
    frame = valid_rows("qb", 4).drop(columns=["vertical_jump", "state"])
    frame["forty_yard_dash"] = frame["forty_yard_dash"].astype(object)
    frame.loc[0, "forty_yard_dash"] = ""
    frame.loc[1, "forty_yard_dash"] = "  "
    frame.loc[2, "forty_yard_dash"] = "N/A"
    frame.loc[3, "forty_yard_dash"] = "NaN"
    data = load_training_data(write_csv(tmp_path, frame), "qb")
    assert data.frame["vertical_jump"].isna().all()
    assert data.frame["state"].isna().all()
    assert data.frame["forty_yard_dash"].isna().tolist()[:5] == [True] * 4 + [False]


def test_heights_in_feet_and_inches_are_parsed(tmp_path):
    frame = valid_rows("qb", 5)
    frame["height_inches"] = frame["height_inches"].astype(object)
    formats = ["6-2", "6'2\"", "6' 2", "6 ft 2 in", " 74 ", "5'11"]
    for i, text in enumerate(formats):
        frame.loc[i, "height_inches"] = text
    data = load_training_data(write_csv(tmp_path, frame), "qb")
    assert data.frame["height_inches"].tolist()[:6] == [74.0] * 5 + [71.0]


def test_thousands_separators_are_read(tmp_path):
    frame = valid_rows("qb", 8)
    frame["senior_yds"] = frame["senior_yds"].astype(object)
    frame.loc[0, "senior_yds"] = "3,200"
    data = load_training_data(write_csv(tmp_path, frame), "qb")
    assert data.frame.loc[0, "senior_yds"] == 3200.0


def test_duplicated_rows_are_a_warning_naming_the_rows(tmp_path, caplog):
    frame = valid_rows("qb", 10)
    frame = pd.concat([frame, frame.iloc[[2, 2, 5]]], ignore_index=True)
    with caplog.at_level(logging.WARNING, logger="recruit_reveal.data.loading"):
        data = load_training_data(write_csv(tmp_path, frame), "qb")
    dups = [w for w in data.warnings if "duplicates row" in w.message]
    assert [(w.row, w.message.split()[2]) for w in dups] == [
        (ROWS + 2, "4"), (ROWS + 3, "4"), (ROWS + 4, "7")]
    assert len(data) == ROWS + 3
    assert f"row {ROWS + 2}" in caplog.text


@pytest.mark.parametrize("position,dropped", [
    ("qb", "height_inches"), ("qb", "weight_lbs"), ("qb", "senior_ypg"), ("qb", "division"),
    ("rb", "senior_ypg"), ("wr", "senior_rec_ypg"),
])
def test_required_column_missing(tmp_path, position, dropped):
    # A rate may be derived from the season total and games (data/production.py).
    total = {"senior_ypg": "senior_yds", "senior_rec_ypg": "senior_rec_yds"}.get(dropped)
    frame = mixed_rows().drop(columns=[dropped] if total is None else [dropped, total])
    if position == "wr":  # a WR reads a file's senior_ypg as its receiving yards per game
        frame = frame.drop(columns="senior_ypg")
    if position == "rb":  # and an RB the QB column senior_rush_yds as its season total
        frame = frame.drop(columns="senior_rush_yds")
    error = load_fails(write_csv(tmp_path, frame), position)
    problem = one_problem(error, column=dropped, contains="required column is missing")
    assert problem.row is None and dropped in problem.expected


def test_position_column_required_when_file_holds_several_positions(tmp_path):
    frame = mixed_rows().drop(columns="position")
    error = load_fails(write_csv(tmp_path, frame), "qb")
    problem = one_problem(error, column="position", contains="several positions")
    assert "senior_rec_ypg" in problem.message and "senior_comp_pct" in problem.message


def test_single_position_file_of_another_position(tmp_path):
    frame = valid_rows("wr", 16).drop(columns="position")
    error = load_fails(write_csv(tmp_path, frame), "rb")
    one_problem(error, column="position", contains="look like wr data")


def test_numeric_column_holding_text(tmp_path):
    frame = mixed_rows()
    qb = frame.index[frame["position"] == "QB"]
    frame.loc[qb[1], "weight_lbs"] = "two hundred"
    frame.loc[qb[2], "height_inches"] = "tall"
    frame.loc[qb[3], "height_inches"] = "6'13"
    path = write_csv(tmp_path, frame)
    error = load_fails(path)
    p = one_problem(error, row=sheet_row(frame, qb[1]), column="weight_lbs", contains="not a number")
    assert "'two hundred'" in p.message and "pounds between 120 and 350" in p.expected
    p = one_problem(error, row=sheet_row(frame, qb[2]), column="height_inches", contains="'tall'")
    assert "6-2" in p.expected
    one_problem(error, row=sheet_row(frame, qb[3]), column="height_inches", contains="6'13")


def test_value_outside_plausible_range(tmp_path):
    frame = mixed_rows()
    qb = frame.index[frame["position"] == "QB"]
    frame.loc[qb[0], "height_inches"] = 188
    frame.loc[qb[1], "height_inches"] = 6.2
    frame.loc[qb[2], "senior_ypg"] = 3200
    frame.loc[qb[3], "forty_yard_dash"] = -1
    error = load_fails(write_csv(tmp_path, frame))
    p = one_problem(error, row=sheet_row(frame, qb[0]), column="height_inches", contains="188")
    assert "centimetres" in p.message and p.expected == "inches between 60 and 84"
    one_problem(error, row=sheet_row(frame, qb[1]), column="height_inches", contains="feet?")
    one_problem(error, row=sheet_row(frame, qb[2]), column="senior_ypg", contains="outside")
    one_problem(error, row=sheet_row(frame, qb[3]), column="forty_yard_dash", contains="-1")


def test_counts_must_be_whole_numbers(tmp_path):
    frame = valid_rows("qb", 17)
    frame.loc[4, "senior_tds"] = 12.5
    error = load_fails(write_csv(tmp_path, frame))
    one_problem(error, row=6, column="senior_tds", contains="not a whole number")


def test_missing_value_in_required_column(tmp_path):
    frame = valid_rows("qb", 18)
    frame.loc[0, "weight_lbs"] = np.nan
    error = load_fails(write_csv(tmp_path, frame))
    one_problem(error, row=2, column="weight_lbs", contains="missing value")


def test_unknown_division_label(tmp_path):
    frame = mixed_rows()
    qb = frame.index[frame["position"] == "QB"]
    frame.loc[qb[5], "division"] = "Juco"
    error = load_fails(write_csv(tmp_path, frame), min_rows_per_division=1)
    p = one_problem(error, row=sheet_row(frame, qb[5]), column="division", contains="'Juco'")
    assert "Power 5" in p.expected


def test_missing_target(tmp_path):
    frame = mixed_rows()
    qb = frame.index[frame["position"] == "QB"]
    frame.loc[qb[7], "division"] = " "
    error = load_fails(write_csv(tmp_path, frame), min_rows_per_division=1)
    one_problem(error, row=sheet_row(frame, qb[7]), column="division", contains="missing target")


def test_unknown_state_code(tmp_path):
    frame = valid_rows("qb", 19)
    frame.loc[2, "state"] = "Texas"
    error = load_fails(write_csv(tmp_path, frame))
    one_problem(error, row=4, column="state", contains="'Texas'")


def test_division_with_too_few_rows(tmp_path):
    frame = valid_rows("qb", 21)
    frame = frame.drop(index=frame.index[frame["division"] == "DII"][2:])
    error = load_fails(write_csv(tmp_path, frame))
    p = one_problem(error, column="division", contains="'D2' has only 2 valid qb row(s)")
    assert p.expected == "at least 5 rows per division"
    assert len(error.problems) == 1
    assert load_training_data(write_csv(tmp_path, frame), "qb", min_rows_per_division=2)


def test_absent_division_is_too_few(tmp_path):
    frame = valid_rows("qb", 22)
    frame = frame[frame["division"] != "P5"]
    error = load_fails(write_csv(tmp_path, frame), min_rows_per_division=1)
    one_problem(error, column="division", contains="'Power 5' has 0 valid qb row(s)")


def test_requested_position_absent(tmp_path):
    frame = mixed_rows()
    frame = frame[frame["position"] != "RB"]
    error = load_fails(write_csv(tmp_path, frame), "rb")
    p = one_problem(error, column="position", contains="no rb rows")
    assert f"qb ({ROWS} rows), wr ({ROWS} rows)" in p.message


def test_other_positions_are_skipped_and_counted_but_blank_positions_are_errors(tmp_path):
    # Formerly an unknown position ('TE') was an error; now any other position is skipped and
    # counted, and only a blank position (a row of no known position) is an error.
    frame = mixed_rows()
    wr = frame.index[frame["position"] == "WR"]
    frame.loc[wr[0], "height_inches"] = "tall"
    frame.loc[wr[1], "division"] = "Juco"
    frame.loc[wr[2], "senior_rec_ypg"] = ""
    path = write_csv(tmp_path, frame)
    assert len(load_training_data(path, "qb")) == ROWS
    load_fails(path, "wr")

    frame.loc[3, "position"] = "TE"
    frame.loc[6, "position"] = "Tight End"
    frame.loc[9, "position"] = "Quarterback"
    data = load_training_data(write_csv(tmp_path, frame, "te.csv"), "qb", min_rows_per_division=1)
    assert len(data) == ROWS - 2  # rows 3 and 6 were QB rows; row 9 is one still
    assert data.row_counts.other_positions == {"rb": ROWS, "wr": ROWS, "te": 2}
    assert data.row_counts.adds_up

    frame.loc[4, "position"] = ""
    error = load_fails(write_csv(tmp_path, frame, "blank.csv"), "qb", min_rows_per_division=1)
    one_problem(error, row=6, column="position", contains="missing position")
    assert not [p for p in error.problems if "TE" in p.message]


def test_what_real_exports_write(tmp_path):
    frame = valid_rows("qb", 30).astype(object)
    frame.loc[0:3, "height_inches"] = ["6\u20192\u201d", "6\u20192", " 74 ", "6'2\"  "]
    frame.loc[0:4, "weight_lbs"] = ["205 lbs", "205lb", "205 LBS.", "205 pounds", "205 "]
    frame.loc[0:6, "forty_yard_dash"] = ["-", "--", "N/A", "NA", "null", "", "4.61s"]
    frame.loc[0:1, "senior_yds"] = ["1,234", " 3,200 "]
    frame.loc[0, "senior_comp_pct"] = "61.5%"
    frame.loc[0, "broad_jump"] = "9'6\""
    frame.loc[0, "vertical_jump"] = '31.5"'
    frame.loc[0:1, "state"] = ["tx ", " oh"]
    data = load_training_data(write_csv(tmp_path, frame), "qb")
    f = data.frame
    assert f["height_inches"].tolist()[:4] == [74.0] * 4
    assert f["weight_lbs"].tolist()[:5] == [205.0] * 5
    assert f["forty_yard_dash"].isna().tolist()[:7] == [True] * 6 + [False]
    assert f.loc[6, "forty_yard_dash"] == 4.61
    assert f["senior_yds"].tolist()[:2] == [1234.0, 3200.0]
    assert f.loc[0, "senior_comp_pct"] == 61.5 and f.loc[0, "broad_jump"] == 114.0
    assert f.loc[0, "vertical_jump"] == 31.5
    assert f["state"].tolist()[:2] == ["TX", "OH"]


@pytest.mark.parametrize("column,text", [
    ("weight_lbs", "205 kg"), ("senior_yds", "1,23"), ("senior_ypg", "250 lbs"),
    ("forty_yard_dash", "4.6 mins"), ("height_inches", "188cm"),
])
def test_units_a_column_does_not_take_are_not_numbers(tmp_path, column, text):
    frame = valid_rows("qb", 31).astype(object)
    frame.loc[2, column] = text
    error = load_fails(write_csv(tmp_path, frame))
    problem = one_problem(error, row=4, column=column, contains=repr(text))
    assert problem.rule in ("not a number", "not a height") and problem.value == text
