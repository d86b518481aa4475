"""Read and validate a training CSV into a clean frame plus target.

:func:`load_training_data` reads the file (:mod:`recruit_reveal.data.reading`),
validates every cell against :mod:`recruit_reveal.schema`
(:mod:`recruit_reveal.data.validation`) and reports what it finds by file,
spreadsheet row (the header is row 1) and column
(:mod:`recruit_reveal.data.findings`).  Problems are collected, not raised one
at a time, so a user fixes a file in one pass.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import schema
from ..errors import Problem
from . import validation
from .findings import Findings
from .reading import Cells, blank_rows, decode, parse, read_bytes, read_header, sniff

logger = logging.getLogger(__name__)

#: At most this many problems (and warnings) are listed; the rest are counted.
MAX_PROBLEMS = 50


@dataclass(frozen=True, eq=False)
class TrainingData:
    """A validated training set for one position.

    ``frame`` holds exactly ``schema.feature_names(position)`` in that order:
    numeric columns as float64 with NaN for missing, ``state`` as an upper-case
    code or NaN.  ``target`` holds canonical division labels on the same index.
    ``source_rows`` gives, for each row of ``frame``, its row number in the
    file as a spreadsheet shows it, so any later finding can be traced back.
    """

    frame: pd.DataFrame
    target: pd.Series
    position: str
    path: Path
    sha256: str
    warnings: list[Problem] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)
    source_rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64),
                                    repr=False)

    @property
    def rows_per_division(self) -> dict[str, int]:
        """Row count per division, in ``schema.DIVISIONS`` order (zeros included)."""
        counts = self.target.value_counts()
        return {d: int(counts.get(d, 0)) for d in schema.DIVISIONS}

    def __len__(self) -> int:
        return len(self.frame)



def _rows_text(rows: Iterable[int], limit: int = 10) -> str:
    rows = list(rows)
    text = ", ".join(str(r) for r in rows[:limit])
    return text + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def load_training_data(csv_path: str | Path, position: str, *, min_rows_per_division: int = 5,
                       max_problems: int = MAX_PROBLEMS) -> TrainingData:
    """Read a training CSV and return the validated rows of one position.

    The file may hold several positions, told apart by a ``position`` column,
    or a single position without one.  Rows of other positions are not
    validated; a row with an unknown position is an error.  Every problem is
    collected (up to ``max_problems``, the rest counted) and raised as one
    :class:`DataValidationError` whose ``problems`` name the file, the row as a
    spreadsheet shows it (header = row 1), the column and what was expected.
    Recoverable findings (duplicated rows, unknown or ignored columns, blank
    rows) are returned in ``warnings`` and logged.

    ``min_rows_per_division`` is the fewest rows each of the four divisions
    needs for cross-validation.
    """
    position = schema.check_position(position)
    path = Path(csv_path)
    label = str(csv_path)
    raw = read_bytes(path, label)
    digest = hashlib.sha256(raw).hexdigest()
    text = decode(raw, label)
    sniff(text, label)
    table = parse(raw, text, label, max_problems)

    problems = Findings(label, max_problems)
    warnings = Findings(label, max_problems)
    header = read_header(table, label, problems, warnings)
    if schema.POSITION_COLUMN in header.duplicated:
        raise problems.error()  # which rows belong to which position is unknowable

    blank = blank_rows(table)
    if blank.any():
        skipped = table.index.to_numpy()[1:][blank] + 1
        warnings.add(f"skipped {len(skipped)} blank row(s): {_rows_text(skipped)}",
                     stage=1, row=int(skipped[0]))
        table = table.drop(index=table.index[1:][blank])
    if len(table) == 1:
        problems.add("the file has a header but no data rows",
                     expected="at least one data row below the header", stage=0)
        raise problems.error()

    cells = Cells(table, header)
    validation.required_present(cells, position, problems)
    sel = validation.select_position(cells, position, problems)
    if not sel.any():
        raise problems.error()

    target = validation.convert_target(cells, sel, problems)
    columns: dict[str, object] = {}
    for col in schema.columns_for(position):
        if col.kind == "state":
            columns[col.name] = validation.convert_state(cells, sel, col, problems).to_numpy()
        else:
            columns[col.name] = validation.convert_numeric(cells, sel, col, problems)
    if target is not None:
        validation.check_division_counts(target, position, min_rows_per_division, problems)
    validation.warn_duplicates(cells, sel, warnings)

    if problems or target is None:  # a missing target column is always among the problems
        error = problems.error()
        logger.debug("validation of %s failed with %d problem(s)", label,
                     len(error.problems) + error.truncated)
        raise error

    shown, more = warnings.problems()
    if more:
        shown.append(Problem(f"... and {more} more warning(s) not shown", label))
    for w in shown:
        ignored = w.column is not None and (
            schema.canonical_column_name(w.column) in schema.IGNORED_COLUMNS)
        logger.log(logging.INFO if ignored else logging.WARNING, "%s", w)

    frame = pd.DataFrame(columns, columns=schema.feature_names(position))
    target_series = pd.Series(target.to_numpy(dtype=object), name=schema.TARGET_COLUMN,
                              index=frame.index, dtype=object)
    logger.info("loaded %d %s rows from %s (%s)", len(frame), position, label,
                ", ".join(f"{d}: {n}" for d, n in
                          target_series.value_counts().reindex(schema.DIVISIONS, fill_value=0)
                          .items()))
    return TrainingData(
        frame=frame, target=target_series, position=position, path=path, sha256=digest,
        warnings=shown, unknown_columns=list(header.unknown), source_rows=cells.rows[sel].copy(),
    )
