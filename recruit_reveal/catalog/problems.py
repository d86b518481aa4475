"""Small readers of catalog fields that collect problems instead of stopping at the first."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from typing import Any

from ..errors import CatalogError
from .spec import Input, Lever

INPUT_KEYS = {f.name for f in fields(Input)} - {"name", "required"}
POSITION_KEYS = {"label", "spellings", "inputs", "required", "production", "exclude", "example",
                 "derived", "levers", "header_spellings", "overrides", "tiers", "sample"}
OVERRIDABLE = {"unit", "low", "high", "description", "decimals", "spellings"}


class Problems:
    """Collects one line per problem, each naming the file and the place in it."""

    def __init__(self, source: str):
        self.source, self.lines = source, []  # type: ignore[var-annotated]

    def add(self, where: str, message: str) -> None:
        self.lines.append(f"{self.source}: {where}: {message}")

    def raise_any(self) -> None:
        if self.lines:
            raise CatalogError(self.lines)


def as_table(raw: Any, where: str, problems: Problems) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.add(where, f"expected a table, got {type(raw).__name__}")
        return {}
    return raw


def as_strings(raw: Any, where: str, problems: Problems) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        problems.add(where, "expected a list of strings")
        return ()
    return tuple(raw)


def check_keys(raw: Mapping[str, Any], allowed: set[str], where: str,
                  problems: Problems) -> None:
    for key in raw:
        if key not in allowed:
            problems.add(f"{where}.{key}" if where else key,
                         "unknown field (expected one of " + ", ".join(sorted(allowed)) + ")")


def as_number(raw: Any, where: str, problems: Problems) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        problems.add(where, f"expected a number, got {raw!r}")
        return None
    return float(raw)


def read_levers(raw: Any, where: str, problems: Problems) -> dict[str, Lever]:
    out = {}
    for name, lever in as_table(raw, where, problems).items():
        table = as_table(lever, f"{where}.{name}", problems)
        check_keys(table, {"direction", "span", "decimals"}, f"{where}.{name}", problems)
        direction, span = table.get("direction"), as_number(table.get("span"), f"{where}.{name}.span",
                                                           problems)
        if direction not in (-1, 0, 1):
            problems.add(f"{where}.{name}.direction", "expected -1, 0 or 1")
            continue
        if span is None or span <= 0:
            problems.add(f"{where}.{name}.span", "expected a positive number")
            continue
        out[name] = Lever(int(direction), span, int(table.get("decimals", 0)))
    return out


def override(base: Input, raw: Any, where: str, problems: Problems) -> Input:
    table = as_table(raw, where, problems)
    check_keys(table, OVERRIDABLE, where, problems)
    changes = {k: v for k, v in table.items() if k in OVERRIDABLE}
    for key in ("low", "high"):
        if key in changes:
            changes[key] = as_number(changes[key], f"{where}.{key}", problems)
    if "spellings" in changes:
        changes["spellings"] = as_strings(changes["spellings"], f"{where}.spellings", problems)
    result = replace(base, **changes)
    if result.low is not None and result.high is not None and result.low >= result.high:
        problems.add(f"{where}.low", f"low ({result.low:g}) must be below high ({result.high:g})")
    return result
