"""Training runs: every requested position as one release, promoted together at the end.

:func:`train` resolves one version for all positions, checks the request
before anything trains, runs one job per position with the chosen engine
(:mod:`.engines`; ``jobs`` at a time) and collects each position's
:class:`~.contract.PositionResult` from the run itself.  Every position
exports with ``promote=False``; only when all of them succeeded are their
``latest`` aliases switched, together.  Failures of single positions do not
raise: they are in the returned :class:`~.summary.RunSummary`.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import logging
import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..catalog import CATALOG_ENV, Catalog, active_catalog, load_catalog
from ..errors import (
    ArtifactExistsError,
    DataValidationError,
    NotebookExecutionError,
    Problem,
    RecruitRevealError,
    UnknownPositionError,
)
from ..schema import (
    InvalidRows,
    check_invalid_fraction,
    check_invalid_rows,
)
from .contract import DEFAULT_CELL_TIMEOUT, NotebookParams, display_path, resolve_version
from .engines import ENGINES, Engine, make_engine
from .records import html_path
from .summary import PositionRun, RunSummary

if TYPE_CHECKING:
    from ..data.sources import Source

logger = logging.getLogger(__name__)

_DEFAULTS = NotebookParams()


#: A training source spec (data.sources), or one per position.
DataSpec = str | os.PathLike[str] | Mapping[str, str | os.PathLike[str]]
#: A column mapping file, or one per position.
ColumnsArg = str | os.PathLike[str] | Mapping[str, str | os.PathLike[str]] | None


def train(csv: DataSpec, positions: str | Sequence[str] = "all",
          version: str | None = None, *, engine: str = "notebook", jobs: int = 1,
          models_dir: str | os.PathLike[str] = "models",
          runs_dir: str | os.PathLike[str] = "runs", changelog: str | None = None,
          seed: int = _DEFAULTS.seed, cv_folds: int = _DEFAULTS.cv_folds,
          params: dict[str, Any] | None = None, columns: ColumnsArg = None,
          invalid_rows: InvalidRows = _DEFAULTS.invalid_rows,
          max_invalid_fraction: float = _DEFAULTS.max_invalid_fraction,
          cell_timeout: float | None = DEFAULT_CELL_TIMEOUT,
          template: str | os.PathLike[str] | None = None,
          catalog: str | os.PathLike[str] | None = None, table: str | None = None,
          query: str | None = None, recorded_columns: dict[str, str] | None = None
          ) -> RunSummary:
    """Train ``positions`` on ``csv`` as one release ``version`` and return the summary.

    ``csv`` is a source spec (:mod:`recruit_reveal.data.sources`: CSV, Parquet, Delta or
    SQL, local or ``s3://``) or ``{position: spec}``; ``table``/``query`` complete an SQL
    source.  ``columns`` maps the file's headers to canonical columns (a JSON file, or
    ``{position: file}``; ``recorded_columns``, a mapping itself, is what a retrain passes);
    ``invalid_rows="quarantine"`` trains on the valid rows and writes the
    others to ``runs_dir/v{version}/{position}.rejected.csv``.  ``catalog`` is the
    catalog file the positions come from (None: the one ``CATALOG`` names, else the
    default); ``"all"`` means every position of it.

    Raises a :class:`RecruitRevealError` before any training when the request
    itself is wrong (unknown position or engine, bad version, missing CSV, a
    bad column mapping or policy, a version or record that already exists).  Failures of single positions do
    not raise: they are in the summary (``summary.ok`` is False) and nothing
    is promoted.
    """
    catalog_file = None if catalog is None else str(Path(catalog).expanduser().absolute())
    wanted, specs, mappings = _check_request(engine, jobs, positions, csv, columns,
                                             invalid_rows, max_invalid_fraction, catalog_file,
                                             table, query)
    models = _models_location(models_dir)
    runs_root = _runs_location(runs_dir)
    version = resolve_version(models, wanted, version)
    _refuse_existing_versions(models, wanted, version)
    runner = make_engine(engine, runs_dir=runs_root,
                         template=Path(template) if template else None, cell_timeout=cell_timeout)
    runner.preflight(version, wanted)

    started = time.perf_counter()
    summary = RunSummary(version=version, engine=engine, models_dir=models,
                         runs_dir=runs_root if engine == "notebook" else None,
                         csv=_one_local_csv(specs), invalid_rows=invalid_rows,
                         columns=Path(str(mappings[wanted[0]])) if mappings[wanted[0]] else None)
    base = NotebookParams(version=version, models_dir=str(models),
                          seed=seed, cv_folds=cv_folds, promote=False, changelog=changelog,
                          params=params, invalid_rows=invalid_rows,
                          max_invalid_fraction=max_invalid_fraction, runs_dir=str(runs_root),
                          catalog=catalog_file)
    jobs_params = [dataclasses.replace(
        base, position=pos, csv_path=specs[pos].spec,
        columns=recorded_columns if recorded_columns is not None else mappings[pos],
        audit_record=_audit_record(runner, version, pos)) for pos in wanted]
    logger.info("training %s as v%s with the %s engine (%d job(s))",
                ", ".join(wanted), version, engine, jobs)
    runner.warm_up(len(jobs_params), jobs)
    try:
        summary.runs = _run_in_parallel(functools.partial(_run_position, runner), jobs_params, jobs,
                            threads=runner.threads)
    finally:
        runner.close()

    if summary.ok:
        _promote_all(summary, changelog)
    else:
        logger.error("%d of %d position(s) failed; latest left unchanged",
                     len(summary.failed), len(summary.runs))
    summary.duration = time.perf_counter() - started
    from .index import refresh_index  # logs its own failure: the run's outcome stands
    refresh_index(runs_root, models, create=engine == "notebook")
    return summary


def _one_local_csv(specs: dict[str, Source]) -> Path | None:
    """The local CSV every position reads, for the summary's retry command (else None)."""
    found = set(specs.values())
    source = found.pop() if len(found) == 1 else None
    return Path(source.uri) if source and source.kind == "csv" and "://" not in source.uri \
        else None


def _promote_all(summary: RunSummary, reason: str | None = None) -> None:
    """Check every artifact, then switch every position in one release: never a mixed one."""
    from ..artifacts.changelog import note_promotion
    from ..artifacts.registry import release, verify

    for run in summary.runs:
        verify(run.position, run.version, models_dir=summary.models_dir)
    made = release({run.position: run.version for run in summary.runs},
                   models_dir=summary.models_dir, how="train",
                   reason=reason or f"trained v{summary.version}")
    summary.promoted = True
    for run in summary.runs:
        note_promotion(summary.models_dir, run.position, run.version, made)
    logger.info("promoted %s to v%s (release %d)", ", ".join(run.position for run in summary.runs),
                summary.version, made.id)


def _audit_record(engine: Engine, version: str, position: str) -> str | None:
    """What the metadata calls the run's record: its path as the user would type it."""
    record = engine.record(version, position)
    return None if record is None else display_path(record)


def _column_mapping_file(columns: str | os.PathLike[str] | None) -> str | None:
    """The mapping file as an absolute path, read once here so a bad one stops the run early."""
    if columns is None:
        return None
    from ..data import read_column_mapping

    path = Path(columns).expanduser().absolute()
    read_column_mapping(path)
    return str(path)


def _catalog(path: str | None) -> Catalog:
    """The catalog of the run (read and checked now: a bad file stops it before training)."""
    return active_catalog() if path is None else load_catalog(path)


def _positions(positions: str | Sequence[str], catalog: Catalog) -> list[str]:
    """The position keys asked for, each once; ``all`` is every position of ``catalog``."""
    items = [positions] if isinstance(positions, str) else list(positions)
    out: list[str] = []
    for item in items:
        if str(item).strip().lower() == "all":
            names = list(catalog.keys)
        else:
            names = [_known(item, catalog)]
        out += [name for name in names if name not in out]
    if not out:
        raise RecruitRevealError("no position to train")
    return out


def _known(position: object, catalog: Catalog) -> str:
    """The key of a position of ``catalog``; a DataValidationError naming its positions."""
    try:
        return catalog.position(position).key
    except UnknownPositionError:
        raise DataValidationError(Problem(
            f"unknown position {position!r}", column="position",
            expected="one of " + ", ".join(catalog.keys))) from None


def _models_location(models_dir: str | os.PathLike[str]) -> Path | str:
    """An absolute local folder, or an object-store URL (checked: a known scheme)."""
    from ..storage.locations import open_store

    # An unknown scheme is refused here, by name.
    return open_store(models_dir).absolute().location()


def _runs_location(runs_dir: str | os.PathLike[str]) -> Path | str:
    """An absolute local folder, or an object-store URL (checked: a known scheme)."""
    return _models_location(runs_dir)


def _refuse_existing_versions(models: Path | str, positions: list[str], version: str) -> None:
    from ..artifacts.layout import artifact_name
    from ..storage.locations import open_store

    store = open_store(models)
    taken = [pos for pos in positions if store.exists(artifact_name(pos, version))]
    if taken:
        raise ArtifactExistsError(
            f"version {version} already exists for {', '.join(taken)} in {models}; versions "
            "are never overwritten (choose another --version, or omit it for the next one)")


def _check_request(engine: str, jobs: int, positions: str | Sequence[str], csv: DataSpec,
                   columns: ColumnsArg, invalid_rows: InvalidRows, max_invalid_fraction: float,
                   catalog: str | None, table: str | None = None, query: str | None = None,
                   ) -> tuple[list[str], dict[str, Source], dict[str, str | None]]:
    """The positions, each one's source (checked readable, Delta pinned) and column mapping
    file of a valid request; a RecruitRevealError naming what is wrong before anything runs.
    A valid ``catalog`` file becomes the active one, as ``--catalog`` makes it: file names,
    checks and worker processes read positions by key."""
    from ..data.source_cells import check_types
    from ..data.sources import prepare

    if engine not in ENGINES:
        raise RecruitRevealError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if int(jobs) < 1:
        raise RecruitRevealError(f"--jobs must be at least 1, got {jobs}")
    wanted = _positions(positions, _catalog(catalog))
    if catalog is not None:
        os.environ[CATALOG_ENV] = catalog
    check_invalid_rows(invalid_rows)
    check_invalid_fraction(max_invalid_fraction)
    mappings = {pos: _column_mapping_file(_per_position(columns, pos, "--columns", required=False))
                for pos in wanted}
    prepared: dict[str, Source] = {}
    specs: dict[str, Source] = {}
    for pos in wanted:
        spec = str(_per_position(csv, pos, "--data"))
        if spec not in prepared:
            prepared[spec] = prepare(spec, table=table, query=query)
        specs[pos] = prepared[spec]
        check_types(specs[pos], functools.partial(_canonical, mappings[pos], pos))
    return wanted, specs, mappings


def _per_position(value: Any, position: str, flag: str, *, required: bool = True) -> Any:
    """``value`` itself, or its entry for ``position`` when it is given per position."""
    if not isinstance(value, Mapping):
        return value
    if position not in value and required:
        raise RecruitRevealError(f"{flag} names no source for {position} (it names "
                                 f"{', '.join(sorted(value))}); give {flag} {position}=...")
    found = value.get(position)
    return None if found is None else (str(found) if required else found)


def _canonical(mapping_file: str | None, position: str, names: list[str]) -> list[str]:
    from ..data.mapping import read_column_mapping, resolve

    return resolve(names, read_column_mapping(mapping_file), position).names


def _run_in_parallel(fn: Callable[[NotebookParams], PositionRun], items: list[NotebookParams], jobs: int,
         *, threads: bool) -> list[PositionRun]:
    """Run ``fn`` per item, ``jobs`` at a time, keeping the input order."""
    if jobs == 1 or len(items) == 1:
        return [fn(item) for item in items]
    pool: concurrent.futures.Executor
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


def _run_position(engine: Engine, params: NotebookParams) -> PositionRun:
    """One position with ``engine``; whatever goes wrong ends up in the returned run."""
    record = engine.record(str(params.version), params.position)
    run = PositionRun(position=params.position, version=str(params.version), record=record,
                      html=html_path(record) if record else None)
    started = time.perf_counter()
    try:
        run.succeed(engine.run(params))
    except NotebookExecutionError as exc:  # names the position and the cell already
        run.fail(str(exc))
    except RecruitRevealError as exc:
        run.fail(f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # a bug or kernel trouble: keep going so the others finish
        logger.error("%s failed unexpectedly:\n%s", params.position, traceback.format_exc())
        run.fail(f"{type(exc).__name__}: {exc}")
    run.duration = time.perf_counter() - started
    logger.info("%s %s in %.1fs%s", params.position, run.status, run.duration,
                f" (record {display_path(record)})" if record else "")
    return run
