"""/metrics: the service's Prometheus metrics in the text format (docs/monitoring.md).

Included only when METRICS is on (the default); with several workers the answer
adds up every worker's values, whichever worker answers.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from ..observability import exposition

router = APIRouter(tags=["monitoring"])


@router.get("/metrics", response_class=Response, responses={200: {
    "content": {"text/plain": {}}, "description": "Prometheus text format"}})
async def metrics() -> Response:
    """Request counts, latencies and errors per route, predictions per position, version
    and division, scoring time, release reloads and the served versions."""
    # Several workers: their metric files are read, so not on the event loop.
    body, content_type = await run_in_threadpool(exposition)
    return Response(body, media_type=content_type)
