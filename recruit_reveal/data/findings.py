"""How validation reports what it finds: by file, spreadsheet row and column, capped.

Problems are collected, not raised one at a time, so a user fixes a file in
one pass; :class:`Findings` orders them for reading and caps how many are
listed (the rest are counted).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import numpy as np

from ..errors import DataValidationError, Problem


class Findings:
    """Problems (or warnings) for one file, capped, ordered for reading.

    File- and header-level findings come first, then cell findings by row
    and column, then findings about the data as a whole.
    """

    def __init__(self, file: str, cap: int):
        self.file = file
        self.cap = cap
        self._items: list[tuple[tuple[int, int, int, int], Problem]] = []
        self.uncounted = 0

    def __bool__(self) -> bool:
        return bool(self._items) or self.uncounted > 0

    def add(self, message: str, *, row: int | None = None, column: str | None = None,
            expected: str | None = None, stage: int = 0, order: int = 0) -> None:
        key = (stage, row or 0, order, len(self._items))
        self._items.append((key, Problem(message, self.file, row, column, expected)))

    def add_cells(self, rows: np.ndarray, texts: Iterable[object] | None, *, column: str | None,
                  message: str, expected: str | None, order: int, quote: bool = True) -> None:
        """One finding per cell; ``message`` is formatted with ``value`` (the cell text)."""
        take = min(len(rows), self.cap)
        texts = itertools.repeat("") if texts is None else texts
        for row, text in zip(rows[:take], texts, strict=False):
            value = quote_cell(text) if quote else text
            self.add(message.format(value=value), row=int(row), column=column,
                     expected=expected, stage=1, order=order)
        self.uncounted += len(rows) - take

    def problems(self) -> tuple[list[Problem], int]:
        ordered = [p for _, p in sorted(self._items, key=lambda kp: kp[0])]
        shown = ordered[: self.cap]
        return shown, len(ordered) - len(shown) + self.uncounted

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
