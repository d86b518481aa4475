"""artifacts.metadata: the typed model reads what earlier releases wrote and writes the same JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recruit_reveal.artifacts.metadata import ModelMetadata, Summary
from recruit_reveal.errors import ArtifactIntegrityError

FIXTURE = (Path(__file__).parent / "fixtures" / "models_v1"
           / "recruit_reveal_qb_pipeline_v1.0.0.metadata.json")


def test_a_document_written_by_the_first_release_loads_and_round_trips_byte_for_byte():
    raw = FIXTURE.read_bytes()
    meta = ModelMetadata.from_json_bytes(raw, source=FIXTURE)
    assert (meta.position, meta.model_version, meta.schema_version) == ("qb", "1.0.0", 1)
    assert meta.artifact.file == "recruit_reveal_qb_pipeline_v1.0.0.pkl"
    assert meta.data_fingerprint.rows == 2000
    assert meta.data_fingerprint.rows_per_division == {"D3": 792, "D2": 483, "FCS": 418,
                                                       "Power 5": 307}
    assert meta.estimator.name == "ordinal_logreg"
    assert meta.sklearn_version == json.loads(raw)["library_versions"]["scikit-learn"]
    assert meta.to_json_bytes() == raw


def test_metric_accessors_read_summaries_per_division_values_and_matrices():
    meta = ModelMetadata.from_json_bytes(FIXTURE.read_bytes(), source=FIXTURE)
    doc = json.loads(FIXTURE.read_bytes())
    metrics = meta.metrics
    assert metrics.mean("exact_accuracy") == doc["metrics"]["cv"]["exact_accuracy"]["mean"]
    assert metrics.std("log_loss") == doc["metrics"]["cv"]["log_loss"]["std"]
    assert metrics.headline.exact_accuracy == metrics.mean("exact_accuracy")
    per_division = metrics.cv["recall_per_division"]
    assert isinstance(per_division, dict) and isinstance(per_division["D3"], Summary)
    assert metrics.cv["confusion_matrix"] == doc["metrics"]["cv"]["confusion_matrix"]
    assert metrics.mean("confusion_matrix") is None  # a matrix has no mean
    assert metrics.baseline_mean("majority", "exact_accuracy") == \
        doc["metrics"]["baselines"]["majority"]["exact_accuracy"]["mean"]
    assert metrics.ceiling("exact_accuracy") == doc["metrics"]["bayes_ceiling"]["exact_accuracy"]
    assert metrics.mean("no_such_metric") is None


def test_unknown_fields_from_a_newer_writer_are_kept():
    doc = json.loads(FIXTURE.read_bytes())
    doc["reviewed_by"] = "coach"
    meta = ModelMetadata.from_json_bytes(json.dumps(doc).encode(), source="x.json")
    assert json.loads(meta.to_json_bytes())["reviewed_by"] == "coach"


@pytest.mark.parametrize(("change", "match"), [
    (b"{not json", r"x\.json is not valid JSON"),
    (b"[1, 2]", r"x\.json is not a JSON object"),
    ({"schema_version": 99}, r"schema_version 99 is not one this release reads"),
    ({"artifact": {"file": "a.pkl"}}, r"x\.json: field artifact\.sha256: Field required"),
    ({"data_fingerprint": {"rows": "many"}}, r"field data_fingerprint\.rows"),
])
def test_invalid_documents_name_the_source_and_the_field(change, match):
    if isinstance(change, bytes):
        raw = change
    else:
        raw = json.dumps({**json.loads(FIXTURE.read_bytes()), **change}).encode()
    with pytest.raises(ArtifactIntegrityError, match=match):
        ModelMetadata.from_json_bytes(raw, source="x.json")
