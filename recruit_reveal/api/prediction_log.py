"""The prediction log: one record per scored athlete, written as Parquet off the request path.

Opt-in with PREDICTION_LOG (a folder or s3://bucket/prefix).  A scoring route hands
what it scored (:class:`~.predictions.Scored`: references to arrays and dicts already
built) to :meth:`PredictionLog.record`, which only appends them to a bounded buffer.
One thread per worker turns the buffer into a Parquet file every
PREDICTION_LOG_FLUSH_SECONDS (or sooner, once PREDICTION_LOG_FLUSH_ROWS are held) under
``predictions/date=YYYY-MM-DD/``, created through :mod:`recruit_reveal.storage`.

Answers never wait on the log: while the sink cannot be written the thread retries
with backoff and the buffer (PREDICTION_LOG_BUFFER rows) fills; beyond it, records are
dropped, counted in ``recruit_reveal_prediction_log_dropped_total`` and logged.  Closing
(the app's shutdown) writes everything accepted, within a bounded wait.  The format is
docs/monitoring.md's "Prediction log".
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import Counter
from starlette.requests import Request

from ..artifacts.layout import LATEST
from ..storage.base import Store
from ..storage.locations import open_store
from .prediction_records import FOLDER, RecordBatch, parquet_bytes, records_table
from .predictions import OnScored, Scored
from .request_ids import current_request_id, route_template

if TYPE_CHECKING:

    from .store import ModelStore

logger = logging.getLogger(__name__)

#: Longest request id kept (a client's X-Request-ID is cut to this).
MAX_REQUEST_ID = 128
#: How long the shutdown waits for the last records to be written.
CLOSE_SECONDS = 10.0
#: Retention runs at most this often.
PRUNE_SECONDS = 3600.0
#: Longest wait between two attempts to write while the sink is down.
MAX_BACKOFF_SECONDS = 30.0
#: The least time between two warnings of the same kind.
WARN_SECONDS = 60.0

DROPPED = Counter("recruit_reveal_prediction_log_dropped",
                  "Prediction records dropped: the buffer was full while the prediction log "
                  "could not be written, or they were still unwritten at shutdown")


class _Every:
    """True at most once per ``seconds`` (rate-limited warnings)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._last = -float("inf")

    def due(self) -> bool:
        now = time.monotonic()
        if now - self._last < self.seconds:
            return False
        self._last = now
        return True


@dataclass
class _File:
    """A Parquet file to write, named once so a retried write cannot make a second copy."""

    name: str
    data: bytes
    rows: int


class PredictionLog:
    """Records of one worker, buffered and written by its own thread (:meth:`start`)."""

    def __init__(self, location: Path | str | Store, store: ModelStore | None = None, *,
                 flush_seconds: float = 5.0, flush_rows: int = 10_000,
                 buffer_rows: int = 100_000, days: int | None = None,
                 clock: Callable[[], float] = time.time):
        self.sink = open_store(location)
        self.models = store
        self.flush_seconds = flush_seconds
        self.flush_rows = flush_rows
        self.buffer_rows = buffer_rows
        self.days = days
        #: The time of a record (seconds since the epoch).
        self.clock = clock
        #: Records written, and records dropped, by this process.
        self.written = 0
        self.dropped = 0
        self._cond = threading.Condition()
        self._pending: list[RecordBatch] = []
        self._pending_rows = 0
        self._held = 0  # accepted and not yet written: pending, or in a file being retried
        self._closing = False
        self._deadline = float("inf")
        self._thread: threading.Thread | None = None
        self._last_prune = -float("inf")
        self._warn_drop, self._warn_write = _Every(WARN_SECONDS), _Every(WARN_SECONDS)
        self._dropped_unwarned = 0

    def __repr__(self) -> str:
        return f"PredictionLog({self.sink.display(FOLDER)!r})"

    # -- the request side ----------------------------------------------------

    def record(self, scored: Scored, *, request_id: str, route: str,
               integrated: Sequence[Sequence[str]] = (),
               unusual: Sequence[Sequence[str]] = ()) -> None:
        """Accept the rows of ``scored`` (never waits on the sink).

        ``integrated`` and ``unusual``: per athlete, the inputs the prediction integrated
        over and those outside the training range (empty: none for any athlete).
        """
        rows = len(scored.athletes)
        integrated, unusual = integrated or scored.integrated, unusual or scored.unusual
        for given in (integrated, unusual):
            if given and len(given) != rows:
                raise ValueError(f"per-athlete input lists: {len(given)} for {rows} athletes")
        # The route as /openapi.json lists it: MLflow's path once per position served.
        if route == MLFLOW_POSITION_ROUTE:
            route = route.replace("{position}", scored.served.position)
        batch = RecordBatch(int(self.clock() * 1000), request_id, route,
                       self._release_id(scored), scored, integrated, unusual)
        with self._cond:
            accepted = not self._closing and self._held + rows <= self.buffer_rows
            if accepted:
                self._pending.append(batch)
                self._pending_rows += rows
                self._held += rows
                if self._pending_rows >= self.flush_rows:
                    self._cond.notify()
        if not accepted:
            self._drop(rows, "the buffer is full" if not self._closing else "the log is closed")

    def _release_id(self, scored: Scored) -> int | None:
        """The served release's id when ``scored`` came from its model (else None: a pinned
        position, an explicit version)."""
        if self.models is None or scored.served.requested != LATEST:
            return None
        release = self.models.release.release
        if release is None or release.versions.get(scored.served.position) != \
                scored.served.version:
            return None
        return int(release.id)

    def _drop(self, rows: int, why: str) -> None:
        DROPPED.inc(rows)
        with self._cond:
            self.dropped += rows
            self._dropped_unwarned += rows
            unwarned, due = self._dropped_unwarned, self._warn_drop.due()
            if due:
                self._dropped_unwarned = 0
        if due:
            logger.warning("prediction log %s: %d record(s) dropped (%s; %d dropped in all by "
                           "this worker)", self.sink.display(FOLDER), unwarned, why,
                           self.dropped)

    # -- the writer thread ---------------------------------------------------

    def start(self) -> None:
        """Start the writer thread (in the worker process: threads do not survive a fork)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="prediction-log",
                                            daemon=True)
            self._thread.start()

    def close(self, timeout: float = CLOSE_SECONDS) -> None:
        """Write every accepted record, waiting at most ``timeout`` seconds; what is still
        unwritten then is counted as dropped and logged."""
        with self._cond:
            self._closing = True
            self._deadline = time.monotonic() + timeout
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout + 1)
        else:
            self._deadline = time.monotonic()
            self._run()
        with self._cond:
            lost, self._held = self._held, 0
        if lost:
            DROPPED.inc(lost)
            self.dropped += lost
            logger.error("prediction log %s: %d accepted record(s) could not be written "
                         "before shutdown (%g s) and are lost", self.sink.display(FOLDER),
                         lost, timeout)

    def _run(self) -> None:
        files: list[_File] = []
        failures = 0
        while True:
            with self._cond:
                if not self._closing:
                    idle = not files
                    wait = self.flush_seconds if idle else \
                        min(0.5 * 2 ** (failures - 1), MAX_BACKOFF_SECONDS)
                    self._cond.wait_for(functools.partial(self._woken, idle), timeout=wait)
                closing = self._closing
                taken: list[RecordBatch] = []
                if not files:
                    taken, self._pending, self._pending_rows = self._pending, [], 0
            files = files or self._files(taken)
            files = self._write(files)
            failures = failures + 1 if files else 0
            self._prune()
            if closing and (not (files or self._pending) or time.monotonic() >= self._deadline):
                return
            if closing and files:
                time.sleep(min(0.2, max(0.0, self._deadline - time.monotonic())))

    def _woken(self, idle: bool) -> bool:
        """Whether the writer has something to do before its wait ends (under the lock)."""
        return self._closing or (idle and self._pending_rows >= self.flush_rows)

    def _files(self, batches: list[RecordBatch]) -> list[_File]:
        """One file per UTC date of ``batches``; a batch that cannot be encoded is dropped."""
        by_date: dict[str, list[RecordBatch]] = {}
        for b in batches:
            by_date.setdefault(b.date, []).append(b)
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
        files = []
        for date, group in by_date.items():
            rows = sum(b.rows for b in group)
            try:
                data = parquet_bytes(records_table(group))
            except Exception:  # noqa: BLE001 - a bad record must not stop the writer
                logger.exception("prediction log: %d record(s) cannot be encoded", rows)
                with self._cond:
                    self._held -= rows
                self._drop(rows, "they cannot be encoded")
                continue
            name = f"{FOLDER}/date={date}/part-{stamp}-{os.getpid()}-{secrets.token_hex(4)}" \
                   ".parquet"
            files.append(_File(name, data, rows))
        return files

    def _write(self, files: list[_File]) -> list[_File]:
        """Create ``files`` in order; returns those still to write (from the first failure)."""
        for i, file in enumerate(files):
            try:
                self.sink.create(file.name, file.data)
            except FileExistsError:
                pass  # an earlier attempt did create it (its answer was lost)
            except Exception as exc:  # noqa: BLE001 - any failure: keep the rows and retry
                if self._warn_write.due():
                    logger.warning("prediction log: cannot write %s (%s: %s); retrying while "
                                   "up to %d records wait", self.sink.display(file.name),
                                   type(exc).__name__, exc, self.buffer_rows)
                return files[i:]
            with self._cond:
                self._held -= file.rows
                self.written += file.rows
        return []

    # -- retention -----------------------------------------------------------

    def _prune(self) -> None:
        """Delete the date partitions older than ``days`` (at most once per PRUNE_SECONDS)."""
        if self.days is None or time.monotonic() - self._last_prune < PRUNE_SECONDS:
            return
        self._last_prune = time.monotonic()
        try:
            prune(self.sink, self.days)
        except Exception as exc:  # noqa: BLE001 - retention must never stop the writer
            logger.warning("prediction log: retention failed (%s: %s)", type(exc).__name__, exc)


def prune(sink: Store, days: int, today: dt.date | None = None) -> list[str]:
    """Delete the files of every ``predictions/date=...`` partition more than ``days`` days
    before ``today`` (UTC); returns the partitions deleted."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    folder = sink.child(FOLDER)
    gone = []
    for partition in folder.folders():
        if not partition.startswith("date="):
            continue  # not a partition of the log
        try:
            date = dt.date.fromisoformat(partition.removeprefix("date="))
        except ValueError:
            continue  # not a partition of the log
        if (today - date).days <= days:
            continue
        part = folder.child(partition)
        for name in part.names():
            part.remove(name)
        gone.append(partition)
    if gone:
        logger.info("prediction log: deleted %d partition(s) older than %d days: %s",
                    len(gone), days, ", ".join(gone))
    return gone


# -- what routes call ------------------------------------------------------------


def request_id(request: Request) -> str:
    """The id the request is answered under (the X-Request-ID it was sent, or the one
    made for it, as the response echoes it)."""
    current = current_request_id()
    if current is not None:
        return current
    given = request.headers.get("x-request-id", "").strip()  # outside the middleware
    return given[:MAX_REQUEST_ID] if given else uuid.uuid4().hex


#: One position's MLflow endpoint: one route, listed in /openapi.json once per position.
MLFLOW_POSITION_ROUTE = "/models/{position}/invocations"


def recorder(request: Request) -> OnScored | None:
    """What a scoring route passes as ``on_scored``: records into the app's prediction log
    under the request's id and route; None when the log is off."""
    log: PredictionLog | None = getattr(request.app.state, "prediction_log", None)
    if log is None:
        return None
    return functools.partial(log.record, request_id=request_id(request),
                             # the template, as the metrics label it; the position is filled
                             # in per record (positions served only: bounded)
                             route=route_template(request.scope))
