"""The /models answers: served model, versions and headline metrics per position.

Everything is read from the typed :class:`~recruit_reveal.artifacts.metadata.ModelMetadata`.
"""

from __future__ import annotations

from typing import Any

from ..artifacts.metadata import ModelMetadata
from ..errors import RecruitRevealError
from .audit_records import record_links
from .store import ModelStore, ServedModel

#: The cross-validated metrics every listing quotes.
HEADLINE_METRICS = ("exact_accuracy", "within_one_accuracy", "macro_f1", "log_loss")


def headline(meta: ModelMetadata) -> dict[str, float | None]:
    """The CV means, to 6 places as every answer quotes numbers (docs/api.md)."""
    means = {name: meta.metrics.mean(name) for name in HEADLINE_METRICS}
    return {name: None if value is None else round(value, 6) for name, value in means.items()}


def version_entry(meta: ModelMetadata, version: str, served_version: str | None) -> dict:
    return {
        "version": version,
        "created_at": meta.created_at,
        "served": version == served_version,
        "metrics": headline(meta),
        "training_rows": meta.data_fingerprint.rows,
        "estimator": meta.estimator.name,
    }


def position_summary(store: ModelStore, position: str, *, with_versions: bool,
                     detail: bool = False) -> dict[str, Any]:
    """One position: the served model (with metrics), its versions and, for ``detail``,
    the input schema, data fingerprint and classes of the served model."""
    served = store.get(position)
    summary: dict[str, Any] = {
        "position": position,
        "loaded": isinstance(served, ServedModel),
        "version": served.version,
        "requested": served.requested,
        "reason": served.reason,
    }
    if isinstance(served, ServedModel):
        meta = served.metadata
        summary.update({
            "created_at": meta.created_at,
            "loaded_at": served.loaded_at,
            "metrics": headline(meta),
            "estimator": meta.estimator.name,
        })
    versions = store.available_versions(position)
    summary["available_versions"] = versions
    if with_versions:
        entries: list[dict[str, Any]] = []
        for v in versions:
            try:
                meta = store.describe(position, v)
            except RecruitRevealError as exc:
                entries.append({"version": v, "error": str(exc)})
                continue
            entries.append(version_entry(meta, v, summary["version"]))
        summary["versions"] = entries
    if detail and isinstance(served, ServedModel):
        summary["input_schema"] = served.metadata.input_schema
        summary["data_fingerprint"] = served.metadata.data_fingerprint
        summary["classes"] = list(served.spec.levels)
        summary["catalog"] = {"name": served.metadata.catalog.name if served.metadata.catalog
                              else "default (exported before the catalog)",
                              "digest": served.spec.digest, "label": served.spec.label}
        summary["record"] = record_links(served, store.models_dir)
    return summary
