"""Predictions: one athlete, a batch, or one athlete with an explicit model version.

The router is built per app (:func:`build_router`) because the batch body's
``maxItems`` in /openapi.json is that app's MAX_BATCH.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from ..dependencies import AthleteBody, AthletesBody, StoreDep
from ..payloads import SpecSchema, Version, athlete_body
from ..prediction_log import recorder
from ..predictions import predict_many, predict_one
from ..responses import BatchResponse, ExplainedPrediction, TargetedPrediction, error_responses

#: The levels a target may name: those of the ladders served (refreshed with the OpenAPI
#: document, as the positions are).
TARGET_DIVISION_SCHEMA = SpecSchema(lambda specs: {"anyOf": [
    {"type": "string", "enum": list(dict.fromkeys(
        level for spec in specs.values() for level in spec.levels))}, {"type": "null"}]})
TargetDivision = Annotated[str | None, Query(
    description="also search the smallest single changes that reach this division or "
                "higher (answer: target_search); a level of the position's ladder "
                "(GET /models/{position}: classes)", json_schema_extra=TARGET_DIVISION_SCHEMA)]
MinProbability = Annotated[float, Query(
    gt=0, le=1, description="with target_division: the probability of that division or "
                            "higher to reach")]


# One athlete is scored on the event loop: the model is in memory, so there is no I/O,
# and the scoring of one athlete is short.  In the thread pool, 32 concurrent athletes
# contend for the GIL: half the throughput and twice the p99 (docs/api.md, Serving speed).
# Whatever reads the models folder (an explicit version) or scores a whole batch runs in
# the thread pool.

async def predict(request: Request, athlete: AthleteBody, store: StoreDep,
                  target_division: TargetDivision = None,
                  min_probability: MinProbability = 0.5) -> Response:
    """Predict one athlete with the served model of its position.

    With ``target_division`` (and ``min_probability``, default 0.5) the answer adds
    ``target_search``: per input, the smallest single change that makes the model's
    probability of that division or higher at least ``min_probability``.
    """
    return json_response(predict_one(store.require(athlete.position), athlete, target_division,
                                     min_probability, recorder(request)))


async def predict_batch(request: Request, athletes: AthletesBody, store: StoreDep,
                        explain: Annotated[bool, Query(description="false skips what-if, "
                                                       "factors and text, for bulk scoring")
                                           ] = True) -> Response:
    """Predict many athletes (positions mixed), in input order.

    Body: a JSON list of athletes, or ``{"athletes": [...]}``; at most
    MAX_BATCH (10,000 by default) athletes.
    """
    return json_response(await run_in_threadpool(predict_many, store, athletes, explain,
                                                  recorder(request)))


async def predict_version(request: Request, version: Annotated[Version, Path()],
                          athlete: AthleteBody,
                          store: StoreDep, target_division: TargetDivision = None,
                          min_probability: MinProbability = 0.5) -> Response:
    """/predict with an explicit model version X.Y.Z for the athlete's position.

    The served default does not change; unknown version: 404.
    """
    served = await run_in_threadpool(store.versioned, athlete.position, version)
    return json_response(predict_one(served, athlete, target_division, min_probability,
                                     recorder(request)))


def json_response(body: bytes) -> Response:
    """An answer already encoded (built to the route's declared response model)."""
    return Response(body, media_type="application/json")


def build_router(max_batch: int) -> APIRouter:
    """The /predict routes, declaring batches of at most ``max_batch`` athletes."""
    router = APIRouter(tags=["predict"])
    one = SpecSchema(lambda specs: athlete_body(specs, batch=False, max_batch=max_batch))
    # The OpenAPI answer; predict_one encodes it (a TargetedPrediction with target_division).
    one_answer = TargetedPrediction | ExplainedPrediction
    router.add_api_route("/predict", predict, methods=["POST"],
                         response_model=one_answer,
                         responses=error_responses(400, 413, 415, 422, 503), openapi_extra=one)
    router.add_api_route("/predict/batch", predict_batch, methods=["POST"],
                         response_model=BatchResponse,
                         responses=error_responses(400, 413, 415, 422, 503),
                         openapi_extra=SpecSchema(lambda specs: athlete_body(
                             specs, batch=True, max_batch=max_batch)))
    router.add_api_route("/predict/{version:path}", predict_version, methods=["POST"],
                         response_model=one_answer,
                         responses=error_responses(400, 404, 409, 413, 415, 422, 503),
                         openapi_extra=one)
    return router
