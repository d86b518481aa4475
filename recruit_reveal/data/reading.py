"""Reading a training CSV: bytes, text, records, the header row and the cells as text.

Everything here works on text: cells are kept exactly as the file holds them,
so that a message can quote the exact cell.  A file may be UTF-8 (with or
without a byte-order mark) or Windows-1252/Latin-1, and separated by commas,
semicolons or tabs (the header row tells which).  File-level problems
(missing, binary, UTF-16, not CSV, ragged rows, no header) stop at once;
header findings are added to the caller's
:class:`~recruit_reveal.data.findings.Findings`.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import schema
from . import mapping
from .columns import canonical_columns
from .findings import Findings, fail, quote_cell


def _column_letter(index: int) -> str:
    """0 -> 'A', 25 -> 'Z', 26 -> 'AA', as a spreadsheet labels columns."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return letters


# --------------------------------------------------------------------------- file level


def read_bytes(path: Path, label: str) -> bytes:
    if not path.exists():
        raise fail(label, "file not found", "a path to a training CSV")
    if path.is_dir():
        raise fail(label, "is a folder, not a file", "a path to a training CSV")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise fail(label, f"cannot be read ({exc.strerror or exc})") from exc


_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive or an Excel .xlsx workbook; export the sheet as CSV"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook; export the sheet as CSV"),
    (b"\x1f\x8b", "gzip-compressed; decompress it first"),
    (b"%PDF", "a PDF document"),
)


@dataclass(frozen=True)
class Text:
    """A file's text, the encoding it was read with and, for a fallback, the first byte
    that is not UTF-8 (``line`` counts from 1)."""

    text: str
    encoding: str
    line: int | None = None
    byte: str | None = None

    def note(self) -> str | None:
        """Why the file was not read as UTF-8, for a warning (``None`` when it was)."""
        if self.line is None:
            return None
        return (f"the file is not UTF-8 (byte 0x{self.byte} on line {self.line}): it was read "
                f"as {self.encoding}, as Excel's plain 'CSV' writes it")


def decode(raw: bytes, label: str) -> Text:
    """Bytes to text, rejecting empty, binary and UTF-16 files with a clear reason.

    UTF-8 (with or without a byte-order mark) is read as such; any other file
    is read as Windows-1252, or Latin-1 when it holds a byte Windows-1252
    leaves undefined (Latin-1 decodes any byte).
    """
    if not raw.strip():
        raise fail(label, "the file is empty", "a header row and at least one data row")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise fail(label, "the file is UTF-16 encoded, not UTF-8",
                   "UTF-8 text; re-save it as 'CSV UTF-8'")
    for magic, what in _BINARY_SIGNATURES:
        if raw.startswith(magic):
            raise fail(label, f"not a CSV text file: it looks like {what}", "a CSV text file")
    if b"\x00" in raw[:65536]:
        raise fail(label, "not a CSV text file: it holds binary data (NUL bytes)",
                   "a CSV text file")
    try:
        decoded = Text(raw.decode("utf-8-sig"), "UTF-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        byte = raw[exc.start: exc.start + 1].hex().upper()
        try:
            decoded = Text(raw.decode("cp1252"), "Windows-1252", line, byte)
        except UnicodeDecodeError:
            decoded = Text(raw.decode("latin-1"), "Latin-1", line, byte)
    if not decoded.text.strip():
        raise fail(label, "the file is empty", "a header row and at least one data row")
    return decoded


#: Field separators a file may use, by name; the header row tells which one it does.
SEPARATORS: dict[str, str] = {",": "commas", ";": "semicolons", "\t": "tabs"}


def detect_separator(text: str) -> str:
    """The separator of the header row: the most frequent of comma, semicolon and tab
    (a comma when none is, or on a tie)."""
    match = re.match(r"[\r\n]*([^\r\n]*)", text)
    header = match.group(1) if match else ""
    counts = {sep: header.count(sep) for sep in SEPARATORS}
    best = max(counts.values())
    return "," if best == 0 or counts[","] == best else max(counts, key=lambda k: counts[k])


def _field_counts(raw: bytes, text: str, sep: str) -> np.ndarray:
    """Fields per record, in the record numbering pandas uses (0 for a blank line).

    The fast path counts separators per line with numpy; quoted fields (which
    may hold separators and newlines) and bare-CR line ends go through the csv
    module.
    """
    lone_cr = "\r" in text and text.count("\r") != text.count("\r\n")
    if '"' in text or lone_cr:
        # newline=None reads old Mac (bare CR) line ends as line breaks.
        records = csv.reader(io.StringIO(text, newline=None), delimiter=sep)
        return np.fromiter((len(r) for r in records), dtype=np.int64)
    body = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    b = np.frombuffer(body, dtype=np.uint8)
    newlines = np.flatnonzero(b == 10)
    ends = newlines if body.endswith(b"\n") else np.append(newlines, len(b))
    starts = np.concatenate(([0], newlines + 1))[: len(ends)]
    commas = np.bincount(np.searchsorted(newlines, np.flatnonzero(b == ord(sep))),
                         minlength=len(ends))[: len(ends)]
    length = ends - starts
    blank = (length == 0) | ((length == 1) & (b[np.minimum(starts, len(b) - 1)] == 13))
    return np.where(blank, 0, commas + 1)


def sniff(text: str, label: str) -> None:
    """Reject JSON, HTML and XML at once, naming what the file looks like."""
    head = text.lstrip()[:1]
    if head in ("{", "["):
        raise fail(label, "not a CSV file: it looks like JSON",
                   "comma-separated values with a header row")
    if head == "<":
        raise fail(label, "not a CSV file: it looks like HTML or XML",
                   "comma-separated values with a header row")


def parse(raw: bytes, text: str, label: str, cap: int | None, sep: str = ",") -> pd.DataFrame:
    """All records as text (header included, as row 0), rejecting ragged rows."""
    fields = f"fields separated by {SEPARATORS[sep]}"
    try:
        counts = _field_counts(raw, text, sep)
    except csv.Error as exc:
        raise fail(label, f"cannot be parsed as CSV ({exc})",
                   f"{fields} with a header row") from exc
    width = int(counts[0])
    ragged = np.flatnonzero((counts != width) & (counts != 0))
    data_counts = counts[1:][counts[1:] != 0]
    if len(ragged) and len(ragged) == len(data_counts) and len(np.unique(data_counts)) == 1:
        raise fail(label, f"the header has {width} fields but every data row has "
                   f"{data_counts[0]}", "one column name in the header per field of the data "
                   "rows (is a column name missing, or is there a trailing comma?)", row=1)
    if len(ragged):
        findings = Findings(label, cap)
        for i in ragged if cap is None else ragged[:cap]:
            findings.add(f"has {counts[i]} fields but the header has {width}", row=int(i) + 1,
                         expected=f"the same number of {fields} on every row", stage=1)
        findings.uncounted = 0 if cap is None else max(0, len(ragged) - cap)
        raise findings.error()
    try:
        cells = pd.read_csv(io.StringIO(text), sep=sep, header=None, dtype=str,
                            keep_default_na=False, na_values=[], skip_blank_lines=False,
                            engine="c")
    except (pd.errors.ParserError, ValueError) as exc:
        raise fail(label, f"cannot be parsed as CSV ({exc})",
                   f"{fields} with a header row") from exc
    return cells


# --------------------------------------------------------------------------- header


@dataclass
class Header:
    index: dict[str, int]  # canonical name -> column position, usable columns only
    raw: list[str]  # header cells, trimmed
    unknown: list[str]
    duplicated: set[str]
    applied: dict[str, str] = field(default_factory=dict)  # header -> canonical, see mapping
    original: list[str] = field(default_factory=list)  # header cells exactly as written
    #: Positions of columns holding numbers as numbers ('' for missing), from a typed
    #: source (data.source_cells): their cells need no trimming and are not text.
    typed: set[int] = field(default_factory=set)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return schema.parse_height(text) is not None and any(ch.isdigit() for ch in text)
    return True


def read_header(cells: pd.DataFrame, label: str, problems: Findings, warnings: Findings,
                columns: mapping.ColumnMapping | None = None,
                position: schema.PositionLike | None = None) -> Header:
    """Which column is which, through ``columns`` (an explicit mapping), the built-in
    spellings and those of ``position`` (:mod:`recruit_reveal.data.columns`); a column
    given twice with different values is a problem, unknown and unused ones warnings."""
    columns = columns or mapping.ColumnMapping()
    original = [str(v) for v in cells.iloc[0].tolist()]
    raw = [h.strip() for h in original]
    resolved = mapping.resolve(raw, columns, position)
    canonical = resolved.names

    if not any(c in canonical_columns() for c in canonical):
        sample = ", ".join(quote_cell(h) for h in raw[:5])
        numeric = sum(_looks_numeric(h) for h in raw if h)
        reason = ("row 1 looks like data, not a header" if numeric or _looks_like_values(raw)
                  else "no cell of row 1 names a known column")
        raise fail(label, f"no header row: {reason} (it reads {sample})",
                   "row 1 to name the columns, e.g. position,division,height_inches,"
                   "weight_lbs,senior_ypg (or a column mapping for the file's names)", row=1)

    seen: dict[str, list[int]] = {}
    for i, name in enumerate(canonical):
        seen.setdefault(name, []).append(i)
    index, unknown, duplicated = _index(seen, raw, cells, problems, warnings)

    for i in seen.get("", []):
        if i in resolved.displaced:
            warnings.add(f"not used: the column mapping takes {resolved.displaced[i]!r} from "
                         "another column", row=1, column=raw[i])
        elif cells.iloc[1:, i].astype(str).str.strip().ne("").any():
            warnings.add(f"column {_column_letter(i)} has no name but holds values; it is ignored",
                         row=1)
    for name in resolved.unused:
        source = f" {columns.source}" if columns.source else ""
        warnings.add(f"the column mapping{source} names {name!r}, which is not a column of this "
                     "file", row=1)
    for name in unknown:
        close = mapping.suggest(name)
        hint = f" (did you mean {close!r}?)" if close else ""
        warnings.add(f"unknown column is ignored{hint}", row=1, column=name)
    for name in sorted(schema.IGNORED_COLUMNS & index.keys()):
        warnings.add("dropped: athlete names are never kept", row=1, column=raw[index[name]])
    return Header(index, raw, unknown, duplicated, resolved.applied, original)


def _index(seen: dict[str, list[int]], raw: list[str], cells: pd.DataFrame, problems: Findings,
           warnings: Findings) -> tuple[dict[str, int], list[str], set[str]]:
    """Known column -> its position; unknown headers; columns given twice with different
    values (one column under several names is read once when every row agrees)."""
    index: dict[str, int] = {}
    unknown: list[str] = []
    duplicated: set[str] = set()
    known = canonical_columns()
    for name, where in seen.items():
        if not name:
            continue
        if name not in known:
            unknown.extend(raw[i] for i in where)
            continue
        if len(where) > 1:
            spots = ", ".join(f"{raw[i]!r} (column {_column_letter(i)})" for i in where)
            if not _columns_agree(cells, where):
                problems.add(f"column name appears {len(where)} times with different values: "
                             f"{spots}", row=1, column=name,
                             expected="each column once, or its copies holding the same value on "
                                      "every row (names are matched ignoring case, surrounding "
                                      "spaces and punctuation, and through the built-in "
                                      "spellings and the column mapping)")
                duplicated.add(name)
                continue
            warnings.add(f"column name appears {len(where)} times with the same values: "
                         f"{spots}; the first is read", row=1, column=name)
        index[name] = where[0]
    return index, unknown, duplicated


def _columns_agree(cells: pd.DataFrame, where: list[int]) -> bool:
    """Whether the columns at ``where`` say the same on every data row, as
    :func:`recruit_reveal.data.columns.same_value` compares two values."""
    # astype(str): a typed source's numeric columns hold numbers, not text.
    first = cells.iloc[1:, where[0]].astype(str).str.strip()
    first_number = pd.to_numeric(first.str.replace(",", ""), errors="coerce")
    for i in where[1:]:
        other = cells.iloc[1:, i].astype(str).str.strip()
        same = first.str.casefold() == other.str.casefold()
        if not same.all():
            same |= first_number == pd.to_numeric(other.str.replace(",", ""), errors="coerce")
        if not same.all():
            return False
    return True


def _looks_like_values(raw: list[str]) -> bool:
    return any(schema.normalize_division(h) or schema.normalize_position(h)
               or h.upper() in schema.US_STATES for h in raw if h)


# --------------------------------------------------------------------------- cells


class Cells:
    """The data rows of one file as text, with their spreadsheet row numbers."""

    def __init__(self, cells: pd.DataFrame, header: Header):
        self.header = header
        self.body = cells.iloc[1:]
        self.rows = self.body.index.to_numpy() + 1

    def text(self, name: str, mask: np.ndarray | None = None, *, strip: bool = True
             ) -> pd.Series:
        position = self.header.index[name]
        col = self.body.iloc[:, position]
        if mask is not None and not mask.all():
            col = col[mask]
        return col.str.strip() if strip and position not in self.header.typed else col

    def raw_name(self, name: str) -> str:
        return self.header.raw[self.header.index[name]]

    def order(self, name: str) -> int:
        return self.header.index.get(name, len(self.header.raw))


def blank_rows(table: pd.DataFrame) -> np.ndarray:
    """Data rows whose every cell is empty (blank lines, or only commas)."""
    filled = np.zeros(len(table) - 1, dtype=bool)
    for i in range(table.shape[1]):
        filled |= table.iloc[1:, i].to_numpy() != ""
    return ~filled
