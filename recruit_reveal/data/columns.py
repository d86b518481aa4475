"""One rule for which input a column name is, in training files and in requests alike.

A name is compared after :func:`recruit_reveal.schema.header_key` (case, spaces and
punctuation aside: ``Height_Inches``, ``HEIGHT INCHES``, ``height-inches`` are one
name), then read through, first match wins:

1. the explicit column mapping (``--columns``), when there is one;
2. the position's own spellings (its spec's ``header_spellings``: an RB's ``Senior_Avg``
   is ``senior_ypc``), once the position is known;
3. the canonical column name itself;
4. a spelling of an input (the catalog's ``spellings``: the position's inputs once the
   position is known, every input of the active catalog before), or of the target,
   position and name columns (:data:`recruit_reveal.schema.STRUCTURAL_SPELLINGS`).

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
from functools import lru_cache

from .. import schema
from ..catalog import Catalog, PositionSpec, active_catalog


@dataclass(frozen=True)
class Matched:
    """Raw names matched: ``names[i]`` is the canonical column of ``raw[i]``, or its
    header key when it names none (``""`` for a blank name); ``ignored`` lists the raw
    names, as given, that are no input of the position (nor the position itself)."""

    raw: tuple[str, ...]
    names: tuple[str, ...]
    ignored: tuple[str, ...]


def canonical_columns(catalog: Catalog | None = None) -> frozenset[str]:
    """Every column a training file of ``catalog`` (the active one) may name: every input
    of its positions, the target, the position and the ignored name columns."""
    return _catalog_view(catalog or active_catalog()).canonical


@dataclass(frozen=True, eq=False)
class _CatalogView:
    canonical: frozenset[str]
    aliases: Mapping[str, str]
    inputs: frozenset[str]


_VIEWS: dict[int, tuple[Catalog, _CatalogView]] = {}


def _catalog_view(catalog: Catalog) -> _CatalogView:
    """Catalog-wide names, built once per catalog object (a changed file is a new object)."""
    hit = _VIEWS.get(id(catalog))
    if hit is not None and hit[0] is catalog:
        return hit[1]
    inputs = frozenset(c.name for spec in catalog.positions.values() for c in spec.inputs)
    view = _CatalogView(
        canonical=inputs | {schema.TARGET_COLUMN, schema.POSITION_COLUMN} | schema.IGNORED_COLUMNS,
        aliases=schema.header_aliases(catalog), inputs=inputs)
    _VIEWS[id(catalog)] = (catalog, view)
    return view


@lru_cache(maxsize=64)
def _spec_aliases(spec: PositionSpec) -> tuple[Mapping[str, str], Mapping[str, str]]:
    """(the position's own spellings, its inputs' and the structural spellings): from the
    spec alone, so a model's spec reads requests without a catalog file."""
    shared = {s: c.name for c in spec.inputs for s in c.spellings}
    shared |= {s: name for name, spellings in schema.STRUCTURAL_SPELLINGS.items()
               for s in spellings}
    return schema.position_header_aliases(spec), shared


def _spec(position: schema.PositionLike | None) -> PositionSpec | None:
    return None if position is None else schema.spec_of(position)


def column_name(raw: str, position: schema.PositionLike | None = None) -> str:
    """The canonical column ``raw`` names for ``position`` (``None``: before the position
    is known, so only the spellings shared by every position), else its header key."""
    spec = _spec(position)
    return _column_name(raw, spec, None if spec else _catalog_view(active_catalog()))


@lru_cache(maxsize=8192)
def _column_name(raw: str, spec: PositionSpec | None, view: _CatalogView | None) -> str:
    key = schema.header_key(raw) if raw else ""
    if spec is None:
        assert view is not None
        return view.aliases.get(key, key)
    own, shared = _spec_aliases(spec)
    return own.get(key) or shared.get(key, key)


def _accepted(spec: PositionSpec | None) -> frozenset[str]:
    """Names that are not ignored: the position's inputs (any position's when unknown)."""
    inputs = (_catalog_view(active_catalog()).inputs if spec is None
              else frozenset(spec.feature_names))
    return inputs | {schema.POSITION_COLUMN}


def match(raw: Sequence[str], position: schema.PositionLike | None = None,
          explicit: Mapping[str, str] | None = None) -> Matched:
    """Match raw names (file headers or request fields) for ``position``.

    ``explicit`` is a checked column mapping, header key -> canonical column
    (:attr:`recruit_reveal.data.mapping.ColumnMapping.targets`).  Without one the
    answer is cached per tuple of names and position: a request's hot path.
    """
    spec = _spec(position)
    if not explicit:
        return _match_cached(tuple(raw), spec)
    return _match(tuple(raw), spec, explicit)


@lru_cache(maxsize=4096)
def _match_cached(raw: tuple[str, ...], spec: PositionSpec | None) -> Matched:
    return _match(raw, spec, {})


def _match(raw: tuple[str, ...], spec: PositionSpec | None,
           explicit: Mapping[str, str]) -> Matched:
    keys = [schema.header_key(r) if r else "" for r in raw]
    names = [explicit[k] if k in explicit else column_name(r, spec)
             for r, k in zip(raw, keys, strict=True)]
    if spec is not None:
        own = _spec_aliases(spec)[0]
        canonical = canonical_columns()
        for i, key in enumerate(keys):
            # Another position's column read as this position's: only when it is the one name.
            if (key in own and key not in explicit and key in canonical
                    and names.count(names[i]) > 1):
                names[i] = key
    accepted = _accepted(spec)
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
