"""Reading request bodies: JSON, then athletes validated by the generated request models.

Field names are matched as training file headers are
(:mod:`recruit_reveal.data.columns`: any case, spaces and punctuation, the built-in
and per-position spellings).  One input sent under two names is accepted when the
values agree and refused, naming both, when not.  Fields that are no input of the
position (athlete names, the label, unknown fields) are ignored and listed by name
in :attr:`Athlete.ignored`.  Every problem is collected and raised as one
:class:`~recruit_reveal.api.http_errors.ApiError` naming the fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from pydantic import ValidationError
from starlette.requests import Request

from ..catalog import PositionSpec, active_catalog
from ..data.columns import column_name, match, same_value
from ..schema import POSITION_COLUMN, header_key
from .http_errors import MAX_PROBLEMS, ApiError, clean_message, summary
from .json_bodies import loads, require_json
from .payloads import ATHLETE_REF, range_hint, request_model

#: The positions a request may name, with the spec of each (``ModelStore.specs``).
Specs = Mapping[str, PositionSpec]

T = TypeVar("T")


@dataclass
class Athlete:
    """One validated athlete: canonical position, canonical values, and the names of the
    fields ignored (as sent; their values are never kept)."""

    position: str
    values: dict[str, Any]
    ignored: list[str]
    #: The client's ``athlete_ref``, if sent (not an input: never in ``values``).
    ref: str | None = None


def canonical_name(key: str, position: PositionSpec | None = None) -> str:
    """A field name as sent -> its canonical column name for ``position`` (the shared
    spellings only when ``None``)."""
    return column_name(key, position)


@dataclass(frozen=True)
class _Fields:
    """How one position reads a set of field names: (name as sent, canonical name) of
    each input, whether an input is sent twice, and the names ignored."""

    inputs: tuple[tuple[str, str], ...]
    repeated: bool
    ignored: list[str]


@lru_cache(maxsize=4096)
def _plan(keys: tuple[str, ...], specs: tuple[PositionSpec, ...]
          ) -> tuple[tuple[str, ...], dict[str, _Fields]]:
    """The names ``position`` is sent under, and how each position reads the rest;
    cached, as the records of a batch mostly share their field names."""
    position_keys = tuple(k for k, n in zip(keys, match(keys).names, strict=True)
                          if n == POSITION_COLUMN)
    fields: dict[str, _Fields] = {}
    for spec in specs:
        matched = match(keys, spec)
        wanted = set(spec.feature_names)
        inputs = tuple((k, n) for k, n in zip(keys, matched.names, strict=True) if n in wanted)
        repeated = len({n for _, n in inputs}) < len(inputs)
        fields[spec.key] = _Fields(inputs, repeated, list(matched.ignored))
    return position_keys, fields


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _gather(raw: dict[str, Any], pairs: tuple[tuple[str, str], ...], where: str,
            problems: list[dict[str, Any]]) -> dict[str, Any]:
    """Canonical name -> value; a second name of one input must carry the same value."""
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for key, name in pairs:
        value = raw[key]
        if name not in values:
            values[name], origin[name] = value, key
        elif not same_value(values[name], value):
            first = origin[name]
            problems.append({"field": where + name, "message": "given twice with different "
                             f"values: {first!r}={_shown(values[name])}, {key!r}={_shown(value)}"})
    return values


def _position(raw: dict[str, Any], keys: tuple[str, ...], specs: Specs, where: str) -> str:
    """The athlete's position, from whichever spellings of ``position`` it is sent under."""
    problems: list[dict[str, Any]] = []
    found = _gather(raw, tuple((k, POSITION_COLUMN) for k in keys), where, problems)
    pos_raw = found.get(POSITION_COLUMN)
    position = pos_raw.lower() if isinstance(pos_raw, str) and pos_raw.isascii() else None
    if position not in specs:
        position = None
    if position is None and not problems:
        message = ("missing required field" if pos_raw is None
                   else f"unknown position {pos_raw!r}")
        problems.append({"field": where + POSITION_COLUMN, "message": message,
                         "expected": "one of " + ", ".join(specs)})
    if problems or position is None:
        raise ApiError(422, summary(problems), field=where + POSITION_COLUMN, errors=problems)
    return position




def active_specs() -> dict[str, PositionSpec]:
    """The active catalog's positions: what a library call without a server reads with."""
    return dict(active_catalog().positions)


def parse_athlete(raw: Any, specs: Specs | None = None, where: str = "") -> Athlete:
    """Validate one athlete object; raise ApiError(422) naming every bad field."""
    if not isinstance(raw, dict):
        name = where.rstrip(".") or "body"
        raise ApiError(422, f"{name}: expected a JSON object describing one athlete, "
                       f"got {type(raw).__name__}", field=name)
    specs = active_specs() if specs is None else specs
    ref_keys = tuple(k for k in raw if header_key(k) == ATHLETE_REF)
    keys = tuple(k for k in raw if k not in ref_keys) if ref_keys else tuple(raw)
    position_keys, plans = _plan(keys, tuple(specs.values()))
    position = _position(raw, position_keys, specs, where)
    spec, fields = specs[position], plans[position]
    problems: list[dict[str, Any]] = []
    if fields.repeated:
        canonical = _gather(raw, fields.inputs, where, problems)
    else:
        canonical = {name: raw[key] for key, name in fields.inputs}
    if ref_keys:  # the client's reference: not an input, kept apart from the values
        canonical.update(_gather(raw, tuple((k, ATHLETE_REF) for k in ref_keys), where,
                                 problems))
    try:
        model = request_model(spec).model_validate({POSITION_COLUMN: position, **canonical})
    except ValidationError as exc:
        origin = {name: key for key, name in reversed(fields.inputs)}
        for err in exc.errors(include_url=False):
            name = str(err["loc"][0]) if err["loc"] else "body"
            problem = {"field": where + name, "message": clean_message(err)}
            hint = range_hint(spec, name)
            if hint:
                problem["expected"] = hint
            if name in origin and origin[name] != name:
                problem["given_as"] = origin[name]
            problems.append(problem)
    if problems:
        raise ApiError(422, summary(problems), field=problems[0]["field"], errors=problems)
    values = model.model_dump(exclude={POSITION_COLUMN, ATHLETE_REF})
    return Athlete(position, values, list(fields.ignored), getattr(model, ATHLETE_REF))


def parse_batch(payload: Any, specs: Specs, max_batch: int) -> list[Athlete]:
    """A JSON list of athletes, or ``{"athletes": [...]}``; every bad athlete reported."""
    if isinstance(payload, dict) and "athletes" in payload:
        payload = payload["athletes"]
    if not isinstance(payload, list):
        raise ApiError(422, "athletes: expected a JSON list of athletes (or an object "
                       "with an 'athletes' list)", field="athletes")
    if not payload:
        raise ApiError(422, "athletes: the batch is empty", field="athletes")
    if len(payload) > max_batch:
        # A validation error (the schema's maxItems), so 422 like every other one; 413 is
        # for a body over the size limit.
        raise ApiError(422, f"athletes: {len(payload)} athletes is more than the limit of "
                       f"{max_batch} per batch", field="athletes")
    return read_all(enumerate(payload),
                    lambda item: parse_athlete(item[1], specs, where=f"athletes[{item[0]}]."))


def read_all(items: Iterable[T], read: Callable[[T], Athlete]) -> list[Athlete]:
    """``read`` every item; every bad one reported (up to MAX_PROBLEMS problems) in one 422."""
    athletes: list[Athlete] = []
    problems: list[dict[str, Any]] = []
    for item in items:
        try:
            athletes.append(read(item))
        except ApiError as exc:
            problems.extend(exc.errors)
            if len(problems) >= MAX_PROBLEMS:
                break
    if problems:
        raise ApiError(422, summary(problems), field=problems[0]["field"],
                       errors=problems[:MAX_PROBLEMS])
    return athletes


async def read_json(request: Request) -> Any:
    """The request body as JSON; 415 when declared as something else, 422 when empty, 400
    (with line and column) when malformed."""
    require_json(request.headers.get("content-type"))
    body = await request.body()
    if not body.strip():
        raise ApiError(422, "request body is empty: expected JSON", field="body")
    return loads(body)
