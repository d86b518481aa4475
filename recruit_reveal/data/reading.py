"""Reading a training CSV: bytes, text, records, the header row and the cells as text.

Everything here works on text: cells are kept exactly as the file holds them,
so that a message can quote the exact cell.  File-level problems (missing,
binary, not UTF-8, not CSV, ragged rows, no header) stop at once; header
findings are added to the caller's :class:`~recruit_reveal.data.findings.Findings`.
"""

from __future__ import annotations

import csv
import difflib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import schema
from .findings import Findings, fail, quote_cell

KNOWN_COLUMNS: frozenset[str] = frozenset(
    {c.name for pos in schema.POSITIONS for c in schema.columns_for(pos)}
    | {schema.TARGET_COLUMN, schema.POSITION_COLUMN}
    | schema.IGNORED_COLUMNS
)


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


def decode(raw: bytes, label: str) -> str:
    """Bytes to text, rejecting empty, binary and non-UTF-8 files with a clear reason."""
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
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        byte = raw[exc.start: exc.start + 1].hex().upper()
        raise fail(
            label,
            f"the file is not UTF-8: byte 0x{byte} on line {line} cannot be decoded"
            " (Excel's plain 'CSV' often writes Windows-1252)",
            "UTF-8 text; re-save the file as 'CSV UTF-8'",
            row=line,
        ) from exc
    if not text.strip():
        raise fail(label, "the file is empty", "a header row and at least one data row")
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


def sniff(text: str, label: str) -> None:
    head = text.lstrip()[:1]
    if head in ("{", "["):
        raise fail(label, "not a CSV file: it looks like JSON",
                   "comma-separated values with a header row")
    if head == "<":
        raise fail(label, "not a CSV file: it looks like HTML or XML",
                   "comma-separated values with a header row")


def parse(raw: bytes, text: str, label: str, cap: int) -> pd.DataFrame:
    """All records as text (header included, as row 0), rejecting ragged rows."""
    try:
        counts = _field_counts(raw, text)
    except csv.Error as exc:
        raise fail(label, f"cannot be parsed as CSV ({exc})",
                   "comma-separated values with a header row") from exc
    width = int(counts[0])
    ragged = np.flatnonzero((counts != width) & (counts != 0))
    data_counts = counts[1:][counts[1:] != 0]
    if len(ragged) and len(ragged) == len(data_counts) and len(np.unique(data_counts)) == 1:
        raise fail(label, f"the header has {width} fields but every data row has "
                   f"{data_counts[0]}", "one column name in the header per field of the data "
                   "rows (is a column name missing, or is there a trailing comma?)", row=1)
    if len(ragged):
        findings = Findings(label, cap)
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
        raise fail(label, f"cannot be parsed as CSV ({exc})",
                   "comma-separated values with a header row") from exc
    return cells


# --------------------------------------------------------------------------- header


@dataclass
class Header:
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


def read_header(cells: pd.DataFrame, label: str, problems: Findings,
                warnings: Findings) -> Header:
    raw = [str(v).strip() for v in cells.iloc[0].tolist()]
    canonical = [schema.canonical_column_name(h) if h else "" for h in raw]

    if len(raw) == 1 and (";" in raw[0] or "\t" in raw[0]):
        sep = "semicolons" if ";" in raw[0] else "tabs"
        raise fail(label, f"the header is separated by {sep}, not commas", "comma-separated "
                   "values; in Excel save as 'CSV UTF-8 (Comma delimited)'", row=1)
    if not any(c in KNOWN_COLUMNS for c in canonical):
        sample = ", ".join(quote_cell(h) for h in raw[:5])
        numeric = sum(_looks_numeric(h) for h in raw if h)
        reason = ("row 1 looks like data, not a header" if numeric or _looks_like_values(raw)
                  else "no cell of row 1 names a known column")
        raise fail(label, f"no header row: {reason} (it reads {sample})",
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
        if name not in KNOWN_COLUMNS:
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
                                          sorted(KNOWN_COLUMNS), n=1, cutoff=0.8)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        warnings.add(f"unknown column is ignored{hint}", row=1, column=name)
    for name in sorted(schema.IGNORED_COLUMNS & index.keys()):
        warnings.add("dropped: athlete names are never kept", row=1, column=raw[index[name]])
    return Header(index, raw, unknown, duplicated)


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
        col = self.body.iloc[:, self.header.index[name]]
        if mask is not None and not mask.all():
            col = col[mask]
        return col.str.strip() if strip else col

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
