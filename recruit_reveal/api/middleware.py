"""ASGI middleware: the request body size limit (MAX_BODY_BYTES), the rate limits
(RATE_LIMIT and friends, :mod:`.rate_limits`) and the Host check (TRUSTED_HOSTS)."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .http_errors import error_response
from .rate_limits import RateLimiter


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
        length: bytes | None = None
        chunked = False
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = True
        if length is not None and not chunked:
            try:
                size = int(length)
            except ValueError:
                size = None
            if size is not None and size > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            if size is not None:
                # The server delivers no more than Content-Length bytes: nothing to watch.
                await self.app(scope, receive, send)
                return
        elif not chunked:
            await self.app(scope, receive, send)  # no body at all (a GET)
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
            [{"field": "body", "message": f"more than {self.max_bytes} bytes"}],
            path=scope.get("path"))
        await response(scope, receive, send)


class RateLimitMiddleware:
    """429 with Retry-After once a client has sent more requests than its route's limit.

    :class:`~recruit_reveal.api.rate_limits.RateLimiter` decides which limit a
    request counts against and keeps the counts.  Runs before the body is read.
    """

    def __init__(self, app: ASGIApp, limiter: RateLimiter):
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        over = await self.limiter.check(scope) if scope["type"] == "http" else None
        if over is None:
            await self.app(scope, receive, send)
            return
        rule, item, retry = over
        who = f"client ({self.limiter.key_header})" if self.limiter.key_header else "address"
        where = "" if rule.setting == "RATE_LIMIT" else f" on {rule.name}"
        message = f"more than {item}{where} from this {who}; retry in {retry} s"
        response = error_response(429, f"rate limit: {message}", [
            {"field": "client", "message": message,
             "expected": f"at most {item} ({rule.setting}={rule.text})"}],
            headers={"Retry-After": str(retry)}, path=scope.get("path"))
        await response(scope, receive, send)


class TrustedHostsMiddleware:
    """400 with the usual error body for a Host header not in TRUSTED_HOSTS.

    The matching is Starlette's TrustedHostMiddleware's (``*.example.com`` for
    subdomains); only its plain-text answer is replaced.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]):
        self.app = app
        self.check = TrustedHostMiddleware(_accept, allowed_hosts=allowed_hosts,
                                           www_redirect=False)
        #: Host header -> accepted, so the matching runs once per host a client names
        #: (bounded: any client can name any host).
        self.seen: dict[bytes | None, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = next((v for k, v in scope["headers"] if k == b"host"), None)
        accepted = self.seen.get(host)
        if accepted is None:
            accepted = await self._matches(scope, receive)
            if len(self.seen) < _HOSTS_KEPT:
                self.seen[host] = accepted
        if accepted:
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host", "")
        message = f"{host!r} is not a host this service answers for (TRUSTED_HOSTS)"
        response = error_response(400, f"Host header: {message}",
                                  [{"field": "Host header", "message": message}],
                                  path=scope.get("path"))
        await response(scope, receive, send)


    async def _matches(self, scope: Scope, receive: Receive) -> bool:
        async def discard(message: Message) -> None:
            pass

        await self.check(scope, receive, discard)
        return bool(scope.pop(_HOST_ACCEPTED, False))


_HOST_ACCEPTED = "recruit_reveal.host_accepted"
_HOSTS_KEPT = 256


async def _accept(scope: Scope, receive: Receive, send: Send) -> None:
    scope[_HOST_ACCEPTED] = True
