"""recruit_reveal.artifacts.registry: verified load, fallback, env vars, listing, promote."""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import pickle
import signal
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn
from legacy_models import strip_skops
from test_artifacts_writer import POS, make_frame, make_result

from recruit_reveal import schema
from recruit_reveal.artifacts import layout, registry, writer
from recruit_reveal.errors import (
    ArtifactIntegrityError,
    IncompatibleModelError,
    ModelNotFoundError,
    VersionError,
)
from recruit_reveal.schema import SAMPLE_ATHLETES
from recruit_reveal.storage import atomic


@pytest.fixture(scope="module")
def results():
    return {seed: make_result(seed=seed) for seed in (0, 1, 2)}


@pytest.fixture
def frame():
    return make_frame(n=40, seed=5)[0]


@pytest.fixture
def folder(tmp_path, results):
    """1.0.0 and 1.0.1 exported, 1.0.1 promoted to latest."""
    folder = tmp_path / "models"
    writer.save_pipeline(results[0], folder, "1.0.0")
    writer.save_pipeline(results[1], folder, "1.0.1")
    return folder


def same_model(loaded, result, frame):
    return np.array_equal(loaded.pipeline.predict_proba(frame),
                          result.pipeline.predict_proba(frame))


def set_metadata(path: Path, **changes):
    """Rewrite a metadata file in place (through a symlink it rewrites the target)."""
    doc = json.loads(path.read_text())
    for dotted, value in changes.items():
        node = doc
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node[key]
        node[leaf] = value
    path.write_text(json.dumps(doc))


class _Trap:
    """Unpickling this creates a marker file: proof that a file was unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


# ---------------------------------------------------------------------------
# Plain loading


def test_load_latest_round_trip(folder, results, frame, caplog):
    with caplog.at_level(logging.INFO, logger="recruit_reveal.artifacts.registry"):
        loaded = registry.load(POS, models_dir=folder)
    assert (loaded.position, loaded.requested, loaded.version) == (POS, "latest", "1.0.1")
    assert not loaded.fallback and loaded.reason == "requested latest, which is 1.0.1"
    assert same_model(loaded, results[1], frame)
    assert loaded.metadata.model_version == "1.0.1"
    assert "serving qb model 1.0.1" in caplog.text


def test_load_pinned_version(folder, results, frame):
    loaded = registry.load("QB", "1.0.0", folder)
    assert loaded.version == "1.0.0" and not loaded.fallback
    assert same_model(loaded, results[0], frame)


def test_env_vars_are_honoured(folder, results, frame, monkeypatch, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # where the default "models" finds nothing
    monkeypatch.setenv("MODEL_DIR", str(folder))
    monkeypatch.setenv("MODEL_VERSION", "1.0.0")
    loaded = registry.load(POS)
    assert loaded.requested == "1.0.0" and loaded.version == "1.0.0"
    assert registry.list_versions(POS) == ["1.0.0", "1.0.1"]
    assert registry.load(POS, "latest").version == "1.0.1"  # arguments beat the env
    monkeypatch.setenv("MODEL_VERSION", "../../etc/passwd")
    with pytest.raises(VersionError, match="MODEL_VERSION"):
        registry.load(POS)
    monkeypatch.delenv("MODEL_VERSION")
    monkeypatch.delenv("MODEL_DIR")
    with pytest.raises(ModelNotFoundError, match="unavailable"):
        registry.load(POS)


def test_default_models_dir_is_models(monkeypatch, tmp_path, results):
    monkeypatch.delenv("MODEL_DIR", raising=False)
    monkeypatch.delenv("MODEL_VERSION", raising=False)
    monkeypatch.chdir(tmp_path)
    writer.save_pipeline(results[0], "models", "3.0.0")
    assert registry.load(POS).version == "3.0.0"


@pytest.mark.parametrize("bad", ["../x", "1.0.0/../..", "/abs/1.0.0", "v1.0.0", "1.0"])
def test_traversal_versions_rejected_by_every_reader(folder, bad):
    for call in (lambda: registry.load(POS, bad, folder),
                 lambda: registry.describe(POS, bad, folder),
                 lambda: registry.verify(POS, bad, folder),
                 lambda: registry.promote(POS, bad, folder)):
        with pytest.raises(VersionError):
            call()


# ---------------------------------------------------------------------------
# Integrity


def test_tampered_pkl_is_refused_without_unpickling(folder, results, frame, tmp_path):
    marker = tmp_path / "unpickled"
    pkl = layout.artifact_path(folder, POS, "1.0.1")
    pkl.write_bytes(pickle.dumps(_Trap(str(marker))))
    with pytest.raises(ArtifactIntegrityError, match="sha256"):
        registry.verify(POS, "1.0.1", folder)
    loaded = registry.load(POS, None, folder)  # latest -> 1.0.1 is tampered
    assert not marker.exists()
    assert loaded.version == "1.0.0" and loaded.fallback
    assert "sha256" in loaded.reason and "refusing to unpickle" in loaded.reason
    assert same_model(loaded, results[0], frame)
    assert not marker.exists()


def test_same_size_bit_flip_is_refused(folder):
    pkl = layout.artifact_path(folder, POS, "1.0.0")
    data = bytearray(pkl.read_bytes())
    data[len(data) // 2] ^= 0x01
    pkl.write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError, match="v1.0.0.pkl does not match"):
        registry.verify(POS, "1.0.0", folder)
    loaded = registry.load(POS, "1.0.0", folder)
    assert loaded.version == "1.0.1" and "requested 1.0.0; serving latest = 1.0.1" in loaded.reason


def test_truncated_pkl_is_refused(folder, results, frame):
    pkl = layout.artifact_path(folder, POS, "1.0.1")
    pkl.write_bytes(pkl.read_bytes()[:100])
    with pytest.raises(ArtifactIntegrityError):
        registry.verify(POS, "1.0.1", folder)
    loaded = registry.load(POS, "1.0.1", folder)
    assert loaded.version == "1.0.0" and same_model(loaded, results[0], frame)
    rows = {r["version"]: r for r in registry.list_models(folder, POS)}
    assert rows["1.0.1"]["valid"] is False and "does not match" in rows["1.0.1"]["problem"]
    assert rows["1.0.0"]["valid"] is True


def test_no_valid_model_is_model_not_found(folder, tmp_path):
    for version in ("1.0.0", "1.0.1"):
        pkl = layout.artifact_path(folder, POS, version)
        pkl.write_bytes(b"garbage")
    with pytest.raises(ModelNotFoundError, match="unavailable") as info:
        registry.load(POS, None, folder)
    assert "1.0.0" in str(info.value) and "latest" in str(info.value)
    with pytest.raises(ModelNotFoundError):
        registry.load(POS, None, tmp_path / "does-not-exist")
    with pytest.raises(ModelNotFoundError, match="no rb model files"):
        registry.load("rb", None, folder)


def test_corrupt_or_foreign_metadata_is_refused(folder):
    meta = layout.metadata_path(folder, POS, "1.0.0")
    good = meta.read_text()
    for bad, match in [("{not json", "not valid JSON"), ("[]", "not a JSON object")]:
        meta.write_text(bad)
        with pytest.raises(ArtifactIntegrityError, match=match):
            registry.verify(POS, "1.0.0", folder)
    for change, match in [({"schema_version": 2}, "schema_version 2"),
                          ({"position": "wr"}, "position is 'wr'"),
                          ({"model_version": "1.0.1"}, "model_version is '1.0.1'"),
                          ({"artifact__file": "../../x.pkl"}, "does not belong")]:
        meta.write_text(good)
        set_metadata(meta, **change)
        with pytest.raises(ArtifactIntegrityError, match=match):
            registry.verify(POS, "1.0.0", folder)


def test_mismatched_latest_pair_falls_back(folder, results, frame, caplog):
    # latest.pkl -> 1.0.1 but latest.metadata.json -> 1.0.0: the state a crash
    # between the two switches of a promote left before releases.json; in such an
    # older folder the latest pair decides.
    (folder / "releases.json").unlink()
    latest_meta = layout.metadata_path(folder, POS, "latest")
    os.unlink(latest_meta)
    os.symlink("recruit_reveal_qb_pipeline_v1.0.0.metadata.json", latest_meta)
    assert registry.latest_version(POS, folder) is None
    with caplog.at_level(logging.WARNING, logger="recruit_reveal.artifacts.registry"):
        loaded = registry.load(POS, None, folder)
    assert loaded.version == "1.0.1" and loaded.fallback  # the newest valid version
    assert loaded.reason.startswith("requested latest; serving 1.0.1 because latest:")
    assert "does not match" in loaded.reason and "serving qb model 1.0.1" in caplog.text
    assert same_model(loaded, results[1], frame)
    assert not any(r["is_latest"] for r in registry.list_models(folder, POS))


def test_mismatched_latest_copies_fall_back(tmp_path, results, frame, monkeypatch):
    def no_symlinks(*args, **kwargs):
        raise OSError("no symlinks")

    monkeypatch.setattr(atomic.os, "symlink", no_symlinks)
    folder = tmp_path / "copies"
    writer.save_pipeline(results[0], folder, "1.0.0")
    writer.save_pipeline(results[1], folder, "1.0.1", promote=False)
    (folder / "releases.json").unlink()  # an older folder: the latest pair decides
    latest_pkl = layout.artifact_path(folder, POS, "latest")
    latest_pkl.write_bytes(layout.artifact_path(folder, POS, "1.0.1").read_bytes())
    loaded = registry.load(POS, None, folder)
    assert loaded.version == "1.0.1" and loaded.fallback  # newest valid, not the stale pair
    assert same_model(loaded, results[1], frame)


def test_missing_requested_version_falls_back_to_latest(folder, results, frame):
    loaded = registry.load(POS, "9.9.9", folder)
    assert loaded.requested == "9.9.9" and loaded.version == "1.0.1" and loaded.fallback
    assert "requested 9.9.9; serving latest = 1.0.1 because 9.9.9:" in loaded.reason
    assert "does not exist" in loaded.reason


def test_missing_latest_falls_back_to_newest_valid(folder, results, frame):
    (folder / "releases.json").unlink()  # an older folder: the latest pair decides
    os.unlink(layout.artifact_path(folder, POS, "latest"))
    os.unlink(layout.metadata_path(folder, POS, "latest"))
    writer.save_pipeline(results[2], folder, "1.0.2", promote=False)
    layout.artifact_path(folder, POS, "1.0.2").write_bytes(b"broken")
    loaded = registry.load(POS, None, folder)
    assert loaded.version == "1.0.1" and loaded.fallback
    assert "latest:" in loaded.reason and "1.0.2:" in loaded.reason
    assert same_model(loaded, results[1], frame)


def test_interrupted_export_is_reported_invalid(folder):
    layout.artifact_path(folder, POS, "1.0.1").unlink()
    with pytest.raises(ArtifactIntegrityError, match="interrupted export"):
        registry.verify(POS, "1.0.1", folder)
    assert registry.load(POS, None, folder).version == "1.0.0"


# ---------------------------------------------------------------------------
# scikit-learn version


def test_sklearn_mismatch_is_refused_unless_allowed(tmp_path, results, frame):
    folder = tmp_path / "old"
    writer.save_pipeline(results[0], folder, "1.0.0")
    set_metadata(layout.metadata_path(folder, POS, "1.0.0"),
                 **{"library_versions__scikit-learn": "0.24.2"})
    with pytest.raises(IncompatibleModelError) as info:
        registry.load(POS, "1.0.0", folder)
    assert "0.24.2" in str(info.value) and sklearn.__version__ in str(info.value)
    loaded = registry.load(POS, "1.0.0", folder, allow_version_mismatch=True)
    assert loaded.version == "1.0.0" and "version mismatch" in loaded.reason
    assert same_model(loaded, results[0], frame)
    with pytest.raises(IncompatibleModelError):
        registry.promote(POS, "1.0.0", folder)


def test_sklearn_mismatch_falls_back_to_a_compatible_version(folder, results, frame):
    set_metadata(layout.metadata_path(folder, POS, "1.0.1"),
                 **{"library_versions__scikit-learn": "0.24.2"})
    loaded = registry.load(POS, None, folder)
    assert loaded.version == "1.0.0" and "0.24.2" in loaded.reason
    assert same_model(loaded, results[0], frame)


def test_unloadable_pickle_with_matching_hash_is_refused(tmp_path, results, monkeypatch):
    folder = tmp_path / "m"
    writer.save_pipeline(results[0], folder, "1.0.0")
    strip_skops(folder)  # the pickle path: a pickle-only folder, unpickled when asked
    monkeypatch.setenv("ALLOW_PICKLE", "1")

    def broken(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'recruit_reveal.old_features'")

    import joblib
    monkeypatch.setattr(joblib, "load", broken)
    with pytest.raises(ModelNotFoundError, match="cannot be unpickled.*old_features"):
        registry.load(POS, None, folder)


# ---------------------------------------------------------------------------
# Listing, describing, promoting


def test_list_versions_in_semver_order(tmp_path, results):
    for version in ("1.10.0", "1.9.0", "0.2.0", "1.2.10", "1.2.9"):
        writer.save_pipeline(results[0], tmp_path, version, promote=False)
    (tmp_path / "recruit_reveal_qb_pipeline_v01.0.0.pkl").write_bytes(b"")  # not a version
    (tmp_path / "notes.txt").write_text("x")
    assert registry.list_versions(POS, tmp_path) == ["0.2.0", "1.2.9", "1.2.10", "1.9.0",
                                                     "1.10.0"]
    assert registry.list_versions("rb", tmp_path) == []
    assert registry.load(POS, None, tmp_path).version == "1.10.0"  # no latest: newest valid


def test_list_models_rows(folder, results):
    writer.save_pipeline(make_result("wr"), folder, "2.0.0")
    rows = registry.list_models(folder)
    assert [(r["position"], r["version"], r["is_latest"], r["valid"]) for r in rows] == [
        ("qb", "1.0.0", False, True), ("qb", "1.0.1", True, True), ("wr", "2.0.0", True, True)]
    row = rows[1]
    assert row["exact_accuracy"] == 0.31 and row["within_one_accuracy"] == 0.72
    assert row["ceiling_exact_accuracy"] == 0.55 and row["rows"] == 300
    assert row["sklearn"] == sklearn.__version__ and len(row["sha256"]) == 12
    assert row["created_at"].endswith("Z") and row["problem"] is None
    assert [r["version"] for r in registry.list_models(folder, "wr")] == ["2.0.0"]


def test_describe(folder):
    meta = registry.describe(POS, models_dir=folder)
    assert meta.model_version == "1.0.1"
    assert registry.describe(POS, "1.0.0", folder).model_version == "1.0.0"
    with pytest.raises(ModelNotFoundError, match="no metadata for qb 7.0.0"):
        registry.describe(POS, "7.0.0", folder)


def test_promote_rolls_back_and_forward(folder, results, frame):
    promoted = registry.promote(POS, "1.0.0", folder)
    assert promoted.version == "1.0.0" and same_model(promoted, results[0], frame)
    assert registry.latest_version(POS, folder) == "1.0.0"
    assert registry.load(POS, None, folder).version == "1.0.0"
    registry.promote(POS, "1.0.1", folder)
    assert registry.load(POS, None, folder).version == "1.0.1"


def test_promote_refuses_missing_or_broken_versions(folder):
    with pytest.raises(ModelNotFoundError, match="versions: 1.0.0, 1.0.1"):
        registry.promote(POS, "2.0.0", folder)
    layout.artifact_path(folder, POS, "1.0.0").write_bytes(b"broken")
    with pytest.raises(ArtifactIntegrityError):
        registry.promote(POS, "1.0.0", folder)
    with pytest.raises(ArtifactIntegrityError):
        writer.promote_version(folder, POS, "1.0.0")  # export re-checks under its lock
    assert registry.latest_version(POS, folder) == "1.0.1"


def _flip_latest(folder, stop, flips):
    while not stop.is_set():
        writer.promote_version(folder, POS, "1.0.0" if flips.value % 2 else "1.0.1")
        flips.value += 1
    os._exit(0)


def test_readers_never_get_a_mismatched_pair_during_promotes(folder, results, frame):
    """A reader racing a process that keeps repointing latest always gets a consistent model."""
    ctx = multiprocessing.get_context("fork")
    stop, flips = ctx.Event(), ctx.Value("i", 0)
    proc = ctx.Process(target=_flip_latest, args=(folder, stop, flips))
    proc.start()
    served, loads, deadline = set(), 0, time.monotonic() + 30
    try:
        # Enough loads and enough promotes to interleave, however slow fsync is here.
        while (loads < 80 or flips.value < 20) and time.monotonic() < deadline:
            loads += 1
            loaded = registry.load(POS, None, folder)
            served.add((loaded.version, loaded.fallback))
            want = results[0] if loaded.version == "1.0.0" else results[1]
            assert same_model(loaded, want, frame), loaded.reason
    finally:
        stop.set()
        proc.join(30)
        if proc.exitcode is None:
            os.kill(proc.pid, signal.SIGKILL)
    assert proc.exitcode == 0 and flips.value >= 20
    assert {v for v, _ in served} <= {"1.0.0", "1.0.1"}
    print(f"{flips.value} promotes; served {sorted(served)}")


def test_shared_fixture_models_dir(request):
    """The lead's exported_models_dir fixture loads through the registry (once training lands)."""
    try:
        from recruit_reveal.modeling import training
        if not hasattr(training, "train_position"):
            pytest.skip("training.train_position has not landed yet")
    except ImportError:
        pytest.skip("training has not landed yet")
    models_dir = request.getfixturevalue("models_dir")
    for pos in ("qb", "rb", "wr"):
        loaded = registry.load(pos, None, models_dir)
        assert loaded.version == "1.0.0" and not loaded.fallback
        assert loaded.metadata.changelog == "fixture model"


def test_a_model_pickled_before_the_package_split_still_loads(models_dir):
    """Pickles made by the first release name recruit_reveal.model / recruit_reveal.features."""
    import subprocess
    import sys

    pkl = layout.artifact_path(models_dir, "qb", "1.0.0")
    # Re-pickle the pipeline in a child process in which the classes live under the old
    # module names, as they did when the first release exported its models.
    script = (
        "import io, sys, joblib\n"
        "from recruit_reveal.modeling import estimators, features\n"
        "sys.modules['recruit_reveal.model'] = estimators\n"
        "sys.modules['recruit_reveal.features'] = features\n"
        "for cls in (estimators.DivisionClassifier, estimators.CumulativeOrdinalClassifier):\n"
        "    cls.__module__ = 'recruit_reveal.model'\n"
        "features.DerivedFeatures.__module__ = 'recruit_reveal.features'\n"
        "pipe = joblib.load(sys.argv[1])\n"
        "buf = io.BytesIO(); joblib.dump(pipe, buf); sys.stdout.buffer.write(buf.getvalue())\n")
    old = subprocess.run([sys.executable, "-c", script, str(pkl)], capture_output=True,
                         check=True).stdout
    assert b"recruit_reveal.model" in old
    assert b"recruit_reveal.modeling" not in old
    pkl.unlink()
    pkl.write_bytes(old)
    strip_skops(models_dir)  # the pickle path: a pickle-only folder, unpickled when asked
    set_metadata(layout.metadata_path(models_dir, "qb", "1.0.0"),
                 artifact__sha256=hashlib.sha256(old).hexdigest(), artifact__size=len(old))
    loaded = registry.load("qb", "1.0.0", models_dir, allow_pickle=True)
    assert loaded.version == "1.0.0" and not loaded.fallback
    assert loaded.format == "pickle" and "ALLOW_PICKLE=1" in loaded.note
    assert type(loaded.pipeline[-1]).__module__ == "recruit_reveal.modeling.estimators"
    frame = pd.DataFrame([SAMPLE_ATHLETES[0]]).reindex(columns=schema.feature_names("qb"))
    assert loaded.pipeline.predict_proba(frame).shape == (1, 4)
