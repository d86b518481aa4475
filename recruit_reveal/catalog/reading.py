"""Reading a catalog file: TOML in, a checked :class:`Catalog` out, or every problem at once.

Each problem is one line naming the file, the place in it (``positions.te.required``)
and what is wrong, so ``recruit-reveal catalog check`` can list them all before anything
runs.  The inputs, levers, state tiers and other-position spellings of the default
catalog are always available; ``extends = "default"`` also brings its ladder, positions
and sample section.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import tomllib

from ..errors import UnknownPositionError
from .positions import build_position
from .problems import (
    INPUT_KEYS,
    Problems,
    as_number,
    as_strings,
    as_table,
    check_keys,
    read_levers,
)
from .sample import PositionSample, read_sample
from .spec import KINDS, POSITION_KEY, Input, Ladder, PositionSpec, spelling_key

_TOP_KEYS = {"name", "extends", "ladder", "states", "inputs", "levers", "positions",
             "other_positions", "sample"}


@dataclass(frozen=True)
class Catalog:
    """Positions, their inputs and the ladder: the football a release is trained on."""

    name: str
    ladder: Ladder
    positions: Mapping[str, PositionSpec]
    inputs: Mapping[str, Input]
    other_positions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: The synthetic sample's generative model, by position (positions without one absent).
    sample: Mapping[str, PositionSample] = field(default_factory=dict)
    source: str = "default"

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.positions)

    @cached_property
    def digest(self) -> str:
        """sha256 of the football: the ladder and every position's spec digest (the same
        for the same content, whatever the file's layout or comments).  A run records it."""
        doc = {"ladder": self.ladder.as_dict(),
               "positions": {key: spec.digest for key, spec in self.positions.items()}}
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def position(self, key: object) -> PositionSpec:
        """The spec of a position key (any case, surrounding spaces ignored)."""
        spec = self.positions.get(str(key).strip().lower()) if key is not None else None
        if spec is None:
            raise UnknownPositionError(
                f"unknown position {key!r}; this catalog ({self.source}) has "
                + ", ".join(self.keys))
        return spec

    def position_label(self, value: object) -> str | None:
        """The position any spelling in an export names (``'Tight End'`` -> ``'te'``)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        key = re.sub(r"[^a-z0-9]+", " ", str(value).lower()).strip()
        for label, spec in self.positions.items():
            if key == label or key in spec.spellings:
                return label
        return next((label for label, names in self.other_positions.items() if key in names),
                    None)


def _ladder(raw: Any, problems: Problems) -> Ladder | None:
    table = as_table(raw, "ladder", problems)
    check_keys(table, {"levels", "spellings"}, "ladder", problems)
    levels = as_strings(table.get("levels"), "ladder.levels", problems)
    if len(levels) < 2:
        problems.add("ladder.levels", f"a ladder needs at least two levels, got {len(levels)}")
    if len(set(levels)) != len(levels):
        problems.add("ladder.levels", "a level is listed twice")
    owner: dict[str, str] = {spelling_key(level): level for level in levels}
    for level, names in as_table(table.get("spellings"), "ladder.spellings", problems).items():
        where = f"ladder.spellings.{level}"
        if level not in levels:
            problems.add(where, f"{level!r} is not a level of the ladder ({', '.join(levels)})")
            continue
        for name in as_strings(names, where, problems):
            key = spelling_key(name)
            if owner.get(key, level) != level:
                problems.add(where, f"spelling {name!r} is also claimed by level {owner[key]!r}")
            owner[key] = level
    return Ladder(levels, {k: v for k, v in owner.items()})


def _input(name: str, raw: Any, problems: Problems) -> Input | None:
    where = f"inputs.{name}"
    table = as_table(raw, where, problems)
    check_keys(table, INPUT_KEYS, where, problems)
    kind = table.get("kind")
    if kind not in KINDS:
        problems.add(f"{where}.kind", f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
        return None
    low = as_number(table.get("low"), f"{where}.low", problems)
    high = as_number(table.get("high"), f"{where}.high", problems)
    if low is not None and high is not None and low >= high:
        problems.add(f"{where}.low", f"low ({low:g}) must be below high ({high:g})")
    if kind != "state" and (low is None or high is None):
        problems.add(where, "a numeric input needs both low and high (its plausible range)")
    values = {k: v for k, v in table.items() if k in INPUT_KEYS}
    for key in ("spellings", "ratio_of"):
        if key in values:
            values[key] = as_strings(values[key], f"{where}.{key}", problems)
    values.update(low=low, high=high, unit=str(table.get("unit", "")),
                  description=str(table.get("description", "")))
    try:
        return Input(name=name, **values)
    except TypeError as exc:  # a wrong type the dataclass refuses
        problems.add(where, str(exc))
        return None


def read_toml(path: Path, problems: Problems) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        problems.add("file", "no such catalog file")
    except (OSError, tomllib.TOMLDecodeError) as exc:
        problems.add("file", f"not a readable TOML file: {exc}")
    problems.raise_any()
    return {}


def default_toml() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("default.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _merge(base: dict[str, Any], own: dict[str, Any], extends: bool) -> dict[str, Any]:
    """The tables a catalog sees: the default's inputs, levers, states and other positions
    always; its ladder, positions and sample section only with ``extends`` (the catalog's
    own ``[sample]`` keys then replace the default's one by one)."""
    merged: dict[str, Any] = {
        "inputs": dict(base.get("inputs", {})), "levers": dict(base.get("levers", {})),
        "states": base.get("states"), "other_positions": dict(base.get("other_positions", {}))}
    if extends:
        merged.update(ladder=base.get("ladder"), positions=dict(base.get("positions", {})),
                      sample=dict(base.get("sample", {})))
    for key, value in own.items():
        if key in ("inputs", "levers", "positions", "other_positions", "sample") \
                and isinstance(value, dict):
            merged.setdefault(key, {}).update(value)
        else:
            merged[key] = value
    return merged


def parse(data: dict[str, Any], source: str) -> Catalog:
    """A checked catalog from parsed TOML, or :class:`CatalogError` listing every problem."""
    problems = Problems(source)
    check_keys(data, _TOP_KEYS, "", problems)
    extends = data.get("extends")
    if extends not in (None, "default"):
        problems.add("extends", f"unknown catalog {extends!r} (only \"default\" can be extended)")
    merged = _merge(default_toml(), data, extends == "default") if source != "default" else data
    ladder = _ladder(merged.get("ladder"), problems)
    inputs = {n: i for n, raw in as_table(merged.get("inputs"), "inputs", problems).items()
              if (i := _input(n, raw, problems)) is not None}
    states = _states(merged.get("states"), problems)
    common_levers = read_levers(merged.get("levers"), "levers", problems)
    own = set(as_table(data.get("positions"), "positions", problems))
    positions: dict[str, PositionSpec] = {}
    if ladder is not None:  # positions are checked even on a bad ladder: every problem at once
        for key, raw in as_table(merged.get("positions"), "positions", problems).items():
            if not POSITION_KEY.fullmatch(key):
                problems.add(f"positions.{key}", "a position key is lower-case letters, digits "
                             "and _, starting with a letter (it names files and routes)")
                continue
            spec = build_position(key, raw, inputs, ladder, states, common_levers,
                                  problems, strict_tiers=key in own or source == "default")
            if spec is not None:
                positions[key] = spec
    if not positions:
        problems.add("positions", "the catalog defines no position")
    _check_spellings(positions, problems)
    sample = read_sample(merged.get("sample"), merged.get("positions"), positions, problems,
                         set(positions) if source == "default" else own)
    problems.raise_any()
    assert ladder is not None
    others = {k: tuple(spelling_key(s) for s in v)
              for k, v in as_table(merged.get("other_positions"), "other_positions",
                                 problems).items() if k not in positions}
    return Catalog(str(merged.get("name", Path(source).stem)), ladder, positions, inputs,
                   others, sample, source)


def _states(raw: Any, problems: Problems) -> tuple[tuple[str, ...], ...]:
    table = as_table(raw, "states", problems)
    tiers = table.get("tiers", [])
    if not isinstance(tiers, list):
        problems.add("states.tiers", "expected a list of lists of state codes")
        return ()
    return tuple(as_strings(t, f"states.tiers[{i}]", problems) for i, t in enumerate(tiers))


def _check_spellings(positions: Mapping[str, PositionSpec], problems: Problems) -> None:
    owner: dict[str, str] = {}
    for key, spec in positions.items():
        for name in {key, *spec.spellings}:
            if owner.get(name, key) != key:
                problems.add(f"positions.{key}.spellings",
                             f"spelling {name!r} is also claimed by position {owner[name]!r}")
            owner[name] = key
