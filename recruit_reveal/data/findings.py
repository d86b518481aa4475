"""How validation reports what it finds: by file, spreadsheet row and column.

Problems are collected, not raised one at a time, so a user fixes a file in
one pass; :class:`Findings` orders them for reading.  A finding about a cell
carries the ``rule`` it broke and the cell's text, so findings can be grouped
by (column, rule) (:func:`recruit_reveal.errors.group_problems`) and a row's
findings can be told from findings about the whole file.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import numpy as np

from ..errors import DataValidationError, Problem


class Findings:
    """Problems (or warnings) for one file, ordered for reading, optionally capped.

    File- and header-level findings come first, then cell findings by row
    and column, then findings about the data as a whole.  With a ``cap``, at
    most that many are listed and the rest counted (warnings); without one,
    every finding is kept (problems).
    """

    def __init__(self, file: str, cap: int | None = None):
        self.file = file
        self.cap = cap
        self._items: list[tuple[tuple[int, int, int, int], Problem]] = []
        self.uncounted = 0

    def __bool__(self) -> bool:
        return bool(self._items) or self.uncounted > 0

    def add(self, message: str, *, row: int | None = None, column: str | None = None,
            expected: str | None = None, stage: int = 0, order: int = 0,
            rule: str | None = None, value: str | None = None) -> None:
        key = (stage, row or 0, order, len(self._items))
        self._items.append((key, Problem(message, self.file, row, column, expected, rule, value)))

    def add_cells(self, rows: np.ndarray, texts: Iterable[object] | None, *, column: str | None,
                  message: str, expected: str | None, order: int, rule: str,
                  quote: bool = True, shown: Iterable[object] | None = None) -> None:
        """One finding per cell of ``rows`` (spreadsheet rows), each with the cell's text.

        ``message`` is formatted with ``value``: the cell text (quoted), or the
        matching item of ``shown`` when given (as is, unless ``quote``).
        """
        take = len(rows) if self.cap is None else min(len(rows), self.cap)
        values = [""] * take if texts is None else [str(v).strip()
                                                    for v in itertools.islice(texts, take)]
        display = values if shown is None else list(itertools.islice(shown, take))
        for row, value, show in zip(rows[:take], values, display, strict=True):
            self.add(message.format(value=quote_cell(show) if quote else show), row=int(row),
                     column=column, expected=expected, stage=1, order=order, rule=rule,
                     value=value)
        self.uncounted += len(rows) - take

    def problems(self) -> tuple[list[Problem], int]:
        """The listed findings in reading order, and how many more were only counted."""
        ordered = [p for _, p in sorted(self._items, key=lambda kp: kp[0])]
        shown = ordered if self.cap is None else ordered[: self.cap]
        return shown, len(ordered) - len(shown) + self.uncounted

    def cell_rows(self) -> np.ndarray:
        """Spreadsheet rows with at least one cell finding (sorted, unique)."""
        rows = [p.row for _, p in self._items if p.rule is not None and p.row is not None]
        return np.unique(np.asarray(rows, dtype=np.int64))

    def about_file(self) -> bool:
        """Whether any finding concerns the whole file or a whole column, not one cell."""
        return any(p.rule is None for _, p in self._items)

    def error(self) -> DataValidationError:
        shown, more = self.problems()
        return DataValidationError(shown, truncated=more)


def quote_cell(value: object, limit: int = 40) -> str:
    """A cell's text as a message quotes it: repr, cut to ``limit`` characters."""
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return repr(text)


def fail(label: str, message: str, expected: str | None = None,
         row: int | None = None) -> DataValidationError:
    """A file-level problem that stops validation at once."""
    return DataValidationError(Problem(message, label, row, None, expected))
