"""The football as data: positions, their inputs and the ladder of levels.

The rest of the package asks this package, and nothing else, what a position is.  A
catalog is a TOML file (format: docs/data-contract.md, "The catalog"); the default one
ships with the package and describes the earlier system's football (QB, RB, WR on
D3 < D2 < FCS < Power 5).  ``CATALOG`` in the environment (or ``--catalog`` on the CLI,
which sets it) names another; :func:`resolve` turns a position key, a spec or a spec's
plain data (as a model's metadata holds it) into a :class:`PositionSpec`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from .problems import Problems
from .reading import Catalog, default_toml, parse, read_toml
from .spec import (
    KINDS,
    POSITION_KEY,
    US_STATES,
    Derived,
    Input,
    Ladder,
    Lever,
    PositionSpec,
    spelling_key,
)

#: The environment variable naming the catalog file in use.
CATALOG_ENV = "CATALOG"


@lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The catalog shipped with the package."""
    return parse(default_toml(), "default")


@lru_cache(maxsize=16)
def _load(path: str, mtime: float) -> Catalog:
    problems = Problems(path)
    return parse(read_toml(Path(path), problems), path)


def load_catalog(path: str | os.PathLike[str] | None = None) -> Catalog:
    """The catalog in ``path`` (the default catalog for ``None`` or ``"default"``).

    Raises :class:`~recruit_reveal.errors.CatalogError` listing every problem, one line
    each, naming the file and the place in it.
    """
    if path is None or str(path) == "default":
        return default_catalog()
    resolved = Path(path).expanduser()
    try:
        mtime = resolved.stat().st_mtime
    except OSError:
        mtime = -1.0  # _load reports the missing file
    return _load(str(resolved), mtime)


def active_catalog() -> Catalog:
    """The catalog ``CATALOG`` names, or the default one."""
    return load_catalog(os.environ.get(CATALOG_ENV) or None)


def resolve(position: str | PositionSpec | Mapping[str, Any]) -> PositionSpec:
    """A position's spec from its key (in the active catalog), a spec, or a spec's plain data."""
    if isinstance(position, PositionSpec):
        return position
    if isinstance(position, Mapping):
        return PositionSpec.from_dict(position)
    return active_catalog().position(position)


__all__ = [
    "CATALOG_ENV", "KINDS", "POSITION_KEY", "US_STATES", "Catalog", "Derived", "Input", "Ladder", "Lever",
    "PositionSpec", "active_catalog", "default_catalog", "load_catalog", "resolve",
    "spelling_key",
]
