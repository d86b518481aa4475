"""The prediction service: a FastAPI app serving the exported models by version.

``create_app()`` builds the app from :class:`recruit_reveal.settings.Settings`;
models load in its lifespan handler (never at import time) through
:mod:`recruit_reveal.artifacts.registry`.  ``run()`` serves it with uvicorn;
``recruit-reveal serve`` calls it.  The contract (endpoints, fields, error
codes, limits, environment) is written down in docs/api.md, and /openapi.json
says exactly what is accepted.

Layout: :mod:`.schemas` (request and response models generated from
:mod:`recruit_reveal.schema`), :mod:`.parsing` (bodies), :mod:`.store` (models),
:mod:`.predictions` and :mod:`.listings` (answers), :mod:`.errors`,
:mod:`.middleware`, :mod:`.dependencies`, and one router per concern in
:mod:`.routers`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

from .. import __version__
from ..settings import MAX_BATCH, MAX_BODY_BYTES, Settings, load_settings
from ..storage.locations import as_location, resolve_local
from . import docs_pages, openapi_doc
from .dependencies import POSITION_PATH_SCHEMA
from .http_errors import install_error_handlers
from .middleware import BodyLimitMiddleware, RateLimitMiddleware, TrustedHostsMiddleware
from .observability import MetricsMiddleware, forget_worker, multiprocess_folder
from .payloads import SpecSchema
from .prediction_log import PredictionLog
from .rate_limits import RateLimiter, RatePolicy
from .request_ids import RequestIdMiddleware, install_record_factory, logging_config
from .responses import ErrorResponse
from .routers import health, inference_v2, invocations, models, predict, prometheus, whatif
from .store import ModelStore, ServedModel

logger = logging.getLogger(__name__)

__all__ = ["MAX_BATCH", "MAX_BODY_BYTES", "create_app", "run", "uvicorn_options"]


def create_app(settings: Settings | str | os.PathLike[str] | None = None, *,
               models_dir: str | os.PathLike[str] | None = None,
               versions: Mapping[str, str] | None = None, **overrides: Any) -> FastAPI:
    """Build the service.

    ``settings`` defaults to :func:`~recruit_reveal.settings.load_settings` (the
    environment); a path in its place is taken as ``models_dir`` (the earlier
    ``create_app("models")``).  ``models_dir``, ``versions`` (e.g.
    ``{position: "1.0.0"}``) and keyword ``overrides`` (any Settings field, e.g.
    ``admin_token=``) replace what the settings say.  Models are loaded when the
    app starts (its lifespan), not here.
    """
    settings = _resolve_settings(settings, models_dir, versions, overrides)
    store = ModelStore(settings.model_dir, settings.versions)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(store.load_all)
        _log_banner(store, settings, app.state.rate_limiter)
        # Everything loaded so far (libraries, models) lives as long as the process: keep it
        # out of the collector's full passes, which otherwise pause a request now and then.
        gc.collect()
        gc.freeze()
        follower = (asyncio.create_task(_follow_releases(store, settings.release_poll_seconds))
                    if settings.release_poll_seconds > 0 else None)
        app.state.prediction_log = _start_prediction_log(settings, store)
        try:
            yield
        finally:
            if follower is not None:
                follower.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await follower
            if app.state.prediction_log is not None:
                # Requests are answered by now: write every record they made.
                await run_in_threadpool(app.state.prediction_log.close)
            forget_worker()

    app = FastAPI(
        title="Recruit Reveal",
        version=__version__,
        description="Predicts the college football division a high-school athlete is "
                    "likely to reach, one model per position, with a what-if and the factors "
                    "behind it. Positions, inputs and divisions come from the models served. "
                    "See docs/api.md.",
        lifespan=lifespan,
        # /docs and /redoc come from docs_pages, with their assets served here (no CDN).
        docs_url=None, redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.prediction_log = None
    limited = _add_middleware(app, settings)
    install_error_handlers(app)
    parts = _include_routers(app, settings, limited)
    docs_pages.install(app)
    openapi_doc.install(app, store, [POSITION_PATH_SCHEMA, predict.TARGET_DIVISION_SCHEMA, *parts],
                        settings.max_batch)
    return app


def _resolve_settings(settings: Settings | str | os.PathLike[str] | None,
                      models_dir: str | os.PathLike[str] | None,
                      versions: Mapping[str, str] | None,
                      overrides: dict[str, Any]) -> Settings:
    """The settings :func:`create_app` was asked for (see its docstring)."""
    if settings is not None and not isinstance(settings, Settings):
        if models_dir is not None:
            raise TypeError("create_app: give the models folder once (positionally or as "
                            "models_dir=)")
        settings, models_dir = None, settings
    settings = settings if settings is not None else load_settings()
    if models_dir is not None:
        overrides["model_dir"] = as_location(models_dir)
    if versions:
        overrides["versions"] = versions
    return settings.replace(**overrides) if overrides else settings


def _include_routers(app: FastAPI, settings: Settings,
                     limited: dict[int | str, dict[str, Any]]) -> list[SpecSchema]:
    """Every router; ``limited``: the 429 the rate-limited ones declare.  Returns the parts
    of their OpenAPI that follow the positions served (refreshed by :mod:`.openapi_doc`)."""
    routers: list[tuple[APIRouter, dict[int | str, dict[str, Any]] | None]] = [
        (health.router, None),
        (predict.build_router(settings.max_batch), limited),
        (whatif.build_router(), limited),
        (models.router, limited),
        (invocations.build_router(settings.max_batch), limited),
        (inference_v2.build_router(settings.max_batch), limited),
    ]
    if settings.metrics:
        routers.append((prometheus.router, None))
    for router, responses in routers:
        app.include_router(router, responses=responses)
    return [extra for router, _ in routers for route in router.routes
            if isinstance(extra := getattr(route, "openapi_extra", None), SpecSchema)]


def _start_prediction_log(settings: Settings, store: ModelStore) -> PredictionLog | None:
    """This worker's prediction log, its writer thread started; None when PREDICTION_LOG is unset."""
    if settings.prediction_log is None:
        return None
    log = PredictionLog(settings.prediction_log, store,
                        flush_seconds=settings.prediction_log_flush_seconds,
                        flush_rows=settings.prediction_log_flush_rows,
                        buffer_rows=settings.prediction_log_buffer,
                        days=settings.prediction_log_days)
    log.start()
    logger.info("  prediction log: %s (every %g s)", log.sink.display("predictions"),
                settings.prediction_log_flush_seconds)
    return log


def _add_middleware(app: FastAPI, settings: Settings) -> dict[int | str, dict[str, Any]]:
    """The body limit, rate limit, CORS and Host check of ``settings``; returns the
    ``responses=`` that limited routes declare (the 429, when a limit is set)."""
    # The last added runs first: the Host check, CORS, the rate limit, then the body limit.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    policy = RatePolicy(settings, exempt=[
        *(getattr(r, "path", "") for r in (*health.router.routes, *prometheus.router.routes)),
        *inference_v2.HEALTH_PATHS])
    limiter = RateLimiter(settings, policy) if policy.active else None
    app.state.rate_limiter = limiter
    limited: dict[int | str, dict[str, Any]] = {}
    if limiter is not None:
        app.add_middleware(RateLimitMiddleware, limiter=limiter)
        limited = {429: {"model": ErrorResponse, "description": "more requests than the "
                         f"route's limit from this client ({limiter.scope})", "headers": {
                             "Retry-After": {
                                 "description": "seconds until a request is counted again",
                                 "schema": {"type": "integer"}}}}}
    if settings.allowed_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.allowed_origins),
                           allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    if "*" not in settings.trusted_hosts:
        app.add_middleware(TrustedHostsMiddleware, allowed_hosts=list(settings.trusted_hosts))
    # Outermost, so that answers given by the middleware above are counted and carry the id.
    if settings.metrics:
        app.add_middleware(MetricsMiddleware)
    app.add_middleware(RequestIdMiddleware,
                       access_log=settings.access_log and settings.log_format == "json")
    install_record_factory()
    return limited


async def _follow_releases(store: ModelStore, every: float) -> None:
    """Serve each new release of the models folder within ``every`` seconds plus its load.

    The loading runs in a thread, so requests keep being answered by the release
    being replaced until the new one is complete.  A failure to look (the bucket
    unreachable, a manifest being repaired) is logged once and retried.
    """
    last_problem = None
    while True:
        await asyncio.sleep(every)
        try:
            await run_in_threadpool(store.follow)
            last_problem = None
        except Exception as exc:  # noqa: BLE001 - keep serving what is loaded, and keep looking
            problem = f"{type(exc).__name__}: {exc}"
            if problem != last_problem:
                logger.error("cannot follow the release in %s: %s", store.models_dir, problem)
            last_problem = problem


def _log_banner(store: ModelStore, settings: Settings, limiter: RateLimiter | None) -> None:
    logger.info("Recruit Reveal %s serving models from %s", __version__,
                resolve_local(settings.model_dir, Path.resolve))
    for pos, served in store.snapshot().items():
        if isinstance(served, ServedModel):
            logger.info("  %s: version %s (requested %s) - %s; scoring: %s", pos, served.version,
                        served.requested, served.reason, served.scorer.mode)
        else:
            logger.warning("  %s: UNAVAILABLE (requested %s) - %s", pos, served.requested,
                           served.reason)
    logger.info("  switch endpoint %s", "enabled" if settings.admin_token
                else "disabled (no ADMIN_TOKEN)")
    logger.info("  rate limit: %s", limiter.summary() if limiter else "off (no RATE_LIMIT)")
    if limiter is not None and limiter.shared:
        limiter.ping()  # an unreachable Redis is logged now rather than at the first request
    release = store.release.release
    logger.info("  release %s; following it: %s (every %g s)",
                release.id if release else "none", ", ".join(store.release.following) or "none",
                settings.release_poll_seconds)


def run(host: str | None = None, port: int | None = None, *,
        models_dir: str | os.PathLike[str] | None = None, log_level: str = "info",
        access_log: bool | None = None, workers: int | None = None) -> None:
    """Serve with uvicorn; HOST/PORT (and everything else) default from the environment.

    The settings are read once, here: a bad value raises a RecruitRevealError
    naming the variable before anything is served.  ``access_log`` (default:
    ACCESS_LOG, on) turns uvicorn's line per request on or off.  With
    ``workers`` (default: WORKERS, 1) above one, uvicorn starts that many
    processes sharing the port; each builds the app from the environment, so the
    arguments given here are passed on to them as their variables.
    """
    import uvicorn

    if not logging.getLogger().handlers:
        # So the startup banner shows when nothing configured logging (e.g. `make serve`).
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    given: dict[str, Any] = {"host": host, "port": port, "model_dir": models_dir,
                             "access_log": access_log, "workers": workers}
    given = {k: v for k, v in given.items() if v is not None}
    settings = load_settings(None, **given)
    if settings.workers == 1:
        uvicorn.run(create_app(settings), **uvicorn_options(settings, log_level))
        return
    for name, value in given.items():
        os.environ[name.upper()] = str(int(value) if isinstance(value, bool) else value)
    with (multiprocess_folder(settings.metrics_dir) if settings.metrics
          else contextlib.nullcontext()):
        uvicorn.run(f"{__name__}:create_app", factory=True, workers=settings.workers,
                    **uvicorn_options(settings, log_level))


def uvicorn_options(settings: Settings, log_level: str = "info") -> dict[str, Any]:
    """Keyword arguments of ``uvicorn.run`` for ``settings``.

    uvicorn picks uvloop and httptools (``uvicorn[standard]``) when they are
    installed ("auto"), else asyncio and its pure-Python HTTP parser.  Every worker logs
    in LOG_FORMAT; with ``json`` the service writes the access lines itself (with the
    request id), so uvicorn's are off.
    """
    return {"host": settings.host, "port": settings.port, "log_level": log_level,
            "access_log": settings.access_log and settings.log_format != "json",
            "log_config": logging_config(settings.log_format, log_level),
            "loop": "auto", "http": "auto"}
