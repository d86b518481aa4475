"""Request bodies of the protocol routes: MLflow's scoring protocol (``/invocations``) and
the Open Inference Protocol (``/v2``), declared so that /openapi.json says what they accept.

Each record or row is read as one athlete by :func:`~.parsing.parse_athlete`, so the
athlete schema here is :func:`~.payloads.documented_athlete`, the one /predict publishes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, WithJsonSchema

from ..catalog import PositionSpec
from ..schema import POSITION_COLUMN
from .payloads import documented_athlete, model_name

# --------------------------------------------------------------------------- MLflow's protocol

def _record_schema(position: PositionSpec, *, with_position: bool) -> dict[str, Any]:
    """One record of MLflow's protocol: the athlete model of ``position``; on its own
    endpoint the position may be left out."""
    schema = documented_athlete(position)
    if not with_position:
        schema = {**schema, "title": f"{model_name(position)}Record",
                  "required": [n for n in schema.get("required", ()) if n != POSITION_COLUMN]}
    return schema


def invocations_body(specs: Mapping[str, PositionSpec], position: PositionSpec | None, *,
                     max_batch: int) -> dict[str, Any]:
    """``openapi_extra`` declaring the request body of ``/models/{position}/invocations``
    (``position`` given: records of that position) or ``/invocations`` (every record
    carries its position).

    The schema states the record forms exactly.  The columnar forms (``dataframe_split``,
    ``instances``/``inputs`` as an object of columns) and ``text/csv`` are accepted as
    well and described in words and examples: their row widths and column types depend
    on one another, which JSON Schema cannot state, and a schema looser than what is
    accepted would promise clients (and schema-driven fuzzing) bodies that are refused.
    """
    one = (_record_schema(position, with_position=False) if position is not None else
           {"oneOf": [_record_schema(p, with_position=True) for p in specs.values()]})
    records = {"type": "array", "items": one, "minItems": 1, "maxItems": max_batch}
    params = {"anyOf": [{"type": "object"}, {"type": "null"}],
              "description": "inference parameters: accepted and ignored"}
    forms = [{"type": "object", "title": key, "properties": {key: records, "params": params},
              "required": [key], "additionalProperties": False}
             for key in ("dataframe_records", "instances", "inputs")]
    example = position or next(iter(specs.values()), None)
    sample = {POSITION_COLUMN: example.key, **example.example} if example is not None else {}
    record = {k: v for k, v in sample.items() if position is None or k != POSITION_COLUMN}
    columns = list(record)
    examples = {
        "dataframe_records": {"value": {"dataframe_records": [record]}},
        "dataframe_split": {"value": {"dataframe_split": {
            "columns": columns, "data": [[record[c] for c in columns]]}}},
        "instances (columns)": {"value": {"instances": {c: [record[c]] for c in columns}}},
    }
    csv_text = ",".join(columns) + "\\n" + ",".join(str(record[c]) for c in columns)
    return {"requestBody": {
        "required": True,
        "description": "MLflow's scoring protocol: a JSON object with exactly one of "
                       "dataframe_records, dataframe_split ({columns, data, index}), "
                       "instances or inputs (a list of records, or an object of columns "
                       "each a list of one value per row), and optionally params (ignored); "
                       f"or Content-Type text/csv: a header row, then one row per record "
                       f"(e.g. {csv_text}). At most "
                       f"{max_batch} rows. Column names match as in /predict; columns that "
                       "are not inputs are ignored and listed in X-Ignored-Fields.",
        "content": {"application/json": {"schema": {"oneOf": forms}, "examples": examples}}}}


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
