"""MLflow's scoring protocol: ``POST /models/{position}/invocations`` and ``POST /invocations``.

A client of MLflow's scoring server (or of Databricks Model Serving, MLServer or
Seldon) posts ``{"dataframe_records": [record, ...]}`` (or another of its formats,
:mod:`recruit_reveal.api.mlflow_formats`) and reads ``predictions[i]``: the class
probabilities of record ``i``, in the order of its model's classes (its ladder's levels).  Each record is
read by :func:`~recruit_reveal.api.parsing.parse_athlete`, as /predict reads an
athlete, and scored by the served model's vectorized path, as
/predict/batch?explain=false scores it.

Errors answer in MLflow's shape (``{"error_code", "message"}``), by the route class
:class:`MlflowRoute`, so every other route keeps the project's error shape.  The
endpoints are open: an ``Authorization`` header, which these clients always send,
is ignored.  The router is built per app (:func:`build_router`) because the body's
``maxItems`` is that app's MAX_BATCH.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

import numpy as np
from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from pydantic_core import to_json
from starlette.concurrency import run_in_threadpool

from ...schema import IGNORED_COLUMNS, POSITION_COLUMN
from ..dependencies import PositionPath, SettingsDep, StoreDep
from ..http_errors import ApiError, mlflow_error_response
from ..mlflow_formats import Row, rows_of
from ..parsing import Athlete, Specs, canonical_name, parse_athlete, read_all
from ..payloads import SpecSchema
from ..prediction_log import MLFLOW_POSITION_ROUTE, recorder
from ..predictions import OnScored, score_rows
from ..protocol_payloads import invocations_body
from ..responses import InvocationsResponse, mlflow_error_responses
from ..store import ModelStore

logger = logging.getLogger(__name__)

#: The path of one position's MLflow endpoint.
POSITION_INVOCATIONS = MLFLOW_POSITION_ROUTE
#: The response header listing the columns that were not inputs (and so were ignored).
IGNORED_HEADER = "X-Ignored-Fields"
#: Longest X-Ignored-Fields value; the names past it are counted ("+3 more").
MAX_IGNORED_CHARS = 1024
#: Characters a name keeps as they are in X-Ignored-Fields (printable ASCII but "," and
#: "%"); others are percent-encoded, so any column name fits in a header.
_HEADER_SAFE = "".join(chr(c) for c in range(32, 127) if chr(c) not in ",%")


class MlflowRoute(APIRoute):
    """A route answering every request problem in MLflow's error shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                response = mlflow_error_response(exc)
                if response is None:
                    raise
                return response
        return answer


def _claimed(row: Row, position: str) -> dict[str, Any]:
    """The record of ``row`` for ``position``'s endpoint: its position, when it names
    one, must be that one; when it names none, it is that one."""
    for key, value in row.record.items():
        if canonical_name(key) == POSITION_COLUMN:
            if not isinstance(value, str) or value.lower() != position:
                raise ApiError(422, f"{row.where}{key}: {value!r} is not this endpoint's "
                               f"position {position!r}", field=row.where + key)
            return row.record
    return {**row.record, POSITION_COLUMN: position}


def read_athletes(rows: list[Row], specs: Specs, position: str | None,
                  max_batch: int) -> list[Athlete]:
    """Every row read as /predict reads an athlete; every bad row reported, each field named
    with its row (``dataframe_records[3].height_inches``)."""
    if not rows:
        raise ApiError(400, "body: no rows to score", field="body")
    if len(rows) > max_batch:
        raise ApiError(400, f"body: {len(rows)} rows is more than the limit of {max_batch} per "
                       "request (MAX_BATCH)", field="body")
    return read_all(rows, lambda row: parse_athlete(
        row.record if position is None else _claimed(row, position), specs, where=row.where))


def probabilities(store: ModelStore, athletes: list[Athlete],
                  on_scored: OnScored | None = None) -> list[list[float]]:
    """The class probabilities of every athlete, in input order, rounded as /predict's;
    each position's model called once (the path of /predict/batch?explain=false)."""
    by_position: dict[str, list[int]] = {}
    for i, a in enumerate(athletes):
        by_position.setdefault(a.position, []).append(i)
    served = store.require_all(by_position)  # one snapshot: every row by the same release
    out: list[list[float]] = [[] for _ in athletes]
    for pos, idx in by_position.items():
        scored = score_rows(served[pos], [athletes[i] for i in idx], on_scored)
        for i, p in zip(idx, np.round(scored.proba, 6).tolist(), strict=True):
            out[i] = p
    return out


def ignored_fields(rows: list[Row], athletes: list[Athlete]) -> list[str]:
    """The columns that are not inputs, as sent, each once, in order of appearance."""
    names: dict[str, None] = {}
    for row, athlete in zip(rows, athletes, strict=True):
        for key in row.record:
            if canonical_name(key) in IGNORED_COLUMNS:
                names.setdefault(key)
        names.update(dict.fromkeys(athlete.ignored))
    return list(names)


def ignored_header(names: list[str]) -> str:
    """X-Ignored-Fields: the names comma-separated (percent-encoded where a header needs
    it), at most MAX_IGNORED_CHARS, the rest counted."""
    out: list[str] = []
    length = 0
    for i, name in enumerate(names):
        text = quote(name, safe=_HEADER_SAFE)
        if length + len(text) + 1 > MAX_IGNORED_CHARS - 12:
            out.append(f"+{len(names) - i} more")
            break
        out.append(text)
        length += len(text) + 1
    return ",".join(out)


async def _invoke(request: Request, store: ModelStore, position: str | None,
                  max_batch: int) -> Response:
    rows = rows_of(await request.body(), request.headers.get("content-type"))
    athletes = read_athletes(rows, store.specs(), position, max_batch)
    predictions = await run_in_threadpool(probabilities, store, athletes, recorder(request))
    response = Response(to_json({"predictions": predictions}), media_type="application/json")
    ignored = ignored_fields(rows, athletes)
    if ignored:
        response.headers[IGNORED_HEADER] = ignored_header(ignored)
        logger.debug("%s: ignored fields (not inputs): %s", request.url.path, ", ".join(ignored))
    return response


async def position_invocations(position: PositionPath, request: Request, store: StoreDep,
                               settings: SettingsDep) -> Response:
    """MLflow's scoring protocol for one position's model: every record is one athlete of
    that position (a position, when given, must be it); the position in any case.

    Answer: `{"predictions": [[p, ...], ...]}`, one row per record in input order, the
    probabilities in the order of the model's classes (GET /models/{position}); errors in
    MLflow's shape `{"error_code", "message"}`.
    """
    return await _invoke(request, store, position, settings.max_batch)


async def invocations(request: Request, store: StoreDep, settings: SettingsDep) -> Response:
    """MLflow's scoring protocol over every model: each record carries its `position`
    (positions may be mixed).

    Answer: `{"predictions": [[p, ...], ...]}`, one row per record in input order, each in
    the order of its position's classes; errors in MLflow's shape `{"error_code", "message"}`.
    """
    return await _invoke(request, store, None, settings.max_batch)


def build_router(max_batch: int) -> APIRouter:
    """The MLflow protocol routes, declaring requests of at most ``max_batch`` rows."""
    router = APIRouter(tags=["mlflow"], route_class=MlflowRoute)
    errors = mlflow_error_responses(400, 415, 503)
    # One route for every position; /openapi.json lists it once per position served, each
    # with its own record schema (api/openapi_doc.py).
    router.add_api_route(POSITION_INVOCATIONS, position_invocations, methods=["POST"],
                         response_model=InvocationsResponse, responses=errors)
    router.add_api_route("/invocations", invocations, methods=["POST"],
                         response_model=InvocationsResponse, responses=errors,
                         openapi_extra=SpecSchema(lambda specs: invocations_body(
                             specs, None, max_batch=max_batch)))
    return router
