"""Rate limits: which limit a request counts against, who the client is, where counts live.

Every route counts against ``RATE_LIMIT`` unless it has a limit of its own
(``RATE_LIMIT_BATCH``, ``RATE_LIMIT_WHATIF``, or an entry of ``RATE_LIMITS``),
which it then counts against alone, with a count of its own.  The health probes
are never counted.  Counts are kept over a moving window, in this process's
memory (``RATE_LIMIT_STORAGE=memory``: each worker counts alone) or in Redis
(shared by every worker and replica).  When Redis cannot be reached the limiter
fails open: requests are let through uncounted, a warning is logged once per
outage and /health names the problem, so an outage of the counter is not an
outage of the service.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from ..settings import OFF, Settings

logger = logging.getLogger(__name__)

#: Prefix of every count, so that several services can share one Redis database.
NAMESPACE = "recruit-reveal"
#: After a storage failure, requests go uncounted this long before Redis is tried again,
#: so that an unreachable Redis costs one timeout per interval, not one per request.
RETRY_STORAGE_SECONDS = 5.0
#: Redis connection and command timeouts: a slow counter must not hold up every request.
REDIS_TIMEOUT_SECONDS = 0.5
#: Longest client key kept (a header value is the client's to choose).
MAX_KEY_CHARS = 200


@dataclass(frozen=True)
class Rule:
    """A limit and the routes that count against it, each client with its own count."""

    setting: str  # the variable that sets it, for messages: RATE_LIMIT, RATE_LIMITS[/models]
    name: str  # the count's name: "*" for RATE_LIMIT, else the route's path
    text: str  # the limit as configured, e.g. "10/minute"
    items: tuple[RateLimitItem, ...]


def _path_pattern(path: str) -> re.Pattern[str]:
    """``/models/{position}`` matches one path segment per placeholder, as routes do."""
    parts = re.split(r"(\{[^}/]+\})", path.rstrip("/") or "/")
    regex = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"{regex}/?")


class RatePolicy:
    """The rule each request path counts against (or none)."""

    def __init__(self, settings: Settings, exempt: Iterable[str] = ()):
        self.exempt = frozenset(exempt)
        named: list[tuple[str, str, str | None]] = [
            (f"RATE_LIMITS[{p}]", p, r) for p, r in settings.rate_limits.items()]
        named += [("RATE_LIMIT_BATCH", "/predict/batch", settings.rate_limit_batch),
                  ("RATE_LIMIT_WHATIF", "/what-if", settings.rate_limit_whatif)]
        # Literal paths before templates, so /predict/batch is not taken by /predict/{version};
        # among equals RATE_LIMITS comes first.
        named.sort(key=lambda rule: "{" in rule[1])
        #: (path as configured, its pattern, its rule or None when it is not limited)
        self.routes: list[tuple[str, re.Pattern[str], Rule | None]] = []
        for setting, path, rate in named:
            if rate is None:
                continue
            pattern = _path_pattern(path)
            self.routes.append((path, pattern, None if rate == OFF else Rule(
                setting, path, rate, tuple(parse_many(rate)))))
        self.default = None if settings.rate_limit is None else Rule(
            "RATE_LIMIT", "*", settings.rate_limit, tuple(parse_many(settings.rate_limit)))

    @property
    def active(self) -> bool:
        return self.default is not None or any(rule for _, _, rule in self.routes)

    def rule_for(self, path: str) -> Rule | None:
        if path in self.exempt:
            return None
        for _, pattern, rule in self.routes:
            if pattern.fullmatch(path):
                return rule
        return self.default

    def own_limits(self) -> dict[str, str | None]:
        """Each route with a limit of its own: its limit, or None when it is not limited."""
        out: dict[str, str | None] = {}
        for path, _, rule in self.routes:
            out.setdefault(path, rule.text if rule else None)
        return out


def client_key(scope: Scope, header: bytes | None) -> str:
    """The client: the first entry of ``header`` when given and sent, else its address."""
    if header is not None:
        for name, value in scope.get("headers", ()):
            if name == header:
                first = value.decode("latin-1").split(",", 1)[0].strip()
                if first:
                    return first[:MAX_KEY_CHARS]
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class RateLimiter:
    """Counts hits in memory or Redis and says when a client may send again."""

    def __init__(self, settings: Settings, policy: RatePolicy | None = None):
        self.policy = policy or RatePolicy(settings)
        self.shared = settings.rate_limit_storage != "memory"
        self.storage_name = "redis" if self.shared else "memory"
        self.key_header = settings.rate_limit_key_header
        self.header = self.key_header.lower().encode("latin-1") if self.key_header else None
        options: dict[str, Any] = {"wrap_exceptions": True}
        if self.shared:
            options.update(socket_timeout=REDIS_TIMEOUT_SECONDS,
                           socket_connect_timeout=REDIS_TIMEOUT_SECONDS)
        storage = storage_from_string(
            settings.rate_limit_storage if self.shared else "memory://", **options)
        assert isinstance(storage, Storage)  # the synchronous backends: no async+ scheme
        self.storage = storage
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.problem: str | None = None
        self._retry_at = 0.0
        self._lock = threading.Lock()

    async def check(self, scope: Scope) -> tuple[Rule, RateLimitItem, int] | None:
        """The rule, limit and Retry-After seconds when this request is over a limit."""
        rule = self.policy.rule_for(scope["path"])
        if rule is None:
            return None
        key = client_key(scope, self.header)
        if not self.shared:
            return self._hit(rule, key)
        if time.monotonic() < self._retry_at:
            return None
        # Redis is a network round trip: keep it off the event loop.
        return await run_in_threadpool(self._hit, rule, key)

    def _hit(self, rule: Rule, key: str) -> tuple[Rule, RateLimitItem, int] | None:
        try:
            for item in rule.items:
                if not self.limiter.hit(item, NAMESPACE, rule.name, key):
                    stats = self.limiter.get_window_stats(item, NAMESPACE, rule.name, key)
                    return rule, item, max(1, math.ceil(stats.reset_time - time.time()))
        except StorageError as exc:
            self._storage_failed(exc.storage_error)
            return None
        if self.problem is not None:
            self._storage_back()
        return None

    def _storage_failed(self, error: Exception) -> None:
        with self._lock:
            self._retry_at = time.monotonic() + RETRY_STORAGE_SECONDS
            first = self.problem is None
            self.problem = (f"the rate limit storage cannot be reached "
                            f"({type(error).__name__}: {error}); requests are let through "
                            f"uncounted until it answers")
        if first:
            logger.warning("rate limit: %s", self.problem)

    def _storage_back(self) -> None:
        with self._lock:
            was, self.problem = self.problem, None
        if was is not None:
            logger.warning("rate limit: the storage answers again; requests are counted")

    def ping(self) -> bool:
        """Whether the storage answers now (logged, and in /health, when it does not)."""
        try:
            ok = bool(self.storage.check())
        except Exception as exc:  # noqa: BLE001 - any failure to reach it is the same problem
            self._storage_failed(exc)
            return False
        if not ok:
            self._storage_failed(ConnectionError("no answer to PING"))
        return ok

    @property
    def scope(self) -> str:
        return "shared" if self.shared else "per worker"

    @property
    def key(self) -> str:
        return (f"header {self.key_header} (first entry), else the client address"
                if self.key_header else "client address")

    def status(self) -> dict[str, Any]:
        """The /health ``rate_limit`` field."""
        default = self.policy.default
        return {"limit": default.text if default else None, "routes": self.policy.own_limits(),
                "storage": self.storage_name, "scope": self.scope, "key": self.key,
                "problem": self.problem}

    def summary(self) -> str:
        """One line for the startup banner."""
        default = self.policy.default
        routes = ", ".join(f"{p} {r or OFF}" for p, r in self.policy.own_limits().items())
        return (f"{default.text if default else 'none'} per client"
                f"{f' ({routes})' if routes else ''}; key: {self.key}; storage: "
                f"{self.storage_name}, counted {self.scope}")


def scope_warning(settings: Settings) -> str | None:
    """What to say at start when several workers each count alone."""
    limited = settings.rate_limit or settings.rate_limit_batch or settings.rate_limit_whatif \
        or any(r != OFF for r in settings.rate_limits.values())
    if not limited or settings.workers < 2 or settings.rate_limit_storage != "memory":
        return None
    return (f"the rate limit is counted per worker (RATE_LIMIT_STORAGE=memory): with "
            f"{settings.workers} workers a client can make up to {settings.workers} times "
            f"the limit; set RATE_LIMIT_STORAGE=redis://host:6379/0 to share the counts")
