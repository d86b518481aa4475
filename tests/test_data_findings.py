"""How problems are reported: collected in one error, ordered, capped and counted."""

from __future__ import annotations

import pandas as pd
from training_csv import load_fails, one_problem, valid_rows, write_csv

from recruit_reveal import schema
from recruit_reveal.data.loading import MAX_PROBLEMS
from recruit_reveal.errors import DataValidationError, Problem, group_problems


def test_several_problems_collected_in_one_error(tmp_path):
    # Without the rate and its season total the rate can be neither read nor derived.
    frame = valid_rows("qb", 25).drop(columns=["senior_ypg", "senior_yds"]).astype(object)
    frame.loc[0, "weight_lbs"] = "heavy"
    frame.loc[1, "state"] = "ZZ"
    frame.loc[2, "division"] = "Juco"
    frame.loc[3, "games"] = 40
    error = load_fails(write_csv(tmp_path, frame), min_rows_per_division=1)
    assert len(error.problems) == 6 and error.truncated == 0
    one_problem(error, column="senior_ypg", contains="required column is missing")
    one_problem(error, column="division", contains="not on the ladder")
    one_problem(error, row=2, column="weight_lbs")
    one_problem(error, row=3, column="state")
    one_problem(error, row=4, column="division")
    one_problem(error, row=5, column="games")
    # The header-level problem is listed before the cell problems, which follow the rows.
    assert [p.row for p in error.problems] == [None, None, 2, 3, 4, 5]
    # Grouped format: the file is named once, at the top, then one line per (column, rule).
    lines = str(error).splitlines()
    assert lines[0].startswith("6 problem(s) found in 4 row(s) of ")
    assert str(error).count(str(error.problems[0].file)) == 1
    assert len(lines) == 1 + 6


def test_problems_are_capped_and_counted(tmp_path):
    frame = valid_rows("qb", 26)
    frame = pd.concat([frame] * 4, ignore_index=True)  # 96 rows
    frame["weight_lbs"] = 90
    frame["senior_ypg"] = "lots"
    error = load_fails(write_csv(tmp_path, frame), max_problems=MAX_PROBLEMS)
    assert len(error.problems) == MAX_PROBLEMS
    assert error.truncated == 2 * len(frame) - MAX_PROBLEMS
    assert f"... and {error.truncated} more" in str(error)
    # The first rows are listed first, both columns of a row together.
    assert [p.row for p in error.problems[:4]] == [2, 2, 3, 3]


def test_any_number_of_problems_reads_in_under_40_lines(tmp_path):
    frame = pd.concat([valid_rows("qb", 27)] * 40, ignore_index=True).astype(object)  # 960 rows
    numeric = [c.name for c in schema.numeric_columns("qb")]
    for i, name in enumerate(numeric):
        frame.loc[2 * i, name] = "x"
        frame.loc[2 * i + 1, name] = 1e9
    frame["weight_lbs"] = 90  # every row, in place of the two above
    path = write_csv(tmp_path, frame)
    error = load_fails(path, min_rows_per_division=1)
    message = str(error)
    lines = message.splitlines()
    assert len(lines) < 40 and message.count(str(path)) == 1
    assert len(error.problems) == 2 * (len(numeric) - 1) + len(frame)
    assert lines[0] == f"{len(error.problems):,} problem(s) found in {len(frame)} row(s) of {path}:"
    assert "more kind(s) of problem" in lines[-1]
    weight = [g for g in error.groups if g.column == "weight_lbs"
              and g.rule == "outside the plausible range"]
    assert len(weight) == 1 and weight[0].count == len(frame)
    assert weight[0].rows == (2, 3, 4, 5, 6) and weight[0].examples == ("90",)
    line = next(x for x in lines if "column 'weight_lbs': outside" in x)
    assert f"{len(frame):,} rows (2, 3, 4, 5, 6, ...), e.g. '90'" in line
    assert "(expected pounds between 120 and 350)" in line
    assert len(message) < 40 * 250


def test_grouping_is_one_reusable_function(tmp_path):
    frame = valid_rows("qb", 28).astype(object)
    frame.loc[[1, 4, 9], "state"] = ["Texas", "XX", "Texas"]
    frame.loc[2, "senior_tds"] = 3.5
    error = load_fails(write_csv(tmp_path, frame))
    assert error.groups == group_problems(error.problems)
    state, tds = error.groups
    assert (state.column, state.rule, state.count, state.rows, state.examples) == (
        "state", "unknown state code", 3, (3, 6, 11), ("Texas", "XX"))
    assert state.as_dict()["examples"] == ["Texas", "XX"]
    assert (tds.rule, tds.count) == ("not a whole number", 1)
    # A group of one reads as the problem itself, without the file.
    alone = next(p for p in error.problems if p.column == "senior_tds")
    assert tds.describe() == alone.describe(with_file=False)
    assert str(error).splitlines()[2] == "  " + tds.describe()


def test_one_problem_is_one_line_and_other_errors_are_unchanged():
    single = DataValidationError(Problem("training CSV not found", file="x.csv"))
    assert str(single) == "x.csv: training CSV not found"
    assert str(DataValidationError("plain text")) == "plain text"
    two = DataValidationError([Problem("a", "f.csv"), Problem("b", "f.csv")])
    assert str(two) == "2 problem(s) found in f.csv:\n  a\n  b"
