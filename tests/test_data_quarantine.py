"""invalid_rows="quarantine": bad rows set aside with their reasons, and every row counted."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from training_csv import ROWS, load_fails, mixed_rows, one_problem, valid_rows, write_csv

from recruit_reveal.data import load_training_data, rejected_file_name, write_rejected_rows
from recruit_reveal.errors import DataValidationError


def _with_bad_cells(seed: int) -> pd.DataFrame:
    frame = valid_rows("qb", seed).astype(object)
    frame.loc[0, "height_inches"] = "0"
    frame.loc[3, "weight_lbs"] = "heavy"
    frame.loc[5, "weight_lbs"] = "90"
    frame.loc[5, "forty_yard_dash"] = " fast "
    return frame


def test_rows_with_invalid_values_are_set_aside_with_their_problems(tmp_path):
    frame = _with_bad_cells(41)
    path = write_csv(tmp_path, frame)
    data = load_training_data(path, "qb", invalid_rows="quarantine", min_rows_per_division=3)
    assert len(data) == ROWS - 3 and data.invalid_rows == "quarantine"
    assert 2 not in data.source_rows and 7 not in data.source_rows
    rejected = data.rejected
    assert rejected["row"].tolist() == [2, 5, 7]
    assert list(rejected.columns) == ["row", *frame.columns, "problems"]
    assert rejected.loc[2, "forty_yard_dash"] == " fast "  # exactly as written
    assert rejected["problems"].tolist() == [
        "height_inches: value 0 (0: not measured?) is outside the plausible range (below 60)",
        "weight_lbs: not a number: 'heavy'",
        "weight_lbs: value 90 is outside the plausible range (below 120); "
        "forty_yard_dash: not a number: 'fast'",
    ]
    counts = data.row_counts
    assert (counts.data_rows, counts.used, counts.rejected, counts.skipped) == (ROWS, ROWS - 3,
                                                                               3, 0)
    assert [(g.column, g.rule, g.count, g.rows) for g in data.problem_groups] == [
        ("height_inches", "outside the plausible range", 1, (2,)),
        ("weight_lbs", "not a number", 1, (5,)),
        ("weight_lbs", "outside the plausible range", 1, (7,)),
        ("forty_yard_dash", "not a number", 1, (7,)),
    ]
    assert len(data.rejected_problems) == 4

    summary = json.loads(json.dumps(data.validation_summary()))
    assert summary["rows"] == {"data_rows": ROWS, "used": ROWS - 3, "rejected": 3, "skipped": 0,
                               "blank": 0, "other_positions": {}}
    assert summary["invalid_rows"] == "quarantine"
    assert {"column": "weight_lbs", "rule": "not a number", "count": 1} in summary[
        "rejected_by_rule"]
    report = dict(data.report_rows())
    assert report["rows in file"] == f"{ROWS} data rows = {ROWS - 3} used + 3 rejected + 0 skipped"
    assert report["rejected: weight_lbs, not a number"] == 1


def test_fail_is_the_default_and_raises_every_problem(tmp_path):
    path = write_csv(tmp_path, _with_bad_cells(42))
    error = load_fails(path, min_rows_per_division=3)
    assert [p.row for p in error.problems] == [2, 5, 7, 7]
    assert {p.rule for p in error.problems} == {"outside the plausible range", "not a number"}
    clean = load_training_data(write_csv(tmp_path, valid_rows("qb", 42), "clean.csv"), "qb")
    assert clean.invalid_rows == "fail" and clean.rejected.empty
    assert clean.row_counts.adds_up and clean.row_counts.rejected == 0


def test_more_invalid_rows_than_allowed_fail_with_the_grouped_summary(tmp_path):
    frame = valid_rows("qb", 43).astype(object)
    frame.loc[[0, 1, 6, 7, 12, 18], "height_inches"] = "0"  # 6 of 24 rows: 25%
    path = write_csv(tmp_path, frame)
    with pytest.raises(DataValidationError) as info:
        load_training_data(path, "qb", invalid_rows="quarantine", min_rows_per_division=1)
    lines = str(info.value).splitlines()
    assert lines[0].startswith("7 problem(s) found") and str(path) in lines[0]
    assert "6 of 24 qb rows (25%) are invalid, more than max_invalid_fraction allows (20%)" in (
        lines[1])
    assert "column 'height_inches': outside the plausible range: 6 rows (2, 3, 8, 9, 14, ...)" in (
        lines[2])
    data = load_training_data(path, "qb", invalid_rows="quarantine", min_rows_per_division=1,
                              max_invalid_fraction=0.25)
    assert len(data.rejected) == 6


def test_problems_with_the_whole_file_fail_in_quarantine_too(tmp_path):
    frame = _with_bad_cells(44).drop(columns=["senior_ypg", "senior_yds"])  # no rate, no total
    error = load_fails(write_csv(tmp_path, frame), invalid_rows="quarantine")
    one_problem(error, column="senior_ypg", contains="required column is missing")
    error = load_fails(write_csv(tmp_path, "a,b\n1,2\n", "no_header.csv"),
                       invalid_rows="quarantine")
    one_problem(error, row=1, contains="no header row")


def test_too_few_rows_per_division_after_setting_rows_aside(tmp_path):
    frame = valid_rows("qb", 45).astype(object)
    frame.loc[:1, "height_inches"] = "0"  # two of the six NAIA rows
    error = load_fails(write_csv(tmp_path, frame), invalid_rows="quarantine",
                       max_invalid_fraction=0.5)
    one_problem(error, column="division", contains="'D3' has only 4 valid qb row(s)")
    assert "after setting aside 2 invalid row(s)" in str(error)


def test_blank_positions_are_rejected_and_other_positions_counted(tmp_path):
    frame = mixed_rows()
    frame.loc[1, "position"] = " "  # an RB row, now of no position
    frame.loc[2, "position"] = "LB"
    text = frame.to_csv(index=False) + "," * (frame.shape[1] - 1) + "\n"
    data = load_training_data(write_csv(tmp_path, text), "qb", invalid_rows="quarantine")
    assert data.rejected["row"].tolist() == [3]
    assert data.rejected["problems"].tolist() == ["position: missing position"]
    counts = data.row_counts
    assert counts.other_positions == {"rb": ROWS - 1, "wr": ROWS - 1, "lb": 1}
    assert counts.blank == 1 and counts.used == ROWS and counts.rejected == 1
    assert counts.adds_up and counts.data_rows == 3 * ROWS + 1


def test_write_rejected_rows_to_a_folder_or_a_file_even_when_none(tmp_path):
    data = load_training_data(write_csv(tmp_path, _with_bad_cells(46)), "qb",
                              invalid_rows="quarantine", min_rows_per_division=3)
    records = tmp_path / "records"
    records.mkdir()
    path = write_rejected_rows(data, records)
    assert path == records / rejected_file_name("qb") == records / "qb.rejected.csv"
    again = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert again["row"].tolist() == ["2", "5", "7"]
    assert again.loc[2, "forty_yard_dash"] == " fast "
    assert not list(records.glob("*.tmp*"))

    clean = load_training_data(write_csv(tmp_path, valid_rows("qb", 46), "c.csv"), "qb",
                               invalid_rows="quarantine")
    empty = write_rejected_rows(clean, tmp_path / "out" / "clean.rejected.csv")
    lines = empty.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 and lines[0].startswith("row,name,position,")
    assert lines[0].endswith(",problems")


def test_a_file_with_its_own_row_and_problems_columns(tmp_path):
    frame = _with_bad_cells(47)
    frame["row"] = 1
    frame["problems"] = "none"
    data = load_training_data(write_csv(tmp_path, frame), "qb", invalid_rows="quarantine",
                              min_rows_per_division=3)
    assert list(data.rejected.columns)[0] == "_row" and data.rejected.columns[-1] == "_problems"
    assert data.rejected["row"].tolist() == ["1", "1", "1"]  # the file's own column, as text


@pytest.mark.parametrize("kwargs,says", [
    ({"invalid_rows": "drop"}, "'fail' or 'quarantine'"),
    ({"max_invalid_fraction": 1.5}, "between 0 and 1"),
])
def test_the_policy_is_checked(tmp_path, kwargs, says):
    with pytest.raises(DataValidationError) as info:
        load_training_data(write_csv(tmp_path, valid_rows("qb", 48)), "qb", **kwargs)
    assert says in str(info.value)


def test_write_rejected_rows_to_an_object_store_url(tmp_path, bucket):
    from recruit_reveal.storage.locations import open_store

    data = load_training_data(write_csv(tmp_path, _with_bad_cells(49)), "qb",
                              invalid_rows="quarantine", min_rows_per_division=3)
    url = f"{bucket}/runs/v1.0.0/qb.rejected.csv"
    assert write_rejected_rows(data, url) == url
    local = write_rejected_rows(data, tmp_path / "local.csv")
    store = open_store(f"{bucket}/runs")
    assert store.read("v1.0.0/qb.rejected.csv") == local.read_bytes()
    # a URL ending in / is a folder: the file gets the position's name in it
    assert write_rejected_rows(data, f"{bucket}/other/") == f"{bucket}/other/qb.rejected.csv"
    assert open_store(f"{bucket}/other").names() == ["qb.rejected.csv"]
