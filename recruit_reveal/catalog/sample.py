"""The ``[sample]`` sections of a catalog: the generative model behind a synthetic sample.

``[sample]`` holds what the positions share (level priors, combine attendance, junior
missing rates, state-tier probabilities per level, the correlation table, the
level-independent draws and missing-at-random rates; optionally ``year_priors``, the
level priors per class year: a level mix that drifts by class); ``[positions.X.sample]`` holds a
position's latent coordinates, its level-dependent categorical inputs, its recipes for
the level-independent "noise" columns and the measured Bayes ceiling.  Any shared key
may be given again by a position; ``[sample.positions.X]`` replaces a position's own
section (a catalog extending another re-tunes inherited positions for its ladder).
Per-level lists hold one value per ladder level, lowest first.  The draws and their
inverse live in :mod:`recruit_reveal.data`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .problems import Problems, as_number, as_strings, as_table, check_keys
from .spec import PositionSpec

_SHARED = {"priors", "combine_attendance", "test_recorded", "junior_missing", "state_tiers",
           "correlations", "draws", "missing_at_random", "year_priors"}
_TOP_KEYS = _SHARED | {"positions"}
_POSITION_KEYS = _SHARED | {"latent", "levelled", "recipes", "ceiling"}
#: Recipe kind -> (required parameters, optional parameters, parameters naming a variable).
RECIPES: dict[str, tuple[set[str], set[str], tuple[str, ...]]] = {
    "total": ({"rate", "games"}, set(), ("rate", "games")),
    "poisson": ({"of", "spread"}, {"divisor", "divisor_noise", "scale"}, ("of",)),
    "scaled": ({"of", "mean", "sd"}, {"low", "high"}, ("of",)),
    "quotient": ({"of", "per"}, {"floor"}, ("of", "per")),
}


@dataclass(frozen=True)
class Latent:
    """One latent Gaussian coordinate: the input it is published as, its rounding step,
    its role in the correlation table, and median and sd per level (natural units)."""

    input: str
    role: str
    step: float
    medians: tuple[float, ...]
    sd: tuple[float, ...]


@dataclass(frozen=True)
class Draw:
    """A level-independent discrete variable (uniform when ``p`` is empty)."""

    name: str
    values: tuple[float, ...]
    p: tuple[float, ...] = ()


@dataclass(frozen=True)
class Levelled:
    """An input drawn from a categorical distribution per level (``p[level][value]``)."""

    input: str
    values: tuple[float, ...]
    p: tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class Recipe:
    """A level-independent column: ``kind`` (see :data:`RECIPES`) and its parameters."""

    kind: str
    input: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class PositionSample:
    """Everything needed to draw rows of one position and to invert the draw exactly."""

    key: str
    levels: tuple[str, ...]
    priors: tuple[float, ...]
    state_tiers: tuple[tuple[float, ...], ...]
    latent: tuple[Latent, ...]
    correlations: Mapping[tuple[str, str], float]
    combine_attendance: tuple[float, ...] = ()
    test_recorded: Mapping[str, float] = field(default_factory=dict)
    junior_missing: tuple[float, ...] = ()
    draws: tuple[Draw, ...] = ()
    levelled: tuple[Levelled, ...] = ()
    recipes: tuple[Recipe, ...] = ()
    missing_at_random: tuple[tuple[str, float], ...] = ()
    ceiling: Mapping[str, float] = field(default_factory=dict)
    #: Level priors per class year (a drifting level mix): (year, priors) in year order.
    year_priors: tuple[tuple[float, tuple[float, ...]], ...] = ()


class _Reader:
    """Reads one position's merged section, adding one problem line per mistake."""

    def __init__(self, spec: PositionSpec, where: str, problems: Problems):
        self.spec, self.where, self.problems = spec, where, problems
        self.n = len(spec.levels)

    def add(self, place: str, message: str) -> None:
        self.problems.add(f"{self.where}.{place}" if place else self.where, message)

    def numbers(self, raw: Any, place: str, length: int | None = None,
                probability: bool = False) -> tuple[float, ...]:
        if not isinstance(raw, list) or any(
                isinstance(x, bool) or not isinstance(x, int | float) for x in raw):
            self.add(place, "expected a list of numbers")
            return ()
        if length is not None and len(raw) != length:
            what = "one per ladder level" if length == self.n else f"{length} values"
            self.add(place, f"expected {what} ({length}), got {len(raw)}")
            return ()
        if probability and not all(0.0 <= x <= 1.0 for x in raw):
            self.add(place, "probabilities lie between 0 and 1")
            return ()
        return tuple(float(x) for x in raw)

    def distribution(self, raw: Any, place: str, length: int) -> tuple[float, ...]:
        p = self.numbers(raw, place, length, probability=True)
        if p and not math.isclose(sum(p), 1.0, abs_tol=1e-9):
            self.add(place, f"probabilities must sum to 1, got {sum(p):g}")
            return ()
        return p

    def per_level(self, raw: Any, place: str, probability: bool = True) -> tuple[float, ...]:
        return self.numbers(raw, place, self.n, probability)

    def input_of(self, name: Any, place: str) -> str | None:
        if not isinstance(name, str) or not self.spec.has(name):
            self.add(place, f"{name!r} is not one of the position's inputs "
                     f"({', '.join(self.spec.feature_names)})")
            return None
        return name


def _latent(r: _Reader, raw: Any) -> tuple[Latent, ...]:
    out = []
    for i, item in enumerate(raw if isinstance(raw, list) else []):
        place = f"latent[{i}]"
        table = as_table(item, f"{r.where}.{place}", r.problems)
        check_keys(table, {"input", "role", "step", "medians", "sd", "cv"},
                   f"{r.where}.{place}", r.problems)
        name = r.input_of(table.get("input"), f"{place}.input")
        medians = r.per_level(table.get("medians"), f"{place}.medians", probability=False)
        step = as_number(table.get("step"), f"{r.where}.{place}.step", r.problems)
        if name is None or not medians or step is None or step <= 0:
            if step is not None and step <= 0:
                r.add(f"{place}.step", "the rounding step must be positive")
            continue
        col = r.spec.column(name)
        if col.low is None or col.high is None or not all(col.low < m < col.high for m in medians):
            r.add(f"{place}.medians", f"medians must lie inside the range of {name} "
                  f"({col.range_text})")
            continue
        sd = _spread(r, table, medians, place)
        if sd:
            out.append(Latent(name, str(table.get("role", name)), step, medians, sd))
    if not isinstance(raw, list):
        r.add("latent", "expected a list of latent coordinates")
    return tuple(out)


def _spread(r: _Reader, table: Mapping[str, Any], medians: tuple[float, ...],
            place: str) -> tuple[float, ...]:
    """``sd`` (one number, or one per level) or ``cv`` (sd = median x cv, to 4 decimals)."""
    if ("sd" in table) == ("cv" in table):
        r.add(place, "give either sd or cv")
        return ()
    if "cv" in table:
        cv = as_number(table["cv"], f"{r.where}.{place}.cv", r.problems)
        sd = tuple(round(m * cv, 4) for m in medians) if cv is not None else ()
    elif isinstance(table["sd"], list):
        sd = r.per_level(table["sd"], f"{place}.sd", probability=False)
    else:
        one = as_number(table["sd"], f"{r.where}.{place}.sd", r.problems)
        sd = (one,) * r.n if one is not None else ()
    if sd and min(sd) <= 0:
        r.add(place, "standard deviations must be positive")
        return ()
    return sd


def _correlations(r: _Reader, raw: Any, roles: set[str]) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for i, item in enumerate(raw if isinstance(raw, list) else []):
        place = f"correlations[{i}]"
        table = as_table(item, f"{r.where}.{place}", r.problems)
        pair = as_strings(table.get("between"), f"{r.where}.{place}.between", r.problems)
        value = as_number(table.get("r"), f"{r.where}.{place}.r", r.problems)
        if len(pair) != 2 or value is None or not -1 < value < 1:
            r.add(place, "expected {between = [role, role], r = a number in (-1, 1)}")
            continue
        out[(pair[0], pair[1])] = value
    if not isinstance(raw, list):
        r.add("correlations", "expected a list of {between = [role, role], r = ...}")
    return {k: v for k, v in out.items() if k[0] in roles and k[1] in roles}


def correlation_matrix(latent: tuple[Latent, ...],
                       correlations: Mapping[tuple[str, str], float]) -> np.ndarray:
    """The within-level correlation matrix of the latent coordinates, by role."""
    roles = [c.role for c in latent]
    corr = np.eye(len(roles))
    for i, a in enumerate(roles):
        for j, b in enumerate(roles):
            value = correlations.get((a, b), correlations.get((b, a)))
            if value is not None and i != j:
                corr[i, j] = value
    return corr


def _draws(r: _Reader, raw: Any) -> tuple[Draw, ...]:
    out = []
    for name, item in as_table(raw, f"{r.where}.draws", r.problems).items():
        table = as_table(item, f"{r.where}.draws.{name}", r.problems)
        check_keys(table, {"values", "p"}, f"{r.where}.draws.{name}", r.problems)
        values = r.numbers(table.get("values"), f"draws.{name}.values")
        p = r.distribution(table["p"], f"draws.{name}.p", len(values)) if "p" in table else ()
        if values and (p or "p" not in table):
            out.append(Draw(name, values, p))
    return tuple(out)


def _levelled(r: _Reader, raw: Any) -> tuple[Levelled, ...]:
    out = []
    for i, item in enumerate(raw if isinstance(raw, list) else []):
        place = f"levelled[{i}]"
        table = as_table(item, f"{r.where}.{place}", r.problems)
        check_keys(table, {"input", "values", "p"}, f"{r.where}.{place}", r.problems)
        name = r.input_of(table.get("input"), f"{place}.input")
        values = r.numbers(table.get("values"), f"{place}.values")
        rows = table.get("p")
        if not isinstance(rows, list) or len(rows) != r.n:
            r.add(f"{place}.p", f"expected one list of probabilities per ladder level ({r.n})")
            continue
        p = tuple(r.distribution(row, f"{place}.p[{k}]", len(values)) for k, row in enumerate(rows))
        if name is not None and values and all(p):
            out.append(Levelled(name, values, p))
    return tuple(out)


def _year_priors(r: _Reader, raw: Any,
                 draws: tuple[Draw, ...]) -> tuple[tuple[float, tuple[float, ...]], ...]:
    """``year_priors = { 2019 = [...], ... }``: the level mix of each drawn class year."""
    if raw is None:
        return ()
    table = as_table(raw, f"{r.where}.year_priors", r.problems)
    year = r.spec.class_year
    draw = next((d for d in draws if d.name == year), None)
    if year is None or draw is None:
        r.add("year_priors", "needs a class-year input (class_year = true) drawn in draws")
        return ()
    out = []
    for key, row in table.items():
        try:
            value = float(key)
        except ValueError:
            r.add(f"year_priors.{key}", "expected a class year as the key")
            continue
        p = r.distribution(row, f"year_priors.{key}", r.n)
        if p:
            out.append((value, p))
    missing = sorted(set(draw.values) - {v for v, _ in out})
    if missing:
        r.add("year_priors", f"no priors for the drawn class years {missing}")
        return ()
    return tuple(sorted(out))


def _recipes(r: _Reader, raw: Any, known: set[str]) -> tuple[Recipe, ...]:
    """The noise recipes in draw order; each may use variables drawn before it."""
    out = []
    for i, item in enumerate(raw if isinstance(raw, list) else []):
        place = f"recipes[{i}]"
        table = dict(as_table(item, f"{r.where}.{place}", r.problems))
        kind = table.pop("kind", None)
        name = r.input_of(table.pop("input", None), f"{place}.input")
        if kind not in RECIPES:
            r.add(f"{place}.kind", f"unknown recipe {kind!r} (expected one of "
                  + ", ".join(RECIPES) + ")")
            continue
        needed, optional, variables = RECIPES[kind]
        check_keys(table, needed | optional, f"{r.where}.{place}", r.problems)
        missing = sorted(needed - set(table))
        if missing:
            r.add(place, f"a {kind} recipe needs " + ", ".join(missing))
            continue
        unknown = [table[v] for v in variables if table[v] not in known]
        if not _numbers_ok(r, table, variables, place):
            continue
        if unknown:
            r.add(place, f"uses {', '.join(map(repr, unknown))} before it is drawn")
            continue
        if name is not None:
            out.append(Recipe(kind, name, table))
            known.add(name)
    if raw is not None and not isinstance(raw, list):
        r.add("recipes", "expected a list of recipes")
    return tuple(out)


def _numbers_ok(r: _Reader, table: Mapping[str, Any], variables: tuple[str, ...],
                place: str) -> bool:
    """Every parameter that names no variable is a number (``divisor_noise`` a table of
    mean, sd and optional low and high)."""
    ok = True
    for key, value in table.items():
        if key in variables:
            continue
        if key == "divisor_noise":
            noise = as_table(value, f"{r.where}.{place}.{key}", r.problems)
            check_keys(noise, {"mean", "sd", "low", "high"}, f"{r.where}.{place}.{key}",
                       r.problems)
            numbers = [noise.get("mean"), noise.get("sd"), *(noise.get(k, 0.0)
                                                             for k in ("low", "high"))]
        else:
            numbers = [value]
        if any(isinstance(x, bool) or not isinstance(x, int | float) for x in numbers):
            r.add(f"{place}.{key}", f"expected a number, got {value!r}")
            ok = False
    return ok


def _position(spec: PositionSpec, section: Mapping[str, Any], where: str,
              problems: Problems) -> PositionSample | None:
    """One position's sample from its merged section (shared keys already folded in)."""
    r = _Reader(spec, where, problems)
    latent = _latent(r, section.get("latent", []))
    roles = {c.role for c in latent}
    correlations = _correlations(r, section.get("correlations", []), roles)
    draws = _draws(r, section.get("draws"))
    levelled = _levelled(r, section.get("levelled", []))
    # Inputs named by a coordinate count as drawn even when it has a problem of its own.
    named = {str(c.get("input")) for c in section.get("latent", []) if isinstance(c, dict)}
    known = named | {d.name for d in draws} | {c.input for c in levelled}
    known |= {c.name for c in spec.inputs if c.kind == "state"}
    recipes = _recipes(r, section.get("recipes"), known)
    never = [n for n in spec.feature_names if n not in known]
    if never:
        r.add("", "no way to draw " + ", ".join(never) + " (give each input a latent "
              "coordinate, a draw, a levelled draw or a recipe)")
    combine = [c.input for c in latent if spec.column(c.input).group == "combine"]
    recorded = {n: as_number(v, f"{where}.test_recorded.{n}", problems) for n, v in
                as_table(section.get("test_recorded"), f"{where}.test_recorded", problems).items()}
    for name in combine:
        value = recorded.get(name)
        if value is None or not 0.0 <= value <= 1.0:
            r.add("test_recorded", f"{name} needs the probability a test is recorded")
    junior = any(spec.column(c.input).junior_of for c in latent)
    mcar = as_table(section.get("missing_at_random"), f"{where}.missing_at_random", problems)
    # The posterior reads level information from which combine and junior values are
    # missing: blanking them at random as well would make it inexact.
    telling = set(combine) | {c.input for c in latent if spec.column(c.input).junior_of}
    for name in sorted(telling & set(mcar)):
        r.add(f"missing_at_random.{name}", "a combine or junior coordinate goes missing by "
              "level only (its missingness carries information)")
    sample = PositionSample(
        key=spec.key, levels=spec.levels,
        priors=r.distribution(section.get("priors"), "priors", r.n),
        state_tiers=tuple(r.distribution(row, f"state_tiers[{k}]", spec.n_state_tiers)
                          for k, row in enumerate(_rows(r, section.get("state_tiers"))))
        if _has_state(spec) else (),
        latent=latent, correlations=correlations,
        combine_attendance=(r.per_level(section.get("combine_attendance"), "combine_attendance")
                            if combine else ()),
        test_recorded={n: float(recorded.get(n) or 0.0) for n in combine},
        junior_missing=r.per_level(section.get("junior_missing"), "junior_missing") if junior else (),
        draws=draws, levelled=levelled, recipes=recipes,
        missing_at_random=tuple((n, float(v)) for n, v in mcar.items()
                                if isinstance(v, int | float) and 0 <= v < 1),
        ceiling={k: float(v) for k, v in as_table(section.get("ceiling"), f"{where}.ceiling",
                                                  problems).items()},
        year_priors=_year_priors(r, section.get("year_priors"), draws),
    )
    return sample if _complete(r, sample, combine, junior) else None


def _has_state(spec: PositionSpec) -> bool:
    return any(c.kind == "state" for c in spec.inputs)


def _rows(r: _Reader, raw: Any) -> list[Any]:
    if not isinstance(raw, list) or len(raw) != r.n:
        r.add("state_tiers", f"expected one list of tier probabilities per ladder level ({r.n})")
        return []
    return raw


def _complete(r: _Reader, sample: PositionSample, combine: list[str], junior: bool) -> bool:
    """Everything read and the latent correlation matrix safely positive definite."""
    ok = bool(sample.priors) and (not _has_state(r.spec) or (
        len(sample.state_tiers) == r.n and all(sample.state_tiers)))
    ok = ok and (bool(sample.combine_attendance) or not combine)
    ok = ok and (bool(sample.junior_missing) or not junior)
    if sample.latent and np.linalg.eigvalsh(
            correlation_matrix(sample.latent, sample.correlations)).min() <= 0.05:
        r.add("correlations", "the latent correlation matrix is not safely positive definite")
        ok = False
    return ok and not r.problems.lines


def read_sample(raw: Any, positions_raw: Any, positions: Mapping[str, PositionSpec],
                problems: Problems, strict: set[str]) -> dict[str, PositionSample]:
    """The sample of every position that has a section, by key.

    A position in ``strict`` (defined by the catalog itself) with a wrong section is a
    problem; an inherited one whose section does not fit this catalog's ladder is left
    without a sample (like its rule-based tiers).
    """
    top = as_table(raw, "sample", problems)
    check_keys(top, _TOP_KEYS, "sample", problems)
    shared = {k: v for k, v in top.items() if k != "positions"}
    retuned = as_table(top.get("positions"), "sample.positions", problems)
    out: dict[str, PositionSample] = {}
    for key, spec in positions.items():
        pos_raw = positions_raw.get(key) if isinstance(positions_raw, dict) else None
        own = dict(as_table((pos_raw or {}).get("sample"), f"positions.{key}.sample", problems))
        where = f"positions.{key}.sample"
        if key in retuned:
            # Re-tuned for this ladder: the inherited ceiling was measured on another one.
            own.pop("ceiling", None)
            own.update(as_table(retuned[key], f"sample.positions.{key}", problems))
            where = f"sample.positions.{key}"
        if not own:
            continue
        check_keys(own, _POSITION_KEYS, where, problems)
        section = {**shared, **own}
        section["correlations"] = [*shared.get("correlations", []), *own.get("correlations", [])]
        local = Problems(problems.source)
        sample = _position(spec, section, where, local)
        if key in strict or key in retuned:
            problems.lines.extend(local.lines)
        if sample is not None:
            out[key] = sample
    for key in retuned:
        if key not in positions:
            problems.add(f"sample.positions.{key}", "not a position of this catalog")
    return out
