"""Request models of the API, generated from the specs of the models served.

What /openapi.json says a request may hold comes from here, and the server
accepts exactly what it calls valid: the athlete models (position spellings,
state codes, numeric ranges, required fields), built from each served model's
own :class:`~recruit_reveal.catalog.PositionSpec`, and the version pattern of
path and query parameters.  The answers are in :mod:`.responses`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import cache
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    WithJsonSchema,
    create_model,
    model_validator,
)

from ..artifacts import layout
from ..catalog import PositionSpec, resolve
from ..data.production import Rate, derive_rates, rate_of
from ..errors import VersionError
from ..schema import POSITION_COLUMN, US_STATES, Column, PositionLike, parse_height
from .json_bodies import TooLongNumber

#: Strict semver X.Y.Z as :func:`recruit_reveal.artifacts.layout.parse_version` reads it.
VERSION_PATTERN = r"^(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})$"


def casings(code: str) -> list[str]:
    """Every upper/lower-case spelling of ``code`` ("ab" -> ab, aB, Ab, AB)."""
    out = [""]
    for ch in code:
        out = [s + c for s in out for c in dict.fromkeys((ch.lower(), ch.upper()))]
    return out


#: State codes a request may send: upper or lower case; "" means missing.
STATE_SPELLINGS: tuple[str, ...] = (*sorted(US_STATES), *sorted(s.lower() for s in US_STATES), "")

#: A level of the ladder of the model answering (ladders differ between catalogs).
Division = str
#: A position key of a served model.
Position = str


# --------------------------------------------------------------------------- parameters

def check_version(value: str) -> str:
    """A strict X.Y.Z version (``latest`` is not one) or ValueError naming the problem."""
    try:
        layout.parse_version(value)
    except VersionError as exc:
        raise ValueError(f"malformed version {value!r}: {exc}") from None
    return value


_VERSION_SCHEMA = {"type": "string", "pattern": VERSION_PATTERN, "examples": ["1.0.0"],
                   "description": "model version X.Y.Z (digits only, no leading zeros)"}

#: A model version in a path or query parameter.
Version = Annotated[str, AfterValidator(check_version), WithJsonSchema(_VERSION_SCHEMA)]

class SpecSchema(dict[str, Any]):
    """A part of /openapi.json that depends on the positions served: a dict whose content
    :meth:`refresh` rebuilds from the served specs.  Routes keep a reference to it (their
    ``openapi_extra``, a parameter's ``json_schema_extra``), so the app's OpenAPI
    document follows each release without rebuilding its routes."""

    def __init__(self, build: Callable[[Mapping[str, PositionSpec]], dict[str, Any]]):
        super().__init__()
        self._build = build

    def refresh(self, specs: Mapping[str, PositionSpec]) -> None:
        self.clear()
        self.update(self._build(specs))


def position_path_schema(specs: Mapping[str, PositionSpec]) -> dict[str, Any]:
    """The position in a /models/{position} path: a served position, any case (unknown: 404)."""
    return {"type": "string", "enum": [c for key in specs for c in casings(key)],
            "description": ", ".join(specs) + ", any case"}


# --------------------------------------------------------------------------- athletes

#: The client's own reference of an athlete: not an input, kept in the prediction log so
#: outcomes can be joined to predictions (docs/monitoring.md).
ATHLETE_REF = "athlete_ref"
#: Longest athlete_ref accepted.
MAX_ATHLETE_REF = 128

def _height_text(low: float, high: float) -> str:
    """Regex of feet-inches text whose height lies in [low, high] inches: 6-2, 6'2", 6 ft 2 in.

    Every match is read by :func:`recruit_reveal.schema.parse_height`.
    """
    forms = []
    for feet in range(int(low) // 12, int(high) // 12 + 1):
        whole = [i for i in range(12) if low <= 12 * feet + i and 12 * feet + i + 1 <= high]
        exact = [i for i in range(12) if 12 * feet + i == high and i not in whole]
        inches = []
        if whole:
            inches.append(f"(?:{'|'.join(map(str, whole))})(?:\\.[0-9]+)?")
        if exact:
            inches.append("|".join(map(str, exact)))
        if inches:
            forms.append(f"{feet}(?:-|' ?| ?ft ?)(?:{'|'.join(inches)})")
    return f"(?:{'|'.join(forms)})(?:\"|''| ?in)?"


def _reject_non_numbers(value: Any) -> Any:
    # JSON true/false would otherwise pass as 1/0, and "20" as 20.
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, str):
        raise ValueError(f"expected a number, got text {value!r}")
    if isinstance(value, TooLongNumber):
        raise ValueError(f"expected a number, got {value}: too long to be one")
    return value


def _height_validator(col: Column) -> Any:
    pattern = re.compile(_height_text(col.low or 0, col.high or 0))

    def parse(value: Any) -> Any:
        if isinstance(value, str):
            parsed = parse_height(value) if pattern.fullmatch(value) else None
            if parsed is None:
                raise ValueError(f"unrecognised height {value!r}; give inches or feet-inches "
                                 "like 6-2")
            return parsed
        return _reject_non_numbers(value)
    return parse


def _state(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value not in STATE_SPELLINGS:
        raise ValueError(f"unknown US state code {value!r}")
    return value.upper()


def _field_type(col: Column) -> Any:
    description = f"{col.description}; {col.range_text}"
    if col.kind == "state":
        states = {"type": "string", "enum": list(STATE_SPELLINGS)}
        return Annotated[str | None, BeforeValidator(_state), WithJsonSchema(
            {"anyOf": [states, {"type": "null"}], "default": None,
             "description": f"{col.description}, upper or lower case; \"\" or null: missing"})]
    inner: Any = (Annotated[int, Field(ge=col.low, le=col.high)] if col.kind == "int" else
                  Annotated[float, Field(ge=col.low, le=col.high, allow_inf_nan=False)])
    annotated = inner if col.required else inner | None
    if col.name != "height_inches":
        return Annotated[annotated, BeforeValidator(_reject_non_numbers),
                         Field(description=description)]
    text = {"type": "string", "pattern": f"^{_height_text(col.low or 0, col.high or 0)}$"}
    numeric = {"type": "number", "minimum": col.low, "maximum": col.high}
    choices = [numeric, text] if col.required else [numeric, text, {"type": "null"}]
    return Annotated[annotated, BeforeValidator(_height_validator(col)), WithJsonSchema(
        {"anyOf": choices, "description": f"{description}, or feet-inches text like 6-2"})]


def _request_column(col: Column, rule: Rate | None) -> Column:
    """A column as a request takes it: the per-game rate is optional, since it is derived
    from the season total and games, or integrated over (modeling/partial_profiles.py)."""
    if rule is not None and col.name == rule.rate:
        return replace(col, required=False, description=(
            f"{col.description}; optional: derived from the season total and games, "
            "else the prediction integrates over it (integrated_inputs)"))
    return col


def _derived(position: PositionSpec, rate: Any, total: Any, games: Any
             ) -> tuple[float | None, bool]:
    """(the rate derive_rates gives for one athlete, whether total / games is out of range)."""
    if rate is not None or total is None or games is None:
        return None, False
    result = derive_rates(np.array([np.nan]), np.array([float(total)]),
                          np.array([float(games)]), position)
    value = float(result.rate[0])
    return (value if result.derived[0] else None), bool(result.out_of_range[0])


def _derive_rate(position: PositionSpec, rule: Rate) -> Any:
    """Fill the rate from total / games when that is a plausible rate.  An implausible
    one is not refused (the schema cannot say so): the prediction then integrates over
    the games played (modeling/partial_profiles.py) and says why."""
    def derive(model: Any) -> Any:
        value, _ = _derived(position, getattr(model, rule.rate), getattr(model, rule.total),
                            getattr(model, rule.games))
        if value is not None:
            setattr(model, rule.rate, value)
        return model
    return derive


def model_name(position: PositionSpec) -> str:
    return "".join(part.capitalize() for part in position.key.split("_"))


def request_model(position: PositionLike) -> type[BaseModel]:
    """The pydantic model of one athlete of ``position`` (a spec, or a key of the active
    catalog), generated from its spec."""
    return _request_model(resolve(position))


@cache
def _request_model(position: PositionSpec) -> type[BaseModel]:
    key = position.key
    fields: dict[str, Any] = {
        POSITION_COLUMN: (Literal.__getitem__(tuple(casings(key))),  # Literal of every casing of the key
                          Field(description=f"{key}, any case")),
    }
    rule = rate_of(position)
    for col in (_request_column(c, rule) for c in position.inputs):
        fields[col.name] = (_field_type(col), ... if col.required else None)
    fields[ATHLETE_REF] = (str | None, Field(
        None, max_length=MAX_ATHLETE_REF,
        description="your own reference of the athlete (not an input): recorded with the "
                    "prediction when the prediction log is on, never scored"))
    validators: dict[str, Any] = {} if rule is None else {
        "_derive_rate": model_validator(mode="after")(_derive_rate(position, rule)),
    }
    return create_model(
        f"{model_name(position)}Athlete",
        __validators__=validators,
        __doc__=f"One {position.label} ({key}). Names match in any case, with spaces or "
                "punctuation, and under the other names declared for an input (one name per "
                "input, or the same value under each); other fields are ignored and listed "
                "in ignored_fields.",
        **fields)


def documented_athlete(position: PositionLike) -> dict[str, Any]:
    """The JSON schema /openapi.json publishes for one athlete of ``position``.

    Inputs are declared under their canonical names.  The other names the one
    column-matching rule accepts (Title_Case, form names, per-position spellings:
    docs/data-contract.md) are not declared: "this input under any one of its names, and
    two names only with the same value" is more than schema-driven clients and fuzzers
    can generate from.
    """
    return _documented_athlete(resolve(position))


@cache
def _documented_athlete(position: PositionSpec) -> dict[str, Any]:
    return _request_model(position).model_json_schema()


def range_hint(position: PositionSpec, name: str) -> str | None:
    """What a field of ``position`` expects, for error messages."""
    try:
        col = position.column(name)
    except KeyError:
        return None
    return col.unit if col.kind == "state" else col.range_text


def athlete_body(specs: Mapping[str, PositionSpec], *, batch: bool,
                 max_batch: int) -> dict[str, Any]:
    """``openapi_extra`` declaring the request body of /predict (or /predict/batch)."""
    one = {"oneOf": [documented_athlete(p) for p in specs.values()]}
    schema: dict[str, Any] = one
    if batch:
        items = {"type": "array", "items": one, "minItems": 1, "maxItems": max_batch}
        schema = {"oneOf": [items, {"type": "object", "properties": {"athletes": items},
                                    "required": ["athletes"]}]}
    return {"requestBody": {"required": True,
                            "content": {"application/json": {"schema": schema}}}}


#: Longest scenario_name a /what-if accepts.
MAX_SCENARIO_NAME = 200


def modifications_schema(position: PositionSpec) -> dict[str, Any]:
    """JSON schema of /what-if ``modifications`` for a base athlete of ``position``:
    any of the athlete's inputs, with the athlete's constraints; no other field."""
    athlete = documented_athlete(position)
    required = set(athlete.get("required", ()))
    properties = {}
    for name, prop in athlete["properties"].items():
        if name in (POSITION_COLUMN, ATHLETE_REF):
            continue
        prop = {k: v for k, v in prop.items() if k not in ("default", "title")}
        if name not in required:
            prop["description"] = prop.get("description", name) + "; null removes it"
        properties[name] = prop
    return {"type": "object", "properties": properties, "additionalProperties": False,
            "title": f"{model_name(position)}Modifications",
            "description": f"Inputs of the {position.key} base athlete to change (names as "
                           "in the athlete, matched by the same rule); a required input "
                           "cannot be removed."}


def what_if_body(specs: Mapping[str, PositionSpec]) -> dict[str, Any]:
    """``openapi_extra`` declaring the request body of /what-if."""
    name = {"anyOf": [{"type": "string", "maxLength": MAX_SCENARIO_NAME}, {"type": "null"}],
            "default": None, "description": "a label echoed in the answer"}
    one = {"oneOf": [
        {"type": "object", "title": f"{model_name(pos)}WhatIf",
         "properties": {"base_data": documented_athlete(pos),
                        "modifications": modifications_schema(pos), "scenario_name": name},
         "required": ["base_data", "modifications"]}
        for pos in specs.values()]}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": one}}}}
