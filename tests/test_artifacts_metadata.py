"""artifacts.metadata: the typed model reads what earlier releases wrote and writes the same JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
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


def _exported_metadata(models_dir, position: str) -> ModelMetadata:
    path = Path(models_dir) / f"recruit_reveal_{position}_pipeline_v1.0.0.metadata.json"
    return ModelMetadata.from_json_bytes(path.read_bytes(), source=path)


@pytest.mark.parametrize("position", ["qb", "wr"])
def test_an_export_records_each_inputs_training_range_as_numpy_computes_it(
        exported_models_dir, sample_csv, position):
    from recruit_reveal.artifacts.metadata import NumericProfile, StateProfile
    from recruit_reveal.data.loading import load_training_data
    from recruit_reveal.schema import feature_names

    meta = _exported_metadata(exported_models_dir, position)
    frame = load_training_data(sample_csv, position).frame
    assert meta.input_profile is not None
    assert list(meta.input_profile) == feature_names(position)
    for name, profile in meta.input_profile.items():
        values = frame[name]
        if name == "state":
            assert isinstance(profile, StateProfile)
            assert sum(profile.shares.values()) == pytest.approx(1)
            assert profile.shares["TX"] == pytest.approx((values == "TX").sum()
                                                         / values.notna().sum())
        else:
            assert isinstance(profile, NumericProfile)
            present = values.dropna().to_numpy(dtype=float)
            assert len(profile.quantiles) == 101
            assert np.all(np.diff(profile.quantiles) >= 0)
            assert (profile.quantiles[0], profile.quantiles[-1]) == (present.min(), present.max())
            assert [profile.low, profile.high] == np.percentile(present, [0.5, 99.5]).tolist()
            assert meta.input_ranges()[name] == (profile.low, profile.high)
        assert profile.missing_share == values.isna().sum() / len(values)
    assert 0 < meta.input_profile["forty_yard_dash"].missing_share < 1  # the sample omits some


def test_an_export_records_the_division_mix_of_its_training_rows(exported_models_dir):
    meta = _exported_metadata(exported_models_dir, "rb")
    fingerprint = meta.data_fingerprint
    assert meta.division_mix is not None
    assert sum(meta.division_mix.values()) == pytest.approx(1)
    assert meta.division_mix == {d: n / fingerprint.rows
                                 for d, n in fingerprint.rows_per_division.items()}


def test_a_version_without_a_training_profile_loads_and_writes_none():
    raw = FIXTURE.read_bytes()
    assert b"input_profile" not in raw
    meta = ModelMetadata.from_json_bytes(raw, source=FIXTURE)
    assert meta.input_profile is None and meta.division_mix is None
    assert meta.input_ranges() == {}
    assert meta.to_json_bytes() == raw


def test_a_result_without_a_profile_exports_metadata_without_one(trained_results):
    import dataclasses

    from recruit_reveal.artifacts.metadata import build_metadata

    result = dataclasses.replace(trained_results["qb"], input_profile={}, division_mix={})
    doc = json.loads(build_metadata(result, "1.0.0", sha256="0" * 64, size=1).to_json_bytes())
    assert "input_profile" not in doc and "division_mix" not in doc


def test_a_profile_entry_of_the_wrong_shape_names_the_field():
    doc = json.loads(FIXTURE.read_bytes())
    doc["input_profile"] = {"height_inches": {"low": 66, "high": 78}}
    with pytest.raises(ArtifactIntegrityError, match=r"field input_profile\.height_inches"):
        ModelMetadata.from_json_bytes(json.dumps(doc).encode(), source="x.json")
