"""load_training_data: the validated frame, target and provenance of one position."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from training_csv import (
    FILE_LABELS,
    PER_DIVISION,
    ROWS,
    load_fails,
    mixed_rows,
    sheet_row,
    valid_rows,
    write_csv,
)

from recruit_reveal import schema
from recruit_reveal.catalog import default_catalog
from recruit_reveal.data.loading import TrainingData, load_training_data
from recruit_reveal.errors import DataValidationError

BUNDLED = Path(__file__).resolve().parents[1] / "data" / "training.csv"
FIVE = Path(__file__).resolve().parent / "fixtures" / "catalog_five_levels.toml"


def test_mixed_file_loads_exact_columns_dtypes_and_order(tmp_path):
    frame = mixed_rows()
    path = write_csv(tmp_path, frame)
    data = load_training_data(path, "WR")

    assert isinstance(data, TrainingData)
    assert data.position == "wr" and data.path == path
    assert data.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert list(data.frame.columns) == schema.feature_names("wr")
    for col in schema.numeric_columns("wr"):
        assert data.frame[col.name].dtype == np.float64, col.name
    assert data.frame["state"].dtype == object
    assert set(data.frame["state"]) <= {"TX", "OH", "CA", "WY"}

    expected = frame[frame["position"] == "WR"]
    assert len(data) == ROWS
    assert data.frame.index.equals(data.target.index)
    assert data.source_rows.tolist() == [sheet_row(frame, i) for i in expected.index]
    np.testing.assert_array_equal(data.frame["senior_rec_ypg"],
                                  expected["senior_rec_ypg"].astype(float))
    levels = schema.spec_of("wr").levels
    mapping = dict(zip(FILE_LABELS, levels, strict=True))
    assert data.target.tolist() == [mapping[v] for v in expected["division"]]
    assert data.rows_per_division == {d: PER_DIVISION for d in levels}
    assert list(data.rows_per_division) == list(levels)
    assert data.unknown_columns == []
    assert "name" not in data.frame.columns and "player_name" not in data.frame.columns


def test_single_position_file_without_position_column(tmp_path):
    frame = valid_rows("rb", 3).drop(columns="position")
    path = write_csv(tmp_path, frame)
    data = load_training_data(path, "rb")
    assert len(data) == ROWS
    np.testing.assert_allclose(data.frame["senior_ypc"], frame["senior_ypc"])


def test_unknown_requested_position():
    with pytest.raises(DataValidationError, match="kicker"):
        load_training_data("whatever.csv", "kicker")


@pytest.mark.skipif(not BUNDLED.exists(), reason="data/training.csv has not been generated yet")
@pytest.mark.parametrize("position", default_catalog().keys)
def test_bundled_training_csv_loads_cleanly(position):
    data = load_training_data(BUNDLED, position)
    assert len(data) > 0 and data.frame.shape[1] == len(schema.feature_names(position))
    assert all(n >= 5 for n in data.rows_per_division.values())
    assert data.unknown_columns == []
    assert [w for w in data.warnings if "never kept" not in w.message] == []
    for name in schema.required_columns(position):
        assert data.frame[name].notna().all(), name


def _off_ladder(position: str = "qb"):
    """Valid rows with five labels off the ladder: 'Juco' three times, 'HS' twice."""
    frame = valid_rows(position, 4).astype(object)
    frame.loc[[0, 5, 9], "division"] = "Juco"
    frame.loc[[2, 13], "division"] = "HS"
    return frame


def test_labels_off_the_ladder_are_refused_with_their_row_counts(tmp_path):
    frame = _off_ladder()
    error = load_fails(write_csv(tmp_path, frame), min_rows_per_division=1)
    [line] = [p for p in error.problems if p.row is None]
    assert line.column == "division"
    assert "5 qb row(s) have labels that are not on the ladder (D3 < D2 < FCS < Power 5)" \
        in line.message
    assert line.message.endswith("'Juco' (3 rows), 'HS' (2 rows)")
    cells = sorted(p.row for p in error.problems if p.row is not None)
    assert cells == [sheet_row(frame, i) for i in (0, 2, 5, 9, 13)]


def test_labels_off_the_ladder_are_quarantined_on_request(tmp_path):
    frame = _off_ladder()
    data = load_training_data(write_csv(tmp_path, frame), "qb", invalid_rows="quarantine",
                              min_rows_per_division=1, max_invalid_fraction=0.5)
    assert len(data) == ROWS - 5 and data.row_counts.rejected == 5
    assert sorted(data.rejected["row"].astype(int)) == [sheet_row(frame, i)
                                                        for i in (0, 2, 5, 9, 13)]
    [warning] = [w for w in data.warnings if "not on the ladder" in w.message]
    assert "'Juco' (3 rows), 'HS' (2 rows)" in warning.message and "set aside" in warning.message


def test_the_ladder_spellings_decide_the_labels(tmp_path, monkeypatch):
    # On the default ladder "G5" is folded into Power 5; on the five-level one it is a level.
    frame = valid_rows("qb", 6).astype(object)
    frame["division"] = ["NAIA", "DII", "fcs", "G5", "P5", "FBS"] * (ROWS // 6)
    path = write_csv(tmp_path, frame)
    default = load_training_data(path, "qb", min_rows_per_division=1)
    assert set(default.target) == {"D3", "D2", "FCS", "Power 5"}
    monkeypatch.setenv("CATALOG", str(FIVE))
    five = load_training_data(path, "qb", min_rows_per_division=1)
    assert five.target.tolist()[:6] == ["D3", "D2", "FCS", "G5", "Power 4", "G5"]
    assert list(five.rows_per_division) == ["D3", "D2", "FCS", "G5", "Power 4"]


def test_a_position_without_production_loads(tmp_path, monkeypatch):
    # LB: measurables only, no rate to derive; every level needs its rows.
    monkeypatch.setenv("CATALOG", str(FIVE))
    frame = valid_rows("lb", 8).astype(object)
    frame["division"] = ["D3", "D2", "FCS", "G5", "Power 4", "D3"] * (ROWS // 6)
    data = load_training_data(write_csv(tmp_path, frame), "lb", min_rows_per_division=1)
    assert list(data.frame.columns) == schema.feature_names("lb")
    assert data.rows_per_division["G5"] == ROWS // 6
    error = load_fails(write_csv(tmp_path, frame.assign(division="Juco"), "juco.csv"),
                       "lb", min_rows_per_division=1)
    assert any("ladder (D3 < D2 < FCS < G5 < Power 4)" in p.message for p in error.problems)
