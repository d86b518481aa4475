"""The exported models: served version, versions, metrics, and the admin switch (a promote)."""

from __future__ import annotations

import functools
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from ..audit_records import RECORD_HEADERS, served_record_html
from ..dependencies import PositionPath, StoreDep, require_admin
from ..listings import position_summary
from ..payloads import Version
from ..responses import (
    ModelsResponse,
    PositionDetail,
    SwitchResponse,
    VersionsResponse,
    error_responses,
)

router = APIRouter(prefix="/models", tags=["models"])

# The listings read the models folder (version lists, metadata, a file or S3 object per
# version), so their handlers are plain functions: FastAPI runs them in the thread pool,
# and the event loop keeps answering /health and /predict meanwhile.


@router.get("", response_model=ModelsResponse, response_model_exclude_unset=True)
def models(store: StoreDep) -> dict[str, Any]:
    """Served version and available versions of every position."""
    summaries = {p: position_summary(store, p, with_versions=True) for p in store.positions}
    return {
        "available_models": summaries,
        "total_models": sum(s["loaded"] for s in summaries.values()),
        "total_versions": sum(len(s["available_versions"]) for s in summaries.values()),
    }


@router.get("/{position}", response_model=PositionDetail, response_model_exclude_unset=True,
            responses=error_responses(404))
def model_detail(position: PositionPath, store: StoreDep) -> dict[str, Any]:
    """The served model of a position: version, reason, metrics, input schema."""
    return position_summary(store, position, with_versions=False, detail=True)


@router.get("/{position}/versions", response_model=VersionsResponse,
            response_model_exclude_unset=True, responses=error_responses(404))
def model_versions(position: PositionPath, store: StoreDep) -> dict[str, Any]:
    """Every exported version of a position with its headline metrics and date."""
    summary = position_summary(store, position, with_versions=True)
    return {"position": position, "served_version": summary["version"],
            "versions": summary["versions"], "total_versions": len(summary["versions"])}


# response_class=Response: so the OpenAPI gives the errors as JSON and only the 200 as HTML.
@router.get("/{position}/record", response_class=Response,
            responses={200: {"content": {"text/html": {"schema": {"type": "string"}}},
                             "description": "the executed notebook that produced the served "
                                            "model, as HTML"}, **error_responses(404, 503)})
async def model_record(position: PositionPath, store: StoreDep) -> HTMLResponse:
    """The audit record (executed training notebook, as HTML) of the served model, served
    only when the record's sha256 link matches the served artifact; 404 with the reason
    otherwise (a model trained with the direct engine has no record)."""
    served = store.require(position)
    html = await run_in_threadpool(served_record_html, served, store.models_dir)
    return HTMLResponse(html, headers=RECORD_HEADERS)


@router.post("/{position}/switch", response_model=SwitchResponse,
             dependencies=[Depends(require_admin)],
             responses=error_responses(401, 403, 404, 409, 422))
async def switch(position: PositionPath, store: StoreDep, request: Request,
                 version: Annotated[Version, Query()],
                 reason: Annotated[str | None, Query(max_length=500, description=(
                     "why, for the release history"))] = None,
                 by: Annotated[str | None, Query(max_length=100, description=(
                     "who, for the release history (default: the client address)"))] = None,
                 ) -> SwitchResponse:
    """Promote ``version`` to the current release (Bearer ADMIN_TOKEN), recorded in the
    history as made through the API.  The model is loaded and makes a test prediction
    before anything is written; this worker serves it at once, every other worker and
    replica following the models folder within RELEASE_POLL_SECONDS."""
    who = by or f"api client {request.client.host if request.client else 'unknown'}"
    previous, new = await run_in_threadpool(
        functools.partial(store.switch, position, version, reason=reason, by=who))
    release = store.release.release
    return SwitchResponse(position=position, previous_version=previous.version,
                          version=new.version, reason=new.reason,
                          release=release.id if release else None)
