"""Outcomes: the division each athlete actually reached, kept beside the prediction log.

``recruit-reveal outcomes add FILE.csv`` reads a CSV with ``athlete_ref`` and/or
``request_id``, ``division`` (any spelling :func:`~recruit_reveal.schema.normalize_division`
accepts) and an optional ``date``; every bad row is reported at once, grouped by column
and rule as training files are (nothing is written when any row is bad).  The rows go
into one create-only Parquet file
``outcomes/date={today}/part-{UTC yyyymmddTHHMMSS}-{8 hex}.parquet`` of the log's store
(the layout of the shared log contract, docs/monitoring.md).
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..artifacts.record_format import KEY_COLUMNS
from ..catalog import active_catalog
from ..errors import DataValidationError, Problem
from ..schema import header_key, normalize_division
from ..storage.locations import Location, open_store

OUTCOMES_FOLDER = "outcomes"
OUTCOME_SCHEMA = pa.schema([
    ("athlete_ref", pa.string()),
    ("request_id", pa.string()),
    ("division", pa.string()),
    ("outcome_date", pa.date32()),
    ("recorded_at", pa.timestamp("ms", tz="UTC")),
])


def _division_expected() -> str:
    """What a bad division cell should hold: the active catalog's levels (outcomes are
    recorded for the football in use; its spellings are accepted too)."""
    return ("a division such as " + ", ".join(active_catalog().ladder.levels)
            + " (or a spelling the catalog lists)")


@dataclass(frozen=True)
class OutcomesWritten:
    """What ``outcomes add`` wrote: how many rows, and where."""

    rows: int
    location: str


def read_outcomes_csv(path: str | Path) -> pa.Table:
    """The outcomes in ``path`` as a table of :data:`OUTCOME_SCHEMA`, or
    :class:`DataValidationError` naming every bad row (file, row, column)."""
    shown = str(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, ValueError) as exc:
        raise DataValidationError(Problem(f"cannot read the outcomes file: {exc}",
                                          file=shown)) from None
    frame.columns = [header_key(c) for c in frame.columns]
    _check_header(frame, shown)
    now = datetime.now(timezone.utc)
    keys = {k: _text_column(frame, k) for k in KEY_COLUMNS}
    divisions = [normalize_division(v) for v in frame["division"]]
    dates = [_parse_date(v) for v in _text_column(frame, "date")]
    problems = _row_problems(keys, frame["division"].tolist(), divisions,
                             _text_column(frame, "date"), dates, shown)
    if problems:
        raise DataValidationError(problems)
    today = now.date()
    return pa.table({
        "athlete_ref": pa.array(keys["athlete_ref"], pa.string()),
        "request_id": pa.array(keys["request_id"], pa.string()),
        "division": pa.array(divisions, pa.string()),
        "outcome_date": pa.array([d or today for d in dates], pa.date32()),
        "recorded_at": pa.array([now] * len(frame), pa.timestamp("ms", tz="UTC")),
    }, schema=OUTCOME_SCHEMA)


def _check_header(frame: pd.DataFrame, shown: str) -> None:
    problems = []
    if not any(k in frame.columns for k in KEY_COLUMNS):
        problems.append(Problem("no key column", file=shown,
                                expected="a column athlete_ref and/or request_id"))
    if "division" not in frame.columns:
        problems.append(Problem("no division column", file=shown, column="division",
                                expected=_division_expected()))
    if len(frame) == 0 and not problems:
        problems.append(Problem("no outcome rows", file=shown))
    if problems:
        raise DataValidationError(problems)


def _text_column(frame: pd.DataFrame, name: str) -> list[str | None]:
    if name not in frame.columns:
        return [None] * len(frame)
    return [v.strip() or None for v in frame[name].astype(str)]


def _parse_date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _row_problems(keys: dict[str, list[str | None]], raw_divisions: list[str],
                  divisions: list[str | None], raw_dates: list[str | None],
                  dates: list[date | None], shown: str) -> list[Problem]:
    """Every bad cell; rows are numbered as a spreadsheet shows them (header = row 1)."""
    problems = []
    for i, division in enumerate(divisions):
        row = i + 2
        if not any(keys[k][i] for k in KEY_COLUMNS):
            problems.append(Problem("neither athlete_ref nor request_id is set", file=shown,
                                    row=row, column="athlete_ref", rule="no key",
                                    expected="athlete_ref or request_id"))
        if division is None:
            raw = raw_divisions[i].strip()
            problems.append(Problem(
                f"unknown division {raw!r}" if raw else "missing division", file=shown,
                row=row, column="division",
                rule="unknown division" if raw else "missing value", value=raw or None,
                expected=_division_expected()))
        if raw_dates[i] is not None and dates[i] is None:
            problems.append(Problem(f"not a date: {raw_dates[i]!r}", file=shown, row=row,
                                    column="date", rule="not a date", value=raw_dates[i],
                                    expected="YYYY-MM-DD"))
    return problems


def outcomes_name(now: datetime | None = None) -> str:
    """``outcomes/date=YYYY-MM-DD/part-{yyyymmddTHHMMSS}-{8 hex}.parquet`` (UTC)."""
    now = now or datetime.now(timezone.utc)
    return (f"{OUTCOMES_FOLDER}/date={now:%Y-%m-%d}/"
            f"part-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}.parquet")


def add_outcomes(csv_path: str | Path, log: Location) -> OutcomesWritten:
    """Validate ``csv_path`` and write its outcomes into the log at ``log`` (create-only)."""
    table = read_outcomes_csv(csv_path)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    store = open_store(log)
    recorded = table.column("recorded_at")[0].as_py()
    name = outcomes_name(recorded)
    store.create(name, buffer.getvalue())
    return OutcomesWritten(rows=table.num_rows, location=store.shown(name))
