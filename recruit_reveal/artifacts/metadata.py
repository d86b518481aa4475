"""The typed metadata of one exported model: what export writes and every reader uses.

The JSON document on disk is described field by field in docs/artifacts.md.
:class:`ModelMetadata` validates it on read and serialises it on write, so a
reader never re-parses nested dicts: ``meta.metrics.headline.exact_accuracy``,
``meta.metrics.mean("log_loss")``, ``meta.data_fingerprint.rows``.

Unknown keys are kept (``extra="allow"``) so a document written by a newer
release still loads, and a round trip loses nothing.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..catalog import PositionSpec, active_catalog, default_catalog, resolve
from ..errors import ArtifactIntegrityError
from .layout import check_position, file_stem, parse_version

#: Bumped when a field changes meaning; readers accept every version up to this one.
METADATA_SCHEMA_VERSION = 1
_GIT_TIMEOUT_SECONDS = 2.0


class _Doc(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Summary(BaseModel):
    """A metric over the CV folds: its mean and its fold-to-fold standard deviation."""

    # Closed, so that a per-division dict of summaries is never mistaken for one.
    model_config = ConfigDict(extra="forbid", frozen=True)

    mean: float | None = None
    std: float | None = None


#: A CV metric: a summary, a summary per division, or a matrix (the confusion matrix).
CvMetric = Summary | dict[str, Summary] | list[list[int | float]]


class Headline(_Doc):
    """The two figures quoted everywhere."""

    exact_accuracy: float | None = None
    within_one_accuracy: float | None = None


class Metrics(_Doc):
    headline: Headline = Field(default_factory=Headline)
    cv: dict[str, CvMetric] = Field(default_factory=dict)
    cv_folds: int | None = None
    baselines: dict[str, dict[str, CvMetric]] = Field(default_factory=dict)
    bayes_ceiling: dict[str, float | None] | None = None

    def mean(self, name: str) -> float | None:
        """Mean over the folds of the CV metric ``name`` (None when absent or not a summary)."""
        value = self.cv.get(name)
        return value.mean if isinstance(value, Summary) else None

    def std(self, name: str) -> float | None:
        value = self.cv.get(name)
        return value.std if isinstance(value, Summary) else None

    def baseline_mean(self, baseline: str, name: str) -> float | None:
        value = self.baselines.get(baseline, {}).get(name)
        return value.mean if isinstance(value, Summary) else None

    def ceiling(self, name: str) -> float | None:
        return (self.bayes_ceiling or {}).get(name)


class Artifact(_Doc):
    file: str
    sha256: str
    size: int
    format: str = "joblib"


class RejectedCount(_Doc):
    column: str | None = None
    rule: str
    count: int


class DataSource(_Doc):
    """Where the rows came from (:mod:`recruit_reveal.data.sources`), credentials stripped:
    ``spec`` is pinned to the ``version`` read (Delta), so a retrain reads the same rows."""

    kind: str
    uri: str
    spec: str
    version: str | None = None
    table: str | None = None
    query: str | None = None
    rows_read: int | None = None


class DataFingerprint(_Doc):
    """The training file and what was read from it (the reading fields since row quarantine)."""

    file: str | None = None
    sha256: str | None = None
    #: Absent in exports made before sources; ``content_digest`` is the sha256 of the
    #: validated rows, the same for the same rows in any format.
    source: DataSource | None = None
    content_digest: str | None = None
    #: Rows that trained the model.
    rows: int | None = None
    rows_per_division: dict[str, int] = Field(default_factory=dict)
    #: rows + rows_rejected + rows_skipped == rows_in_file.
    rows_in_file: int | None = None
    rows_rejected: int | None = None
    rows_skipped: int | None = None
    rows_other_positions: dict[str, int] = Field(default_factory=dict)
    invalid_rows: str | None = None
    #: Each header read through the mapping file or a built-in spelling -> canonical column.
    column_mapping: dict[str, str] = Field(default_factory=dict)
    rejected_by_rule: list[RejectedCount] = Field(default_factory=list)


class NumericProfile(_Doc):
    """A numeric input over the training rows (aggregates only)."""

    #: The 0th..100th percentiles of the non-missing values (empty: the column had none).
    quantiles: list[float]
    #: The 0.5th and 99.5th percentiles: a value outside them is unusual.
    low: float | None = None
    high: float | None = None
    missing_share: float


class StateProfile(_Doc):
    """The state input over the training rows: each state's share of the rows giving one."""

    shares: dict[str, float]
    missing_share: float


class Estimator(_Doc):
    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class AuditRecord(_Doc):
    """Where the executed notebook that produced the model is (None for the direct engine)."""

    notebook: str | None = None


class PartialProfiles(_Doc):
    """What predictions without a per-game rate integrate over (aggregates of the training
    rows, no athlete data): senior games played 1..16 counted, and log(rate)'s spread."""

    games_histogram: dict[str, int] = Field(default_factory=dict)
    log_rate_mean: float | None = None
    log_rate_sd: float | None = None
    #: The pipeline carries a model fitted without the production inputs.
    measurables_model: bool = False
    production_inputs: list[str] = Field(default_factory=list)


class CatalogSlice(_Doc):
    """The football a model was trained on: its position's catalog slice and the ladder.

    ``spec`` is :meth:`recruit_reveal.catalog.PositionSpec.to_dict`'s output, ``digest``
    its sha256: a server builds the position's requests and answers from it alone.
    """

    name: str
    digest: str
    spec: dict[str, Any]


class ModelMetadata(_Doc):
    """One ``recruit_reveal_{pos}_pipeline_v{X.Y.Z}.metadata.json`` document."""

    schema_version: int = METADATA_SCHEMA_VERSION
    position: str
    model_version: str
    created_at: str
    #: The pkl (joblib), kept under the earlier system's file names.
    artifact: Artifact
    #: The skops file beside it (``format: "skops"``); absent in exports made before skops.
    artifact_skops: Artifact | None = None

    @property
    def served(self) -> Artifact:
        """The file a server loads: the skops file, or the pkl where it is the only one
        (served only with ALLOW_PICKLE=1)."""
        return self.artifact_skops or self.artifact
    data_fingerprint: DataFingerprint = Field(default_factory=DataFingerprint)
    input_schema: dict[str, Any] = Field(default_factory=dict)
    #: Absent in exports made before the catalog (they are the default catalog's).
    catalog: CatalogSlice | None = None
    features: list[str] = Field(default_factory=list)
    classes: list[str] = Field(default_factory=list)
    metrics: Metrics = Field(default_factory=Metrics)
    typical_values: dict[str, float | None] = Field(default_factory=dict)
    #: Absent in exports made before partial profiles.
    partial_profiles: PartialProfiles | None = None
    #: Per input, its training percentiles, usual range and missing share; absent in
    #: versions exported before it was recorded.
    input_profile: dict[str, NumericProfile | StateProfile] | None = None
    #: Share of the training rows in each division; absent like ``input_profile``.
    division_mix: dict[str, float] | None = None
    #: The rolling-origin backtest by class year and its comparison with shuffled CV;
    #: absent without a class-year input with three classes, and before it was recorded.
    backtest: dict[str, Any] | None = None
    estimator: Estimator
    seed: int | None = None
    timings: dict[str, float | None] = Field(default_factory=dict)
    validation_warning_count: int = 0
    library_versions: dict[str, str] = Field(default_factory=dict)
    git_commit: str | None = None
    git_dirty: bool | None = None
    audit_record: AuditRecord | None = None
    changelog: str | None = None

    def position_spec(self) -> PositionSpec:
        """The spec the model was trained with; the default catalog's for older exports."""
        if self.catalog is not None:
            return PositionSpec.from_dict(self.catalog.spec)
        return default_catalog().position(self.position)

    def input_ranges(self) -> dict[str, tuple[float, float]]:
        """The usual range (low, high) of each numeric input that has one."""
        return {name: (p.low, p.high) for name, p in (self.input_profile or {}).items()
                if isinstance(p, NumericProfile) and p.low is not None and p.high is not None}

    @property
    def sklearn_version(self) -> str | None:
        return self.library_versions.get("scikit-learn")

    def to_json_bytes(self) -> bytes:
        """The document as written to disk: indented UTF-8 JSON, no NaN, trailing newline."""
        # Only the fields the document holds: one read from an earlier release is
        # written back as it was, without the fields added since.
        doc = self.model_dump(mode="json", exclude_unset=True)
        return (json.dumps(doc, indent=2, allow_nan=False, ensure_ascii=False) + "\n").encode()

    @classmethod
    def from_json_bytes(cls, data: bytes, *, source: object) -> ModelMetadata:
        """Parse and validate a document; ``source`` (a path or URL) names it in errors."""
        try:
            doc = json.loads(data)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ArtifactIntegrityError(f"{source} is not valid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise ArtifactIntegrityError(f"{source} is not a JSON object")
        version = doc.get("schema_version")
        if not isinstance(version, int) or version > METADATA_SCHEMA_VERSION:
            raise ArtifactIntegrityError(
                f"{source}: schema_version {version!r} is not one this release reads "
                f"(1 to {METADATA_SCHEMA_VERSION})")
        try:
            return cls.model_validate(doc)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ArtifactIntegrityError(
                f"{source}: field {where}: {first['msg']}"
                + (f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else "")
            ) from None


# ---------------------------------------------------------------------------
# Building the metadata of an export


def library_versions() -> dict[str, str]:
    """Versions of the libraries a pickled pipeline depends on."""
    import joblib
    import numpy
    import pandas
    import sklearn

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
        "joblib": joblib.__version__,
    }


def _git(*args: str) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(
            ["git", *args], cwd=Path(__file__).resolve().parent,
            capture_output=True, text=True, timeout=_GIT_TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def git_commit() -> str | None:
    """HEAD of the repository holding this package, or ``None`` (no git, not a repo, timeout)."""
    out = _git("rev-parse", "HEAD")
    if out is None or out.returncode != 0:
        return None
    commit = out.stdout.strip()
    return commit if re.fullmatch(r"[0-9a-f]{40,64}", commit) else None


def git_dirty() -> bool | None:
    """Whether tracked files differ from HEAD (the model may come from uncommitted code)."""
    out = _git("status", "--porcelain", "--untracked-files=no")
    if out is None or out.returncode != 0:
        return None
    return bool(out.stdout.strip())


def _jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars/arrays unwrapped, NaN/inf -> None, tuples -> lists.

    Objects JSON cannot hold (a nested estimator in params, say) become their
    ``repr`` so the metadata still says what they were.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [_jsonable(v) for v in items]
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # numpy scalar or array
        return _jsonable(value.tolist())
    return repr(value)


def _audit_record(audit_record: Any) -> Any:
    if audit_record is None:
        return None
    if isinstance(audit_record, str | os.PathLike):
        return {"notebook": str(audit_record)}
    if isinstance(audit_record, Mapping):
        return _jsonable(audit_record)
    raise TypeError(
        f"audit_record must be a path to the executed notebook or a dict, "
        f"got {type(audit_record).__name__}")


def build_metadata(result: Any, version: str, *, sha256: str, size: int,
                   changelog: str | None = None, audit_record: Any = None,
                   created_at: str | None = None,
                   skops: tuple[str, int] | None = None) -> ModelMetadata:
    """The metadata of one export (documented field by field in docs/artifacts.md).

    Only aggregates go in: no athlete names, no rows, no per-row warnings.
    ``skops`` is the (sha256, size) of the skops file, when one is written.
    """
    pos = check_position(result.position)
    parse_version(version)
    stem = file_stem(pos, version)
    cv = _jsonable(result.cv_metrics)
    commit = git_commit()
    return ModelMetadata.model_validate({
        "schema_version": METADATA_SCHEMA_VERSION,
        "position": pos,
        "model_version": version,
        "created_at": created_at or _utc_now(),
        "artifact": {"file": f"{stem}.pkl", "sha256": sha256, "size": size, "format": "joblib"},
        **({} if skops is None else {"artifact_skops": {
            "file": f"{stem}.skops", "sha256": skops[0], "size": skops[1], "format": "skops"}}),
        "data_fingerprint": _fingerprint(result.data_fingerprint),
        "input_schema": _jsonable(result.input_schema),
        "catalog": _catalog_slice(result),
        "features": _jsonable(list(result.features)),
        "classes": _jsonable(list(result.classes)),
        "metrics": {
            "headline": {name: (cv.get(name) or {}).get("mean")
                         for name in ("exact_accuracy", "within_one_accuracy")},
            "cv": cv,
            "cv_folds": _jsonable(result.cv_folds),
            "baselines": _jsonable(result.baselines),
            "bayes_ceiling": _jsonable(result.bayes_ceiling),
        },
        "typical_values": _jsonable(result.typical_values),
        **_partial_profiles(result),
        **_training_profile(result),
        "estimator": {"name": str(result.estimator), "params": _jsonable(result.params)},
        "seed": _jsonable(result.seed),
        "timings": _jsonable(result.timings),
        "validation_warning_count": len(result.validation_warnings or []),
        "library_versions": library_versions(),
        "git_commit": commit,
        "git_dirty": git_dirty() if commit else None,
        "audit_record": _audit_record(audit_record),
        "changelog": changelog,
    })


def _catalog_slice(result: Any) -> dict[str, Any]:
    spec = resolve(result.spec)
    catalog = active_catalog()
    name = catalog.name if catalog.positions.get(spec.key) == spec else "embedded"
    return {"name": name, "digest": spec.digest, "spec": spec.to_dict()}


def _partial_profiles(result: Any) -> dict[str, Any]:
    profiles = getattr(result, "partial_profiles", None)
    return {} if not profiles else {"partial_profiles": _jsonable(profiles)}


def _training_profile(result: Any) -> dict[str, Any]:
    # A result made without a profile (an older one, say) exports without these fields.
    fields = {name: getattr(result, name, None)
              for name in ("input_profile", "division_mix", "backtest")}
    return {name: _jsonable(value) for name, value in fields.items() if value}


def _fingerprint(fingerprint: Mapping[str, Any] | None) -> dict[str, Any]:
    # The file's name identifies the data; its directory may name a person or machine.
    doc = _jsonable(dict(fingerprint or {}))
    if isinstance(doc.get("file"), str):
        doc["file"] = Path(doc["file"]).name
    return doc


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
