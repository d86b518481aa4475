"""POST /what-if: a base athlete and modifications, the base against the modified prediction."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from ..dependencies import StoreDep
from ..parsing import read_json
from ..payloads import what_if_body
from ..prediction_log import recorder
from ..responses import WhatIfResponse, error_responses
from ..whatif_scenarios import Scenario, parse_scenario, what_if_answer
from .predict import json_response

router = APIRouter(tags=["predict"])


async def _scenario(request: Request) -> Scenario:
    return parse_scenario(await read_json(request))


@router.post("/what-if", response_model=WhatIfResponse,
             responses=error_responses(400, 413, 415, 422, 503), openapi_extra=what_if_body())
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
