"""The two ways to train one position from its :class:`~.contract.NotebookParams`.

* :class:`NotebookEngine` (the default) executes the template
  (:data:`~.contract.TEMPLATE`, shipped in the package) with papermill; the executed notebook is the audit record
  ``runs/v{version}/{position}.ipynb`` plus an HTML copy beside it (the runs
  folder may be an ``s3://`` URL), and the result is the one the notebook
  displayed.  Each position gets a fresh kernel, started ahead of its run.
* :class:`DirectEngine` calls :func:`train_one`, the very sequence the
  template's cells call, without a notebook, and returns the same result.

Both return a :class:`~.contract.PositionResult`; neither promotes anything.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..errors import NotebookExecutionError
from .contract import DEFAULT_CELL_TIMEOUT, TEMPLATE, NotebookParams, PositionResult
from .records import prepare_record_slot, record_path

if TYPE_CHECKING:
    from .notebook import KernelPool

ENGINES = ("notebook", "direct")


class Engine(Protocol):
    """What the runner needs of an engine."""

    name: str
    #: True: positions run in threads of this process; False: in spawned processes.
    threads: bool

    def preflight(self, version: str, positions: Sequence[str]) -> None:
        """Refuse before anything trains (raise a RecruitRevealError) when a run cannot work."""

    def record(self, version: str, position: str) -> Path | str | None:
        """The audit record a run of ``position`` leaves (a URL in an object store; None:
        no record)."""

    def run(self, params: NotebookParams) -> PositionResult:
        """Train and export one position (``promote`` is the caller's choice) and say what."""

    def warm_up(self, runs: int, jobs: int) -> None:
        """Get ready for ``runs`` runs, ``jobs`` at a time (after :meth:`preflight`)."""

    def close(self) -> None:
        """Release what :meth:`warm_up` got ready and no run used."""


def train_one(settings: NotebookParams) -> PositionResult:
    """Load, validate, train and export one position: the template's calls, in order."""
    from .. import data, export
    from ..modeling import training

    training_data = data.load_training_data(
        settings.csv_path, settings.position, columns=settings.columns,
        invalid_rows=settings.invalid_rows, max_invalid_fraction=settings.max_invalid_fraction)
    rejected = data.write_rejected_rows(training_data, settings.rejected_rows_file)
    result = training.train_position(
        training_data, settings.position, seed=settings.seed, cv_folds=settings.cv_folds,
        params=settings.params)
    exported = export.save_pipeline(
        result, settings.models_dir, str(settings.version), promote=settings.promote,
        changelog=settings.changelog, audit_record=settings.audit_record)
    return PositionResult.of(settings, result, exported, rejected)


@dataclass(frozen=True)
class DirectEngine:
    """Training without a notebook, in fresh worker processes when several run at once."""

    name = "direct"
    #: Positions run in processes: training holds the interpreter.
    threads = False

    def preflight(self, version: str, positions: Sequence[str]) -> None:
        """Nothing to check before training."""

    def record(self, version: str, position: str) -> Path | str | None:
        return None

    def run(self, params: NotebookParams) -> PositionResult:
        return train_one(params.resolve())

    def warm_up(self, runs: int, jobs: int) -> None:
        """Nothing: the worker processes start with the pool."""

    def close(self) -> None:
        """Nothing to release."""


@dataclass
class NotebookEngine:
    """The template through papermill, one fresh kernel per position, a record each."""

    #: A local folder or an object-store URL (``s3://bucket/prefix``).
    runs_dir: Path | str
    template: Path = TEMPLATE
    cell_timeout: float | None = DEFAULT_CELL_TIMEOUT
    kernels: KernelPool | None = field(default=None, repr=False, compare=False)

    name = "notebook"
    #: Threads suffice: each notebook runs in its own kernel process anyway.
    threads = True

    def preflight(self, version: str, positions: Sequence[str]) -> None:
        """Template and kernel usable, and room for every record, before anything trains."""
        from .notebook import check_kernel

        if not self.template.is_file():
            raise NotebookExecutionError(f"notebook template not found: {self.template}")
        check_kernel()
        for position in positions:
            prepare_record_slot(record_path(self.runs_dir, version, position))

    def record(self, version: str, position: str) -> Path | str | None:
        return record_path(self.runs_dir, version, position)

    def run(self, params: NotebookParams) -> PositionResult:
        from .notebook import run_notebook

        record = record_path(self.runs_dir, str(params.version), params.position)
        nb = run_notebook(self.template, record, dataclasses.asdict(params),
                          position=params.position, cell_timeout=self.cell_timeout,
                          kernel=self.kernels.take() if self.kernels else None)
        return PositionResult.from_notebook(nb)

    def warm_up(self, runs: int, jobs: int) -> None:
        """Start the kernels of the first ``jobs`` runs now, and each later run's kernel
        while the runs before it train (see :class:`~.notebook.KernelPool`)."""
        from .notebook import KernelPool

        self.close()
        self.kernels = KernelPool(runs, ahead=jobs)

    def close(self) -> None:
        if self.kernels is not None:
            self.kernels.close()
            self.kernels = None


def make_engine(name: str, *, runs_dir: Path | str, template: Path | None = None,
                cell_timeout: float | None = DEFAULT_CELL_TIMEOUT) -> Engine:
    """The engine called ``name`` (one of :data:`ENGINES`)."""
    if name == "direct":
        return DirectEngine()
    return NotebookEngine(runs_dir=runs_dir, template=template or TEMPLATE,
                          cell_timeout=cell_timeout)
