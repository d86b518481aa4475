"""Read and validate a training CSV into a clean frame plus target.

Every rule comes from :mod:`recruit_reveal.schema`; this module only applies
them and reports what it finds by file, spreadsheet row (the header is row 1)
and column.  Problems are collected, not raised one at a time, so a user fixes
a file in one pass.  Cells are read as text first so that a message can quote
the exact cell, then converted column by column with vectorized checks (only
the cells being reported are visited one by one).
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import itertools
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import schema
from ..errors import DataValidationError, Problem

logger = logging.getLogger(__name__)

#: At most this many problems (and warnings) are listed; the rest are counted.
MAX_PROBLEMS = 50

#: Cell texts read as a missing value (compared case-insensitively, after
#: trimming).  Spreadsheets and pandas write these for empty cells.
MISSING_TOKENS: frozenset[str] = frozenset({"", "na", "n/a", "nan", "null", "none", "#n/a"})

_KNOWN_COLUMNS: frozenset[str] = frozenset(
    {c.name for pos in schema.POSITIONS for c in schema.columns_for(pos)}
    | {schema.TARGET_COLUMN, schema.POSITION_COLUMN}
    | schema.IGNORED_COLUMNS
)


def _signature_columns() -> dict[str, frozenset[str]]:
    """Columns that belong to exactly one position: they tell a file's position."""
    own = {p: {c.name for c in schema.POSITION_COLUMNS[p]} for p in schema.POSITIONS}
    return {
        p: frozenset(cols - set().union(*(own[q] for q in schema.POSITIONS if q != p)))
        for p, cols in own.items()
    }


_SIGNATURE_COLUMNS = _signature_columns()
_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$")
_DIVISION_EXPECTED = (
    "one of " + ", ".join(schema.DIVISIONS)
    + " or a common spelling (P5, Power 4, FBS, G5, FCS (I-AA), DII, Division III, NAIA, ...)"
)
_POSITION_EXPECTED = "one of " + ", ".join(schema.POSITIONS) + " (any case)"


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


class _Findings:
    """Problems (or warnings) for one file, capped, ordered for reading.

    File- and header-level findings come first, then cell findings by row
    and column, then findings about the data as a whole.
    """

    def __init__(self, file: str, cap: int):
        self.file = file
        self.cap = cap
        self._items: list[tuple[tuple, Problem]] = []
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
            value = _quote(text) if quote else text
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


def _quote(value: object, limit: int = 40) -> str:
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return repr(text)


def _column_letter(index: int) -> str:
    """0 -> 'A', 25 -> 'Z', 26 -> 'AA', as a spreadsheet labels columns."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return letters


def _rows_text(rows: Iterable[int], limit: int = 10) -> str:
    rows = list(rows)
    text = ", ".join(str(r) for r in rows[:limit])
    return text + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


# --------------------------------------------------------------------------- file level


def _fail(label: str, message: str, expected: str | None = None,
          row: int | None = None) -> DataValidationError:
    return DataValidationError(Problem(message, label, row, None, expected))


def _read_bytes(path: Path, label: str) -> bytes:
    if not path.exists():
        raise _fail(label, "file not found", "a path to a training CSV")
    if path.is_dir():
        raise _fail(label, "is a folder, not a file", "a path to a training CSV")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _fail(label, f"cannot be read ({exc.strerror or exc})") from exc


_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive or an Excel .xlsx workbook; export the sheet as CSV"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook; export the sheet as CSV"),
    (b"\x1f\x8b", "gzip-compressed; decompress it first"),
    (b"%PDF", "a PDF document"),
)


def _decode(raw: bytes, label: str) -> str:
    """Bytes to text, rejecting empty, binary and non-UTF-8 files with a clear reason."""
    if not raw.strip():
        raise _fail(label, "the file is empty", "a header row and at least one data row")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _fail(label, "the file is UTF-16 encoded, not UTF-8",
                    "UTF-8 text; re-save it as 'CSV UTF-8'")
    for magic, what in _BINARY_SIGNATURES:
        if raw.startswith(magic):
            raise _fail(label, f"not a CSV text file: it looks like {what}", "a CSV text file")
    if b"\x00" in raw[:65536]:
        raise _fail(label, "not a CSV text file: it holds binary data (NUL bytes)",
                    "a CSV text file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        byte = raw[exc.start: exc.start + 1].hex().upper()
        raise _fail(
            label,
            f"the file is not UTF-8: byte 0x{byte} on line {line} cannot be decoded"
            " (Excel's plain 'CSV' often writes Windows-1252)",
            "UTF-8 text; re-save the file as 'CSV UTF-8'",
            row=line,
        ) from exc
    if not text.strip():
        raise _fail(label, "the file is empty", "a header row and at least one data row")
    return text


def _field_counts(raw: bytes, text: str) -> np.ndarray:
    """Fields per record, in the record numbering pandas uses (0 for a blank line).

    The fast path counts commas per line with numpy; quoted fields (which may
    hold commas and newlines) and bare-CR line ends go through the csv module.
    """
    lone_cr = "\r" in text and text.count("\r") != text.count("\r\n")
    if '"' in text or lone_cr:
        # newline=None reads old Mac (bare CR) line ends as line breaks.
        records = csv.reader(io.StringIO(text, newline=None))
        return np.fromiter((len(r) for r in records), dtype=np.int64)
    body = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    b = np.frombuffer(body, dtype=np.uint8)
    newlines = np.flatnonzero(b == 10)
    ends = newlines if body.endswith(b"\n") else np.append(newlines, len(b))
    starts = np.concatenate(([0], newlines + 1))[: len(ends)]
    commas = np.bincount(np.searchsorted(newlines, np.flatnonzero(b == 44)),
                         minlength=len(ends))[: len(ends)]
    length = ends - starts
    blank = (length == 0) | ((length == 1) & (b[np.minimum(starts, len(b) - 1)] == 13))
    return np.where(blank, 0, commas + 1)


def _sniff(text: str, label: str) -> None:
    head = text.lstrip()[:1]
    if head in ("{", "["):
        raise _fail(label, "not a CSV file: it looks like JSON",
                    "comma-separated values with a header row")
    if head == "<":
        raise _fail(label, "not a CSV file: it looks like HTML or XML",
                    "comma-separated values with a header row")


def _parse(raw: bytes, text: str, label: str, cap: int) -> pd.DataFrame:
    """All records as text (header included, as row 0), rejecting ragged rows."""
    try:
        counts = _field_counts(raw, text)
    except csv.Error as exc:
        raise _fail(label, f"cannot be parsed as CSV ({exc})",
                    "comma-separated values with a header row") from exc
    width = int(counts[0])
    ragged = np.flatnonzero((counts != width) & (counts != 0))
    data_counts = counts[1:][counts[1:] != 0]
    if len(ragged) and len(ragged) == len(data_counts) and len(np.unique(data_counts)) == 1:
        raise _fail(label, f"the header has {width} fields but every data row has "
                    f"{data_counts[0]}", "one column name in the header per field of the data "
                    "rows (is a column name missing, or is there a trailing comma?)", row=1)
    if len(ragged):
        findings = _Findings(label, cap)
        for i in ragged[:cap]:
            findings.add(f"has {counts[i]} fields but the header has {width}", row=int(i) + 1,
                         expected="the same number of comma-separated fields on every row",
                         stage=1)
        findings.uncounted = max(0, len(ragged) - cap)
        raise findings.error()
    try:
        cells = pd.read_csv(io.StringIO(text), header=None, dtype=str, keep_default_na=False,
                            na_values=[], skip_blank_lines=False, engine="c")
    except (pd.errors.ParserError, ValueError) as exc:
        raise _fail(label, f"cannot be parsed as CSV ({exc})",
                    "comma-separated values with a header row") from exc
    return cells


# --------------------------------------------------------------------------- header


@dataclass
class _Header:
    index: dict[str, int]  # canonical name -> column position, usable columns only
    raw: list[str]
    unknown: list[str]
    duplicated: set[str]


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return schema.parse_height(text) is not None and any(ch.isdigit() for ch in text)
    return True


def _read_header(cells: pd.DataFrame, label: str, problems: _Findings,
                 warnings: _Findings) -> _Header:
    raw = [str(v).strip() for v in cells.iloc[0].tolist()]
    canonical = [schema.canonical_column_name(h) if h else "" for h in raw]

    if len(raw) == 1 and (";" in raw[0] or "\t" in raw[0]):
        sep = "semicolons" if ";" in raw[0] else "tabs"
        raise _fail(label, f"the header is separated by {sep}, not commas", "comma-separated "
                    "values; in Excel save as 'CSV UTF-8 (Comma delimited)'", row=1)
    if not any(c in _KNOWN_COLUMNS for c in canonical):
        sample = ", ".join(_quote(h) for h in raw[:5])
        numeric = sum(_looks_numeric(h) for h in raw if h)
        reason = ("row 1 looks like data, not a header" if numeric or _looks_like_values(raw)
                  else "no cell of row 1 names a known column")
        raise _fail(label, f"no header row: {reason} (it reads {sample})",
                    "row 1 to name the columns, e.g. position,division,height_inches,"
                    "weight_lbs,senior_ypg", row=1)

    index: dict[str, int] = {}
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(canonical):
        seen.setdefault(name, []).append(i)
    unknown: list[str] = []
    duplicated: set[str] = set()
    for name, where in seen.items():
        if not name:
            continue
        if name not in _KNOWN_COLUMNS:
            unknown.extend(raw[i] for i in where)
            continue
        if len(where) > 1:
            spots = ", ".join(f"{raw[i]!r} (column {_column_letter(i)})" for i in where)
            problems.add(f"column name appears {len(where)} times: {spots}", row=1, column=name,
                         expected="each column exactly once (names are matched ignoring case "
                                  "and surrounding spaces)")
            duplicated.add(name)
            continue
        index[name] = where[0]

    for i in seen.get("", []):
        if cells.iloc[1:, i].str.strip().ne("").any():
            warnings.add(f"column {_column_letter(i)} has no name but holds values; it is ignored",
                         row=1)
    for name in unknown:
        close = difflib.get_close_matches(schema.canonical_column_name(name),
                                          sorted(_KNOWN_COLUMNS), n=1, cutoff=0.8)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        warnings.add(f"unknown column is ignored{hint}", row=1, column=name)
    for name in sorted(schema.IGNORED_COLUMNS & index.keys()):
        warnings.add("dropped: athlete names are never kept", row=1, column=raw[index[name]])
    return _Header(index, raw, unknown, duplicated)


def _looks_like_values(raw: list[str]) -> bool:
    return any(schema.normalize_division(h) or schema.normalize_position(h)
               or h.upper() in schema.US_STATES for h in raw if h)


# --------------------------------------------------------------------------- cells


class _Cells:
    """The data rows of one file as text, with their spreadsheet row numbers."""

    def __init__(self, cells: pd.DataFrame, header: _Header):
        self.header = header
        self.body = cells.iloc[1:]
        self.rows = self.body.index.to_numpy() + 1

    def text(self, name: str, mask: np.ndarray | None = None, *, strip: bool = True
             ) -> pd.Series:
        col = self.body.iloc[:, self.header.index[name]]
        if mask is not None and not mask.all():
            col = col[mask]
        return col.str.strip() if strip else col

    def raw_name(self, name: str) -> str:
        return self.header.raw[self.header.index[name]]

    def order(self, name: str) -> int:
        return self.header.index.get(name, len(self.header.raw))


def _missing(text: pd.Series) -> np.ndarray:
    return text.str.lower().isin(MISSING_TOKENS).to_numpy()


def _select_position(cells: _Cells, position: str, problems: _Findings) -> np.ndarray:
    """Mask of the data rows of ``position``; reports unknown position values in every row."""
    n = len(cells.rows)
    if schema.POSITION_COLUMN not in cells.header.index:
        if schema.POSITION_COLUMN not in cells.header.duplicated:
            _check_single_position(cells, position, problems)
        return np.ones(n, dtype=bool)
    text = cells.text(schema.POSITION_COLUMN)
    lowered = text.str.lower()
    valid = lowered.isin(schema.POSITIONS).to_numpy()
    if not valid.all():
        bad = ~valid
        missing = bad & _missing(text)
        name = cells.raw_name(schema.POSITION_COLUMN)
        problems.add_cells(cells.rows[missing], None, column=name, message="missing position",
                           expected=_POSITION_EXPECTED, order=cells.order(schema.POSITION_COLUMN))
        unknown = bad & ~missing
        problems.add_cells(cells.rows[unknown], text[unknown], column=name,
                           message="unknown position {value}", expected=_POSITION_EXPECTED,
                           order=cells.order(schema.POSITION_COLUMN))
    selected = (lowered == position).to_numpy()
    if not selected.any():
        present = lowered[valid].value_counts()
        listing = ", ".join(f"{p} ({int(present[p])} rows)" for p in schema.POSITIONS
                            if p in present) or "none"
        problems.add(f"the file holds no {position} rows; positions present: {listing}",
                     column=cells.raw_name(schema.POSITION_COLUMN),
                     expected=f"rows whose position is {position!r}", stage=2)
    return selected


def _check_single_position(cells: _Cells, position: str, problems: _Findings) -> None:
    """Without a position column the file must hold one position: the requested one."""
    looks_like: dict[str, list[str]] = {}
    for pos, names in _SIGNATURE_COLUMNS.items():
        used = [n for n in sorted(names) if n in cells.header.index
                and (~_missing(cells.text(n))).any()]
        if used:
            looks_like[pos] = used
    evidence = "; ".join(f"{p}: {', '.join(c)}" for p, c in looks_like.items())
    if len(looks_like) > 1:
        problems.add(f"the file has no '{schema.POSITION_COLUMN}' column but holds columns of "
                     f"several positions ({evidence})", column=schema.POSITION_COLUMN,
                     expected="a 'position' column (qb, rb or wr) when a file holds several "
                              "positions", stage=0)
    elif looks_like and position not in looks_like:
        other = next(iter(looks_like))
        problems.add(f"the file has no '{schema.POSITION_COLUMN}' column and its columns look "
                     f"like {other} data ({evidence}), not {position}",
                     column=schema.POSITION_COLUMN,
                     expected=f"a {position} file, or a 'position' column", stage=0)


def _required_present(cells: _Cells, position: str, problems: _Findings) -> None:
    needed = [schema.TARGET_COLUMN] + schema.required_columns(position)
    for name in needed:
        if name in cells.header.index or name in cells.header.duplicated:
            continue
        if name == schema.TARGET_COLUMN:
            what = "the division each athlete plays at (the training target)"
        else:
            col = schema.column(position, name)
            what = f"{col.description} in {col.unit}"
        problems.add(f"required column is missing for {position}", column=name,
                     expected=f"a column named {name!r}: {what}", stage=0,
                     order=len(needed))


def _convert_target(cells: _Cells, sel: np.ndarray, problems: _Findings) -> pd.Series | None:
    if schema.TARGET_COLUMN not in cells.header.index:
        return None
    text = cells.text(schema.TARGET_COLUMN, sel)
    mapping = {v: schema.normalize_division(v) for v in text.unique()}
    labels = text.map(mapping)
    bad = labels.isna().to_numpy()
    if bad.any():
        rows = cells.rows[sel]
        missing = bad & _missing(text)
        name = cells.raw_name(schema.TARGET_COLUMN)
        order = cells.order(schema.TARGET_COLUMN)
        problems.add_cells(rows[missing], None, column=name, order=order,
                           message="missing target: the division is empty",
                           expected=_DIVISION_EXPECTED)
        unknown = bad & ~missing
        problems.add_cells(rows[unknown], text[unknown], column=name, order=order,
                           message="unknown division {value}", expected=_DIVISION_EXPECTED)
    return labels


def _height_hint(value: float) -> str:
    if value < 8:
        return " (feet? write 6-2 or 74)"
    if 150 <= value <= 215:
        return " (centimetres? convert to inches)"
    return ""


def _convert_numeric(cells: _Cells, sel: np.ndarray, col: schema.Column,
                     problems: _Findings) -> np.ndarray:
    n = int(sel.sum())
    if col.name not in cells.header.index:
        return np.full(n, np.nan)
    # to_numeric accepts surrounding spaces; only the cells it rejects are
    # trimmed and looked at again, which keeps the clean path fast.
    text = cells.text(col.name, sel, strip=False)
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    rows = cells.rows[sel]
    name = cells.raw_name(col.name)
    order = cells.order(col.name)
    is_height = col.name == "height_inches"

    unparsed = np.isnan(values)
    if unparsed.any():
        text = text.str.strip()
        missing = unparsed & _missing(text)
        todo = unparsed & ~missing
        if todo.any():
            pending = text[todo]
            if is_height:
                recovered = pending.map({v: schema.parse_height(v) for v in pending.unique()})
            else:
                recovered = pending.map(lambda v: float(v.replace(",", ""))
                                        if _THOUSANDS.match(v) else None)
            values[todo] = recovered.to_numpy(dtype=np.float64, na_value=np.nan)
        text_bad = np.isnan(values) & ~missing
        expected = (f"{col.range_text}, e.g. 74, 6-2, 6'2\", 6' 2 or 6 ft 2 in" if is_height
                    else f"a number: {col.range_text}")
        problems.add_cells(rows[text_bad], text[text_bad], column=name, order=order,
                           message="not a number: {value}" if not is_height
                           else "not a height: {value}", expected=expected)
        if col.required:
            problems.add_cells(rows[missing], None, column=name, order=order,
                               message="missing value in a required column",
                               expected=col.range_text)

    with np.errstate(invalid="ignore"):
        low = values < col.low if col.low is not None else np.zeros(n, dtype=bool)
        high = values > col.high if col.high is not None else np.zeros(n, dtype=bool)
    out_of_range = low | high
    if out_of_range.any():
        shown = values[out_of_range]
        hints = [_height_hint(v) for v in shown] if is_height else [""] * len(shown)
        problems.add_cells(
            rows[out_of_range], (f"{v:g}{h}" for v, h in zip(shown, hints, strict=True)),
            column=name, order=order, message="value {value} is outside the plausible range",
            expected=col.range_text, quote=False)
    if col.kind == "int":
        fractional = ~out_of_range & ~np.isnan(values) & (values != np.floor(values))
        problems.add_cells(rows[fractional], text[fractional], column=name, order=order,
                           message="{value} is not a whole number",
                           expected=f"a whole number of {col.unit}")
    return values


def _convert_state(cells: _Cells, sel: np.ndarray, col: schema.Column,
                   problems: _Findings) -> pd.Series:
    n = int(sel.sum())
    if col.name not in cells.header.index:
        return pd.Series(np.full(n, np.nan, dtype=object))
    text = cells.text(col.name, sel)
    codes = text.str.upper()
    missing = _missing(text)
    bad = ~missing & ~codes.isin(schema.US_STATES).to_numpy()
    problems.add_cells(cells.rows[sel][bad], text[bad], column=cells.raw_name(col.name),
                       order=cells.order(col.name), message="unknown state code {value}",
                       expected="a two-letter US state code (50 states and DC), e.g. TX")
    return pd.Series(np.where(missing, np.nan, codes.to_numpy(dtype=object)), dtype=object)


def _warn_duplicates(cells: _Cells, sel: np.ndarray, warnings: _Findings) -> None:
    body = cells.body[sel]
    repeats = body.duplicated(keep="first").to_numpy()
    if not repeats.any():
        return
    rows = cells.rows[sel]
    hashes = pd.util.hash_pandas_object(body, index=False).to_numpy()
    first = pd.Series(rows).groupby(hashes).transform("first").to_numpy()
    warnings.add_cells(rows[repeats], first[repeats], column=None, order=0,
                       message="duplicates row {value} (kept; remove it if it is the same "
                               "athlete entered twice)", expected=None, quote=False)


def _check_division_counts(target: pd.Series, position: str, minimum: int,
                           problems: _Findings) -> None:
    counts = target.value_counts()
    for division in schema.DIVISIONS:
        n = int(counts.get(division, 0))
        if n < minimum:
            problems.add(f"division {division!r} has {'only ' if n else ''}{n} valid {position} "
                         f"row(s), too few to cross-validate", column=schema.TARGET_COLUMN,
                         expected=f"at least {minimum} rows per division", stage=2,
                         order=schema.DIVISIONS.index(division))


def _blank_rows(table: pd.DataFrame) -> np.ndarray:
    """Data rows whose every cell is empty (blank lines, or only commas)."""
    filled = np.zeros(len(table) - 1, dtype=bool)
    for i in range(table.shape[1]):
        filled |= table.iloc[1:, i].to_numpy() != ""
    return ~filled


# --------------------------------------------------------------------------- public


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
    raw = _read_bytes(path, label)
    digest = hashlib.sha256(raw).hexdigest()
    text = _decode(raw, label)
    _sniff(text, label)
    table = _parse(raw, text, label, max_problems)

    problems = _Findings(label, max_problems)
    warnings = _Findings(label, max_problems)
    header = _read_header(table, label, problems, warnings)
    if schema.POSITION_COLUMN in header.duplicated:
        raise problems.error()  # which rows belong to which position is unknowable

    blank = _blank_rows(table)
    if blank.any():
        blank_rows = table.index.to_numpy()[1:][blank] + 1
        warnings.add(f"skipped {len(blank_rows)} blank row(s): {_rows_text(blank_rows)}",
                     stage=1, row=int(blank_rows[0]))
        table = table.drop(index=table.index[1:][blank])
    if len(table) == 1:
        problems.add("the file has a header but no data rows",
                     expected="at least one data row below the header", stage=0)
        raise problems.error()

    cells = _Cells(table, header)
    _required_present(cells, position, problems)
    sel = _select_position(cells, position, problems)
    if not sel.any():
        raise problems.error()

    target = _convert_target(cells, sel, problems)
    columns: dict[str, object] = {}
    for col in schema.columns_for(position):
        if col.kind == "state":
            columns[col.name] = _convert_state(cells, sel, col, problems).to_numpy()
        else:
            columns[col.name] = _convert_numeric(cells, sel, col, problems)
    if target is not None:
        _check_division_counts(target, position, min_rows_per_division, problems)
    _warn_duplicates(cells, sel, warnings)

    if problems:
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
