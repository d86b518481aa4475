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
    mixed_rows,
    sheet_row,
    valid_rows,
    write_csv,
)

from recruit_reveal import schema
from recruit_reveal.data.loading import TrainingData, load_training_data
from recruit_reveal.errors import DataValidationError

BUNDLED = Path(__file__).resolve().parents[1] / "data" / "training.csv"


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
    mapping = dict(zip(FILE_LABELS, schema.DIVISIONS, strict=True))
    assert data.target.tolist() == [mapping[v] for v in expected["division"]]
    assert data.rows_per_division == {d: PER_DIVISION for d in schema.DIVISIONS}
    assert list(data.rows_per_division) == list(schema.DIVISIONS)
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
@pytest.mark.parametrize("position", schema.POSITIONS)
def test_bundled_training_csv_loads_cleanly(position):
    data = load_training_data(BUNDLED, position)
    assert len(data) > 0 and data.frame.shape[1] == len(schema.feature_names(position))
    assert all(n >= 5 for n in data.rows_per_division.values())
    assert data.unknown_columns == []
    assert [w for w in data.warnings if "never kept" not in w.message] == []
    for name in schema.required_columns(position):
        assert data.frame[name].notna().all(), name
