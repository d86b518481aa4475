"""Open Inference Protocol tensors <-> athletes of one position, and the answer's tensors.

A request holds one tensor per column (MLServer's pandas-codec convention): each
input is named after a column and holds one value per row, with the same number
of rows n in every input.  The rows are assembled into records and validated by
:func:`recruit_reveal.api.parsing.parse_athlete`, exactly as /predict reads an
athlete, so names, aliases, ranges and missing values follow one rule.  ``null``
(and NaN in a float tensor, which is how a numeric array says "missing") is a
missing value; a tensor not sent is a missing column.

The binary tensor data extension is read and written: a body whose JSON header
is followed by raw tensor bytes (the Inference-Header-Content-Length header
gives the JSON's length), and outputs asked for with ``binary_data``.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import numpy as np
from pydantic import ValidationError
from pydantic_core import to_json

from ..catalog import PositionSpec
from ..schema import POSITION_COLUMN
from .http_errors import ApiError, clean_message
from .json_bodies import loads
from .parsing import Athlete, parse_athlete
from .protocol_payloads import InferenceRequestV2, InferInputV2

#: The header of the binary tensor data extension: the length of the JSON part.
HEADER_LENGTH = "Inference-Header-Content-Length"

#: Fixed-size element types as little-endian numpy dtypes.
_NUMPY_TYPES = {"UINT8": "<u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8",
                "INT8": "<i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8",
                "FP16": "<f2", "FP32": "<f4", "FP64": "<f8"}
_FLOATS = frozenset({"FP16", "FP32", "FP64"})


def _bad(message: str, field: str = "inputs") -> ApiError:
    return ApiError(400, message, field=field)


def read_request(body: bytes, header_length: str | None) -> tuple[InferenceRequestV2, bytes]:
    """The request and the binary data after its JSON header (empty without the extension)."""
    binary = b""
    if header_length is not None:
        try:
            size = int(header_length)
        except ValueError:
            raise _bad(f"{HEADER_LENGTH} header: not a number ({header_length!r})",
                       HEADER_LENGTH) from None
        if not 0 < size <= len(body):
            raise _bad(f"{HEADER_LENGTH} header: {size} is not within the body's "
                       f"{len(body)} bytes", HEADER_LENGTH)
        body, binary = body[:size], body[size:]
    if not body.strip():
        raise _bad("request body is empty: expected an inference request (JSON)", "body")
    raw = loads(body)
    try:
        return InferenceRequestV2.model_validate(raw), binary
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = _location(raw, err["loc"])
        more = f"; and {exc.error_count() - 1} more problem(s)" if exc.error_count() > 1 else ""
        words = _shape_words(raw, err["loc"]) or f"{where}: {clean_message(err)}"
        raise _bad(f"{words}{more}", where) from None


def _shape_words(raw: Any, loc: tuple[int | str, ...]) -> str | None:
    """A shape refused by pydantic ("shape.0: Input should be greater than or equal to 1")
    said as the protocol means it: n rows, as [n] or [n, 1]."""
    if len(loc) < 3 or loc[0] != "inputs" or loc[2] != "shape":
        return None
    label = _location(raw, loc[:2])
    try:
        given = json.dumps(raw["inputs"][loc[1]]["shape"])
    except (KeyError, IndexError, TypeError, ValueError):
        given = "missing"
    return (f"{label}: shape {given} is not [n] or [n, 1], where n is the number of rows "
            "(at least 1), the same for every input")


def _location(raw: Any, loc: tuple[int | str, ...]) -> str:
    """A pydantic location as a reader finds it: ``inputs[2] ('weight_lbs').shape``."""
    text = ".".join(str(p) for p in loc) or "body"
    if len(loc) >= 2 and loc[0] == "inputs" and isinstance(loc[1], int):
        try:
            name = raw["inputs"][loc[1]]["name"]
        except (KeyError, IndexError, TypeError):
            name = None
        label = f"input {name!r}" if isinstance(name, str) else f"inputs[{loc[1]}]"
        text = ".".join([label, *(str(p) for p in loc[2:])])
    return text


def _rows_of(tensor: InferInputV2) -> int:
    shape = tensor.shape
    if len(shape) == 2 and shape[1] != 1:
        raise _bad(f"input {tensor.name!r}: shape {shape} is not one column ([n] or [n, 1])",
                   tensor.name)
    return shape[0]


def _flatten(tensor: InferInputV2, data: list[Any]) -> list[Any]:
    if any(isinstance(v, list) for v in data):
        if len(tensor.shape) != 2 or not all(isinstance(v, list) and len(v) == 1 for v in data):
            raise _bad(f"input {tensor.name!r}: data nested unlike its shape {tensor.shape} "
                       "(give n values, or n lists of one value for [n, 1])", tensor.name)
        data = [v[0] for v in data]
    return data


def _check_json_values(tensor: InferInputV2, data: list[Any]) -> list[Any]:
    """JSON values of ``tensor`` checked against its datatype; NaN in a float tensor: None."""
    kind = tensor.datatype
    if kind == "BYTES":
        wrong = next((v for v in data if v is not None and not isinstance(v, str)), None)
        expected = "text"
    elif kind in _FLOATS:
        wrong = next((v for v in data if v is not None and type(v) not in (int, float)), None)
        expected = "numbers"
        data = [None if v is not None and v != v else v for v in data]
    else:
        wrong = next((v for v in data if v is not None and type(v) is not int), None)
        expected = "integers"
    if wrong is not None:
        raise _bad(f"input {tensor.name!r}: {kind} data must be {expected} or null, got "
                   f"{json.dumps(wrong)[:80]}", tensor.name)
    return data


def _binary_values(tensor: InferInputV2, raw: bytes, rows: int) -> list[Any]:
    kind = tensor.datatype
    if kind == "BYTES":
        return _read_bytes_tensor(tensor.name, raw, rows)
    dtype = np.dtype(_NUMPY_TYPES[kind])
    if len(raw) != rows * dtype.itemsize:
        raise _bad(f"input {tensor.name!r}: {len(raw)} bytes of {kind} data for {rows} rows "
                   f"(expected {rows * dtype.itemsize})", tensor.name)
    values: list[Any] = np.frombuffer(raw, dtype=dtype).tolist()
    if kind in _FLOATS:
        values = [None if math.isnan(v) else v for v in values]
    return values


def _read_bytes_tensor(name: str, raw: bytes, rows: int) -> list[Any]:
    """BYTES elements: each a 4-byte little-endian length, then that many UTF-8 bytes."""
    values: list[Any] = []
    at = 0
    while at < len(raw):
        if at + 4 > len(raw):
            break
        (size,) = struct.unpack_from("<I", raw, at)
        chunk = raw[at + 4:at + 4 + size]
        if len(chunk) != size:
            break
        try:
            values.append(chunk.decode("utf-8"))
        except UnicodeDecodeError:
            raise _bad(f"input {name!r}: element {len(values)} is not UTF-8 text", name) from None
        at += 4 + size
    if at != len(raw) or len(values) != rows:
        raise _bad(f"input {name!r}: the BYTES data does not hold {rows} length-prefixed "
                   "elements", name)
    return values


def columns(request: InferenceRequestV2, binary: bytes, max_rows: int,
            ) -> tuple[dict[str, list[Any]], int]:
    """Each input's values by name, and the number of rows (the same for every input)."""
    out: dict[str, list[Any]] = {}
    rows: int | None = None
    first = ""
    at = 0
    for tensor in request.inputs:
        n = _rows_of(tensor)
        if rows is None:
            rows, first = n, tensor.name
        elif n != rows:
            raise _bad(f"input {tensor.name!r}: {n} rows, but input {first!r} has {rows} (every "
                       "input is one column of the same rows)", tensor.name)
        if n > max_rows:
            raise _bad(f"input {tensor.name!r}: {n} rows is more than the limit of {max_rows} "
                       "per request (MAX_BATCH)", tensor.name)
        if tensor.name in out:
            raise _bad(f"input {tensor.name!r} given twice", tensor.name)
        size = (tensor.parameters or {}).get("binary_data_size")
        if size is not None:
            if tensor.data is not None or type(size) is not int or size < 0 \
                    or at + size > len(binary):
                raise _bad(f"input {tensor.name!r}: binary_data_size {size!r} does not fit the "
                           f"{len(binary) - at} bytes left after the JSON header (and no data "
                           "may be given with it)", tensor.name)
            out[tensor.name] = _binary_values(tensor, binary[at:at + size], n)
            at += size
            continue
        if tensor.data is None:
            raise _bad(f"input {tensor.name!r} has no data", tensor.name)
        data = _check_json_values(tensor, _flatten(tensor, tensor.data))
        if len(data) != n:
            raise _bad(f"input {tensor.name!r}: {len(data)} values for shape {tensor.shape}",
                       tensor.name)
        out[tensor.name] = data
    if at != len(binary):
        raise _bad(f"{len(binary) - at} bytes after the JSON header belong to no input "
                   "(binary_data_size)", HEADER_LENGTH)
    assert rows is not None  # the request model requires at least one input
    return out, rows


def athletes(position: PositionSpec, values: dict[str, list[Any]]) -> list[Athlete]:
    """The rows as athletes of ``position``, through the parsing /predict uses; the first
    problem is a 400 naming the input (as sent) and the row."""
    names = list(values)
    if POSITION_COLUMN in names:
        raise _bad(f"input {POSITION_COLUMN!r}: the position is the model in the URL, not an "
                   "input", POSITION_COLUMN)
    out = []
    for i, row in enumerate(zip(*values.values(), strict=True)):
        record = {POSITION_COLUMN: position.key, **dict(zip(names, row, strict=True))}
        try:
            out.append(parse_athlete(record, {position.key: position}))
        except ApiError as exc:
            problem = exc.errors[0] if exc.errors else {"field": "body", "message": exc.message}
            name = problem.get("given_as") or problem["field"]
            message = f"input {name!r}, row {i}: {problem['message']}"
            if problem.get("expected"):
                message += f" (expected {problem['expected']})"
            raise _bad(message, name) from None
    return out


# --------------------------------------------------------------------------- the answer

def _bytes_tensor(values: list[str]) -> bytes:
    encoded = [v.encode() for v in values]
    return b"".join(struct.pack("<I", len(e)) + e for e in encoded)


def answer(header: dict[str, Any], outputs: list[tuple[str, list[int], str, np.ndarray | list[str]]],
           binary: dict[str, bool]) -> tuple[bytes, int | None]:
    """The response body: JSON, or (when an output is asked in binary) the JSON header and
    the outputs' bytes; with the header's length in the second case."""
    blobs: list[bytes] = []
    tensors = []
    for name, shape, datatype, data in outputs:
        tensor: dict[str, Any] = {"name": name, "shape": shape, "datatype": datatype}
        if binary.get(name):
            blob = (_bytes_tensor(data) if isinstance(data, list)
                    else np.ascontiguousarray(data, dtype="<f8").tobytes())
            tensor["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            tensor["data"] = data if isinstance(data, list) else data.ravel().tolist()
        tensors.append(tensor)
    body = to_json({**header, "outputs": tensors})
    if not blobs:
        return body, None
    return body + b"".join(blobs), len(body)
