"""Request ids and the log format: X-Request-ID, the request context, LOG_FORMAT=json.

Every HTTP request gets an id: the client's ``X-Request-ID`` when it is safe to
log (at most :data:`MAX_LENGTH` characters of letters, digits and ``._:-``),
else a new uuid4 hex.  The answer carries it back in ``X-Request-ID``; code
running for the request (handlers, the threads they use) reads it with
:func:`current_request_id`, and every log record made meanwhile carries it
(:func:`install_record_factory`).  With ``LOG_FORMAT=json`` each record is one JSON object per line
(python-json-logger), and the middleware writes one access line per request
with its route template, status, duration and the position and version scored.

Kept free of FastAPI imports: the CLI sets up JSON logging through it.
"""

from __future__ import annotations

import copy
import logging
import re
import sys
import time
import uuid
import weakref
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HEADER", "JSON_FORMATTER", "MAX_LENGTH", "UNMATCHED", "RequestContext",
           "RequestIdMiddleware", "current_request", "current_request_id",
           "install_record_factory", "logging_config", "note_model", "route_template",
           "stderr_handler"]

HEADER = "X-Request-ID"
MAX_LENGTH = 128
_SAFE = re.compile(r"[A-Za-z0-9._:-]+")
_HEADER_KEY = HEADER.lower().encode()

#: The format of the CLI's text lines (and of the app's own records under uvicorn).
TEXT_FORMAT = "%(asctime)s %(message)s"
TEXT_DATE_FORMAT = "%H:%M:%S"
ACCESS_LOGGER = "recruit_reveal.access"
#: The route label of a request that matches no route (a 404, a redirect).
UNMATCHED = "unmatched"
_TEMPLATES_KEPT = 4096
_templates: weakref.WeakKeyDictionary[Any, _Templates] = weakref.WeakKeyDictionary()


@dataclass(slots=True)
class RequestContext:
    """What is known about the request being answered; mutable so that a handler running
    in a thread (which sees a copy of the context variables) can fill it in."""

    request_id: str
    position: str | None = None
    version: str | None = None


_current: ContextVar[RequestContext | None] = ContextVar("recruit_reveal_request",
                                                         default=None)


def current_request() -> RequestContext | None:
    return _current.get()


def current_request_id() -> str | None:
    """The id of the request being answered (None outside a request)."""
    context = _current.get()
    return context.request_id if context is not None else None


def note_model(position: str, version: str) -> None:
    """Record the position and version a request scored with, for its access line.

    A batch of several positions shows them comma-separated, each once.
    """
    context = _current.get()
    if context is None:
        return
    if context.position is None or context.position == position:
        context.position, context.version = position, version
    elif position not in context.position.split(","):
        context.position = f"{context.position},{position}"
        context.version = f"{context.version},{version}"


def accepted_id(value: bytes | None) -> str:
    """The client's id when it is safe to log, else a new one."""
    if value is not None and 0 < len(value) <= MAX_LENGTH:
        text = value.decode("latin-1")
        if _SAFE.fullmatch(text):
            return text
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Accepts or makes the request id, echoes it, and (``access_log``) logs one line per
    request with its route template, status and duration."""

    def __init__(self, app: ASGIApp, access_log: bool = False):
        self.app = app
        self.access_log = access_log
        self.logger = logging.getLogger(ACCESS_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope["headers"]:
            if name == _HEADER_KEY:
                given = value
                break
        context = RequestContext(accepted_id(given))
        header = (_HEADER_KEY, context.request_id.encode())
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        token = _current.set(context)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _current.reset(token)
            if self.access_log:
                self._log(scope, context, status, time.perf_counter() - started)

    def _log(self, scope: Scope, context: RequestContext, status: int, seconds: float) -> None:
        extra: dict[str, Any] = {"request_id": context.request_id,
                                 "route": route_template(scope), "status": status,
                                 "duration_ms": round(seconds * 1000, 3),
                                 "method": scope["method"]}
        if context.position is not None:
            extra.update(position=context.position, version=context.version)
        self.logger.info('"%s %s" %d', scope["method"], scope["path"], status, extra=extra)


def route_template(scope: Scope) -> str:
    """The path template of the route ``scope`` goes to (``/models/{position}``), never the
    raw path: a low-cardinality label.  :data:`UNMATCHED` when no route takes it.

    Matched as the router will, before routing, so that requests a middleware answers
    (429, 413) have their route too; remembered per app, method and path.
    """
    from starlette.routing import Match

    app = scope["app"]
    known = _templates.get(app)
    if known is None:
        known = _templates.setdefault(app, _Templates(list(_flat_routes(app.router.routes))))
    key = (scope["method"], scope["path"])
    found = known.paths.get(key)
    if found is not None:
        return found
    partial = None
    for route in known.routes:
        match, _ = route.matches(scope)
        # path_format: "/predict/{version}" as /openapi.json names it (path has ":path")
        if match is Match.FULL:
            found = getattr(route, "path_format", route.path)
            break
        if match is Match.PARTIAL and partial is None:
            partial = getattr(route, "path_format", route.path)
    found = found or partial
    if found is None:
        return UNMATCHED  # not remembered: any path can miss, and misses are rare
    if len(known.paths) < _TEMPLATES_KEPT:
        known.paths[key] = found
    return found


@dataclass
class _Templates:
    routes: list[Any]
    paths: dict[tuple[str, str], str] = field(default_factory=dict)


def _flat_routes(routes: Iterable[Any]) -> Iterator[Any]:
    """The app's routes with a path template; FastAPI versions that keep an included
    router as one entry hold its routes in ``original_router`` (no prefix is used here)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _flat_routes(included.routes)
        elif isinstance(getattr(route, "path", None), str):
            yield route


_factory_installed = False


def install_record_factory() -> None:
    """Every log record made during a request carries its ``request_id`` (once per process).

    A record factory rather than a handler filter: it covers every handler, and uvicorn's
    logging setup in a worker then needs nothing of this package (a worker that imports
    the app before answering uvicorn's first health check would be taken for hung).
    """
    global _factory_installed
    if _factory_installed:
        return
    make = logging.getLogRecordFactory()

    def with_request_id(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        context = _current.get()
        if context is not None:
            record.request_id = context.request_id
        return record

    logging.setLogRecordFactory(with_request_id)
    _factory_installed = True


#: dictConfig of the JSON formatter: time (UTC, ISO 8601), level, logger, message, and every
#: extra field of the record (request_id, route, status, duration_ms, position, version...).
JSON_FORMATTER: dict[str, Any] = {
    "()": "pythonjsonlogger.json.JsonFormatter", "fmt": "%(levelname)s %(name)s %(message)s",
    "timestamp": "time", "rename_fields": {"levelname": "level", "name": "logger"}}


def stderr_handler(log_format: str) -> logging.Handler:
    """The CLI's handler: a text line, or (``json``) one JSON object per record."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        options = {k: v for k, v in JSON_FORMATTER.items() if k != "()"}
        handler.setFormatter(JsonFormatter(**options))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT, datefmt=TEXT_DATE_FORMAT))
    return handler


def logging_config(log_format: str, level: str = "info") -> dict[str, Any]:
    """uvicorn's ``log_config``: its own loggers as usual (all JSON with ``json``), and the
    root logger (the app's records) in ``log_format``, in every worker process.

    Names only the standard library and python-json-logger: uvicorn applies it in a new
    worker before the worker answers its health checks, so it must load fast.
    """
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["app"] = (
        dict(JSON_FORMATTER) if log_format == "json"
        else {"format": TEXT_FORMAT, "datefmt": TEXT_DATE_FORMAT})
    config["handlers"]["app"] = {"class": "logging.StreamHandler", "formatter": "app",
                                 "stream": "ext://sys.stderr"}
    config["root"] = {"handlers": ["app"], "level": level.upper()}
    if log_format == "json":
        for handler in ("default", "access"):
            config["handlers"][handler]["formatter"] = "app"
    return config
