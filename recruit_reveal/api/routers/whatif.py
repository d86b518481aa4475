"""POST /what-if: a base athlete and modifications, the base against the modified prediction."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from ..dependencies import StoreDep
from ..parsing import read_json
from ..payloads import SpecSchema, what_if_body
from ..prediction_log import recorder
from ..responses import WhatIfResponse, error_responses
from ..whatif_scenarios import Scenario, parse_scenario, what_if_answer
from .predict import json_response


async def _scenario(request: Request, store: StoreDep) -> Scenario:
    return parse_scenario(await read_json(request), store.specs())


async def what_if(request: Request, scenario: Annotated[Scenario, Depends(_scenario)],
                  store: StoreDep) -> Response:
    """The modified athlete's prediction, and in ``what_if_results`` the base against the
    modified division, probability and confidence and the change.

    Body: ``{"base_data": <athlete as for /predict>, "modifications": {field: value},
    "scenario_name": "..."}``.  A modification must name an input of the base athlete's
    position within its range (422 naming ``modifications.<field>`` otherwise); ``null``
    removes an optional input.
    """
    return json_response(what_if_answer(store.require(scenario.base.position), scenario,
                                        recorder(request)))


def build_router() -> APIRouter:
    """POST /what-if, its body declared from the positions served (one app's own)."""
    router = APIRouter(tags=["predict"])
    router.add_api_route("/what-if", what_if, methods=["POST"], response_model=WhatIfResponse,
                         responses=error_responses(400, 413, 415, 422, 503),
                         openapi_extra=SpecSchema(what_if_body))
    return router
