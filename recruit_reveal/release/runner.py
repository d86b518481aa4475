"""Training runs: the notebook template through papermill, or the same calls directly.

``train`` trains one or more positions with one version number and the
release rule of issue 5: every position exports with ``promote=False``; only
when all of them succeeded are their ``latest`` aliases switched, together.

Two engines share one code path:

* ``notebook`` (the default) executes ``notebooks/train_position.ipynb`` with
  papermill once per position.  The executed notebook is the audit record:
  ``runs/v{version}/{position}.ipynb`` plus an HTML copy beside it.
* ``direct`` calls :func:`train_one`, the very sequence the template's cells
  call (:func:`prepare` -> ``data.load_training_data`` ->
  ``training.train_position`` -> ``export.save_pipeline``), without a notebook.

Audit records are immutable: a successful record is never overwritten, and a
failed one is kept under ``{position}.failed-{UTC timestamp}.ipynb`` when its
version is run again.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import multiprocessing
import os
import sys
import time
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import (
    ArtifactExistsError,
    DataValidationError,
    NotebookExecutionError,
    Problem,
    RecruitRevealError,
    VersionError,
)
from ..reporting.tables import format_table
from ..schema import POSITIONS, normalize_position

logger = logging.getLogger(__name__)
_NBCONVERT_LOG = logging.getLogger(f"{__name__}.nbconvert")
_NBCONVERT_LOG.setLevel(logging.ERROR)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = PROJECT_ROOT / "notebooks" / "train_position.ipynb"
ENGINES = ("notebook", "direct")
#: Seconds one notebook cell may run.  Training 100k rows with CV takes well
#: under a minute on two cores, so ten minutes only ever stops a hung kernel.
DEFAULT_CELL_TIMEOUT = 600.0
KERNEL_NAME = "python3"
RECORD_METADATA_KEY = "recruit_reveal"
_PAPERMILL_ENGINE = "recruit_reveal"
#: ignore_cwd: the kernel must import the same recruit_reveal as the runner, never a
#: ``recruit_reveal/`` folder that happens to be in the working directory (a second
#: checkout, say) -- otherwise the two engines would train different code.
#: Kernel log: the record holds what matters; shutdown chatter only confuses.
#: History: IPython's database is shared by every kernel of a user; parallel kernels
#: only contend for it, and a record needs no input history.
_KERNEL_ARGUMENTS = ["--IPKernelApp.ignore_cwd=True", "--HistoryManager.enabled=False",
                     "--IPKernelApp.log_level=CRITICAL"]


# --------------------------------------------------------------------------------------
# The steps, shared by the template and the direct engine
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSettings:
    """One position's training settings with paths resolved and the version fixed."""

    position: str
    csv_path: Path
    version: str
    models_dir: Path
    seed: int = 42
    cv_folds: int = 5
    promote: bool = False
    changelog: str | None = None
    params: dict[str, Any] | None = None
    audit_record: str | None = None

    def as_rows(self) -> list[tuple[str, str]]:
        """(setting, value) pairs for display."""
        return [(name, "" if value is None else str(value))
                for name, value in self.__dict__.items()]


def project_path(path: str | os.PathLike) -> Path:
    """Resolve a path the way the template's defaults mean it.

    Absolute paths are kept.  A relative path is taken from the project root
    (the folder holding ``notebooks/train_position.ipynb``) when the working
    directory is that root or one of its subfolders -- Jupyter runs a notebook
    in ``notebooks/`` -- and from the working directory otherwise.
    """
    path = Path(path).expanduser()
    if path.is_absolute():
        return path
    cwd = Path.cwd().resolve()
    for folder in (cwd, *cwd.parents):
        if (folder / "notebooks" / "train_position.ipynb").is_file():
            return folder / path
    return cwd / path


def prepare(position: str, csv_path: str | os.PathLike, version: str | None = None,
            models_dir: str | os.PathLike = "models", *, seed: int = 42, cv_folds: int = 5,
            promote: bool = False, changelog: str | None = None,
            params: dict[str, Any] | None = None,
            audit_record: str | None = None) -> RunSettings:
    """Validate and resolve one position's settings (the template's first call).

    ``version=None`` takes the next patch version in ``models_dir``.
    """
    position = normalize_position(position)
    models = project_path(models_dir)
    return RunSettings(
        position=position,
        csv_path=project_path(csv_path),
        version=resolve_version(models, [position], version),
        models_dir=models,
        seed=int(seed),
        cv_folds=int(cv_folds),
        promote=bool(promote),
        changelog=changelog,
        params=dict(params) if params else None,
        audit_record=None if audit_record is None else str(audit_record),
    )


def train_one(settings: RunSettings):
    """Load, validate, train and export one position: the template's calls, in order.

    Returns the ``export.ExportedModel``.
    """
    from recruit_reveal.artifacts.export import save_pipeline
    from recruit_reveal.data.loading import load_training_data
    from recruit_reveal.modeling.training import train_position

    data = load_training_data(settings.csv_path, settings.position)
    result = train_position(data, settings.position, seed=settings.seed,
                            cv_folds=settings.cv_folds, params=settings.params)
    return save_pipeline(result, settings.models_dir, settings.version,
                         promote=settings.promote, changelog=settings.changelog,
                         audit_record=settings.audit_record)


def resolve_version(models_dir: str | os.PathLike, positions: Iterable[str],
                    version: str | None = None) -> str:
    """The version a run uses: ``version`` checked, or the next one for every position.

    Positions share one version, so when they differ the highest next patch
    version wins.
    """
    from recruit_reveal.artifacts.layout import next_version, parse_version

    if version is not None:
        text = str(version).strip()
        if text.startswith("v"):
            text = text[1:]
        if text == "latest":
            raise VersionError("a training run needs a version X.Y.Z, not 'latest'")
        major, minor, patch = parse_version(text)
        return f"{major}.{minor}.{patch}"
    candidates = [next_version(models_dir, pos) for pos in positions]
    return max(candidates, key=parse_version)


# --------------------------------------------------------------------------------------
# Running several positions
# --------------------------------------------------------------------------------------


@dataclass
class PositionRun:
    """What happened to one position in a run."""

    position: str
    version: str
    status: str = "pending"  # "succeeded" | "failed" | "skipped"
    duration: float = 0.0
    artifact: Path | None = None
    metadata_path: Path | None = None
    sha256: str | None = None
    record: Path | None = None
    html: Path | None = None
    exact_accuracy: float | None = None
    within_one_accuracy: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"


@dataclass
class RunSummary:
    """The outcome of :func:`train`: one :class:`PositionRun` per requested position."""

    version: str
    engine: str
    models_dir: Path
    runs_dir: Path | None
    runs: list[PositionRun] = field(default_factory=list)
    promoted: bool = False
    duration: float = 0.0
    csv: Path | None = None

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(run.ok for run in self.runs)

    @property
    def failed(self) -> list[PositionRun]:
        return [run for run in self.runs if not run.ok]

    @property
    def succeeded(self) -> list[PositionRun]:
        return [run for run in self.runs if run.ok]

    def promote_command(self) -> str | None:
        """The exact command that promotes the positions that succeeded, when some failed."""
        if self.ok or not self.succeeded:
            return None
        option = "" if _same_path(self.models_dir, Path("models")) else (
            f" --models-dir {_display_path(self.models_dir)}")
        return " && ".join(f"recruit-reveal models promote {run.position} {run.version}{option}"
                           for run in self.succeeded)

    def retry_command(self) -> str | None:
        """The command that re-runs only the failed positions with the same version."""
        if self.ok or self.csv is None:
            return None
        options = "" if _same_path(self.models_dir, Path("models")) else (
            f" --models-dir {_display_path(self.models_dir)}")
        if self.runs_dir is not None and not _same_path(self.runs_dir, Path("runs")):
            options += f" --runs-dir {_display_path(self.runs_dir)}"
        if self.engine != "notebook":
            options += f" --engine {self.engine}"
        return " && ".join(
            f"recruit-reveal train --csv {_display_path(self.csv)} --position {run.position} "
            f"--version {run.version}{options}" for run in self.failed)

    def rows(self) -> list[list[str]]:
        """The summary table's rows (see :attr:`HEADERS`)."""
        return [[
            run.position,
            run.version,
            run.status,
            _fmt(run.exact_accuracy),
            _fmt(run.within_one_accuracy),
            _display_path(run.artifact) if run.artifact else "-",
            _display_path(run.record) if run.record else "-",
            f"{run.duration:.1f}s",
        ] for run in self.runs]

    HEADERS = ("position", "version", "status", "exact", "within-one", "artifact", "record",
               "duration")

    def table(self) -> str:
        """The summary as a plain-text table."""
        return format_table(self.HEADERS, self.rows())

    def files(self) -> list[Path]:
        """Every file this run wrote (artifacts, metadata, records), for the closing pointer."""
        from recruit_reveal.artifacts.layout import artifact_path, changelog_path, metadata_path

        out: list[Path] = []
        for run in self.runs:
            out += [p for p in (run.artifact, run.metadata_path) if p]
            if run.ok and self.promoted:
                out += [artifact_path(self.models_dir, run.position, "latest"),
                        metadata_path(self.models_dir, run.position, "latest")]
            if run.ok:
                out.append(changelog_path(self.models_dir, run.position))
            out += [p for p in (run.record, run.html) if p and p.exists()]
        return out

    def report(self) -> str:
        """The closing text the CLI prints: table, what failed, where the files are."""
        lines = [self.table(), ""]
        if self.ok:
            lines.append(f"All {len(self.runs)} position(s) trained; latest now points at "
                         f"v{self.version}" + ("." if self.promoted else " (not promoted)."))
        else:
            for run in self.failed:
                lines.append(f"FAILED {run.position}: {run.error}")
            lines.append("latest was left unchanged for every position.")
            command = self.promote_command()
            if command:
                lines.append("To promote the positions that succeeded anyway, run:")
                lines.append(f"  {command}")
            retry = self.retry_command()
            if retry:
                lines.append("To train the failed position(s) again after fixing the cause "
                             "(the failed record is kept aside), run:")
                lines.append(f"  {retry}")
        lines.append(f"Models: {_display_path(self.models_dir)}/"
                     + (f"   records: {_display_path(self.runs_dir / ('v' + self.version))}/"
                        if self.runs_dir is not None and self.engine == "notebook" else ""))
        for path in self.files():
            lines.append(f"  {_display_path(path)}")
        return "\n".join(lines)


def train(csv: str | os.PathLike, positions: str | Sequence[str] = "all",
          version: str | None = None, *, engine: str = "notebook", jobs: int = 1,
          models_dir: str | os.PathLike = "models", runs_dir: str | os.PathLike = "runs",
          changelog: str | None = None, seed: int = 42, cv_folds: int = 5,
          params: dict[str, Any] | None = None,
          cell_timeout: float | None = DEFAULT_CELL_TIMEOUT,
          template: str | os.PathLike | None = None) -> RunSummary:
    """Train ``positions`` on ``csv`` as one release ``version`` and return the summary.

    Raises a :class:`RecruitRevealError` before any training when the request
    itself is wrong (unknown position or engine, bad version, missing CSV, a
    version or record that already exists).  Failures of single positions do
    not raise: they are in the summary (``summary.ok`` is False) and nothing
    is promoted.
    """
    if engine not in ENGINES:
        raise RecruitRevealError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if int(jobs) < 1:
        raise RecruitRevealError(f"--jobs must be at least 1, got {jobs}")
    wanted = _positions(positions)
    csv_path = Path(csv).expanduser().absolute()
    if not csv_path.is_file():
        raise DataValidationError(Problem("training CSV not found", file=str(csv)))
    models = Path(models_dir).expanduser().absolute()
    runs_root = Path(runs_dir).expanduser().absolute()
    version = resolve_version(models, wanted, version)
    _refuse_existing_versions(models, wanted, version)
    if engine == "notebook":
        template_path = Path(template) if template else TEMPLATE
        if not template_path.is_file():
            raise NotebookExecutionError(f"notebook template not found: {template_path}")
        check_kernel()
        for pos in wanted:
            prepare_record_slot(record_path(runs_root, version, pos))

    started = time.perf_counter()
    summary = RunSummary(version=version, engine=engine, models_dir=models,
                         runs_dir=runs_root if engine == "notebook" else None, csv=csv_path)
    base = dict(csv_path=csv_path, version=version, models_dir=models, seed=seed,
                cv_folds=cv_folds, promote=False, changelog=changelog, params=params)
    logger.info("training %s as v%s with the %s engine (%d job(s))",
                ", ".join(wanted), version, engine, jobs)
    if engine == "notebook":
        # Threads suffice: each notebook runs in its own kernel process anyway.
        summary.runs = _map(functools.partial(_run_notebook_position, template_path,
                                              runs_root, base=base, cell_timeout=cell_timeout),
                            wanted, jobs, threads=True)
    else:
        summary.runs = _map(functools.partial(_run_direct_position, base=base), wanted, jobs,
                            threads=False)

    for run in summary.runs:
        if run.ok:
            _fill_from_metadata(run, models)
    if summary.ok:
        from recruit_reveal.artifacts.registry import promote, verify

        # Check every artifact before switching any alias, so a bad file cannot leave
        # the release half promoted.
        for run in summary.runs:
            verify(run.position, run.version, models_dir=models)
        for run in summary.runs:
            promote(run.position, run.version, models_dir=models)
        summary.promoted = True
        logger.info("promoted %s to v%s", ", ".join(wanted), version)
    else:
        logger.error("%d of %d position(s) failed; latest left unchanged",
                     len(summary.failed), len(summary.runs))
    summary.duration = time.perf_counter() - started
    return summary


def _positions(positions: str | Sequence[str]) -> list[str]:
    items = [positions] if isinstance(positions, str) else list(positions)
    out: list[str] = []
    for item in items:
        if str(item).strip().lower() == "all":
            names = list(POSITIONS)
        else:
            names = [normalize_position(item)]
        out += [name for name in names if name not in out]
    if not out:
        raise RecruitRevealError("no position to train")
    return out


def _refuse_existing_versions(models: Path, positions: list[str], version: str) -> None:
    from recruit_reveal.artifacts.layout import artifact_path

    taken = [pos for pos in positions if artifact_path(models, pos, version).exists()]
    if taken:
        raise ArtifactExistsError(
            f"version {version} already exists for {', '.join(taken)} in {models}; versions "
            "are never overwritten (choose another --version, or omit it for the next one)")


def _map(fn, items: list[str], jobs: int, *, threads: bool) -> list[PositionRun]:
    """Run ``fn`` per item, ``jobs`` at a time, keeping the input order."""
    if jobs == 1 or len(items) == 1:
        return [fn(item) for item in items]
    if threads:
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs)
    else:
        # Fresh interpreters, like notebook kernels: no state shared between positions.
        pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=min(jobs, len(items)), mp_context=multiprocessing.get_context("spawn"),
            initializer=_child_logging, initargs=(logging.getLogger().getEffectiveLevel(),))
    with pool:
        return list(pool.map(fn, items))


def _child_logging(level: int) -> None:
    """Give a spawned worker the parent's log level, so its progress lines show."""
    logging.basicConfig(level=level, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")


def _run_direct_position(position: str, *, base: dict[str, Any]) -> PositionRun:
    run = PositionRun(position=position, version=base["version"])
    started = time.perf_counter()
    try:
        exported = train_one(prepare(position, **base))
        run.status = "succeeded"
        run.artifact = Path(exported.pkl_path)
        run.sha256 = exported.sha256
    except RecruitRevealError as exc:
        run.status, run.error = "failed", f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # a bug: keep going so other positions finish, but show it
        logger.error("%s failed unexpectedly:\n%s", position, traceback.format_exc())
        run.status, run.error = "failed", f"{type(exc).__name__}: {exc}"
    run.duration = time.perf_counter() - started
    logger.info("%s %s in %.1fs", position, run.status, run.duration)
    return run


def _run_notebook_position(template: Path, runs_root: Path, position: str, *,
                           base: dict[str, Any], cell_timeout: float | None) -> PositionRun:
    record = record_path(runs_root, base["version"], position)
    run = PositionRun(position=position, version=base["version"], record=record,
                      html=record.with_suffix(".html"))
    parameters = {
        "position": position,
        "csv_path": str(base["csv_path"]),
        "version": base["version"],
        "models_dir": str(base["models_dir"]),
        "seed": base["seed"],
        "cv_folds": base["cv_folds"],
        "promote": False,
        "changelog": base["changelog"],
        "params": base["params"],
        "audit_record": _display_path(record),
    }
    started = time.perf_counter()
    try:
        run_notebook(template, record, parameters, position=position,
                     cell_timeout=cell_timeout)
        run.status = "succeeded"
    except RecruitRevealError as exc:
        run.status, run.error = "failed", str(exc)
    except Exception as exc:  # papermill/kernel trouble: the record says what it could
        logger.error("%s failed unexpectedly:\n%s", position, traceback.format_exc())
        run.status, run.error = "failed", f"{type(exc).__name__}: {exc}"
    run.duration = time.perf_counter() - started
    logger.info("%s %s in %.1fs (record %s)", position, run.status, run.duration,
                _display_path(record))
    return run


def _fill_from_metadata(run: PositionRun, models: Path) -> None:
    from recruit_reveal.artifacts.layout import artifact_path, metadata_path
    from recruit_reveal.artifacts.registry import describe

    meta = describe(run.position, run.version, models_dir=models)
    run.artifact = artifact_path(models, run.position, run.version)
    run.metadata_path = metadata_path(models, run.position, run.version)
    run.sha256 = meta.artifact.sha256
    run.exact_accuracy = meta.metrics.headline.exact_accuracy
    run.within_one_accuracy = meta.metrics.headline.within_one_accuracy


# --------------------------------------------------------------------------------------
# Notebook execution and audit records
# --------------------------------------------------------------------------------------


def record_path(runs_dir: str | os.PathLike, version: str, position: str) -> Path:
    """Where a run's audit record goes: ``runs/v{version}/{position}.ipynb``."""
    return Path(runs_dir) / f"v{version}" / f"{position}.ipynb"


def record_status(record: str | os.PathLike) -> str | None:
    """``"succeeded"``, ``"failed"`` or None (no record); unreadable or unfinished is failed."""
    import nbformat

    record = Path(record)
    if not record.exists():
        return None
    try:
        nb = nbformat.read(record, as_version=4)
    except Exception:
        return "failed"
    status = nb.metadata.get(RECORD_METADATA_KEY, {}).get("status")
    return "succeeded" if status == "succeeded" else "failed"


def prepare_record_slot(record: str | os.PathLike) -> Path | None:
    """Make room for a new record at ``record``.

    Refuses (:class:`ArtifactExistsError`) when a successful record is there;
    moves a failed one (and its HTML) aside to ``{stem}.failed-{UTC time}``
    and returns its new path.
    """
    record = Path(record)
    status = record_status(record)
    if status is None:
        return None
    if status == "succeeded":
        raise ArtifactExistsError(
            f"audit record {_display_path(record)} already exists for a successful run; "
            "records are never overwritten (choose another --version)")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    kept = record.with_name(f"{record.stem}.failed-{stamp}.ipynb")
    record.rename(kept)
    html = record.with_suffix(".html")
    if html.exists():
        html.rename(kept.with_suffix(".html"))
    logger.info("kept the earlier failed record as %s", _display_path(kept))
    return kept


def run_notebook(template: str | os.PathLike, record: str | os.PathLike,
                 parameters: dict[str, Any], *, position: str,
                 cell_timeout: float | None = DEFAULT_CELL_TIMEOUT,
                 kernel_name: str = KERNEL_NAME) -> Path:
    """Execute ``template`` with ``parameters`` into the audit record ``record`` (+ HTML).

    A failing or timed-out cell raises :class:`NotebookExecutionError` naming
    the position and the cell; the record stays, showing the error.
    """
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    _register_engine()
    record = Path(record)
    prepare_record_slot(record)
    record.parent.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(
            str(template), str(record), parameters=parameters, kernel_name=kernel_name,
            engine_name=_PAPERMILL_ENGINE, progress_bar=False, log_output=False,
            execution_timeout=cell_timeout, extra_arguments=_KERNEL_ARGUMENTS)
    except papermill.PapermillExecutionError as exc:
        cell = _describe_cell(record, exc.cell_index, exc.source)
        message = (f"{position}: {cell} raised {exc.ename}: {_first_lines(exc.evalue)} "
                   f"(record: {_display_path(record)})")
        _finish_record(record, "failed", message)
        raise NotebookExecutionError(message) from None
    except (CellTimeoutError, DeadKernelError) as exc:
        index = _last_started_cell(record)
        what = (f"timed out after {cell_timeout:g}s" if isinstance(exc, CellTimeoutError)
                else "lost its kernel")
        cell = _describe_cell(record, index, None)
        message = f"{position}: {cell} {what} (record: {_display_path(record)})"
        _finish_record(record, "failed", message, banner=True)
        raise NotebookExecutionError(message) from None
    except BaseException as exc:
        if record.exists():
            _finish_record(record, "failed", f"{position}: {type(exc).__name__}: {exc}",
                           banner=True)
        raise
    _finish_record(record, "succeeded", None)
    return record


def _finish_record(record: Path, status: str, message: str | None, *,
                   banner: bool = False) -> None:
    """Stamp the outcome into the record and write the HTML copy beside it."""
    import nbformat
    from nbconvert import HTMLExporter

    if not record.exists():
        return
    nb = nbformat.read(record, as_version=4)
    nb.metadata[RECORD_METADATA_KEY] = {
        "status": status,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "error": message,
    }
    if banner:
        # papermill adds its error banner only for exceptions raised inside a
        # cell; a timeout or a dead kernel would otherwise leave a record that
        # looks complete.
        cell = nbformat.v4.new_markdown_cell(
            f'<span style="color:red; font-size:1.5em">Execution stopped: {message}</span>')
        cell.metadata["tags"] = ["papermill-error-cell-tag"]
        nb.cells.insert(0, cell)
        nb.metadata.setdefault("papermill", {})["exception"] = True
    tmp = record.with_name(record.name + ".tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, record)
    exporter = HTMLExporter()
    # The lab template ignores the figures' alt text and warns about each image.
    exporter.log = _NBCONVERT_LOG
    body, _ = exporter.from_notebook_node(nb)
    html = record.with_suffix(".html")
    tmp = html.with_name(html.name + ".tmp")
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, html)


def _last_started_cell(record: Path) -> int | None:
    import nbformat

    try:
        nb = nbformat.read(record, as_version=4)
    except Exception:
        return None
    started = [i for i, cell in enumerate(nb.cells)
               if cell.get("metadata", {}).get("papermill", {}).get("start_time")]
    return started[-1] if started else None


def _describe_cell(record: Path, index: int | None, source: str | None) -> str:
    """'cell 7 `result = training.train_position(...)`' (1-based, as papermill ran it)."""
    if source is None and index is not None:
        import nbformat

        try:
            source = nbformat.read(record, as_version=4).cells[index].source
        except Exception:
            source = None
    label = f"cell {index + 1}" if index is not None else "a cell"
    first = next((line.strip() for line in (source or "").splitlines()
                  if line.strip() and not line.strip().startswith("#")), "")
    return f"{label} `{first[:80]}`" if first else label


def _first_lines(text: str, n: int = 6) -> str:
    lines = str(text).strip().splitlines()
    return "\n".join(lines[:n]) + (f"\n  ... ({len(lines) - n} more lines)" if len(lines) > n
                                   else "")


_ENGINE_REGISTERED = False


def _register_engine() -> None:
    """Register a papermill engine that logs one line per finished cell."""
    global _ENGINE_REGISTERED
    if _ENGINE_REGISTERED:
        return
    from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

    class _ProgressManager(NotebookExecutionManager):
        def cell_complete(self, cell, cell_index=None, **kwargs):
            super().cell_complete(cell, cell_index=cell_index, **kwargs)
            if cell.cell_type != "code" or cell_index is None:
                return
            params = self.nb.metadata.get("papermill", {}).get("parameters", {})
            first = next((line.strip() for line in cell.source.splitlines()
                          if line.strip() and not line.strip().startswith("#")), "")
            duration = cell.metadata.get("papermill", {}).get("duration") or 0.0
            logger.info("%s: cell %d/%d done in %.1fs  %s", params.get("position", "?"),
                        cell_index + 1, len(self.nb.cells), duration, first[:60])

    class _ProgressEngine(NBClientEngine):
        @classmethod
        def execute_notebook(cls, nb, kernel_name, output_path=None, progress_bar=True,
                             log_output=False, autosave_cell_every=30, **kwargs):
            nb_man = _ProgressManager(nb, output_path=output_path, progress_bar=progress_bar,
                                      log_output=log_output,
                                      autosave_cell_every=autosave_cell_every)
            nb_man.notebook_start()
            try:
                cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output,
                                             **kwargs)
            finally:
                nb_man.cleanup_pbar()
                nb_man.notebook_complete()
            return nb_man.nb

    papermill_engines.register(_PAPERMILL_ENGINE, _ProgressEngine)
    _ENGINE_REGISTERED = True


def check_kernel(kernel_name: str = KERNEL_NAME) -> str:
    """Make sure the notebook kernel runs this very interpreter (and so this venv).

    jupyter_client starts a kernelspec whose command is plain ``python`` with
    ``sys.executable``; any other interpreter (say a user-wide ``python3``
    kernelspec from another install) would train with different libraries
    than the runner, so it is refused.  Returns the interpreter path.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        raise NotebookExecutionError(
            f"no Jupyter kernel named {kernel_name!r}; install one for this interpreter with "
            f"`{sys.executable} -m ipykernel install --sys-prefix`") from None
    command = spec.argv[0] if spec.argv else ""
    plain = {"python", f"python{sys.version_info[0]}",
             "python{}.{}".format(*sys.version_info[:2])}
    if command in plain or os.path.abspath(command) == os.path.abspath(sys.executable):
        return sys.executable
    raise NotebookExecutionError(
        f"the Jupyter kernel {kernel_name!r} ({spec.resource_dir}) runs {command}, not "
        f"{sys.executable}; remove that kernelspec or reinstall it with "
        f"`{sys.executable} -m ipykernel install --sys-prefix`")


# --------------------------------------------------------------------------------------
# Small formatting helpers
# --------------------------------------------------------------------------------------


def _mean(value: Any) -> float | None:
    if isinstance(value, dict):
        value = value.get("mean")
    return None if value is None else float(value)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _same_path(a: Path, b: Path) -> bool:
    return os.path.abspath(a) == os.path.abspath(b)


def _display_path(path: str | os.PathLike | None) -> str:
    """A path relative to the working directory when it is inside it, else absolute."""
    if path is None:
        return ""
    path = Path(path).absolute()
    try:
        return str(path.relative_to(Path.cwd().absolute()))
    except ValueError:
        return str(path)
