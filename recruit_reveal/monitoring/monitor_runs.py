"""``recruit-reveal monitor``: the ``monitor.ipynb`` template executed into an audit record.

The record goes to ``runs/monitor/{UTC date}/{position}.ipynb`` (+ HTML) of the runs
folder (local or ``s3://``).  The notebook is executed by the very code that executes
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

from ..errors import ArtifactExistsError, NotebookExecutionError
from ..storage.locations import Location, open_store
from .monitor_report import VERDICT_MIME

#: The template, shipped in the package; ``notebooks/monitor.ipynb`` is the same file.
MONITOR_TEMPLATE = Path(__file__).resolve().with_name("templates") / "monitor.ipynb"
#: The exit code of a run whose verdict is an alert (drift or live accuracy).
EXIT_ALERT = 3
MONITOR_FOLDER = "monitor"


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
    record: Path | str
    verdict: dict[str, Any]

    @property
    def alert(self) -> bool:
        return bool(self.verdict.get("alert"))


def monitor_record_name(day: str, position: str) -> str:
    """``monitor/{day}/{position}.ipynb`` inside the runs folder."""
    return f"{MONITOR_FOLDER}/{day}/{position}.ipynb"


def _refuse_existing(runs_dir: Location, name: str) -> None:
    store = open_store(runs_dir)
    try:
        doc = json.loads(store.read(name))
    except (FileNotFoundError, ValueError):
        return
    stamp = (doc.get("metadata") or {}).get("recruit_reveal") or {}
    if stamp.get("status") == "succeeded":
        raise ArtifactExistsError(
            f"monitoring record {store.shown(name)} already exists; records are never "
            "overwritten (run again tomorrow, or use another --runs-dir)")


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
                day: str | None = None) -> MonitorOutcome:
    """Execute the template for ``params`` into today's record and return its verdict."""
    day = day or datetime.now(timezone.utc).strftime("%Y-%m-%d")
    name = monitor_record_name(day, params.position)
    _refuse_existing(runs_dir, name)
    record = open_store(runs_dir).location(name)
    nb = runner(MONITOR_TEMPLATE, record, dataclasses.asdict(params),
                position=f"monitor {params.position}")
    return MonitorOutcome(record, verdict_of(nb))
