"""One rule for which input a column name is, in training files and in requests alike.

A name is compared after :func:`recruit_reveal.schema.header_key` (case, spaces and
punctuation aside: ``Height_Inches``, ``HEIGHT INCHES``, ``height-inches`` are one
name), then read through, first match wins:

1. the explicit column mapping (``--columns``), when there is one;
2. the position's own spellings (:data:`recruit_reveal.schema.POSITION_HEADER_ALIASES`:
   an RB's ``Senior_Avg`` is ``senior_ypc``), once the position is known;
3. the canonical column name itself;
4. a built-in spelling (:data:`recruit_reveal.schema.HEADER_ALIASES`).

A position's spelling that is itself another position's column (a WR's
``senior_ypg``) yields to the position's own column when both are given: it is
then read as the other position's column, which is no input of this one.
Names that are no input of the position (the label, athlete names, unknown
columns) are reported as ignored.  Two names of one input are accepted when
their values agree (:func:`same_value`) and refused, naming both, when not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

from .. import schema


@dataclass(frozen=True)
class Matched:
    """Raw names matched: ``names[i]`` is the canonical column of ``raw[i]``, or its
    header key when it names none (``""`` for a blank name); ``ignored`` lists the raw
    names, as given, that are no input of the position (nor the position itself)."""

    raw: tuple[str, ...]
    names: tuple[str, ...]
    ignored: tuple[str, ...]


@lru_cache(maxsize=8192)
def column_name(raw: str, position: str | None = None) -> str:
    """The canonical column ``raw`` names for ``position`` (``None``: before the position
    is known, so only the spellings shared by every position), else its header key."""
    key = schema.header_key(raw) if raw else ""
    if position is not None:
        own = schema.POSITION_HEADER_ALIASES[position].get(key)
        if own is not None:
            return own
    return schema.HEADER_ALIASES.get(key, key)


@cache
def _accepted(position: str | None) -> frozenset[str]:
    """Names that are not ignored: the position's inputs (any position's when unknown)."""
    if position is None:
        inputs = {name for pos in schema.POSITIONS for name in schema.feature_names(pos)}
    else:
        inputs = set(schema.feature_names(position))
    return frozenset(inputs | {schema.POSITION_COLUMN})


def match(raw: Sequence[str], position: str | None = None,
          explicit: Mapping[str, str] | None = None) -> Matched:
    """Match raw names (file headers or request fields) for ``position``.

    ``explicit`` is a checked column mapping, header key -> canonical column
    (:attr:`recruit_reveal.data.mapping.ColumnMapping.targets`).  Without one the
    answer is cached per tuple of names and position: a request's hot path.
    """
    if not explicit:
        return _match_cached(tuple(raw), position)
    return _match(tuple(raw), position, explicit)


@lru_cache(maxsize=4096)
def _match_cached(raw: tuple[str, ...], position: str | None) -> Matched:
    return _match(raw, position, {})


def _match(raw: tuple[str, ...], position: str | None, explicit: Mapping[str, str]) -> Matched:
    keys = [schema.header_key(r) if r else "" for r in raw]
    names = [explicit[k] if k in explicit else column_name(r, position)
             for r, k in zip(raw, keys, strict=True)]
    if position is not None:
        own = schema.POSITION_HEADER_ALIASES[position]
        for i, key in enumerate(keys):
            # Another position's column read as this position's: only when it is the one name.
            if (key in own and key not in explicit and key in schema.CANONICAL_COLUMNS
                    and names.count(names[i]) > 1):
                names[i] = key
    accepted = _accepted(position)
    ignored = tuple(r for r, n in zip(raw, names, strict=True) if n not in accepted)
    return Matched(raw, tuple(names), ignored)


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().replace(",", ""))
        except ValueError:
            return None
    return None


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def same_value(a: object, b: object) -> bool:
    """Whether two spellings of one input say the same: numbers after coercion (``72``,
    ``72.0`` and ``"72"`` agree), text ignoring case and surrounding spaces, and a
    missing value (null or blank) only another missing one."""
    if _blank(a) and _blank(b):
        return True
    x, y = _number(a), _number(b)
    if x is not None and y is not None:
        return x == y
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().casefold() == b.strip().casefold()
    return type(a) is type(b) and a == b
