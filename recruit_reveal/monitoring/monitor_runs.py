"""``recruit-reveal monitor``: the ``monitor.ipynb`` template executed into an audit record.

Each position's record goes to ``runs/monitor/{UTC date}/{position}.ipynb`` (+ HTML, and
its verdict as ``.verdict.json``) of the runs folder (local or ``s3://``); a later run of
the same day adds its UTC time to the name, and a position without records in the log
gets no record.  The notebook is executed by the very code that executes
training notebooks (engine, staging, publishing and stamping of records), handed in as
``runner``: that code lives in :mod:`recruit_reveal.release`, which this package must not
import (the two are independent siblings; the CLI above both wires them together, see
docs/architecture.md).  The notebook displays its verdict under
:data:`~.monitor_report.VERDICT_MIME`; :func:`run_monitor` returns it, and the command
exits with :data:`EXIT_ALERT` when it raises an alert.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from ..artifacts import registry
from ..artifacts.layout import ordered_positions
from ..errors import ArtifactExistsError, NotebookExecutionError, RecruitRevealError
from ..storage.base import Store
from ..storage.locations import Location, open_store
from .logscan import LogExtent, log_extent, log_positions
from .monitor_report import VERDICT_MIME, positions_of

#: The template, shipped in the package; ``notebooks/monitor.ipynb`` is the same file.
MONITOR_TEMPLATE = Path(__file__).resolve().with_name("templates") / "monitor.ipynb"
#: The exit code of a run whose verdict is an alert (drift or live accuracy).
EXIT_ALERT = 3
MONITOR_FOLDER = "monitor"
#: The verdict beside each record, as JSON (``alert``, ``drifted``, ...): the runs index
#: shows it without opening the notebook.
VERDICT_SUFFIX = ".verdict.json"


@dataclass(frozen=True)
class MonitorParams:
    """The template's parameters (``dataclasses.asdict`` is what papermill injects)."""

    log: str = "scratch/prediction-log"
    models_dir: str = "models"
    position: str = "all"
    since: str | None = None
    seed: int = 0


class NotebookRunner(Protocol):
    """Executes a template into a record and returns the executed notebook."""

    def __call__(self, template: str | os.PathLike[str], record: str | os.PathLike[str],
                 parameters: Mapping[str, Any], *, position: str) -> Any: ...


@dataclass(frozen=True)
class MonitorOutcome:
    """One position's run: its record and verdict, or no record when the log held none of
    its records (``extent`` says how many it found and the newest date)."""

    position: str
    record: Path | str | None
    verdict: dict[str, Any]
    extent: LogExtent

    @property
    def alert(self) -> bool:
        return bool(self.verdict.get("alert"))

    def lines(self) -> list[str]:
        """What the command prints for this position."""
        if self.record is None:
            found = (f"the newest record of {self.position} is dated {self.extent.newest}"
                     if self.extent.newest else f"the log holds no record of {self.position}")
            return [f"{self.position}: no records to review ({found}); no record written"]
        v = self.verdict
        out = [f"Wrote {self.record}: {v['records']:,} records, "
               + ("ALERT" if self.alert else "OK")]
        out += [f"  drifted {stream}: {', '.join(names)}" for stream, names in v["drifted"].items()]
        out += [f"  live accuracy below the CV figure: {stream}" for stream in v["accuracy_alerts"]]
        return out


def monitor_record_name(day: str, position: str, clock: str | None = None) -> str:
    """``monitor/{day}/{position}.ipynb`` inside the runs folder; a later run of the same day
    adds its UTC time: ``monitor/{day}/{position}-{HHMMSS}.ipynb``."""
    return f"{MONITOR_FOLDER}/{day}/{position}{'-' + clock if clock else ''}.ipynb"


def verdict_name(record_name: str) -> str:
    """The verdict beside a record (``….verdict.json``), read by the runs index."""
    return record_name.removesuffix(".ipynb") + VERDICT_SUFFIX


def _taken(store: Store, name: str) -> bool:
    """Whether ``name`` holds a finished record (a failed one may be replaced)."""
    try:
        doc = json.loads(store.read(name))
    except (FileNotFoundError, ValueError):
        return False
    stamp = (doc.get("metadata") or {}).get("recruit_reveal") or {}
    return stamp.get("status") == "succeeded"


def _free_name(store: Store, position: str, now: datetime) -> str:
    day, clock = now.strftime("%Y-%m-%d"), now.strftime("%H%M%S")
    for name in (monitor_record_name(day, position), monitor_record_name(day, position, clock)):
        if not _taken(store, name):
            return name
    raise ArtifactExistsError(
        f"monitoring record {store.shown(name)} already exists; records are never "
        "overwritten (run again in a second, or use another --runs-dir)")


def verdict_of(nb: Any) -> dict[str, Any]:
    """The verdict the executed notebook displayed."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if VERDICT_MIME in data:
                value = data[VERDICT_MIME]
                return dict(json.loads(value) if isinstance(value, str) else value)
    raise NotebookExecutionError("the monitoring notebook displayed no verdict")


def run_monitor(params: MonitorParams, runs_dir: Location, runner: NotebookRunner, *,
                now: datetime | None = None) -> MonitorOutcome:
    """Execute the template for one position into a new record and return its verdict;
    write nothing when the log holds no record of the position since ``params.since``."""
    extent = log_extent(params.log, params.position, params.since)
    if not extent.records:
        return MonitorOutcome(params.position, None, {}, extent)
    store = open_store(runs_dir)
    name = _free_name(store, params.position, now or datetime.now(timezone.utc))
    nb = runner(MONITOR_TEMPLATE, store.location(name), dataclasses.asdict(params),
                position=f"monitor {params.position}")
    verdict = verdict_of(nb)
    store.write(verdict_name(name), json.dumps(verdict, indent=2).encode())
    return MonitorOutcome(params.position, store.location(name), verdict, extent)


def _all_positions(params: MonitorParams) -> list[str]:
    try:
        served = registry.positions(params.models_dir)
    except RecruitRevealError:
        served = []  # an unreadable models folder is reported by the run itself
    return ordered_positions({*served, *log_positions(params.log)})


def run_monitors(params: MonitorParams, runs_dir: Location, runner: NotebookRunner, *,
                 now: datetime | None = None) -> list[MonitorOutcome]:
    """One record per position (``all``: every position with a model or a record, in
    turn; one without records says so and gets none), as docs/monitoring.md says."""
    positions = positions_of(params.position) or _all_positions(params)
    return [run_monitor(dataclasses.replace(params, position=pos), runs_dir, runner, now=now)
            for pos in positions]
