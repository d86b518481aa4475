"""The contract of one position's training run: what goes in, what comes out.

:class:`NotebookParams` is the one definition of the template's parameters:
``dataclasses.asdict`` of it is exactly what papermill injects into the
template (:data:`TEMPLATE`), the template's tagged parameters cell
assigns exactly its fields (with its defaults, a test checks both), and the
direct engine trains from the same object.

:class:`PositionResult` is what a run hands back: the notebook displays it as
its last output (a table for the reader, JSON under :data:`RESULT_MIME` for
the runner) and the direct engine returns it, so the runner never has to
re-read the exported files to learn what a run made.

This module imports nothing heavy: the notebook kernel and the runner's worker
processes both load it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..catalog import CATALOG_ENV, Catalog, default_catalog, load_catalog
from ..errors import NotebookExecutionError, VersionError
from ..schema import (
    DEFAULT_MAX_INVALID_FRACTION,
    InvalidRows,
    check_invalid_fraction,
    check_invalid_rows,
    check_position,
)
from ..storage.locations import open_store, resolve_local, shown

#: The template the notebook engine runs, shipped inside the package so an installed
#: wheel trains too; ``notebooks/train_position.ipynb`` is the same file, for Jupyter.
TEMPLATE = Path(__file__).resolve().with_name("templates") / "train_position.ipynb"
#: The MIME type of the run's result in the template's outputs.
RESULT_MIME = "application/vnd.recruit-reveal.position-result+json"
#: Seconds one cell of the template may run.  Training 100k rows with CV takes well
#: under a minute on two cores, so ten minutes only ever stops a hung kernel.
DEFAULT_CELL_TIMEOUT = 600.0


@dataclass(frozen=True)
class NotebookParams:
    """The template's parameters; the defaults are its safe interactive ones.

    Only JSON-like values (str, int, bool, None, dict), so papermill can write
    them into the injected parameters cell.  :meth:`resolve` turns them into
    the settings a run trains with.
    """

    #: The first position of the default catalog: what an interactive run trains.
    position: str = default_catalog().keys[0]
    csv_path: str = "data/training.csv"
    version: str | None = None
    models_dir: str = "scratch/models"
    seed: int = 42
    cv_folds: int = 5
    promote: bool = False
    changelog: str | None = "interactive run of notebooks/train_position.ipynb"
    params: dict[str, Any] | None = None
    audit_record: str | None = None
    #: A mapping file, or the mapping itself (a retrain passes the one recorded).
    columns: str | dict[str, str] | None = None
    invalid_rows: InvalidRows = "fail"
    max_invalid_fraction: float = DEFAULT_MAX_INVALID_FRACTION
    runs_dir: str = "scratch/runs"
    #: A catalog TOML file; None: the one ``CATALOG`` names, else the default catalog.
    catalog: str | None = None

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_namespace(cls, namespace: Mapping[str, Any]) -> NotebookParams:
        """The parameters as a notebook holds them: ``from_namespace(globals())``."""
        missing = [name for name in cls.names() if name not in namespace]
        if missing:
            raise NotebookExecutionError(
                f"the notebook does not define the parameter(s) {', '.join(missing)}; "
                "run its parameters cell first")
        return cls(**{name: namespace[name] for name in cls.names()})

    def resolve(self) -> NotebookParams:
        """Check and resolve: position known, paths absolute, the version fixed.

        ``version=None`` takes the next patch version in ``models_dir``.  A ``catalog``
        file is checked and becomes the process's active catalog (``CATALOG``), so every
        later step that names the position by its key reads that catalog.
        """
        catalog = None if self.catalog is None else str(project_path(self.catalog))
        if catalog is not None:
            load_catalog(catalog)  # a bad file stops the run here, every problem listed
            os.environ[CATALOG_ENV] = catalog
        from ..data.sources import resolve_local as resolve_source

        position = check_position(self.position)
        models = resolve_local(self.models_dir, project_path)
        return NotebookParams(
            position=position,
            # Any source spec (data.sources); only a local path is made absolute.
            csv_path=resolve_source(self.csv_path, project_path),
            version=resolve_version(models, [position], self.version),
            models_dir=str(models),
            seed=int(self.seed),
            cv_folds=int(self.cv_folds),
            promote=bool(self.promote),
            changelog=self.changelog,
            params=dict(self.params) if self.params else None,
            audit_record=None if self.audit_record is None else str(self.audit_record),
            columns=self.columns if self.columns is None or isinstance(self.columns, dict)
            else str(project_path(self.columns)),
            invalid_rows=check_invalid_rows(self.invalid_rows),
            max_invalid_fraction=check_invalid_fraction(self.max_invalid_fraction),
            runs_dir=str(resolve_local(self.runs_dir, project_path)),
            catalog=catalog,
        )

    @property
    def catalog_in_use(self) -> Catalog:
        """The catalog this run trains with: ``catalog``, else ``CATALOG``, else the default."""
        return load_catalog(self.catalog or os.environ.get(CATALOG_ENV) or None)

    @property
    def rejected_rows_file(self) -> str | None:
        """Where quarantined rows go: beside the run's record (None unless quarantining)."""
        if self.invalid_rows != "quarantine":
            return None
        from ..data import rejected_file_name

        return str(join_location(self.runs_dir, f"v{self.version}",
                                 rejected_file_name(self.position)))


@dataclass(frozen=True)
class PositionResult:
    """What one position's run made: the model, its checksum and the figures quoted everywhere."""

    position: str
    version: str
    artifact: str
    metadata: str
    sha256: str
    exact_accuracy: float | None
    within_one_accuracy: float | None
    rule_based_exact_accuracy: float | None
    ceiling_exact_accuracy: float | None
    rows: int | None
    promoted: bool
    record: str | None
    rows_rejected: int = 0
    rejected_rows: str | None = None
    #: The sha256 of the skops file exported beside the pkl (None: no skops file).
    skops_sha256: str | None = None
    #: The catalog the run trained with (its file, or "default"), its digest
    #: (:attr:`Catalog.digest`) and the digest of the position's spec (None: a run made
    #: before catalogs).
    catalog: str | None = None
    catalog_digest: str | None = None
    spec_digest: str | None = None
    #: The skops file: the one a server loads (None: no skops file, the pkl is served).
    skops: str | None = None

    @property
    def served(self) -> str:
        """The file a server loads: the skops file, or the pkl where it is the only one."""
        return self.skops or self.artifact

    @classmethod
    def of(cls, settings: NotebookParams, result: Any, exported: Any,
           rejected_rows: str | os.PathLike[str] | None = None) -> PositionResult:
        """The result of a run from its settings, ``TrainingResult`` and ``ExportedModel``
        (and where its quarantined rows were written, if anywhere)."""
        from ..modeling.summaries import metric_mean

        head = result.headline()
        rule = result.baselines.get("rule_based")
        return cls(
            position=exported.position,
            version=exported.version,
            artifact=str(exported.pkl_path),
            metadata=str(exported.metadata_path),
            sha256=exported.sha256,
            exact_accuracy=head["exact_accuracy"],
            within_one_accuracy=head["within_one_accuracy"],
            rule_based_exact_accuracy=metric_mean(rule, "exact_accuracy") if rule else None,
            ceiling_exact_accuracy=(result.bayes_ceiling or {}).get("exact_accuracy"),
            rows=result.data_fingerprint.get("rows"),
            promoted=exported.promoted,
            record=settings.audit_record,
            rows_rejected=int(result.data_fingerprint.get("rows_rejected") or 0),
            rejected_rows=None if rejected_rows is None else str(rejected_rows),
            skops_sha256=exported.skops_sha256,
            **catalog_stamp(settings.catalog_in_use, exported.position),
            skops=str(exported.skops_path) if exported.skops_path else None,
        )

    @classmethod
    def from_notebook(cls, nb: Any) -> PositionResult:
        """The result an executed template displayed (its last one under :data:`RESULT_MIME`)."""
        found = [output["data"][RESULT_MIME] for cell in nb.cells
                 for output in cell.get("outputs", []) if RESULT_MIME in output.get("data", {})]
        if not found:
            raise NotebookExecutionError(
                "the executed notebook shows no run result; its summary cell must display "
                "contract.PositionResult.of(settings, result, exported)")
        doc = dict(found[-1])
        required = [f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.name not in doc]
        if required:
            raise NotebookExecutionError(
                f"the notebook's run result lacks {', '.join(map(repr, required))}")
        return cls(**{f.name: doc[f.name] for f in dataclasses.fields(cls) if f.name in doc})

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        # The reader sees the summary table; the runner reads the JSON.
        from ..reporting.display import run_summary

        table = run_summary(self)
        return {"text/plain": table.to_string(), "text/html": table.to_html(),
                RESULT_MIME: dataclasses.asdict(self)}


def catalog_stamp(catalog: Catalog, position: str) -> dict[str, str | None]:
    """What a run records about its catalog: the file (or "default"), the catalog's digest
    and the digest of ``position``'s spec in it."""
    spec = catalog.positions.get(position)
    return {"catalog": catalog.source, "catalog_digest": catalog.digest,
            "spec_digest": spec.digest if spec is not None else None}


def project_path(path: str | os.PathLike[str]) -> Path:
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


def resolve_version(models_dir: str | os.PathLike[str], positions: Iterable[str],
                    version: str | None = None) -> str:
    """The version a run uses: ``version`` checked, or the next one for every position.

    Positions share one version, so when they differ the highest next patch
    version wins.
    """
    from ..artifacts.layout import format_version, next_version, parse_version

    if version is not None:
        text = str(version).strip().removeprefix("v")
        if text == "latest":
            raise VersionError("a training run needs a version X.Y.Z, not 'latest'")
        return format_version(parse_version(text))
    candidates = [next_version(models_dir, pos) for pos in positions]
    return max(candidates, key=parse_version)


def display_path(path: str | os.PathLike[str]) -> str:
    """A path relative to the working directory when it is inside it, else absolute
    (an object-store URL as it is)."""
    return shown(path)


def project_location(location: str | os.PathLike[str]) -> Path | str:
    """A folder or ``s3://`` URL as the template means it: a relative local path from the
    project root (:func:`project_path`), a URL as it is."""
    return resolve_local(location, project_path)


def join_location(base: str | os.PathLike[str], *parts: str) -> Path | str:
    """``base/part/...``: a Path for a local folder, a URL for an object store."""
    return open_store(base).child(*parts).location()


def same_path(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether two paths name one file or folder (by their spelling when one is missing)."""
    return open_store(a).same(open_store(b))
