"""Loading without pickle: the skops file, its trusted types, and when a pkl may be unpickled."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io
from legacy_models import Trap, strip_skops

from recruit_reveal import schema
from recruit_reveal.artifacts import formats, layout, registry, writer
from recruit_reveal.artifacts.metadata import ModelMetadata
from recruit_reveal.errors import ArtifactIntegrityError, ModelNotFoundError
from recruit_reveal.schema import POSITIONS, SAMPLE_ATHLETES
from recruit_reveal.storage.locations import open_store


class Sneaky:
    """A type no skops file of the project names; loading it would run __setstate__."""

    def __init__(self, marker):
        self.marker = marker

    def predict_proba(self, X):  # pragma: no cover - never loaded
        return np.full((len(X), 4), 0.25)

    def __setstate__(self, state):
        Path(state["marker"]).touch()
        self.__dict__.update(state)


def qb_frame() -> pd.DataFrame:
    return pd.DataFrame([SAMPLE_ATHLETES[0]]).reindex(columns=schema.feature_names("qb"))


def replace_file(meta_path: Path, key: str, path: Path, data: bytes) -> None:
    """Write ``data`` as ``path`` and record its sha256 and size under ``key`` in the metadata."""
    path.unlink(missing_ok=True)
    path.write_bytes(data)
    doc = json.loads(meta_path.read_text())
    doc[key].update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    meta_path.write_text(json.dumps(doc))


# ---------------------------------------------------------------------------
# The trusted list


def test_the_trusted_types_are_exactly_what_real_pipelines_name(exported_models_dir, sample_csv):
    """Every position's exported pipeline, and every estimator's, needs exactly the list."""
    from recruit_reveal.modeling.estimators import DEFAULT_ESTIMATOR, ESTIMATORS
    from recruit_reveal.modeling.training import train_position

    named: set[str] = set()
    for pos in POSITIONS:
        data = layout.skops_path(exported_models_dir, pos, "1.0.0").read_bytes()
        found = set(skops.io.get_untrusted_types(data=data))
        assert found <= set(formats.TRUSTED_TYPES), pos
        named |= found
    for estimator in ESTIMATORS:
        if estimator == DEFAULT_ESTIMATOR:
            continue  # the fixture's models
        result = train_position(sample_csv, "qb", seed=0, cv_folds=2,
                                params={"estimator": estimator})
        named |= set(skops.io.get_untrusted_types(data=formats.dump_skops(result.pipeline)))
    assert named == set(formats.TRUSTED_TYPES)


def test_export_writes_a_skops_file_recorded_in_the_metadata(exported_models_dir):
    for pos in POSITIONS:
        skops_file = layout.skops_path(exported_models_dir, pos, "1.0.0")
        doc = registry.describe(pos, "1.0.0", exported_models_dir)
        assert doc.artifact_skops is not None
        assert doc.artifact_skops.file == skops_file.name
        assert doc.artifact_skops.format == "skops"
        data = skops_file.read_bytes()
        assert doc.artifact_skops.sha256 == hashlib.sha256(data).hexdigest()
        assert doc.artifact_skops.size == len(data)
        # the document round-trips byte for byte, with the new field
        raw = layout.metadata_path(exported_models_dir, pos, "1.0.0").read_bytes()
        assert ModelMetadata.from_json_bytes(raw, source="x").to_json_bytes() == raw


def test_the_skops_file_is_what_loads_and_it_predicts_as_the_pickle(exported_models_dir,
                                                                   trained_results):
    loaded = registry.load("qb", "1.0.0", exported_models_dir)
    assert loaded.format == "skops" and loaded.note is None
    assert "pickle" not in loaded.reason
    frame = qb_frame()
    np.testing.assert_array_equal(loaded.pipeline.predict_proba(frame),
                                  trained_results["qb"].pipeline.predict_proba(frame))


def test_an_existing_skops_file_is_never_overwritten(models_dir, trained_results):
    with pytest.raises(FileExistsError):
        writer._publish_new(open_store(models_dir), layout.skops_name("qb", "1.0.0"), b"other")


# ---------------------------------------------------------------------------
# A pickle crafted to run code


def _trap_pkl(models_dir: Path, marker: Path, version: str = "1.0.0") -> None:
    replace_file(layout.metadata_path(models_dir, "qb", version), "artifact",
                 layout.artifact_path(models_dir, "qb", version),
                 pickle.dumps(Trap(str(marker))))


def test_a_malicious_pickle_beside_a_skops_file_never_runs(models_dir, tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    _trap_pkl(models_dir, marker)
    for allow in (None, False, True):
        loaded = registry.load("qb", "1.0.0", models_dir, allow_pickle=allow)
        assert loaded.format == "skops" and loaded.version == "1.0.0"
    monkeypatch.setenv("ALLOW_PICKLE", "1")
    assert registry.load("qb", "1.0.0", models_dir).format == "skops"
    registry.promote("qb", "1.0.0", models_dir)
    assert not marker.exists()


def test_a_malicious_pickle_without_skops_is_refused_unless_allowed(models_dir, tmp_path,
                                                                   monkeypatch):
    """A version without a skops file: pickle only when asked, whatever else the folder holds."""
    marker = tmp_path / "ran"
    layout.skops_path(models_dir, "qb", "1.0.0").unlink()
    meta = layout.metadata_path(models_dir, "qb", "1.0.0")
    doc = json.loads(meta.read_text())
    del doc["artifact_skops"]
    meta.write_text(json.dumps(doc))
    _trap_pkl(models_dir, marker)
    registry.verify("qb", "1.0.0", models_dir)  # the sha256 matches: integrity is not the issue
    with pytest.raises(ModelNotFoundError, match="pickle loading is off.*models migrate qb 1.0.0"
                                                 " --trust-pickle"):
        registry.load("qb", "1.0.0", models_dir)
    monkeypatch.setenv("ALLOW_PICKLE", "0")
    with pytest.raises(ModelNotFoundError, match="pickle loading is off"):
        registry.load("qb", "1.0.0", models_dir)
    with pytest.raises(ArtifactIntegrityError):
        registry.promote("qb", "1.0.0", models_dir)
    assert not marker.exists()
    # Asked for explicitly, the pickle is unpickled (and here it is the trap).
    with pytest.raises(ModelNotFoundError, match="not a classifier"):
        registry.load("qb", "1.0.0", models_dir, allow_pickle=True)
    assert marker.exists()


def test_an_older_folder_is_refused_by_default_and_loads_when_asked(models_dir,
                                                                     trained_results,
                                                                     monkeypatch):
    """A folder without any skops file is no reason to unpickle: that is what an attacker
    who deletes them would make."""
    strip_skops(models_dir)
    with pytest.raises(ModelNotFoundError, match="pickle loading is off.*models migrate qb"):
        registry.load("qb", None, models_dir)
    monkeypatch.setenv("ALLOW_PICKLE", "1")
    loaded = registry.load("qb", None, models_dir)
    assert loaded.format == "pickle" and loaded.version == "1.0.0"
    assert "ALLOW_PICKLE=1" in loaded.note and loaded.note in loaded.reason
    frame = qb_frame()
    np.testing.assert_array_equal(loaded.pipeline.predict_proba(frame),
                                  trained_results["qb"].pipeline.predict_proba(frame))
    monkeypatch.setenv("ALLOW_PICKLE", "0")
    with pytest.raises(ModelNotFoundError, match="pickle loading is off"):
        registry.load("qb", None, models_dir)


def test_a_crafted_pickle_in_a_folder_stripped_of_skops_never_runs(models_dir, tmp_path):
    """The attack: delete every skops file, drop artifact_skops from every metadata, put a
    crafted pickle in place of a pkl with its sha256 and size fixed in the metadata."""
    marker = tmp_path / "ran"
    strip_skops(models_dir)
    assert not list(models_dir.glob("*.skops"))
    _trap_pkl(models_dir, marker)
    registry.verify("qb", "1.0.0", models_dir)  # every sha256 matches
    with pytest.raises(ModelNotFoundError, match="no skops file.*--trust-pickle"):
        registry.load("qb", "1.0.0", models_dir)
    with pytest.raises(ModelNotFoundError, match="pickle loading is off"):
        registry.load("qb", None, models_dir)
    with pytest.raises(ArtifactIntegrityError, match="pickle loading is off"):
        registry.promote("qb", "1.0.0", models_dir)
    assert not marker.exists()


# ---------------------------------------------------------------------------
# A skops file naming an untrusted type


def test_a_skops_file_naming_an_untrusted_type_is_refused(models_dir, tmp_path):
    marker = tmp_path / "ran"
    evil = skops.io.dumps(Sneaky(str(marker)))
    assert any(t.endswith("Sneaky") for t in skops.io.get_untrusted_types(data=evil))
    replace_file(layout.metadata_path(models_dir, "qb", "1.0.0"), "artifact_skops",
                 layout.skops_path(models_dir, "qb", "1.0.0"), evil)
    with pytest.raises(formats.UntrustedModelError, match="Sneaky"):
        formats.load_skops(evil, "x.skops")
    with pytest.raises(ModelNotFoundError, match="outside the trusted list.*Sneaky"):
        registry.load("qb", "1.0.0", models_dir, allow_pickle=True)
    assert not marker.exists()


def test_a_tampered_skops_file_is_refused(models_dir):
    path = layout.skops_path(models_dir, "qb", "1.0.0")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.unlink()
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError, match=r"v1\.0\.0\.skops does not match"):
        registry.verify("qb", "1.0.0", models_dir)


def test_allow_pickle_setting_reads_the_environment():
    from recruit_reveal.settings import load_settings

    assert load_settings({}).allow_pickle is False
    assert load_settings({"ALLOW_PICKLE": "1"}).allow_pickle is True
    assert load_settings({"ALLOW_PICKLE": "0"}).allow_pickle is False
    with pytest.raises(Exception, match="ALLOW_PICKLE"):
        load_settings({"ALLOW_PICKLE": "maybe"})


def test_serve_allow_pickle_turns_it_on(monkeypatch):
    from recruit_reveal import cli
    from recruit_reveal.api import app

    seen = {}
    monkeypatch.setenv("ALLOW_PICKLE", "0")  # restored after the test
    monkeypatch.setattr(app, "run", lambda *a, **k: seen.setdefault("env", dict(os.environ)))
    assert cli.main(["serve", "--allow-pickle"]) == 0
    assert seen["env"]["ALLOW_PICKLE"] == "1"
    assert registry.pickle_policy() is True
