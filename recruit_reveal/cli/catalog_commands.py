"""``recruit-reveal catalog show|check``: read a catalog before anything runs on it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace

from ..catalog import Catalog, Input, load_catalog
from .parser import EXIT_OK


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _show(args: argparse.Namespace) -> int:
    from ..reporting.tables import format_table

    catalog = load_catalog(args.file)
    print(f"Catalog {catalog.name!r} ({catalog.source})\n")
    print("Ladder, lowest first: " + " < ".join(catalog.ladder.levels) + "\n")
    print(format_table(["position", "label", "inputs", "required", "production", "digest"],
                       [[key, spec.label, len(spec.inputs), ", ".join(spec.required),
                         spec.production or "-", spec.digest[:12]]
                        for key, spec in catalog.positions.items()]))
    print()
    print(format_table(["input", "kind", "unit", "low", "high", "positions", "description"],
                       [[item.name, item.kind, item.unit, _fmt(item.low), _fmt(item.high),
                         ", ".join(keys), item.description]
                        for item, keys in _inputs_used(catalog)]))
    return EXIT_OK


def _inputs_used(catalog: Catalog) -> list[tuple[Input, list[str]]]:
    """Each input as the positions hold it (a position may override its unit and range),
    with the positions holding it so."""
    used: dict[Input, list[str]] = {}
    for key, spec in catalog.positions.items():
        for item in spec.inputs:
            used.setdefault(replace(item, required=False), []).append(key)
    return list(used.items())


def _check(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.file)  # CatalogError (exit 2) lists every problem
    print(f"{args.file}: ok: {len(catalog.positions)} positions "
          f"({', '.join(catalog.keys)}) on a {len(catalog.ladder.levels)}-level ladder "
          f"({' < '.join(catalog.ladder.levels)})")
    return EXIT_OK


ACTIONS: dict[str, Callable[[argparse.Namespace], int]] = {"show": _show, "check": _check}


def catalog(args: argparse.Namespace) -> int:
    return ACTIONS[args.catalog_command](args)
