"""MLflow's scoring protocol: its request formats read into records, one dict per row.

MLflow's scoring server (and Databricks Model Serving, MLServer and Seldon, which
speak its protocol) takes ``application/json`` with exactly one of
``dataframe_split``, ``dataframe_records``, ``instances`` or ``inputs`` (plus an
optional ``params``), or ``text/csv`` with a header row.  Each format is turned into
a list of :class:`Row` here: the record as sent and the prefix that names it in
errors (``dataframe_records[3].``).  The fields of a record are not read here: the
routes hand every record to :func:`recruit_reveal.api.parsing.parse_athlete`, as
/predict does.

Every problem is an :class:`~recruit_reveal.api.http_errors.ApiError`: 400 for a
body that is not one of the formats, 415 for a content type that is not JSON or CSV.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .http_errors import ApiError
from .json_bodies import loads

DATAFRAME_SPLIT = "dataframe_split"
DATAFRAME_RECORDS = "dataframe_records"
INSTANCES = "instances"
INPUTS = "inputs"
#: The input keys of a JSON body: exactly one of them is given.
FORMATS: tuple[str, ...] = (DATAFRAME_SPLIT, DATAFRAME_RECORDS, INSTANCES, INPUTS)
#: Inference parameters: accepted and ignored (the models take none).
PARAMS = "params"
#: The keys of ``dataframe_split``.
SPLIT_KEYS = ("columns", "data", "index")

JSON_TYPE = "application/json"
CSV_TYPE = "text/csv"

#: CSV cells read as missing, as pandas.read_csv reads them.
CSV_MISSING = frozenset({"", "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan", "NULL", "null",
                         "None", "<NA>", "#N/A"})


@dataclass(frozen=True)
class Row:
    """One record as sent, and the prefix naming it in errors (``dataframe_records[3].``)."""

    where: str
    record: dict[str, Any]


def _bad(field: str, message: str) -> ApiError:
    return ApiError(400, f"{field}: {message}", field=field)


def media_type(content_type: str | None) -> str:
    """``application/json`` or ``text/csv`` from a Content-Type header; 415 for anything else.

    As MLflow: a ``charset`` parameter must be UTF-8, and no other parameter is allowed.
    """
    if not content_type:
        raise ApiError(415, f"Content-Type: missing; send {JSON_TYPE} or {CSV_TYPE}",
                       field="Content-Type")
    mime, *parameters = (part.strip() for part in content_type.split(";"))
    mime = mime.lower()
    if mime not in (JSON_TYPE, CSV_TYPE):
        raise ApiError(415, f"Content-Type: {mime!r} is not supported; send {JSON_TYPE} or "
                       f"{CSV_TYPE}", field="Content-Type")
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        name, value = name.strip().lower(), value.strip().strip('"').lower()
        if name != "charset":
            raise ApiError(415, f"Content-Type: unknown parameter {name!r} (only charset "
                           "is accepted)", field="Content-Type")
        if value not in ("utf-8", "utf8"):
            raise ApiError(415, f"Content-Type: charset {value!r} is not supported; send "
                           "UTF-8", field="Content-Type")
    return mime


def json_rows(payload: Any) -> list[Row]:
    """The rows of a JSON body of MLflow's protocol, in input order."""
    if not isinstance(payload, dict):
        raise _bad("body", f"expected a JSON object with exactly one of {', '.join(FORMATS)}, "
                   f"got {_kind(payload)}")
    unknown = [k for k in payload if k not in FORMATS and k != PARAMS]
    if unknown:
        raise _bad(unknown[0], f"unknown key (expected exactly one of {', '.join(FORMATS)}, "
                   f"and optionally {PARAMS})")
    given = [k for k in FORMATS if k in payload]
    if len(given) != 1:
        found = f"got {' and '.join(given)}" if given else "got none"
        raise _bad("body", f"expected exactly one of {', '.join(FORMATS)}; {found}")
    if PARAMS in payload and not isinstance(payload[PARAMS], dict | None):
        raise _bad(PARAMS, f"expected an object, got {_kind(payload[PARAMS])}")
    key = given[0]
    value = payload[key]
    if key == DATAFRAME_SPLIT:
        return _split_rows(value)
    if key in (INSTANCES, INPUTS) and isinstance(value, dict):
        return _column_rows(key, value)
    return _record_rows(key, value)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def _record_rows(key: str, value: Any) -> list[Row]:
    """``[{column: value, ...}, ...]``: one object per row."""
    if not isinstance(value, list):
        shape = "a list of records" + (" or an object of columns" if key != DATAFRAME_RECORDS
                                       else "")
        raise _bad(key, f"expected {shape}, got {_kind(value)}")
    rows = []
    for i, record in enumerate(value):
        if not isinstance(record, dict):
            raise _bad(f"{key}[{i}]", f"expected an object of column: value, got "
                       f"{_kind(record)}")
        rows.append(Row(f"{key}[{i}].", record))
    return rows


def _column_rows(key: str, value: dict[str, Any]) -> list[Row]:
    """``{column: [value, ...], ...}``: every column a list, all of the same length."""
    length = None
    for name, values in value.items():
        if not isinstance(values, list):
            raise _bad(f"{key}.{name}", f"expected a list (one value per row), got "
                       f"{_kind(values)}")
        if length is None:
            length, first = len(values), name
        elif len(values) != length:
            raise _bad(f"{key}.{name}", f"{len(values)} values, but {first!r} has {length}: "
                       "every column needs one value per row")
    names = list(value)
    return [Row(f"{key}[{i}].", {n: value[n][i] for n in names}) for i in range(length or 0)]


def _split_rows(value: Any) -> list[Row]:
    """``{"columns": [...], "data": [[...], ...], "index": [...]}`` (pandas' split orient)."""
    if not isinstance(value, dict):
        raise _bad(DATAFRAME_SPLIT, f"expected an object with columns and data, got "
                   f"{_kind(value)}")
    unknown = [k for k in value if k not in SPLIT_KEYS]
    if unknown:
        raise _bad(f"{DATAFRAME_SPLIT}.{unknown[0]}", "unknown key (expected columns, data "
                   "and optionally index)")
    for needed in ("columns", "data"):
        if not isinstance(value.get(needed), list):
            got = "nothing" if needed not in value else _kind(value[needed])
            raise _bad(f"{DATAFRAME_SPLIT}.{needed}", f"expected a list, got {got}")
    columns, data = value["columns"], value["data"]
    _check_columns(f"{DATAFRAME_SPLIT}.columns", columns)
    index = value.get("index")
    if index is not None and (not isinstance(index, list) or len(index) != len(data)):
        raise _bad(f"{DATAFRAME_SPLIT}.index", f"expected a list of {len(data)} labels (one per "
                   "row of data)")
    rows = []
    for i, cells in enumerate(data):
        where = f"{DATAFRAME_SPLIT}.data[{i}]"
        if not isinstance(cells, list) or len(cells) != len(columns):
            got = f"{len(cells)} values" if isinstance(cells, list) else _kind(cells)
            raise _bad(where, f"expected a list of {len(columns)} values (one per column), "
                       f"got {got}")
        rows.append(Row(where + ".", dict(zip(columns, cells, strict=True))))
    return rows


def _check_columns(field: str, columns: list[Any]) -> None:
    seen: set[str] = set()
    for j, name in enumerate(columns):
        if not isinstance(name, str):
            raise _bad(f"{field}[{j}]", f"expected a column name, got {_kind(name)}")
        if name in seen:
            raise _bad(f"{field}[{j}]", f"column {name!r} is given twice")
        seen.add(name)


def csv_rows(body: bytes) -> list[Row]:
    """A CSV body: a header row, then one row per record (``csv[0]`` is the first after the
    header; blank lines are skipped); cells read as pandas reads them (numbers as numbers,
    the usual missing markers as missing, anything else as text)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _bad("body", "CSV is not UTF-8 text") from None
    try:
        table = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise _bad("body", f"malformed CSV: {exc}") from None
    table = [line for line in table if line]
    if not table:
        raise _bad("body", "CSV has no header row")
    header = [name.strip() for name in table[0]]
    _check_columns("header", header)
    rows = []
    for i, cells in enumerate(table[1:]):
        where = f"csv[{i}]"
        if len(cells) != len(header):
            raise _bad(where, f"{len(cells)} cells, but the header has {len(header)} columns")
        rows.append(Row(where + ".", {n: _cell(c) for n, c in zip(header, cells, strict=True)}))
    return rows


@lru_cache(maxsize=8192)
def _cell(text: str) -> Any:
    text = text.strip()
    if text in CSV_MISSING:
        return None
    if "_" in text or not text.isascii():
        return text  # 1_000 and non-ASCII digits are numbers to Python, not to CSV readers
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        # "inf" and "nan" spellings are text to pandas too, and the field's check names them.
        return text
    return int(text) if text.lstrip("+-").isdigit() else number


def rows_of(body: bytes, content_type: str | None) -> list[Row]:
    """The rows of a request body of MLflow's protocol (JSON or CSV), in input order."""
    mime = media_type(content_type)
    if mime == CSV_TYPE:
        return csv_rows(body)
    if not body.strip():
        raise _bad("body", "empty: expected a JSON object such as "
                   '{"dataframe_records": [...]}')
    return json_rows(loads(body, "body: "))
