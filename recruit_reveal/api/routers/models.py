"""The exported models: served version, versions, metrics, and the admin hot switch."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from ...schema import POSITIONS
from ..dependencies import PositionPath, StoreDep, require_admin
from ..listings import position_summary
from ..responses import (
    ModelsResponse,
    PositionDetail,
    SwitchResponse,
    VersionsResponse,
    error_responses,
)
from ..schemas import Version

router = APIRouter(prefix="/models", tags=["models"])


@router.get("", response_model=ModelsResponse, response_model_exclude_unset=True)
async def models(store: StoreDep) -> dict[str, Any]:
    """Served version and available versions of every position."""
    summaries = {p: position_summary(store, p, with_versions=True) for p in POSITIONS}
    return {
        "available_models": summaries,
        "total_models": sum(s["loaded"] for s in summaries.values()),
        "total_versions": sum(len(s["available_versions"]) for s in summaries.values()),
    }


@router.get("/{position}", response_model=PositionDetail, response_model_exclude_unset=True,
            responses=error_responses(404))
async def model_detail(position: PositionPath, store: StoreDep) -> dict[str, Any]:
    """The served model of a position: version, reason, metrics, input schema."""
    return position_summary(store, position, with_versions=False, detail=True)


@router.get("/{position}/versions", response_model=VersionsResponse,
            response_model_exclude_unset=True, responses=error_responses(404))
async def model_versions(position: PositionPath, store: StoreDep) -> dict[str, Any]:
    """Every exported version of a position with its headline metrics and date."""
    summary = position_summary(store, position, with_versions=True)
    return {"position": position, "served_version": summary["version"],
            "versions": summary["versions"], "total_versions": len(summary["versions"])}


@router.post("/{position}/switch", response_model=SwitchResponse,
             dependencies=[Depends(require_admin)],
             responses=error_responses(401, 403, 404, 409, 422))
async def switch(position: PositionPath, store: StoreDep,
                 version: Annotated[Version, Query()]) -> SwitchResponse:
    """Hot-switch the served version (Bearer ADMIN_TOKEN).  The new model is
    loaded completely before it replaces the old one."""
    previous, new = await run_in_threadpool(store.switch, position, version)
    return SwitchResponse(position=position, previous_version=previous.version,
                          version=new.version, reason=new.reason)
