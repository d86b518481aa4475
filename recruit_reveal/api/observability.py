"""Prometheus metrics of the service: HTTP, predictions, scoring, the release (docs/monitoring.md).

The metrics are module-level ``prometheus_client`` objects, recorded by
:class:`MetricsMiddleware` (every request, by route template and status class)
and by small helpers called where things happen (:func:`record_predictions`
from the scoring path, :func:`record_serving` and :func:`record_reload` from the
model store, :func:`record_integrated` and :func:`record_unusual` for inputs).

Several workers (``serve --workers N``): ``serve`` gives every worker the same
empty folder in ``PROMETHEUS_MULTIPROC_DIR`` before they start
(:func:`multiprocess_folder`), so each writes its values to files there and
:func:`exposition` adds them up across workers, including those that have
exited (their counts stay counted; their gauges are dropped).  One process
started any other way keeps its values in memory and serves them as they are.

Labels are fixed sets (positions, versions, divisions, input names, route
templates, status classes): never an athlete's value or a request id.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .request_ids import note_model, route_template

__all__ = ["MULTIPROCESS_ENV", "MetricsMiddleware", "exposition", "forget_worker",
           "multiprocess_folder", "record_integrated", "record_predictions", "record_reload",
           "record_scoring_time", "record_serving", "record_unusual"]

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Read once, as prometheus_client itself does when it is first imported: in a worker
#: started by `serve --workers N` the variable is set before anything is imported.
_FOLDER = os.environ.get(MULTIPROCESS_ENV)

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0)

HTTP_REQUESTS = Counter("recruit_reveal_http_requests", "HTTP requests answered",
                        ["method", "route", "status"])
HTTP_DURATION = Histogram("recruit_reveal_http_request_duration_seconds",
                          "Time from a request's arrival to the end of its answer",
                          ["method", "route", "status"], buckets=_LATENCY_BUCKETS)
HTTP_IN_FLIGHT = Gauge("recruit_reveal_http_requests_in_flight",
                       "Requests being answered", ["method", "route"],
                       multiprocess_mode="livesum")
PREDICTIONS = Counter("recruit_reveal_predictions", "Athletes scored, by the version that "
                      "scored them and the division predicted",
                      ["position", "version", "division"])
SCORING = Histogram("recruit_reveal_scoring_seconds", "Time the model takes to score one "
                    "request's athletes of a position", ["position"], buckets=_LATENCY_BUCKETS)
RELOADS = Counter("recruit_reveal_release_reloads", "Attempts to serve a new release: ok, "
                  "or failed (a version that does not load, a manifest that cannot be read)",
                  ["result"])
SERVED_VERSION = Gauge("recruit_reveal_served_version", "1 for the version a position "
                       "serves (by default), 0 for versions served before",
                       ["position", "version"], multiprocess_mode="livemax")
RELEASE_PROBLEM = Gauge("recruit_reveal_release_problem", "1 while the release cannot be "
                        "followed or is not fully served (/health: release.problem)",
                        multiprocess_mode="livemax")
INTEGRATED_INPUTS = Counter("recruit_reveal_integrated_inputs", "Missing inputs the model "
                            "integrated over, per input", ["position", "input"])
UNUSUAL_INPUTS = Counter("recruit_reveal_unusual_inputs", "Inputs outside the training "
                         "range of the served version, per input", ["position", "input"])

_served: dict[str, set[str]] = {}
#: What an input's name looks like (catalog inputs are lower-case identifiers).
_INPUT_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


# --------------------------------------------------------------------------- HTTP


class MetricsMiddleware:
    """Requests, latency and requests in flight per method, route template and status class."""

    def __init__(self, app: ASGIApp):
        self.app = app
        # The labelled children, looked up once per label set rather than per request
        # (``labels()`` validates and locks each time); bounded as the labels are.
        self.in_flight: dict[tuple[str, str], Gauge] = {}
        self.answered: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"] if scope["method"] in _METHODS else "other"
        route = route_template(scope)
        status = 500

        async def watching_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        in_flight = self.in_flight.get((method, route))
        if in_flight is None:
            in_flight = self.in_flight[method, route] = HTTP_IN_FLIGHT.labels(method, route)
        in_flight.inc()
        started = time.perf_counter()
        try:
            await self.app(scope, receive, watching_send)
        finally:
            seconds = time.perf_counter() - started
            in_flight.dec()
            key = (method, route, f"{status // 100}xx")
            children = self.answered.get(key)
            if children is None:
                children = self.answered[key] = (HTTP_REQUESTS.labels(*key),
                                                 HTTP_DURATION.labels(*key))
            children[0].inc()
            children[1].observe(seconds)


# --------------------------------------------------------------------------- domain


def record_predictions(position: str, version: str, predicted: np.ndarray,
                       levels: Sequence[str]) -> None:
    """Count one scored group: ``predicted`` holds each athlete's class on ``levels``,
    the ladder of the model that scored it.

    One increment per division present, whatever the number of athletes.
    """
    counts = np.bincount(predicted, minlength=len(levels)).tolist()
    for division, count in zip(levels, counts, strict=False):
        if count:
            PREDICTIONS.labels(position, version, division).inc(count)
    note_model(position, version)


def record_scoring_time(position: str, seconds: float) -> None:
    SCORING.labels(position).observe(seconds)


def _input_names(names: Iterable[str]) -> Iterator[str]:
    # The scorer names inputs of the served model's spec, so the label sets stay bounded;
    # anything that is not an input name at all is counted as "other".
    for name in names:
        yield name if _INPUT_NAME.fullmatch(name) else "other"


def record_integrated(position: str, names: Iterable[str]) -> None:
    """Count the inputs (spec names) one athlete's prediction integrated over."""
    for name in _input_names(names):
        INTEGRATED_INPUTS.labels(position, name).inc()


def record_unusual(position: str, names: Iterable[str]) -> None:
    """Count the inputs (spec names) of one athlete outside the training range."""
    for name in _input_names(names):
        UNUSUAL_INPUTS.labels(position, name).inc()


def record_serving(versions: Mapping[str, str | None], problem: bool) -> None:
    """The versions this process serves (None: the position is unavailable) and whether
    the release has a problem; earlier versions drop to 0."""
    for position, version in versions.items():
        seen = _served.setdefault(position, set())
        for old in seen - {version}:
            SERVED_VERSION.labels(position, old).set(0)
        if version is not None:
            seen.add(version)
            SERVED_VERSION.labels(position, version).set(1)
    RELEASE_PROBLEM.set(1 if problem else 0)


def record_reload(ok: bool) -> None:
    RELOADS.labels("ok" if ok else "failed").inc()


# --------------------------------------------------------------------------- exposition


def exposition() -> tuple[bytes, str]:
    """The text of /metrics and its content type: this process's registry, or every
    worker's files added up."""
    if _FOLDER is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    _forget_exited_workers(_FOLDER)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, _FOLDER)
    return generate_latest(registry), CONTENT_TYPE_LATEST


_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db")


def _forget_exited_workers(folder: str) -> None:
    """Drop the live gauges of workers that are gone (killed, or restarted by uvicorn
    without a clean shutdown): their counters stay, their gauges must not."""
    for path in glob.glob(os.path.join(folder, "gauge_live*_*.db")):
        found = _LIVE_GAUGE_FILE.fullmatch(os.path.basename(path))
        if found is None:
            continue
        pid = int(found.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, folder)
        except PermissionError:
            pass  # alive, under another user


def forget_worker() -> None:
    """At a worker's clean shutdown: its gauges stop counting at once."""
    if _FOLDER is not None:
        multiprocess.mark_process_dead(os.getpid(), _FOLDER)


@contextlib.contextmanager
def multiprocess_folder(configured: Path | None) -> Iterator[Path]:
    """An empty folder for the workers' metric files, set in PROMETHEUS_MULTIPROC_DIR for
    the processes started inside the block.

    ``configured`` (METRICS_DIR) is created or emptied of earlier metric files; else a
    temporary folder is made and removed afterwards.  Values of an earlier run must not
    be added to this one's.
    """
    if configured is not None:
        folder = configured.expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.db"):
            old.unlink()
    else:
        folder = Path(tempfile.mkdtemp(prefix="recruit-reveal-metrics-"))
    previous = os.environ.get(MULTIPROCESS_ENV)
    os.environ[MULTIPROCESS_ENV] = str(folder)
    try:
        yield folder
    finally:
        if previous is None:
            os.environ.pop(MULTIPROCESS_ENV, None)
        else:
            os.environ[MULTIPROCESS_ENV] = previous
        if configured is None:
            shutil.rmtree(folder, ignore_errors=True)
