"""The Open Inference Protocol (KServe V2 REST), so tritonclient, the kserve client and
MLServer-style clients can call the models.

Each position served is a model; its inputs are the inputs of the model's own spec
(its metadata's catalog slice), one tensor each (see :mod:`..v2_tensors`); its outputs
are ``probabilities`` ([n, k], in the order of the model's classes, its ladder's
levels) and ``division`` (the predicted label).
Scoring is the plain vectorized path of /predict/batch?explain=false.  Errors of
these routes are ``{"error": "..."}`` (see :mod:`..http_errors`).

The router is built per app (:func:`build_router`) because the request's row limit
in /openapi.json is that app's MAX_BATCH.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from ... import __version__
from ...catalog import PositionSpec
from ...errors import VersionNotFoundError
from .. import v2_tensors
from ..dependencies import PositionPath, StoreDep
from ..json_bodies import BINARY_TYPE, require_json
from ..payloads import Version
from ..prediction_log import recorder
from ..predictions import OnScored, score_rows
from ..protocol_payloads import inference_request_body
from ..responses import (
    InferenceResponseV2,
    ModelMetadataV2,
    ServerMetadataV2,
    v2_error_responses,
)
from ..store import ModelStore, ServedModel
from .health import SERVICE_NAME

#: The protocol's health paths: never rate limited, like /health.
HEALTH_PATHS = ("/v2/health/live", "/v2/health/ready")
#: Extensions of the protocol this server implements.
EXTENSIONS = ["binary_tensor_data"]

VersionPath = Annotated[Version, Path(description="an exported version X.Y.Z")]

_EMPTY: dict[str, Any] = {"description": "yes (no body)"}


def _health(ok: bool) -> Response:
    """A health answer: 200 for true and 400 for false, with no body (as the protocol says)."""
    return Response(status_code=200 if ok else 400)


async def server_metadata() -> dict[str, Any]:
    """The server's name, version and the protocol extensions it implements."""
    return {"name": SERVICE_NAME, "version": __version__, "extensions": EXTENSIONS}


async def server_live() -> Response:
    """200 while the process answers."""
    return _health(True)


async def server_ready(store: StoreDep) -> Response:
    """200 when every position's model is served, else 400."""
    snap = store.snapshot()
    return _health(all(isinstance(m, ServedModel) for m in snap.values()))


async def model_ready(position: PositionPath, store: StoreDep) -> Response:
    """200 when the position's model is served, else 400; unknown model: 404."""
    return _health(isinstance(store.get(position), ServedModel))


def model_version_ready(position: PositionPath, version: VersionPath, store: StoreDep) -> Response:
    """200 when the version loads and makes its test prediction; unknown version: 404."""
    store.versioned(position, version)
    return _health(True)


def _metadata(store: ModelStore, position: str, spec: PositionSpec | None) -> dict[str, Any]:
    """The protocol's model metadata, from the model's spec (its inputs and classes)."""
    spec = spec or store.specs().get(position)
    inputs = [{"name": c.name, "datatype": "BYTES" if c.kind == "state" else "FP64",
               "shape": [-1]} for c in (spec.inputs if spec else ())]
    classes = len(spec.levels) if spec else -1
    return {"name": position, "versions": store.available_versions(position),
            "platform": "sklearn", "inputs": inputs,
            "outputs": [{"name": "probabilities", "datatype": "FP64", "shape": [-1, classes]},
                        {"name": "division", "datatype": "BYTES", "shape": [-1]}],
            "parameters": {"content_type": "pd",
                           "classes": ",".join(spec.levels) if spec else ""}}


def model_metadata(position: PositionPath, store: StoreDep) -> dict[str, Any]:
    """The model's inputs (one tensor per column), outputs and exported versions."""
    return _metadata(store, position, None)


def model_version_metadata(position: PositionPath, version: VersionPath,
                           store: StoreDep) -> dict[str, Any]:
    """The metadata of an exported version (its own inputs and classes); unknown: 404."""
    versions = store.available_versions(position)
    if version not in versions:
        raise VersionNotFoundError(f"{position} model version {version!r} not found (available: "
                                   f"{', '.join(versions) or 'none'})")
    return _metadata(store, position, store.describe(position, version).position_spec())


def _infer(store: ModelStore, position: str, version: str | None, body: bytes,
           header_length: str | None, max_rows: int,
           on_scored: OnScored | None = None) -> Response:
    """Read the tensors, score the rows with the plain vectorized path, answer the outputs."""
    served = store.versioned(position, version) if version else store.require(position)
    request, binary = v2_tensors.read_request(body, header_length)
    values, _rows = v2_tensors.columns(request, binary, max_rows)
    athletes = v2_tensors.athletes(served.spec, values)
    scored = score_rows(served, athletes, on_scored)
    proba, labels = scored.proba, scored.predicted
    wanted = [o.name for o in request.outputs] if request.outputs else ["probabilities",
                                                                         "division"]
    default_binary = (request.parameters or {}).get("binary_data_output") is True
    binary_out: dict[str, bool] = {o.name: (o.parameters or {}).get("binary_data", default_binary) is True
                  for o in request.outputs or ()}
    for name in wanted:
        binary_out.setdefault(name, default_binary)
    tensors: dict[str, tuple[str, list[int], str, np.ndarray | list[str]]] = {
        "probabilities": ("probabilities", list(proba.shape), "FP64", proba),
        "division": ("division", [len(labels)], "BYTES", labels)}
    header: dict[str, Any] = {"model_name": position, "model_version": served.version}
    if request.id is not None:
        header["id"] = request.id
    if athletes[0].ignored:
        header["parameters"] = {"ignored_inputs": ",".join(athletes[0].ignored)}
    content, json_length = v2_tensors.answer(header, [tensors[n] for n in dict.fromkeys(wanted)],
                                             binary_out)
    if json_length is None:
        return Response(content, media_type="application/json")
    return Response(content, media_type="application/octet-stream",
                    headers={v2_tensors.HEADER_LENGTH: str(json_length)})


def build_router(max_batch: int) -> APIRouter:
    """The /v2 routes, declaring requests of at most ``max_batch`` rows."""
    router = APIRouter(prefix="/v2", tags=["open inference protocol"])

    async def infer(position: PositionPath, store: StoreDep, request: Request) -> Response:
        """Score n rows given as one tensor per column; answers ``probabilities`` [n, k]
        (k: the model's classes) and ``division`` [n] (or the ``outputs`` asked for)."""
        require_json(request.headers.get("content-type"), also=(BINARY_TYPE,))
        return await run_in_threadpool(_infer, store, position, None, await request.body(),
                                       request.headers.get(v2_tensors.HEADER_LENGTH), max_batch,
                                       recorder(request))

    async def infer_version(position: PositionPath, version: VersionPath, store: StoreDep,
                            request: Request) -> Response:
        """/v2/models/{position}/infer with an exported version X.Y.Z; unknown: 404."""
        require_json(request.headers.get("content-type"), also=(BINARY_TYPE,))
        return await run_in_threadpool(_infer, store, position, version, await request.body(),
                                       request.headers.get(v2_tensors.HEADER_LENGTH), max_batch,
                                       recorder(request))

    errors = v2_error_responses(400, 404, 409, 413, 415, 503)
    answer: dict[str, Any] = {"model": InferenceResponseV2, "content": {"application/octet-stream": {
        "schema": {"type": "string", "format": "binary"}}},
        "description": "JSON, or with binary outputs the JSON header (its length in "
                       "Inference-Header-Content-Length) followed by their bytes"}
    body = inference_request_body(max_batch)
    router.add_api_route("", server_metadata, methods=["GET"], response_model=ServerMetadataV2)
    for path, handler in (("/health/live", server_live), ("/health/ready", server_ready)):
        router.add_api_route(path, handler, methods=["GET"], response_class=Response,
                             responses={200: _EMPTY, 400: {"description": "no (no body)"}})
    ready: dict[int | str, dict[str, Any]] = {200: _EMPTY, 400: {"description": "no (no body)"}, **v2_error_responses(404, 409)}
    for suffix, meta, ready_handler, infer_handler in (
            ("", model_metadata, model_ready, infer),
            ("/versions/{version}", model_version_metadata, model_version_ready, infer_version)):
        base = "/models/{position}" + suffix
        router.add_api_route(base, meta, methods=["GET"], response_model=ModelMetadataV2,
                             responses=v2_error_responses(400, 404))
        router.add_api_route(base + "/ready", ready_handler, methods=["GET"],
                             response_class=Response, responses=ready)
        router.add_api_route(base + "/infer", infer_handler, methods=["POST"],
                             response_class=Response, responses={200: answer, **errors},
                             openapi_extra=body)
    return router
