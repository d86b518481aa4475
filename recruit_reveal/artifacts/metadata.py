"""The typed metadata of one exported model: what export writes and every reader uses.

The JSON document on disk is described field by field in docs/artifacts.md.
:class:`ModelMetadata` validates it on read and serialises it on write, so a
reader never re-parses nested dicts: ``meta.metrics.headline.exact_accuracy``,
``meta.metrics.mean("log_loss")``, ``meta.data_fingerprint.rows``.

Unknown keys are kept (``extra="allow"``) so a document written by a newer
release still loads, and a round trip loses nothing.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ArtifactIntegrityError

#: Bumped when a field changes meaning; readers accept every version up to this one.
METADATA_SCHEMA_VERSION = 1


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


class DataFingerprint(_Doc):
    file: str | None = None
    sha256: str | None = None
    rows: int | None = None
    rows_per_division: dict[str, int] = Field(default_factory=dict)


class Estimator(_Doc):
    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class AuditRecord(_Doc):
    """Where the executed notebook that produced the model is (None for the direct engine)."""

    notebook: str | None = None


class ModelMetadata(_Doc):
    """One ``recruit_reveal_{pos}_pipeline_v{X.Y.Z}.metadata.json`` document."""

    schema_version: int = METADATA_SCHEMA_VERSION
    position: str
    model_version: str
    created_at: str
    artifact: Artifact
    data_fingerprint: DataFingerprint = Field(default_factory=DataFingerprint)
    input_schema: dict[str, Any] = Field(default_factory=dict)
    features: list[str] = Field(default_factory=list)
    classes: list[str] = Field(default_factory=list)
    metrics: Metrics = Field(default_factory=Metrics)
    typical_values: dict[str, float | None] = Field(default_factory=dict)
    estimator: Estimator
    seed: int | None = None
    timings: dict[str, float | None] = Field(default_factory=dict)
    validation_warning_count: int = 0
    library_versions: dict[str, str] = Field(default_factory=dict)
    git_commit: str | None = None
    git_dirty: bool | None = None
    audit_record: AuditRecord | None = None
    changelog: str | None = None

    @property
    def sklearn_version(self) -> str | None:
        return self.library_versions.get("scikit-learn")

    def to_json_bytes(self) -> bytes:
        """The document as written to disk: indented UTF-8 JSON, no NaN, trailing newline."""
        doc = self.model_dump(mode="json")
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
