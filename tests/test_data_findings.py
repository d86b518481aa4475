"""How problems are reported: collected in one error, ordered, capped and counted."""

from __future__ import annotations

import pandas as pd
from training_csv import load_fails, one_problem, valid_rows, write_csv

from recruit_reveal.data.loading import MAX_PROBLEMS


def test_several_problems_collected_in_one_error(tmp_path):
    frame = valid_rows("qb", 25).drop(columns="senior_ypg").astype(object)
    frame.loc[0, "weight_lbs"] = "heavy"
    frame.loc[1, "state"] = "ZZ"
    frame.loc[2, "division"] = "Juco"
    frame.loc[3, "games"] = 40
    error = load_fails(write_csv(tmp_path, frame), min_rows_per_division=1)
    assert len(error.problems) == 5 and error.truncated == 0
    one_problem(error, column="senior_ypg", contains="required column is missing")
    one_problem(error, row=2, column="weight_lbs")
    one_problem(error, row=3, column="state")
    one_problem(error, row=4, column="division")
    one_problem(error, row=5, column="games")
    # The header-level problem is listed before the cell problems, which follow the rows.
    assert [p.row for p in error.problems] == [None, 2, 3, 4, 5]
    assert str(error).startswith("5 problem(s) found:")


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
