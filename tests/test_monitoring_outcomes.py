"""outcomes add: canonical divisions, grouped errors for bad rows, a create-only Parquet file."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from recruit_reveal.errors import DataValidationError
from recruit_reveal.monitoring import outcomes


def test_outcomes_are_written_as_parquet_beside_the_log(tmp_path):
    csv = tmp_path / "o.csv"
    csv.write_text("Athlete_Ref,request_id,Division,date\nA1,,p5,2026-05-01\n,r-2,NAIA,\n")
    written = outcomes.add_outcomes(csv, tmp_path / "log")
    files = list((tmp_path / "log" / "outcomes").glob("date=*/part-*.parquet"))
    assert written.rows == 2 and len(files) == 1
    table = pq.read_table(files[0])
    assert table.schema.equals(outcomes.OUTCOME_SCHEMA)
    rows = table.to_pylist()
    assert [r["division"] for r in rows] == ["Power 5", "D3"]
    assert [r["athlete_ref"] for r in rows] == ["A1", None]
    assert str(rows[0]["outcome_date"]) == "2026-05-01"
    assert rows[1]["outcome_date"] == rows[1]["recorded_at"].date()


def test_bad_rows_are_grouped_by_column_and_rule_and_nothing_is_written(tmp_path):
    csv = tmp_path / "bad.csv"
    csv.write_text("athlete_ref,division,date\nA1,Juco,\nA2,Juco,\n,D2,\nA4,FCS,May 1\n")
    with pytest.raises(DataValidationError) as caught:
        outcomes.add_outcomes(csv, tmp_path / "log")
    groups = {(g.column, g.rule): g for g in caught.value.groups}
    assert groups[("division", "unknown division")].rows == (2, 3)
    assert groups[("athlete_ref", "no key")].rows == (4,)
    assert groups[("date", "not a date")].rows == (5,)
    assert str(csv) in str(caught.value)
    assert not (tmp_path / "log").exists()


def test_a_file_without_keys_or_division_is_refused(tmp_path):
    csv = tmp_path / "nokeys.csv"
    csv.write_text("name,level\nX,D2\n")
    with pytest.raises(DataValidationError, match="no key column"):
        outcomes.read_outcomes_csv(csv)
