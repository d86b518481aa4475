"""Request models of the API, generated from :mod:`recruit_reveal.schema`.

What /openapi.json says a request may hold comes from here, and the server
accepts exactly what it calls valid: the athlete models (position spellings,
state codes, numeric ranges, required fields) and the version pattern of path
and query parameters.  The answers are in :mod:`.responses`.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, WithJsonSchema, create_model

from ..artifacts import layout
from ..errors import VersionError
from ..schema import (
    DIVISIONS,
    POSITION_COLUMN,
    POSITIONS,
    US_STATES,
    Column,
    column,
    columns_for,
    parse_height,
)

#: Strict semver X.Y.Z as :func:`recruit_reveal.artifacts.layout.parse_version` reads it.
VERSION_PATTERN = r"^(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})$"


def _casings(code: str) -> list[str]:
    """Every upper/lower-case spelling of ``code`` ("qb" -> qb, qB, Qb, QB)."""
    out = [""]
    for ch in code:
        out = [s + c for s in out for c in dict.fromkeys((ch.lower(), ch.upper()))]
    return out


#: Position as a request may spell it (any case, no spaces) -> canonical position.
POSITION_CASINGS: dict[str, str] = {s: pos for pos in POSITIONS for s in _casings(pos)}
#: State codes a request may send: upper or lower case; "" means missing.
STATE_SPELLINGS: tuple[str, ...] = (*sorted(US_STATES), *sorted(s.lower() for s in US_STATES), "")

if TYPE_CHECKING:
    Division = str
    Position = str
else:
    Division = Literal[DIVISIONS]
    Position = Literal[POSITIONS]


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

#: The position in a /models/{position} path (unknown: 404, see dependencies).
POSITION_PATH_SCHEMA = {"type": "string", "enum": list(POSITION_CASINGS),
                        "description": "qb, rb or wr, any case"}


# --------------------------------------------------------------------------- athletes

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


@cache
def request_model(position: str) -> type[BaseModel]:
    """The pydantic model of one athlete of ``position``, generated from the schema."""
    casings = [s for s, pos in POSITION_CASINGS.items() if pos == position]
    fields: dict[str, Any] = {
        POSITION_COLUMN: (Literal.__getitem__(tuple(casings)),  # Literal["qb", "qB", ...]
                          Field(description=f"{position}, any case")),
    }
    for col in columns_for(position):
        fields[col.name] = (_field_type(col), ... if col.required else None)
    return create_model(
        f"{position.capitalize()}Athlete",
        __doc__=f"One {position.upper()}. Other fields are ignored and listed in "
                "ignored_fields; names match case-insensitively, and height/weight are "
                "accepted for height_inches/weight_lbs.",
        **fields)


def range_hint(position: str, name: str) -> str | None:
    """What a field of ``position`` expects, for error messages."""
    try:
        col = column(position, name)
    except KeyError:
        return None
    return col.unit if col.kind == "state" else col.range_text


def athlete_body(*, batch: bool, max_batch: int) -> dict[str, Any]:
    """``openapi_extra`` declaring the request body of /predict (or /predict/batch)."""
    one = {"oneOf": [request_model(p).model_json_schema() for p in POSITIONS]}
    schema: dict[str, Any] = one
    if batch:
        items = {"type": "array", "items": one, "minItems": 1, "maxItems": max_batch}
        schema = {"oneOf": [items, {"type": "object", "properties": {"athletes": items},
                                    "required": ["athletes"]}]}
    return {"requestBody": {"required": True,
                            "content": {"application/json": {"schema": schema}}}}


#: Longest scenario_name a /what-if accepts.
MAX_SCENARIO_NAME = 200


def modifications_schema(position: str) -> dict[str, Any]:
    """JSON schema of /what-if ``modifications`` for a base athlete of ``position``:
    any of the athlete's inputs, with the athlete's constraints; no other field."""
    athlete = request_model(position).model_json_schema()
    required = set(athlete.get("required", ()))
    properties = {}
    for name, prop in athlete["properties"].items():
        if name == POSITION_COLUMN:
            continue
        prop = {k: v for k, v in prop.items() if k not in ("default", "title")}
        if name not in required:
            prop["description"] = prop.get("description", name) + "; null removes it"
        properties[name] = prop
    return {"type": "object", "properties": properties, "additionalProperties": False,
            "title": f"{position.capitalize()}Modifications",
            "description": f"Inputs of the {position.upper()} base athlete to change (names as "
                           "in the athlete; any case, and height/weight for height_inches/"
                           "weight_lbs); a required input cannot be removed."}


def what_if_body() -> dict[str, Any]:
    """``openapi_extra`` declaring the request body of /what-if."""
    name = {"anyOf": [{"type": "string", "maxLength": MAX_SCENARIO_NAME}, {"type": "null"}],
            "default": None, "description": "a label echoed in the answer"}
    one = {"oneOf": [
        {"type": "object", "title": f"{pos.capitalize()}WhatIf",
         "properties": {"base_data": request_model(pos).model_json_schema(),
                        "modifications": modifications_schema(pos), "scenario_name": name},
         "required": ["base_data", "modifications"]}
        for pos in POSITIONS]}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": one}}}}


# --------------------------------------------------------------------------- Open Inference Protocol

#: Tensor element types of the Open Inference Protocol (KServe V2) that an input may have
#: (no input is boolean, so BOOL is refused).
TensorDatatype = Literal["UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32",
                         "INT64", "FP16", "FP32", "FP64", "BYTES"]
#: A protocol parameter value: "$string | $number | $boolean".
ParameterValue = bool | int | float | str
#: The outputs of every model of the service.
OutputName = Literal["probabilities", "division"]

_SCALAR = {"anyOf": [{"type": "number"}, {"type": "string"}, {"type": "null"}]}
_TENSOR_DATA = {
    "type": "array", "minItems": 1,
    "items": {"anyOf": [_SCALAR, {"type": "array", "items": _SCALAR, "minItems": 1,
                                  "maxItems": 1}]},
    "description": "one value per row, flat or as [[v], ...] for shape [n, 1]; null (and NaN "
                   "in FP tensors) means missing"}


class InferInputV2(BaseModel):
    """One column of the athletes as a tensor (MLServer's pandas-codec convention)."""

    name: str = Field(min_length=1, description="the column: an input of the model metadata "
                                                "(other names are ignored and reported)")
    shape: list[Annotated[int, Field(ge=1)]] = Field(
        min_length=1, max_length=2, description="[n] or [n, 1]: n rows, the same for every input")
    datatype: TensorDatatype = Field(description="FP64 (or another number type) for numbers, "
                                                 "BYTES for text such as the state")
    parameters: dict[str, ParameterValue] | None = Field(
        None, description="binary_data_size: the data follows the JSON header (the binary "
                          "tensor data extension)")
    data: Annotated[list[Any] | None, WithJsonSchema(_TENSOR_DATA)] = None


class RequestedOutputV2(BaseModel):
    name: OutputName
    parameters: dict[str, ParameterValue] | None = Field(
        None, description="binary_data: true answers this output as raw bytes after the header")


class InferenceRequestV2(BaseModel):
    """An inference request of the Open Inference Protocol: one tensor per input column."""

    id: str | None = Field(None, description="echoed in the answer")
    parameters: dict[str, ParameterValue] | None = Field(
        None, description="binary_data_output: true answers every output as raw bytes")
    inputs: list[InferInputV2] = Field(min_length=1)
    outputs: list[RequestedOutputV2] | None = Field(
        None, description="the outputs to answer (default: all)")


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline_refs(defs[ref[len("#/$defs/"):]], defs)
        return {k: _inline_refs(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


def inference_request_body(max_batch: int) -> dict[str, Any]:
    """``openapi_extra`` declaring the body of /v2/.../infer: JSON (rows up to ``max_batch``),
    or the JSON header followed by binary tensor data."""
    schema = InferenceRequestV2.model_json_schema()
    schema = _inline_refs(schema, schema.get("$defs", {}))
    data = schema["properties"]["inputs"]["items"]["properties"]["data"]
    data["maxItems"] = max_batch
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": schema},
        "application/octet-stream": {"schema": {
            "type": "string", "format": "binary",
            "description": "the binary tensor data extension: the JSON request (its length in "
                           "the Inference-Header-Content-Length header), then each input's "
                           "bytes"}}}}}
