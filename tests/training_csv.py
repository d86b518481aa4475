"""Training CSVs for the data tests: valid rows of every position, and how a failure is checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recruit_reveal import schema
from recruit_reveal.catalog import default_catalog
from recruit_reveal.data.loading import load_training_data
from recruit_reveal.errors import DataValidationError, Problem, RecruitRevealError

# Spellings the file uses for each division; the loader must map them to DIVISIONS.
FILE_LABELS = ("NAIA", "DII", "fcs", "P5")
PER_DIVISION = 6
ROWS = len(FILE_LABELS) * PER_DIVISION


def valid_rows(position: str, seed: int) -> pd.DataFrame:
    """Valid rows of one position: every column filled with a plausible value."""
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {
        "name": [f"Athlete {position}{i:03d}" for i in range(ROWS)],
        "position": position.upper(),
        "division": np.repeat(FILE_LABELS, PER_DIVISION),
    }
    for col in schema.columns_for(position):
        if col.kind == "state":
            data[col.name] = rng.choice(["tx", "OH", "ca", "WY"], ROWS)
            continue
        span = col.high - col.low
        values = col.low + span * rng.uniform(0.3, 0.7, ROWS)
        data[col.name] = np.round(values) if col.kind == "int" else np.round(values, 1)
    return pd.DataFrame(data)


def mixed_rows() -> pd.DataFrame:
    """Rows of every position, interleaved so that the file order matters."""
    frame = pd.concat([valid_rows(p, i) for i, p in enumerate(default_catalog().keys)], ignore_index=True)
    order = np.arange(len(frame)).reshape(len(default_catalog().keys), ROWS).T.ravel()
    return frame.iloc[order].reset_index(drop=True).astype(object)


def sheet_row(frame: pd.DataFrame, index: int) -> int:
    """Spreadsheet row of a frame row written with a header (header = row 1)."""
    return frame.index.get_loc(index) + 2


def write_csv(tmp_path: Path, content: pd.DataFrame | str | bytes, name: str = "train.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, pd.DataFrame):
        content.to_csv(path, index=False)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def load_fails(path: Path, position: str = "qb", **kwargs) -> DataValidationError:
    with pytest.raises(DataValidationError) as info:
        load_training_data(path, position, **kwargs)
    error = info.value
    assert isinstance(error, RecruitRevealError)
    assert error.problems and all(isinstance(p, Problem) for p in error.problems)
    assert all(p.file == str(path) for p in error.problems)
    assert str(path) in str(error)
    return error


def one_problem(error: DataValidationError, *, row=None, column=None, contains="") -> Problem:
    """The one problem at ``row``/``column`` whose message contains ``contains``."""
    found = [p for p in error.problems
             if (row is None or p.row == row) and (column is None or p.column == column)
             and contains in p.message]
    assert len(found) == 1, f"wanted row={row} column={column} {contains!r} in:\n{error}"
    problem = found[0]
    text = str(problem)
    if row is not None:
        assert f"row {row}," in text or f"row {row}:" in text
    if column is not None:
        assert f"column '{column}'" in text
    assert problem.expected
    return problem
