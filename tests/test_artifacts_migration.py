"""artifacts.migration: a pickle-only version converted to skops once, on the operator's word."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from legacy_models import Trap, strip_skops

from recruit_reveal import schema
from recruit_reveal.artifacts import formats, layout, manifest, migration, registry
from recruit_reveal.errors import ArtifactIntegrityError, ModelNotFoundError
from recruit_reveal.schema import POSITIONS, SAMPLE_ATHLETES


def qb_frame() -> pd.DataFrame:
    return pd.DataFrame([SAMPLE_ATHLETES[0]]).reindex(columns=schema.feature_names("qb"))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())
            if p.is_file() and not p.name.endswith(".lock")}


def set_pkl(folder: Path, data: bytes, version: str = "1.0.0") -> None:
    """Put ``data`` in place of the qb pkl and record its sha256 and size in the metadata."""
    pkl = layout.artifact_path(folder, "qb", version)
    pkl.unlink()
    pkl.write_bytes(data)
    meta = layout.metadata_path(folder, "qb", version)
    doc = json.loads(meta.read_text())
    doc["artifact"].update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    meta.write_text(json.dumps(doc, indent=2) + "\n")


@pytest.fixture
def legacy(models_dir):
    """The exported folder as pickle-only exports made it (releases.json kept)."""
    return strip_skops(models_dir)


def test_migrate_writes_the_skops_file_the_metadata_and_the_history(legacy, trained_results):
    before = manifest.read_state(legacy)
    with pytest.raises(ModelNotFoundError, match="pickle loading is off"):
        registry.load("qb", "1.0.0", legacy)
    done = migration.migrate(legacy, "qb", "1.0.0", trust_pickle=True,
                             reason="pickle-only export from 2025", by="ana")
    assert done.status == "migrated" and "qb 1.0.0: migrated from pickle to skops" in done.message
    data = layout.skops_path(legacy, "qb", "1.0.0").read_bytes()
    doc = registry.describe("qb", "1.0.0", legacy)
    assert doc.artifact_skops is not None
    assert doc.artifact_skops.file == layout.skops_name("qb", "1.0.0")
    assert doc.artifact_skops.sha256 == hashlib.sha256(data).hexdigest()
    assert doc.artifact_skops.size == len(data) and doc.artifact_skops.format == "skops"
    record = doc.model_extra[migration.MIGRATION_KEY]
    assert record["by"] == "ana" and record["reason"] == "pickle-only export from 2025"
    assert record["from_format"] == "pickle" and record["when"].endswith("Z")
    assert record["pickle_sha256"] == doc.artifact.sha256
    # The history records it; which versions are current is unchanged.
    after = manifest.read_state(legacy)
    assert after.history == before.history
    (entry,) = after.manifest.migrations
    assert (entry.position, entry.version, entry.by, entry.how) == ("qb", "1.0.0", "ana",
                                                                   "migrate")
    assert entry.from_format == "pickle" and entry.to_format == "skops"
    assert entry.sha256 == doc.artifact_skops.sha256 and entry.when == record["when"]
    # It now loads from skops with pickle off, and predicts as the trained pipeline.
    loaded = registry.load("qb", "1.0.0", legacy, allow_pickle=False)
    assert loaded.format == "skops" and loaded.note is None
    np.testing.assert_array_equal(loaded.pipeline.predict_proba(qb_frame()),
                                  trained_results["qb"].pipeline.predict_proba(qb_frame()))
    assert registry.load("qb", None, legacy).format == "skops"  # latest follows it
    # A later release switch keeps the migrations.
    registry.promote("qb", "1.0.0", legacy, reason="again")
    assert manifest.migrations(legacy) == [entry]


def test_migrate_refuses_without_trust_pickle_and_writes_nothing(legacy, tmp_path):
    before = snapshot(legacy)
    with pytest.raises(migration.PickleNotTrustedError, match="--trust-pickle"):
        migration.migrate(legacy, "qb", "1.0.0", reason="x")
    with pytest.raises(migration.PickleNotTrustedError, match="--trust-pickle"):
        migration.migrate_all(legacy, reason="x")
    with pytest.raises(migration.PickleNotTrustedError, match="needs a reason"):
        migration.migrate(legacy, "qb", "1.0.0", trust_pickle=True, reason="  ")
    assert snapshot(legacy) == before


def test_a_version_with_a_skops_file_is_skipped(models_dir):
    before = snapshot(models_dir)
    done = migration.migrate(models_dir, "qb", "1.0.0", trust_pickle=True, reason="x")
    assert done.status == "skipped" and "already has a skops file" in done.message
    assert snapshot(models_dir) == before


def test_bad_input_is_refused_and_leaves_nothing_behind(legacy, tmp_path):
    with pytest.raises(ModelNotFoundError, match=r"no metadata for qb 9\.9\.9.*versions: 1\.0\.0"):
        migration.migrate(legacy, "qb", "9.9.9", trust_pickle=True, reason="x")
    layout.metadata_path(legacy, "rb", "1.0.0").unlink()
    with pytest.raises(ModelNotFoundError, match="no metadata for rb 1.0.0"):
        migration.migrate(legacy, "rb", "1.0.0", trust_pickle=True, reason="x")
    # A pkl that does not match its metadata is never unpickled.
    marker = tmp_path / "ran"
    pkl = layout.artifact_path(legacy, "qb", "1.0.0")
    pkl.unlink()
    pkl.write_bytes(pickle.dumps(Trap(str(marker))))
    before = snapshot(legacy)
    with pytest.raises(ArtifactIntegrityError, match="does not match.*refusing to unpickle"):
        migration.migrate(legacy, "qb", "1.0.0", trust_pickle=True, reason="x")
    assert not marker.exists()
    assert snapshot(legacy) == before


def test_a_pickle_that_is_not_a_model_is_not_migrated(legacy, tmp_path):
    marker = tmp_path / "ran"
    set_pkl(legacy, pickle.dumps(Trap(str(marker))))
    before = snapshot(legacy)
    with pytest.raises(ArtifactIntegrityError, match="not a classifier"):
        migration.migrate(legacy, "qb", "1.0.0", trust_pickle=True, reason="x")
    assert marker.exists()  # the operator trusted it: it was unpickled, and nothing written
    assert snapshot(legacy) == before


def test_a_metadata_change_during_the_migration_removes_the_skops_file(legacy):
    meta = layout.metadata_path(legacy, "qb", "1.0.0")

    def rows_while_someone_edits(position, doc):
        # Another writer replaces the metadata after it was read (a changelog fix, say).
        edited = json.loads(meta.read_text())
        edited["changelog"] = "edited meanwhile"
        meta.unlink()
        meta.write_text(json.dumps(edited, indent=2) + "\n")
        return migration.sample_rows(position, doc)

    with pytest.raises(migration.MigrationConflictError, match="changed during the migration"):
        migration.migrate(legacy, "qb", "1.0.0", trust_pickle=True, reason="x",
                          rows=rows_while_someone_edits)
    assert not layout.skops_path(legacy, "qb", "1.0.0").exists()
    assert json.loads(meta.read_text())["changelog"] == "edited meanwhile"
    assert "artifact_skops" not in json.loads(meta.read_text())
    assert manifest.migrations(legacy) == []
    # Run again, it completes.
    assert migration.migrate(legacy, "qb", "1.0.0", trust_pickle=True,
                             reason="x").status == "migrated"
    assert registry.load("qb", "1.0.0", legacy).format == "skops"


def test_a_rerun_adopts_the_skops_file_an_interrupted_run_left(legacy, trained_results):
    path = layout.skops_path(legacy, "qb", "1.0.0")
    path.write_bytes(formats.dump_skops(trained_results["qb"].pipeline))
    done = migration.migrate(legacy, "qb", "1.0.0", trust_pickle=True, reason="x")
    assert done.status == "migrated"
    doc = registry.describe("qb", "1.0.0", legacy)
    assert doc.artifact_skops.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert registry.load("qb", "1.0.0", legacy).format == "skops"


def test_a_leftover_skops_file_of_another_model_is_refused(legacy, trained_results):
    path = layout.skops_path(legacy, "qb", "1.0.0")
    other = formats.dump_skops(trained_results["rb"].pipeline)
    path.write_bytes(other)
    before = snapshot(legacy)
    with pytest.raises(ArtifactIntegrityError, match=r"v1\.0\.0\.skops exists but no metadata "
                                                     r"names it.*remove it"):
        migration.migrate(legacy, "qb", "1.0.0", trust_pickle=True, reason="x")
    assert snapshot(legacy) == before


def test_a_rerun_adds_a_history_entry_an_interrupted_run_missed(legacy):
    migration.migrate(legacy, "qb", "1.0.0", trust_pickle=True, reason="why", by="ana")
    releases = legacy / manifest.MANIFEST
    doc = json.loads(releases.read_text())
    entry = doc.pop("migrations")[0]
    releases.unlink()
    releases.write_text(json.dumps(doc, indent=2) + "\n")
    assert manifest.migrations(legacy) == []
    done = migration.migrate(legacy, "qb", "1.0.0", trust_pickle=True, reason="other")
    assert done.status == "completed"
    (found,) = manifest.migrations(legacy)
    assert found.model_dump(mode="json") == entry
    again = migration.migrate(legacy, "qb", "1.0.0", trust_pickle=True, reason="other")
    assert again.status == "skipped" and len(manifest.migrations(legacy)) == 1


def test_migrate_all_migrates_every_pickle_only_version_then_skips_them(legacy):
    results = migration.migrate_all(legacy, trust_pickle=True, reason="all of them", by="ana")
    assert [(r.position, r.version, r.status) for r in results] == [
        (pos, "1.0.0", "migrated") for pos in POSITIONS]
    assert {(m.position, m.by) for m in manifest.migrations(legacy)} == {
        (pos, "ana") for pos in POSITIONS}
    for pos in POSITIONS:
        assert registry.load(pos, None, legacy).format == "skops"
    again = migration.migrate_all(legacy, trust_pickle=True, reason="all of them")
    assert [r.status for r in again] == ["skipped"] * len(POSITIONS)


def test_migrate_all_reports_a_bad_version_and_migrates_the_rest(legacy, tmp_path):
    set_pkl(legacy, b"not the recorded bytes")
    meta = layout.metadata_path(legacy, "qb", "1.0.0")
    doc = json.loads(meta.read_text())
    doc["artifact"]["sha256"] = "0" * 64
    meta.unlink()
    meta.write_text(json.dumps(doc))
    results = migration.migrate_all(legacy, trust_pickle=True, reason="x")
    assert isinstance(results[0], ArtifactIntegrityError) and "does not match" in str(results[0])
    assert [r.status for r in results[1:]] == ["migrated", "migrated"]


def test_an_older_folder_without_releases_records_its_derived_release(legacy):
    (legacy / manifest.MANIFEST).unlink()
    derived = manifest.read_state(legacy).current
    migration.migrate(legacy, "qb", "1.0.0", trust_pickle=True, reason="x")
    state = manifest.read_state(legacy)
    assert state.manifest is not None and state.history == [derived]
    assert [m.position for m in state.manifest.migrations] == ["qb"]
    assert registry.load("qb", None, legacy).format == "skops"
    with pytest.raises(ModelNotFoundError, match="pickle loading is off"):
        registry.load("rb", None, legacy)


def test_migrate_with_a_signing_key_re_signs_the_version(legacy, tmp_path, monkeypatch):
    from recruit_reveal.artifacts import signatures
    from recruit_reveal.errors import UnsignedFileError

    private, public = signatures.create_key_pair(tmp_path / "keys")
    for pos in ("qb", "rb"):  # signed as the pickle-only exports they were: pkl and metadata
        files = {n: (legacy / n).read_bytes() for n in (layout.artifact_name(pos, "1.0.0"),
                                                        layout.metadata_name(pos, "1.0.0"))}
        (legacy / layout.signature_name(pos, "1.0.0")).write_bytes(
            signatures.sign_files(files, private))
    migration.migrate(legacy, "rb", "1.0.0", trust_pickle=True, reason="no key given")
    migration.migrate(legacy, "qb", "1.0.0", trust_pickle=True, reason="keyed",
                      signing_key=private)
    monkeypatch.setenv("VERIFY_KEY", str(public))  # the servers' setting
    assert registry.load("qb", "1.0.0", legacy).format == "skops"
    signed = signatures.signed_digests((legacy / layout.signature_name("qb", "1.0.0"))
                                       .read_bytes())
    assert layout.skops_name("qb", "1.0.0") in signed
    # Without a key the earlier signature does not cover the migrated version: refused.
    with pytest.raises(UnsignedFileError, match=r"rb_pipeline_v1\.0\.0\.skops not covered"):
        registry.verify("rb", "1.0.0", legacy)
