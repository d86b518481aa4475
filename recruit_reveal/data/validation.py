"""Validating the cells of a training CSV: conversion, plausible ranges, positions, targets.

Every rule comes from the position's spec (its catalog: inputs, ranges, required
inputs, ladder) and :mod:`recruit_reveal.schema`; this module only applies them and reports what it finds by spreadsheet row and column.  Columns are
converted with vectorized checks; only the cells being reported are visited
one by one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from .. import schema
from ..catalog import PositionSpec, active_catalog
from . import production
from .findings import Findings, quote_cell
from .reading import Cells

#: Cell texts read as a missing value (compared case-insensitively, after
#: trimming).  Spreadsheets, databases and pandas write these for empty cells.
MISSING_TOKENS: frozenset[str] = frozenset({
    "", "na", "n/a", "n.a.", "nan", "null", "none", "#n/a", "-", "--", "---", "\u2013", "\u2014",
})

#: Unit words a number may carry, per column (``205 lbs``, ``4.6s``, ``32"``).
#: Heights, and broad jumps, may also be written in feet and inches (``6-2``, ``9'6"``).
UNIT_SUFFIXES: dict[str, tuple[str, ...]] = {
    "weight_lbs": ("lbs", "lb", "pounds", "pound"),
    "forty_yard_dash": ("seconds", "secs", "sec", "s"),
    "shuttle": ("seconds", "secs", "sec", "s"),
    "vertical_jump": ("inches", "inch", "in", '"', "''"),
    "broad_jump": ("inches", "inch", "in", '"', "''"),
    "senior_comp_pct": ("%",),
}
_FEET_AND_INCHES = frozenset({"height_inches", "broad_jump"})


def _signature_columns() -> dict[str, frozenset[str]]:
    """Columns that belong to exactly one position of the active catalog: they tell a
    file's position."""
    positions = active_catalog().positions
    own = {p: set(spec.feature_names) for p, spec in positions.items()}
    return {
        p: frozenset(cols - set().union(*(own[q] for q in positions if q != p)))
        for p, cols in own.items()
    }


_NUMBER = re.compile(r"^(?P<num>[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|[-+]?\.\d+)"
                     r"\s*(?P<unit>[^\d\s.,+-][^\d]*)?$")


def division_expected(spec: PositionSpec) -> str:
    """What a label may be: a level of the position's ladder or one of its spellings
    (a few of each level's, from the top, as the catalog lists them)."""
    levels = {level.lower() for level in spec.levels}
    shown = [s for level in reversed(spec.levels)
             for s in [k for k, v in spec.ladder.spellings.items()
                       if v == level and k not in levels][:3]]
    return ("one of " + ", ".join(spec.levels)
            + (" or a spelling (" + ", ".join(shown) + ", ...)" if shown else ""))


def _position_expected() -> str:
    return ("one of " + ", ".join(active_catalog().keys) + " (any case or spelling), or "
            "another football position, whose rows are skipped")


def _missing(text: pd.Series) -> np.ndarray:
    if text.dtype != object or pd.api.types.infer_dtype(text) in _NUMBERS_ONLY:
        return np.zeros(len(text), dtype=bool)  # a typed source's numbers: none is missing
    return text.str.lower().isin(MISSING_TOKENS).to_numpy()


#: What a typed source's numeric column holds when none of its cells is missing ('').
_NUMBERS_ONLY = frozenset({"integer", "floating", "mixed-integer-float", "empty"})


@dataclass
class Selection:
    """Which data rows belong to the requested position, and what the others are.

    ``mask`` marks the position's rows; ``other`` counts the rows of every
    other position by label (``'te'``, ``'ath'``; an unknown spelling by its
    own text, lower case); ``unattributed`` marks rows whose position is
    blank, which cannot be told to belong to any position.
    """

    mask: np.ndarray
    other: dict[str, int] = field(default_factory=dict)
    unattributed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


def select_position(cells: Cells, spec: PositionSpec, problems: Findings,
                    warnings: Findings) -> Selection:
    """The data rows of ``spec``'s position.  Rows of other positions (any spelling of the
    catalog's positions or ``other_positions``) are counted, not validated; a blank
    position is a problem of its row; a spelling the catalog does not know is a warning."""
    n = len(cells.rows)
    position = spec.key
    expected = _position_expected()
    if schema.POSITION_COLUMN not in cells.header.index:
        if schema.POSITION_COLUMN not in cells.header.duplicated:
            _check_single_position(cells, spec, problems)
        return Selection(np.ones(n, dtype=bool), {}, np.zeros(n, dtype=bool))
    text = cells.text(schema.POSITION_COLUMN)
    missing = _missing(text)
    uniques = text.unique()
    known = {v: schema.position_label(v) for v in uniques}
    labels = text.map({v: known[v] or v.lower() for v in uniques}).to_numpy(dtype=object)
    name = cells.raw_name(schema.POSITION_COLUMN)
    order = cells.order(schema.POSITION_COLUMN)
    problems.add_cells(cells.rows[missing], None, column=name, message="missing position",
                       expected=expected, order=order, rule="missing position")
    selected = (labels == position) & ~missing
    others = ~selected & ~missing
    counts = pd.Series(labels[others]).value_counts()
    other = {str(k): int(v) for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}
    for value in sorted(v for v in uniques if known[v] is None and v.lower() in other
                        and v.lower() not in MISSING_TOKENS):
        rows = cells.rows[(text == value).to_numpy()]
        warnings.add(f"position {quote_cell(value)} is not one we know: {len(rows)} row(s) "
                     f"skipped as another position (rows {_first_rows(rows)})",
                     row=int(rows[0]), column=name, expected=expected, stage=1)
    if not selected.any():
        present = {p: other[p] for p in active_catalog().keys if p in other}
        present |= dict(sorted(((p, c) for p, c in other.items() if p not in present),
                               key=lambda pc: -pc[1]))
        listing = ", ".join(f"{p} ({c} rows)" for p, c in present.items()) or "none"
        problems.add(f"the file holds no {position} rows; positions present: {listing}",
                     column=name, expected=f"rows whose position is {position!r}", stage=2)
    return Selection(selected, other, missing)


def _first_rows(rows: np.ndarray, limit: int = 5) -> str:
    text = ", ".join(str(r) for r in rows[:limit])
    return text + (", ..." if len(rows) > limit else "")


def _check_single_position(cells: Cells, spec: PositionSpec, problems: Findings) -> None:
    """Without a position column the file must hold one position: the requested one."""
    position = spec.key
    looks_like: dict[str, list[str]] = {}
    # A column read through the position's own spelling (an RB's senior_avg) is no evidence.
    own = schema.position_header_aliases(spec)
    for pos, names in _signature_columns().items():
        used = [n for n in sorted(names) if n in cells.header.index
                and schema.header_key(cells.raw_name(n)) not in own
                and (~_missing(cells.text(n))).any()]
        if used:
            looks_like[pos] = used
    evidence = "; ".join(f"{p}: {', '.join(c)}" for p, c in looks_like.items())
    if len(looks_like) > 1:
        problems.add(f"the file has no '{schema.POSITION_COLUMN}' column but holds columns of "
                     f"several positions ({evidence})", column=schema.POSITION_COLUMN,
                     expected="a 'position' column (" + ", ".join(active_catalog().keys)
                              + ") when a file holds several positions", stage=0)
    elif looks_like and position not in looks_like:
        other = next(iter(looks_like))
        problems.add(f"the file has no '{schema.POSITION_COLUMN}' column and its columns look "
                     f"like {other} data ({evidence}), not {position}",
                     column=schema.POSITION_COLUMN,
                     expected=f"a {position} file, or a 'position' column", stage=0)


def required_present(cells: Cells, spec: PositionSpec, problems: Findings) -> None:
    needed = [schema.TARGET_COLUMN] + spec.required
    rule = production.rate_of(spec)
    for name in needed:
        if name in cells.header.index or name in cells.header.duplicated:
            continue
        if rule and name == rule.rate and {rule.total, rule.games} <= set(cells.header.index):
            continue  # derived from the season total and games (data/production.py)
        if name == schema.TARGET_COLUMN:
            what = "the division each athlete plays at (the training target)"
        else:
            col = spec.column(name)
            what = f"{col.description} in {col.unit}"
            if rule and name == rule.rate:
                what += f" (or the season total {rule.total!r} and {rule.games!r})"
        problems.add(f"required column is missing for {spec.key}", column=name,
                     expected=f"a column named {name!r}: {what}", stage=0,
                     order=len(needed))


def convert_target(cells: Cells, sel: np.ndarray, spec: PositionSpec,
                   problems: Findings) -> pd.Series | None:
    """The selected rows' levels, read through the position's ladder and its spellings;
    a missing or unknown label is a problem of its cell."""
    if schema.TARGET_COLUMN not in cells.header.index:
        return None
    text = cells.text(schema.TARGET_COLUMN, sel)
    mapping = {v: spec.ladder.normalize(v) for v in text.unique()}
    labels = text.map(mapping)
    bad = labels.isna().to_numpy()
    if bad.any():
        rows = cells.rows[sel]
        missing = bad & _missing(text)
        name = cells.raw_name(schema.TARGET_COLUMN)
        order = cells.order(schema.TARGET_COLUMN)
        expected = division_expected(spec)
        problems.add_cells(rows[missing], None, column=name, order=order,
                           message="missing target: the division is empty",
                           expected=expected, rule="missing division")
        unknown = bad & ~missing
        problems.add_cells(rows[unknown], text[unknown], column=name, order=order,
                           message="unknown division {value}", expected=expected,
                           rule="unknown division")
    return labels


def unknown_labels(cells: Cells, sel: np.ndarray, spec: PositionSpec) -> dict[str, int]:
    """Labels of the selected rows that are not on the position's ladder, with their row
    counts (most frequent first); blank labels are not counted here."""
    if schema.TARGET_COLUMN not in cells.header.index:
        return {}
    text = cells.text(schema.TARGET_COLUMN, sel)
    unknown = text[~_missing(text) & text.map(
        {v: spec.ladder.normalize(v) is None for v in text.unique()}).to_numpy(dtype=bool)]
    counts = unknown.value_counts()
    return {str(k): int(v) for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}


def unknown_labels_message(counts: dict[str, int], spec: PositionSpec) -> str:
    """One line naming every label not on the ladder and how many rows hold it."""
    listing = ", ".join(f"{quote_cell(label)} ({n} row{'s' if n != 1 else ''})"
                        for label, n in counts.items())
    return (f"{sum(counts.values())} {spec.key} row(s) have labels that are not on the "
            f"ladder ({' < '.join(spec.levels)}): {listing}")


def _height_hint(value: float) -> str:
    if value == 0:
        return " (0: not measured?)"
    if 4 <= value < 8:
        return " (feet? write 6-2 or 74)"
    if 150 <= value <= 215:
        return " (centimetres? convert to inches)"
    return ""


def parse_number(text: str, column: str) -> float | None:
    """A number as exports write it: ``1,234`` (thousands separators), with the column's
    unit (``205 lbs``, ``4.6s``), or in feet and inches for heights (``6-2``); else ``None``."""
    if column in _FEET_AND_INCHES:
        value = schema.parse_height(text)
        if value is not None:
            return value
    m = _NUMBER.match(text)
    if m is None:
        return None
    unit = (m.group("unit") or "").strip().rstrip(".").lower()
    if unit and unit not in UNIT_SUFFIXES.get(column, ()):
        return None
    return float(m.group("num").replace(",", ""))


def convert_numeric(cells: Cells, sel: np.ndarray, col: schema.Column,
                    problems: Findings) -> np.ndarray:
    n = int(sel.sum())
    if col.name not in cells.header.index:
        return np.full(n, np.nan)
    # to_numeric accepts surrounding spaces; only the cells it rejects are
    # trimmed and looked at again (once per distinct text), which keeps the
    # clean path fast.
    text = cells.text(col.name, sel, strip=False)
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    rows = cells.rows[sel]
    name = cells.raw_name(col.name)
    order = cells.order(col.name)
    is_height = col.name == "height_inches"

    unparsed = np.isnan(values)
    if unparsed.any():
        # Only the cells to_numeric rejected are trimmed (add_cells trims what it quotes).
        missing = np.zeros(n, dtype=bool)
        missing[unparsed] = _missing(text[unparsed].str.strip())
        todo = unparsed & ~missing
        if todo.any():
            pending = text[todo].str.strip()
            recovered = pending.map({v: parse_number(v, col.name) for v in pending.unique()})
            values[todo] = recovered.to_numpy(dtype=np.float64, na_value=np.nan)
        text_bad = np.isnan(values) & ~missing
        expected = (f"{col.range_text}, e.g. 74, 6-2, 6'2\", 6' 2 or 6 ft 2 in" if is_height
                    else f"a number: {col.range_text}")
        rule = "not a height" if is_height else "not a number"
        problems.add_cells(rows[text_bad], text[text_bad], column=name, order=order,
                           message=rule + ": {value}", expected=expected, rule=rule)
        if col.required:
            problems.add_cells(rows[missing], text[missing], column=name, order=order,
                               message="missing value in a required column",
                               expected=col.range_text, rule="missing value")

    with np.errstate(invalid="ignore"):
        low = values < col.low if col.low is not None else np.zeros(n, dtype=bool)
        high = values > col.high if col.high is not None else np.zeros(n, dtype=bool)
    out_of_range = low | high
    if out_of_range.any():
        shown = values[out_of_range]
        hints = [_height_hint(v) for v in shown] if is_height else [""] * len(shown)
        sides = np.where(low[out_of_range], f"below {col.low:g}", f"above {col.high:g}")
        problems.add_cells(
            rows[out_of_range], text[out_of_range],
            shown=(f"{v:g}{h} is outside the plausible range ({side})"
                   for v, h, side in zip(shown, hints, sides, strict=True)),
            column=name, order=order, rule="outside the plausible range",
            message="value {value}", expected=col.range_text, quote=False)
    if col.kind == "int":
        fractional = ~out_of_range & ~np.isnan(values) & (values != np.floor(values))
        problems.add_cells(rows[fractional], text[fractional], column=name, order=order,
                           message="{value} is not a whole number",
                           expected=f"a whole number of {col.unit}", rule="not a whole number")
    return values


def convert_rate(cells: Cells, sel: np.ndarray, spec: PositionSpec, rule: production.Rate,
                 converted: dict[str, object], problems: Findings) -> np.ndarray:
    """The per-game rate of the selected rows: as given, else derived from the season total
    and games (:func:`recruit_reveal.data.production.derive_rates`).  A row with neither is
    a problem of the rate's cell when the rate is required; a derived rate outside the
    plausible range is a problem of the total's cell."""
    rate_name, total_name = rule.rate, rule.total
    col = spec.column(rate_name)
    given = convert_numeric(cells, sel, replace(col, required=False), problems)
    total = np.asarray(converted[total_name], dtype="float64")
    games = np.asarray(converted[rule.games], dtype="float64")
    if rate_name in cells.header.index:
        # A rate cell that is there but unreadable is reported as such; deriving one in its
        # place would add a second, misleading problem for the same row.
        total = np.where(_missing(cells.text(rate_name, sel)), total, np.nan)
    result = production.derive_rates(given, total, games, spec)
    if rate_name not in cells.header.index and \
            not {total_name, rule.games} <= set(cells.header.index):
        return result.rate  # required_present reports the missing column once, for the file
    rows = cells.rows[sel]
    missing = np.isnan(result.rate) & ~result.out_of_range & col.required
    if rate_name in cells.header.index:
        missing &= _missing(cells.text(rate_name, sel))  # unreadable cells are reported already
    name = cells.raw_name(rate_name) if rate_name in cells.header.index else rate_name
    order = cells.order(rate_name)
    problems.add_cells(rows[missing], None, column=name, order=order,
                       message="missing value in a required column",
                       expected=f"{col.range_text}, or the season total {total_name!r} and "
                                f"{rule.games!r}", rule="missing value")
    bad = result.out_of_range
    total_at = cells.raw_name(total_name) if total_name in cells.header.index else total_name
    problems.add_cells(rows[bad], None, column=total_at, order=cells.order(total_name),
                       shown=(production.out_of_range_message(spec, t, g)
                              for t, g in zip(total[bad], games[bad], strict=True)),
                       message="{value}", expected=col.range_text, quote=False,
                       rule="derived rate outside the plausible range")
    return result.rate


def convert_state(cells: Cells, sel: np.ndarray, col: schema.Column,
                  problems: Findings) -> pd.Series:
    n = int(sel.sum())
    if col.name not in cells.header.index:
        return pd.Series(np.full(n, np.nan, dtype=object))
    text = cells.text(col.name, sel)
    codes = text.str.upper()
    missing = _missing(text)
    bad = ~missing & ~codes.isin(schema.US_STATES).to_numpy()
    problems.add_cells(cells.rows[sel][bad], text[bad], column=cells.raw_name(col.name),
                       order=cells.order(col.name), message="unknown state code {value}",
                       expected="a two-letter US state code (50 states and DC), e.g. TX",
                       rule="unknown state code")
    return pd.Series(np.where(missing, np.nan, codes.to_numpy(dtype=object)), dtype=object)


def warn_duplicates(cells: Cells, sel: np.ndarray, warnings: Findings) -> None:
    body = cells.body[sel]
    repeats = body.duplicated(keep="first").to_numpy()
    if not repeats.any():
        return
    rows = cells.rows[sel]
    hashes = pd.util.hash_pandas_object(body, index=False).to_numpy()
    first = pd.Series(rows).groupby(hashes).transform("first").to_numpy()
    warnings.add_cells(rows[repeats], first[repeats], column=None, order=0,
                       message="duplicates row {value} (kept; remove it if it is the same "
                               "athlete entered twice)", expected=None, quote=False,
                       rule="duplicated row")


def check_division_counts(target: pd.Series, spec: PositionSpec, minimum: int,
                          problems: Findings) -> None:
    counts = target.value_counts()
    for order, division in enumerate(spec.levels):
        n = int(counts.get(division, 0))
        if n < minimum:
            problems.add(f"division {division!r} has {'only ' if n else ''}{n} valid {spec.key} "
                         f"row(s), too few to cross-validate", column=schema.TARGET_COLUMN,
                         expected=f"at least {minimum} rows per division", stage=2,
                         order=order)
