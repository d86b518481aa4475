"""One ``[positions.KEY]`` table of a catalog into a checked :class:`PositionSpec`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .problems import (
    POSITION_KEYS,
    Problems,
    as_number,
    as_strings,
    as_table,
    check_keys,
    override,
    read_levers,
)
from .spec import DERIVED_GROUPS, DERIVED_OPS, Derived, Input, Ladder, Lever, PositionSpec


def build_position(key: str, raw: Any, inputs: Mapping[str, Input], ladder: Ladder,
                   states: tuple[tuple[str, ...], ...], common_levers: Mapping[str, Lever],
                   problems: Problems, *, strict_tiers: bool) -> PositionSpec | None:
    """The spec of one position, or ``None`` after adding its problems.

    ``strict_tiers``: a rule-based tier naming a level that is not on the ladder is a
    problem; for a position brought in by ``extends`` with another ladder it is dropped.
    """
    where = f"positions.{key}"
    table = as_table(raw, where, problems)
    check_keys(table, POSITION_KEYS, where, problems)
    names = as_strings(table.get("inputs"), f"{where}.inputs", problems)
    if not names:
        problems.add(f"{where}.inputs", "a position needs at least one input")
        return None
    overrides = as_table(table.get("overrides"), f"{where}.overrides", problems)
    own: list[Input] = []
    for name in names:
        if name not in inputs:
            problems.add(f"{where}.inputs", f"{name!r} is not a defined input "
                         "(define it under [inputs] or use one of the default catalog's)")
            continue
        base = inputs[name]
        if name in overrides:
            base = override(base, overrides[name], f"{where}.overrides.{name}", problems)
        own.append(base)
    if len(set(names)) != len(names):
        problems.add(f"{where}.inputs", "an input is listed twice")
    for name in overrides:
        if name not in names:
            problems.add(f"{where}.overrides.{name}", "overrides an input the position does not have")
    required = set(as_strings(table.get("required", []), f"{where}.required", problems))
    for name in sorted(required - set(names)):
        problems.add(f"{where}.required", f"{name!r} is not among the position's inputs")
    _check_relations(own, set(names), where, problems)
    levers = {n: v for n, v in common_levers.items() if n in names}
    own_levers = read_levers(table.get("levers"), f"{where}.levers", problems)
    for name, lever in own_levers.items():
        if name not in names:
            problems.add(f"{where}.levers.{name}", "a lever must be one of the position's inputs")
        elif next(i for i in own if i.name == name).kind == "state":
            problems.add(f"{where}.levers.{name}", "a lever must be a numeric input")
        levers[name] = lever
    production = table.get("production")
    if production is not None and production not in names:
        problems.add(f"{where}.production", f"{production!r} is not among the position's inputs")
    exclude = as_strings(table.get("exclude", []), f"{where}.exclude", problems)
    spellings = tuple(s.strip().lower() for s in
                      as_strings(table.get("spellings", [key]), f"{where}.spellings", problems))
    header = {n: as_strings(v, f"{where}.header_spellings.{n}", problems)
              for n, v in as_table(table.get("header_spellings"), f"{where}.header_spellings",
                                 problems).items()}
    for name in header:
        if name not in names:
            problems.add(f"{where}.header_spellings.{name}",
                         "a header spelling must name one of the position's inputs")
    return PositionSpec(
        key=key, label=str(table.get("label", key.upper())),
        inputs=tuple(own), ladder=ladder, spellings=spellings,
        production=production, exclude=exclude,
        derived=_derived(table.get("derived", []), set(names), where, problems),
        levers={n: v for n, v in levers.items() if n in names},
        header_spellings=header,
        tiers=_tiers(table.get("tiers"), set(names), ladder, where, problems, strict_tiers),
        example=as_table(table.get("example"), f"{where}.example", problems),
        state_tiers=states,
    ).with_required(required & set(names))


def _check_relations(own: list[Input], names: set[str], where: str, problems: Problems) -> None:
    """A rate's total and games, a ratio's parts and a junior stat's senior, when the
    position has the rate, must be among its inputs too (or be left out of the relation)."""
    for item in own:
        for part in (item.total, item.games, *item.ratio_of):
            if part is not None and part not in names:
                problems.add(f"{where}.inputs", f"{item.name!r} is derived from {part!r}, "
                             "which is not among the position's inputs")


def _derived(raw: Any, names: set[str], where: str, problems: Problems) -> tuple[Derived, ...]:
    if not isinstance(raw, list):
        problems.add(f"{where}.derived", "expected a list of tables")
        return ()
    out = []
    for i, item in enumerate(raw):
        at = f"{where}.derived[{i}]"
        table = as_table(item, at, problems)
        check_keys(table, {"name", "group", "op", "of", "plus"}, at, problems)
        of = as_strings(table.get("of"), f"{at}.of", problems)
        group, op, name = table.get("group"), table.get("op"), table.get("name")
        if not isinstance(name, str) or not name:
            problems.add(f"{at}.name", "expected the feature's name")
        elif group not in DERIVED_GROUPS:
            problems.add(f"{at}.group", f"expected one of {', '.join(DERIVED_GROUPS)}")
        elif op not in DERIVED_OPS:
            problems.add(f"{at}.op", f"expected one of {', '.join(DERIVED_OPS)}")
        elif not of or (op != "per_game" and len(of) != 2):
            problems.add(f"{at}.of", f"{op} takes {'one or more inputs' if op == 'per_game' else 'two inputs'}")
        elif missing := [n for n in of if n not in names]:
            problems.add(f"{at}.of", f"{', '.join(map(repr, missing))} not among the position's inputs")
        else:
            plus = as_number(table.get("plus", 0.0), f"{at}.plus", problems) or 0.0
            out.append(Derived(name, group, op, of, plus))
    return tuple(out)


def _tiers(raw: Any, names: set[str], ladder: Ladder, where: str, problems: Problems,
           strict: bool) -> dict[str, dict[str, tuple[float, float]]]:
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for level, checks in as_table(raw, f"{where}.tiers", problems).items():
        at = f"{where}.tiers.{level}"
        if level not in ladder.levels:
            if strict:
                problems.add(at, f"{level!r} is not a level of the ladder ({', '.join(ladder.levels)})")
            continue
        bounds: dict[str, tuple[float, float]] = {}
        for name, pair in as_table(checks, at, problems).items():
            if name not in names:
                problems.add(f"{at}.{name}", "a tier check must name one of the position's inputs")
            elif not isinstance(pair, list) or len(pair) != 2:
                problems.add(f"{at}.{name}", "expected [low, high] (use -inf or inf for an open end)")
            else:
                lo = as_number(pair[0], f"{at}.{name}", problems)
                hi = as_number(pair[1], f"{at}.{name}", problems)
                bounds[name] = (-math.inf if lo is None else lo, math.inf if hi is None else hi)
        out[level] = bounds
    # Tried from the top level down, as the earlier system did.
    return {level: out[level] for level in reversed(ladder.levels) if level in out}
