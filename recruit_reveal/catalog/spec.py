"""The football as data: a ladder of levels, inputs, and the spec of each position.

A :class:`PositionSpec` is everything the rest of the package may know about a
position: its inputs in model order (with ranges and units), which of them a
prediction needs, its production stat, derived features, levers, the rule-based
tiers and the ladder it is trained on.  It is plain data: :meth:`PositionSpec.to_dict`
is what every model's metadata embeds, and :meth:`PositionSpec.from_dict` rebuilds
it, so a server needs neither code nor a catalog file for a new position.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from typing import Any

#: A position key: it names files and routes, so lower-case letters, digits and _.
POSITION_KEY = re.compile(r"[a-z][a-z0-9_]{0,31}")
#: What an input may hold: a real number, a count (stored as float so that it may be
#: missing) or a US state code.
KINDS: tuple[str, ...] = ("float", "int", "state")
#: The feature groups a derived feature may belong to, and its operations.
DERIVED_GROUPS: tuple[str, ...] = ("trajectory", "efficiency")
DERIVED_OPS: tuple[str, ...] = ("per_game", "ratio", "difference")

US_STATES: frozenset[str] = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH "
    "NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY".split()
)


def spelling_key(text: object) -> str:
    """A label as compared: lower case, surrounding spaces gone, runs of spaces as one."""
    return re.sub(r"\s+", " ", str(text).strip().lower())


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@dataclass(frozen=True)
class Input:
    """One input column: its kind, unit, plausible range and how it relates to others.

    ``required`` is set on the copy a position holds (required for a prediction).
    ``total``/``games``: this rate is its season total over games played.
    ``ratio_of``: this value is the first input over the second (yards per catch).
    ``junior_of``: the senior stat this junior one precedes.
    """

    name: str
    kind: str
    unit: str
    low: float | None = None
    high: float | None = None
    required: bool = False
    description: str = ""
    spellings: tuple[str, ...] = ()
    group: str | None = None
    better: str | None = None
    decimals: int | None = None
    total: str | None = None
    games: str | None = None
    ratio_of: tuple[str, ...] = ()
    junior_of: str | None = None
    class_year: bool = False

    @property
    def range_text(self) -> str:
        return f"{self.unit} between {_fmt(self.low)} and {_fmt(self.high)}"

    def as_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in fields(self)}


def _fmt(x: float | None) -> str:
    return "-inf" if x is None else f"{x:g}"


@dataclass(frozen=True)
class Lever:
    """An input the what-if may move: direction (+1 higher is better, -1 lower, 0 either
    way), the search span from the current value, and the decimals shown."""

    direction: int
    span: float
    decimals: int


@dataclass(frozen=True)
class Derived:
    """A feature computed from inputs, in a feature group.

    ``per_game``: the sum of ``of`` (the first as given, the rest with missing as 0) over
    games played; ``ratio``: ``of[0] / (of[1] + plus)``; ``difference``: ``of[0] - of[1]``.
    """

    name: str
    group: str
    op: str
    of: tuple[str, ...]
    plus: float = 0.0


@dataclass(frozen=True)
class Ladder:
    """The levels, lowest first, and the spellings of each in training labels."""

    levels: tuple[str, ...]
    spellings: Mapping[str, str] = field(default_factory=dict)

    def normalize(self, label: object) -> str | None:
        """The level a label names, or ``None`` for an unknown or missing label."""
        if _missing(label):
            return None
        key = spelling_key(label)
        return self.spellings.get(key) or next(
            (level for level in self.levels if spelling_key(level) == key), None)

    def index(self, label: str) -> int:
        """The ordinal class of a level (0 = the lowest)."""
        return self.levels.index(label)

    def probability_columns(self) -> tuple[str, ...]:
        """The prediction log's column of each level's probability, lowest first.

        See :func:`probability_columns`: ``p_d3, p_d2, p_fcs, p_p5`` for the default ladder.
        """
        return probability_columns(self.levels)

    def as_dict(self) -> dict[str, Any]:
        grouped: dict[str, list[str]] = {level: [] for level in self.levels}
        for spelling, level in self.spellings.items():
            grouped[level].append(spelling)
        return {"levels": list(self.levels), "spellings": grouped}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Ladder:
        spellings = {spelling_key(s): level for level, names in
                     (data.get("spellings") or {}).items() for s in names}
        return cls(tuple(data["levels"]), spellings)


def _level_tag(level: str, *, short: bool) -> str:
    words = re.findall(r"[0-9a-z]+", level.lower()) or ["level"]
    if not short or len(words) == 1:
        return "_".join(words)
    # "Power 5" -> "p5": initials of the words, numbers whole (the log's historic names)
    return "".join(w if w.isdigit() else w[0] for w in words)


def probability_columns(levels: Sequence[str]) -> tuple[str, ...]:
    """``p_`` + a short tag per level: a one-word level in lower case (``D3`` -> ``p_d3``),
    a longer one as its initials with numbers whole (``Power 5`` -> ``p_p5``).

    The one naming rule of the prediction log's probability columns (its writer and the
    monitoring reader both call it).  Should two levels share a short tag, every level gets
    its full tag (``p_power_5``), and a position suffix breaks any tie left.
    """
    for short in (True, False):
        tags = [f"p_{_level_tag(level, short=short)}" for level in levels]
        if len(set(tags)) == len(tags):
            return tuple(tags)
    return tuple(f"{tag}_{i}" for i, tag in enumerate(tags))


@dataclass(frozen=True, eq=False)
class PositionSpec:
    """One position as the catalog describes it, with the ladder and state tiers it uses.

    Equal (and hashed) by :attr:`digest`, so a spec can key a cache.
    """

    key: str
    label: str
    inputs: tuple[Input, ...]
    ladder: Ladder
    spellings: tuple[str, ...] = ()
    production: str | None = None
    exclude: tuple[str, ...] = ()
    derived: tuple[Derived, ...] = ()
    levers: Mapping[str, Lever] = field(default_factory=dict)
    header_spellings: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    tiers: Mapping[str, Mapping[str, tuple[float, float]]] = field(default_factory=dict)
    example: Mapping[str, Any] = field(default_factory=dict)
    state_tiers: tuple[tuple[str, ...], ...] = ()

    # -- views -----------------------------------------------------------------
    @property
    def levels(self) -> tuple[str, ...]:
        return self.ladder.levels

    @property
    def feature_names(self) -> list[str]:
        """The raw columns a model of this position takes, in order."""
        return [c.name for c in self.inputs]

    @property
    def numeric(self) -> list[Input]:
        return [c for c in self.inputs if c.kind != "state"]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.inputs if c.required]

    @property
    def combine(self) -> tuple[str, ...]:
        """Testing-event results (imputed together, flagged when missing), in input order."""
        return tuple(c.name for c in self.inputs if c.group == "combine")

    @property
    def production_inputs(self) -> tuple[str, ...]:
        """Season statistics and games played: what is not a measurable."""
        return tuple(c.name for c in self.inputs if c.group == "production")

    @property
    def rates(self) -> tuple[Input, ...]:
        """Inputs that are a season total over games (``games`` may be unset: junior)."""
        return tuple(c for c in self.inputs if c.total)

    @property
    def class_year(self) -> str | None:
        return next((c.name for c in self.inputs if c.class_year), None)

    def has(self, name: str) -> bool:
        return any(c.name == name for c in self.inputs)

    def column(self, name: str) -> Input:
        for c in self.inputs:
            if c.name == name:
                return c
        raise KeyError(name)

    def junior_of(self, senior: str) -> str | None:
        """The junior input that precedes ``senior``, if the position has one."""
        return next((c.name for c in self.inputs if c.junior_of == senior), None)

    def state_tier(self, state: object) -> int | None:
        """Recruiting tier 1 (elite) .. last of a state code, ``None`` if unknown/missing."""
        if not isinstance(state, str):
            return None
        code = state.strip().upper()
        if code not in US_STATES:
            return None
        return next((t for t, codes in enumerate(self.state_tiers, 1) if code in codes),
                    len(self.state_tiers) + 1)

    @property
    def n_state_tiers(self) -> int:
        return len(self.state_tiers) + 1

    # -- plain data ------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: what a model's metadata embeds."""
        return {
            "key": self.key, "label": self.label, "spellings": list(self.spellings),
            "inputs": [c.as_dict() for c in self.inputs],
            "production": self.production, "exclude": list(self.exclude),
            "derived": [{"name": d.name, "group": d.group, "op": d.op, "of": list(d.of),
                         "plus": d.plus} for d in self.derived],
            "levers": {n: {"direction": v.direction, "span": v.span, "decimals": v.decimals}
                       for n, v in self.levers.items()},
            "header_spellings": {n: list(s) for n, s in self.header_spellings.items()},
            "tiers": {level: {n: [_json_bound(lo), _json_bound(hi)] for n, (lo, hi) in checks.items()}
                      for level, checks in self.tiers.items()},
            "example": dict(self.example),
            "ladder": self.ladder.as_dict(),
            "state_tiers": [list(t) for t in self.state_tiers],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PositionSpec:
        """The spec back from :meth:`to_dict`'s output (as stored in a model's metadata)."""
        names = {f.name for f in fields(Input)}
        inputs = tuple(Input(**{k: (tuple(v) if isinstance(v, list) else v)  # type: ignore[arg-type]
                                for k, v in c.items() if k in names}) for c in data["inputs"])
        return cls(
            key=data["key"], label=data.get("label", data["key"].upper()), inputs=inputs,
            ladder=Ladder.from_dict(data["ladder"]), spellings=tuple(data.get("spellings", ())),
            production=data.get("production"), exclude=tuple(data.get("exclude", ())),
            derived=tuple(Derived(d["name"], d["group"], d["op"], tuple(d["of"]),
                                  float(d.get("plus", 0.0))) for d in data.get("derived", ())),
            levers={n: Lever(int(v["direction"]), float(v["span"]), int(v["decimals"]))
                    for n, v in (data.get("levers") or {}).items()},
            header_spellings={n: tuple(s) for n, s in (data.get("header_spellings") or {}).items()},
            tiers={level: {n: (_bound(b[0], -math.inf), _bound(b[1], math.inf))
                           for n, b in checks.items()}
                   for level, checks in (data.get("tiers") or {}).items()},
            example=dict(data.get("example") or {}),
            state_tiers=tuple(tuple(t) for t in data.get("state_tiers", ())),
        )

    @cached_property
    def digest(self) -> str:
        """sha256 of the spec's canonical JSON: equal specs, equal digests."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def __hash__(self) -> int:
        return hash(self.digest)

    def __repr__(self) -> str:
        return f"PositionSpec({self.key!r}, levels={list(self.levels)}, digest={self.digest[:12]!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PositionSpec) and other.digest == self.digest

    def with_required(self, required: set[str]) -> PositionSpec:
        return replace(self, inputs=tuple(replace(c, required=c.name in required)
                                          for c in self.inputs))


def _json_bound(x: float) -> float | None:
    """JSON has no infinity: an open bound is stored as null."""
    return None if math.isinf(x) else x


def _bound(x: float | None, open_end: float) -> float:
    return open_end if x is None else float(x)
