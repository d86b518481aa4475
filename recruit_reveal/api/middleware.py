"""ASGI middleware: the request body size limit (MAX_BODY_BYTES) and the rate limit (RATE_LIMIT)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .http_errors import error_response


class _BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """413 for bodies over the limit, by Content-Length and by bytes actually streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_large = int(value) > self.max_bytes
                except ValueError:
                    too_large = False
                if too_large:
                    await self._reject(scope, receive, send)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if started:
                raise
            await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413, f"request body too large: the limit is {self.max_bytes} bytes",
            [{"field": "body", "message": f"more than {self.max_bytes} bytes"}])
        await response(scope, receive, send)


class RateLimitMiddleware:
    """429 with Retry-After once a client address has sent more requests than ``limit``.

    ``limit`` is in the notation of the `limits` library ("100/minute", several
    separated by ";"), counted over a moving window per client address
    (``scope["client"]``: behind a proxy, run uvicorn with ``--proxy-headers`` so
    that it is the client's).  The counts live in this process's memory, so with
    several workers the limit applies per worker.  ``exempt`` paths (the health
    probes) are never counted.  Runs before the body is read.
    """

    def __init__(self, app: ASGIApp, limit: str, exempt: Iterable[str] = ()):
        from limits import parse_many
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter

        self.app = app
        self.items = parse_many(limit)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        key = client[0] if client else "unknown"
        for item in self.items:
            if not self.limiter.hit(item, key):
                stats = self.limiter.get_window_stats(item, key)
                retry = max(1, math.ceil(stats.reset_time - time.time()))
                message = (f"rate limit: more than {item} from this address; "
                           f"retry in {retry} s")
                response = error_response(429, message, [
                    {"field": "client", "message": message[len("rate limit: "):]}],
                    headers={"Retry-After": str(retry)})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
