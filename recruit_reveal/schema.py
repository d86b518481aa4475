"""The data contract's file rules, over the catalog's football.

What a position is (its inputs, ranges, ladder) comes from :mod:`recruit_reveal.catalog`;
this module adds what is the same for every football: the target and position
columns, header matching, height parsing and the invalid-rows policy, plus short
helpers that take a position as a key, a spec or a spec's plain data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Literal

from .catalog import (
    US_STATES as US_STATES,
)
from .catalog import (
    Input,
    PositionSpec,
    active_catalog,
    default_catalog,
    resolve,
)
from .errors import DataValidationError, Problem, UnknownPositionError

#: A position as the functions below take it: a key of the active catalog, its spec, or
#: the spec's plain data as a model's metadata holds it.
PositionLike = str | PositionSpec | Mapping[str, Any]

#: One canonical input column (the catalog's :class:`~recruit_reveal.catalog.Input`).
Column = Input

TARGET_COLUMN = "division"
POSITION_COLUMN = "position"

#: Columns that are accepted and dropped; they never reach a model or artifact.
IGNORED_COLUMNS: frozenset[str] = frozenset({"name", "player_name"})

# The default catalog's positions, ladder and sample athletes, for code that has no model
# or catalog at hand (the package's public names, tests, benchmarks); the package itself
# asks the spec it works on.
_DEFAULT = default_catalog()
POSITIONS: tuple[str, ...] = _DEFAULT.keys
DIVISIONS: tuple[str, ...] = _DEFAULT.ladder.levels
SAMPLE_ATHLETES: tuple[dict[str, object], ...] = tuple(
    {"position": key, **spec.example} for key, spec in _DEFAULT.positions.items())


def normalize_division(label: object, position: PositionLike | None = None) -> str | None:
    """The level a label names on the ladder of ``position`` (the active catalog's ladder
    when ``None``); ``None`` for an unknown or missing label."""
    ladder = resolve(position).ladder if position is not None else active_catalog().ladder
    return ladder.normalize(label)


def position_label(value: object) -> str | None:
    """The position any spelling in an export names (``'Tight End'`` -> ``'te'``), else ``None``."""
    return active_catalog().position_label(value)


def normalize_position(value: object) -> str | None:
    """A key of the active catalog in any case, spaces around it (``' Te '`` -> ``'te'``);
    anything else -> ``None``.

    Strict on purpose: positions name files and routes.  Spellings found in
    data files (``'Quarterback'``) are :func:`position_label`'s business.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    key = str(value).strip().lower()
    return key if key in active_catalog().positions else None


#: Header spellings of columns that are not inputs (compared after :func:`header_key`).
STRUCTURAL_SPELLINGS: dict[str, tuple[str, ...]] = {
    TARGET_COLUMN: ("level", "college_level", "college_division", "div", "division_level"),
    POSITION_COLUMN: ("pos", "primary_position"),
    "name": ("player", "athlete", "athlete_name", "full_name", "player_full_name"),
}


def header_spellings(catalog: Any = None) -> dict[str, tuple[str, ...]]:
    """Header spellings of real exports, by canonical column, for every input of the catalog
    (the active one by default) and the target, position and name columns."""
    cat = catalog or active_catalog()
    out = {name: item.spellings for name, item in cat.inputs.items() if item.spellings}
    return {**out, **STRUCTURAL_SPELLINGS}


def header_aliases(catalog: Any = None) -> dict[str, str]:
    """Spelling -> canonical column, for :func:`header_spellings`."""
    return {spelling: canonical for canonical, spellings in header_spellings(catalog).items()
            for spelling in spellings}


def position_header_aliases(position: PositionLike) -> dict[str, str]:
    """Spellings whose meaning depends on the position (an RB's ``Senior_Avg`` is yards per
    carry), spelling -> canonical column.  A spelling that is itself a column of another
    position yields to the position's own column when both are given."""
    spec = resolve(position)
    return {spelling: canonical for canonical, spellings in spec.header_spellings.items()
            for spelling in spellings}


def header_key(raw: object) -> str:
    """A header as matched: lower case, surrounding spaces gone, inner runs of spaces and
    punctuation as one ``_`` (``' Home State '`` -> ``'home_state'``)."""
    text = str(raw).strip().lower()
    return re.sub(r"[^0-9a-z]+", "_", text).strip("_") or text


def resolve_header(raw: object) -> str:
    """The canonical column a file header names through a catalog spelling, else its key."""
    key = header_key(raw)
    return header_aliases().get(key, key)


def check_position(position: PositionLike) -> str:
    """The key of a position, or :class:`DataValidationError` naming the known ones."""
    if isinstance(position, PositionSpec | Mapping):
        return resolve(position).key
    pos = normalize_position(position)
    if pos is None:
        raise DataValidationError(Problem(
            f"unknown position {position!r}", column=POSITION_COLUMN,
            expected="one of " + ", ".join(active_catalog().keys)))
    return pos


def spec_of(position: PositionLike) -> PositionSpec:
    """The spec of a position; an unknown key is a DataValidationError naming the known ones."""
    try:
        return resolve(position)
    except UnknownPositionError:
        check_position(str(position))
        raise


def columns_for(position: PositionLike) -> tuple[Column, ...]:
    """Canonical input columns of a position, in model order."""
    return spec_of(position).inputs


def feature_names(position: PositionLike) -> list[str]:
    """Names of the raw columns a model of ``position`` takes, in order."""
    return spec_of(position).feature_names


def numeric_columns(position: PositionLike) -> list[Column]:
    return spec_of(position).numeric


def required_columns(position: PositionLike) -> list[str]:
    return spec_of(position).required


def column(position: PositionLike, name: str) -> Column:
    return spec_of(position).column(name)


def input_schema(position: PositionLike) -> dict:
    """JSON-ready description of a position's inputs, stored in model metadata."""
    spec = spec_of(position)
    return {
        "position": spec.key,
        "target": {"column": TARGET_COLUMN, "classes": list(spec.levels)},
        "columns": [
            {k: getattr(c, k) for k in ("name", "kind", "unit", "low", "high", "required")}
            | {"description": c.description}
            for c in spec.inputs
        ],
        "required": spec.required,
    }


_HEIGHT_FEET_INCHES = re.compile(
    r"""^\s*(?P<ft>\d)\s*(?:'|ft|feet|-|\s)\s*(?P<inch>\d{1,2}(?:\.\d+)?)?\s*(?:"|''|in|inches)?\s*$""",
    re.IGNORECASE,
)


#: Typographic quotes (as word processors and some exports write them) read as plain ones.
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u2032": "'", "\u00b4": "'",
                         "\u201d": '"', "\u201c": '"', "\u2033": '"'})


def parse_height(value: object) -> float | None:
    """Parse a height in inches: ``74``, ``74.5``, ``6-2``, ``6'2"``, ``6' 2``, ``6 ft 2 in``,
    ``6’2”`` (typographic quotes).

    Returns ``None`` when the text is not a recognised height format.
    """
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().translate(_QUOTES)
    try:
        return float(text)
    except ValueError:
        pass
    m = _HEIGHT_FEET_INCHES.match(text)
    if not m:
        return None
    inches = float(m.group("inch") or 0)
    if inches >= 12:
        return None
    return int(m.group("ft")) * 12 + inches


# --------------------------------------------------------------------------- invalid rows

#: What training does with a row holding an invalid value: fail the run, or set it aside.
InvalidRows = Literal["fail", "quarantine"]
INVALID_ROWS_POLICIES: tuple[InvalidRows, ...] = ("fail", "quarantine")
#: With quarantine, a run still fails when more than this share of a position's rows is invalid.
DEFAULT_MAX_INVALID_FRACTION = 0.2


def check_invalid_rows(policy: object) -> InvalidRows:
    """``fail`` or ``quarantine``; anything else is a DataValidationError naming the choices."""
    if policy not in INVALID_ROWS_POLICIES:
        raise DataValidationError(Problem(f"invalid_rows is {policy!r}", column="invalid_rows",
                                          expected="'fail' or 'quarantine'"))
    return policy


def check_invalid_fraction(fraction: float | str) -> float:
    """A share of a position's rows, from 0 to 1."""
    try:
        value = float(fraction)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise DataValidationError(Problem(
            f"max_invalid_fraction is {fraction!r}", column="max_invalid_fraction",
            expected="a fraction between 0 and 1, e.g. 0.2"))
    return value
