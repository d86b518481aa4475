"""Rows set aside, and the count of every row: nothing a file holds disappears.

With ``invalid_rows="quarantine"``, :func:`~recruit_reveal.data.loading.load_training_data`
leaves a row out of training when any of its cells is invalid, and keeps it
here: its row number as a spreadsheet shows it, every column of the file as
written, and a ``problems`` column saying what is wrong.  :class:`RowCounts`
accounts for every data row of the file: used + rejected + skipped (rows of
other positions, blank rows) = the file's data rows.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from ..errors import Problem
from ..storage.locations import open_file

#: The columns a rejected-rows file adds around the file's own columns.
ROW_COLUMN = "row"
PROBLEMS_COLUMN = "problems"


def rejected_file_name(position: str) -> str:
    """``qb.rejected.csv``: the name of a position's rejected rows beside its audit record."""
    return f"{position}.rejected.csv"


@dataclass(frozen=True)
class RowCounts:
    """Where every data row of the file went (blank lines included).

    ``used`` rows trained the model; ``rejected`` rows had an invalid value (or
    no position) and were set aside; ``other_positions`` counts the skipped
    rows of every other position by label, ``blank`` the rows with no value at
    all.  ``used + rejected + skipped == data_rows``.
    """

    data_rows: int
    used: int
    rejected: int = 0
    blank: int = 0
    other_positions: dict[str, int] = field(default_factory=dict)

    @property
    def skipped(self) -> int:
        """Rows not read for this position: other positions and blank rows."""
        return self.blank + sum(self.other_positions.values())

    @property
    def adds_up(self) -> bool:
        return self.used + self.rejected + self.skipped == self.data_rows

    def __str__(self) -> str:
        """``20,000 data rows = 1,540 used + 160 rejected + 18,300 skipped (...)``."""
        parts = [f"{n:,} {p}" for p, n in self.other_positions.items()]
        if self.blank:
            parts.append(f"{self.blank:,} blank")
        detail = f" ({', '.join(parts)})" if parts else ""
        return (f"{self.data_rows:,} data rows = {self.used:,} used + {self.rejected:,} rejected"
                f" + {self.skipped:,} skipped{detail}")

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, for metadata and audit records."""
        return {"data_rows": self.data_rows, "used": self.used, "rejected": self.rejected,
                "skipped": self.skipped, "blank": self.blank,
                "other_positions": dict(self.other_positions)}


def _free_name(name: str, taken: Iterable[str]) -> str:
    taken = set(taken)
    while name in taken:
        name = "_" + name
    return name


def row_problems(problems: Iterable[Problem]) -> dict[int, str]:
    """``{row: "height: value 0 is outside ...; fourty: not a number: 'fast'"}``, per row,
    from cell findings in reading order."""
    texts: dict[int, list[str]] = {}
    for p in problems:
        if p.row is not None and p.rule is not None:
            texts.setdefault(p.row, []).append(f"{p.column}: {p.message}")
    return {row: "; ".join(items) for row, items in texts.items()}


def rejected_frame(body: pd.DataFrame, rows: np.ndarray, header: list[str],
                   bad: np.ndarray, problems: Iterable[Problem]) -> pd.DataFrame:
    """The rejected rows: spreadsheet row, every column of the file as written, problems.

    ``body`` holds the file's data rows as text, ``rows`` their spreadsheet
    rows, ``header`` the header cells as written, ``bad`` which rows to keep.
    """
    frame = pd.DataFrame(body.to_numpy()[bad], columns=pd.Index(header, dtype=object))
    texts = row_problems(problems)
    frame.insert(0, _free_name(ROW_COLUMN, header), rows[bad].astype(np.int64),
                 allow_duplicates=True)
    frame.insert(len(frame.columns), _free_name(PROBLEMS_COLUMN, header),
                 [texts.get(int(r), "") for r in rows[bad]], allow_duplicates=True)
    return frame


class HasRejectedRows(Protocol):
    """What :func:`write_rejected_rows` needs of a ``TrainingData``."""

    @property
    def position(self) -> str: ...

    @property
    def rejected(self) -> pd.DataFrame: ...


def write_rejected_rows(data: HasRejectedRows,
                        path: str | os.PathLike[str] | None) -> Path | str | None:
    """Write ``data.rejected`` as CSV (UTF-8, header always) and return where.

    ``path`` is a folder (the file is then ``{position}.rejected.csv`` in it,
    see :func:`rejected_file_name`) or the file itself; None writes nothing
    (a run that does not quarantine has no rejected rows to keep).  An
    object-store URL (``s3://bucket/runs/v1.0.0/qb.rejected.csv``) names the
    file, or a folder when it ends with ``/``, and the URL is returned.  The
    file is written even when no row was rejected (a header only), so a
    reviewer sees the zero.  Written atomically (one PUT in an object store):
    a reader never sees half a file.
    """
    if path is None:
        return None
    text = data.rejected.to_csv(index=False, lineterminator="\n")
    store, name = open_file(path, rejected_file_name(data.position))
    store.write(name, text.encode("utf-8"))
    return store.location(name)
