"""Liveness, readiness and the served model of every position."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ... import __version__
from ...artifacts.verification import pickle_policy
from ..dependencies import StoreDep
from ..rate_limits import RateLimiter
from ..responses import HealthResponse, LiveResponse, ReadyResponse, RootResponse
from ..store import ModelStore, ServedModel

SERVICE_NAME = "recruit-reveal"

router = APIRouter(tags=["health"])


def release_body(store: ModelStore) -> dict[str, Any]:
    served = store.release
    entry = served.release
    fields = ("id", "versions", "when", "by", "how", "action", "reason")
    return {**({k: getattr(entry, k) for k in fields} if entry else {"id": None, "versions": {}}),
            "since": served.since, "following": list(served.following),
            "problem": served.problem}


def signature_status(verify_keys: Sequence[Path]) -> dict[str, Any]:
    """What /health says about signatures: checked with VERIFY_KEY, or not checked."""
    if not verify_keys:
        return {"checked": False, "keys": [], "note": "signatures are not checked (VERIFY_KEY "
                "is not set): any well-formed version in the models folder can be served"}
    return {"checked": True, "keys": [key.name for key in verify_keys],
            "note": "only versions signed with one of these keys are served"}


def health_body(store: ModelStore, limiter: RateLimiter | None = None,
                verify_keys: Sequence[Path] = ()) -> dict[str, Any]:
    snap = store.snapshot()
    available = [p for p, s in snap.items() if isinstance(s, ServedModel)]
    return {
        "status": "healthy" if len(available) == len(snap) else "degraded",
        "service": SERVICE_NAME,
        "version": __version__,
        "models_loaded": len(available),
        "available_positions": available,
        "models": {p: {"loaded": isinstance(s, ServedModel), "version": s.version,
                       "requested": s.requested, "reason": s.reason,
                       "scoring": s.scorer.mode if isinstance(s, ServedModel) else None,
                       "scoring_reason": s.scorer.reason if isinstance(s, ServedModel) else None,
                       "format": s.format if isinstance(s, ServedModel) else None}
                   for p, s in snap.items()},
        "pickle_loading": pickle_policy(),
        "release": release_body(store),
        "worker": {"pid": os.getpid()},
        "rate_limit": limiter.status() if limiter is not None else None,
        "signatures": signature_status(verify_keys),
    }


@router.get("/", response_model=RootResponse)
async def root() -> dict[str, Any]:
    """Service name and version; "healthy" means the process answers."""
    return {"status": "healthy", "service": SERVICE_NAME, "version": __version__,
            "docs": "/docs"}


@router.get("/health", response_model=HealthResponse)
async def health(store: StoreDep, request: Request) -> dict[str, Any]:
    """healthy when every position is served, degraded otherwise."""
    return health_body(store, request.app.state.rate_limiter,
                       request.app.state.settings.verify_key)


@router.get("/health/live", response_model=LiveResponse)
async def live() -> dict[str, str]:
    """The process is up (always 200 while it answers)."""
    return {"status": "alive"}


@router.get("/health/ready", response_model=ReadyResponse,
            responses={503: {"model": ReadyResponse, "description": "no position is served"}})
async def ready(store: StoreDep, request: Request) -> ReadyResponse | JSONResponse:
    """200 when at least one position has a model loaded, 503 otherwise."""
    body = health_body(store, request.app.state.rate_limiter,
                       request.app.state.settings.verify_key)
    answer = ReadyResponse.model_validate({**body, "ready": body["models_loaded"] > 0})
    if not answer.ready:
        return JSONResponse(answer.model_dump(mode="json"), status_code=503)
    return answer
