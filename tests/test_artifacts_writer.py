"""recruit_reveal.artifacts.writer: versions, atomic publication, crash and concurrency safety, metadata."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from recruit_reveal import schema
from recruit_reveal.artifacts import layout, metadata, registry, writer
from recruit_reveal.errors import (
    ArtifactExistsError,
    ArtifactIntegrityError,
    ArtifactLockError,
    TrainingError,
    VersionError,
)
from recruit_reveal.modeling.training import TrainingResult
from recruit_reveal.storage import atomic
from recruit_reveal.storage.locations import open_store

POS = "qb"
SECRET_NAMES = [f"Zanzibar Quixote-{i:04d}" for i in range(400)]


# ---------------------------------------------------------------------------
# Helpers shared with tests/test_registry.py


def make_frame(position: str = POS, n: int = 300, seed: int = 0, names: bool = False):
    """Random raw rows for ``position``, with a name column when asked, and random labels."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({c.name: rng.uniform(c.low or 0.0, c.high or 1.0, n)
                          for c in schema.numeric_columns(position)})
    frame["state"] = rng.choice(["TX", "CA", "OH"], n)
    frame = frame[schema.feature_names(position)]
    frame.iloc[::7, 3] = np.nan
    if names:
        frame.insert(0, "name", SECRET_NAMES[:n])
    return frame, pd.Series(rng.choice(schema.DIVISIONS, n))


def make_result(position: str = POS, seed: int = 0, n: int = 300, names: bool = False):
    """A TrainingResult around a small fitted pipeline; ``seed`` changes the model."""
    frame, target = make_frame(position, n, seed, names)
    numeric = [c.name for c in schema.numeric_columns(position)]
    pipe = make_pipeline(
        ColumnTransformer([("num", SimpleImputer(strategy="median"), numeric)]),
        StandardScaler(),
        LogisticRegression(C=0.5 + seed, max_iter=300),
    ).fit(frame, target)
    counts = target.value_counts()
    return TrainingResult(
        position=position, pipeline=pipe, estimator="LogisticRegression",
        params={"C": 0.5 + seed, "max_iter": 300, "class_weight": None}, seed=seed, cv_folds=3,
        cv_metrics={"exact_accuracy": {"mean": 0.31, "std": 0.02},
                    "within_one_accuracy": {"mean": 0.72, "std": 0.01},
                    "log_loss": {"mean": float("nan"), "std": 0.0},
                    "recall_per_division": {d: {"mean": np.float64(0.25), "std": 0.0}
                                            for d in schema.DIVISIONS},
                    "confusion_matrix": np.arange(16).reshape(4, 4)},
        baselines={"majority": {"exact_accuracy": {"mean": 0.25, "std": 0.0}}},
        bayes_ceiling={"exact_accuracy": 0.55, "within_one_accuracy": 0.93, "log_loss": 0.9},
        data_fingerprint={"file": "training.csv", "sha256": "ab" * 32, "rows": n,
                          "rows_per_division": {d: int(counts.get(d, 0))
                                                for d in schema.DIVISIONS}},
        features=schema.feature_names(position), input_schema=schema.input_schema(position),
        timings={"fit_seconds": 0.1},
        validation_warnings=[f"row 3: {SECRET_NAMES[0]} has an odd weight"],
        typical_values={"height_inches": 73.0},
        oof_proba=np.full((n, 4), 0.25),
    )


def final_files(folder: Path) -> list[Path]:
    """Files under their final (non-temporary, non-lock) names."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.lstat().st_size, p.lstat().st_mtime_ns) for p in folder.iterdir()}


@pytest.fixture(scope="module")
def results():
    return {seed: make_result(seed=seed) for seed in (0, 1, 2)}


@pytest.fixture
def frame():
    return make_frame(n=50, seed=9)[0]


# ---------------------------------------------------------------------------
# Versions


@pytest.mark.parametrize("text,parts", [("0.0.0", (0, 0, 0)), ("1.2.3", (1, 2, 3)),
                                        ("10.200.3000", (10, 200, 3000))])
def test_parse_version_accepts_strict_semver(text, parts):
    assert layout.parse_version(text) == parts


BAD_VERSIONS = ["../x", "1.0.0/../..", "../../1.0.0", "/etc/passwd", "/tmp/1.0.0", "v1.0.0",
                "V1.0.0", "01.0.0", "1.00.0", " 1.0.0", "1.0.0 ", "1.0.0\n", "1.0", "1",
                "1.0.0.0", "1.0.0-rc1", "1.0.0+build", "1..0", "..", ".", "", "latest",
                "1.0.0/", "1.0.0\\..", "\uff11.0.0", "1.0.0\x00", "1234567890.0.0", None, 1, 1.0]


@pytest.mark.parametrize("bad", BAD_VERSIONS)
def test_bad_versions_rejected_before_any_file_is_touched(tmp_path, results, bad):
    fresh = tmp_path / "never-created"
    with pytest.raises(VersionError):
        writer.save_pipeline(results[0], fresh, bad)
    assert not fresh.exists()

    existing = tmp_path / "models"
    writer.save_pipeline(results[0], existing, "1.0.0")
    before = snapshot(existing)
    with pytest.raises(VersionError):
        writer.save_pipeline(results[0], existing, bad, force=True)
    with pytest.raises(VersionError):
        writer.promote_version(existing, POS, bad)
    assert snapshot(existing) == before
    assert not (tmp_path / "x").exists() and not Path("/tmp/1.0.0.pkl").exists()


def test_v_prefix_error_says_how_to_fix():
    with pytest.raises(VersionError, match="'1.2.3' without the 'v'"):
        layout.parse_version("v1.2.3")


def test_artifact_path_names_and_validation(tmp_path):
    assert layout.artifact_path(tmp_path, "QB", "1.2.3").name == \
        "recruit_reveal_qb_pipeline_v1.2.3.pkl"
    assert layout.artifact_path(tmp_path, "wr", "latest").name == \
        "recruit_reveal_wr_pipeline_latest.pkl"
    assert layout.metadata_path(tmp_path, "rb", "0.1.0").name == \
        "recruit_reveal_rb_pipeline_v0.1.0.metadata.json"
    with pytest.raises(VersionError):
        layout.artifact_path(tmp_path, "qb", "../../etc")
    with pytest.raises(Exception, match="unknown position"):
        layout.artifact_path(tmp_path, "../qb", "1.0.0")


def test_next_version_and_semver_order(tmp_path, results):
    assert layout.next_version(tmp_path / "missing", POS) == "1.0.0"
    for version in ("1.9.0", "1.10.0", "1.2.0"):
        writer.save_pipeline(results[0], tmp_path, version)
    assert layout.existing_versions(tmp_path, POS) == ["1.2.0", "1.9.0", "1.10.0"]
    assert layout.next_version(tmp_path, POS) == "1.10.1"
    assert layout.next_version(tmp_path, "rb") == "1.0.0"


# ---------------------------------------------------------------------------
# Writing


def test_round_trip_predicts_identically(tmp_path, results, frame):
    out = writer.save_pipeline(results[0], tmp_path / "a" / "models", "1.0.0", changelog="first")
    assert out.pkl_path.is_file() and out.metadata_path.is_file() and out.promoted
    assert out.size == out.pkl_path.stat().st_size
    loaded = registry.load(POS, "1.0.0", tmp_path / "a" / "models")
    np.testing.assert_array_equal(loaded.pipeline.predict_proba(frame),
                                  results[0].pipeline.predict_proba(frame))
    latest = registry.load(POS, "latest", tmp_path / "a" / "models")
    assert latest.version == "1.0.0" and not latest.fallback


def test_latest_is_a_relative_symlink_pair(tmp_path, results):
    writer.save_pipeline(results[0], tmp_path, "1.0.0")
    writer.save_pipeline(results[1], tmp_path, "1.0.1")
    writer.save_pipeline(results[2], tmp_path, "1.0.2", promote=False)
    pkl = layout.artifact_path(tmp_path, POS, "latest")
    meta = layout.metadata_path(tmp_path, POS, "latest")
    assert os.readlink(pkl) == "recruit_reveal_qb_pipeline_v1.0.1.pkl"
    assert os.readlink(meta) == "recruit_reveal_qb_pipeline_v1.0.1.metadata.json"
    moved = tmp_path.parent / "moved"
    shutil.copytree(tmp_path, moved, symlinks=True)  # relative links survive a move
    assert registry.load(POS, "latest", moved).version == "1.0.1"


def test_latest_falls_back_to_copies_without_symlinks(tmp_path, results, monkeypatch):
    def no_symlinks(*args, **kwargs):
        raise OSError("symlinks not supported here")

    monkeypatch.setattr(atomic.os, "symlink", no_symlinks)
    writer.save_pipeline(results[0], tmp_path, "1.0.0")
    pkl = layout.artifact_path(tmp_path, POS, "latest")
    assert not pkl.is_symlink()
    assert pkl.read_bytes() == layout.artifact_path(tmp_path, POS, "1.0.0").read_bytes()
    assert registry.load(POS, None, tmp_path).version == "1.0.0"


def test_existing_version_is_never_overwritten(tmp_path, results):
    first = writer.save_pipeline(results[0], tmp_path, "1.0.0")
    before = snapshot(tmp_path)
    with pytest.raises(ArtifactExistsError, match=r"v1\.0\.0\.pkl.*1\.0\.1") as info:
        writer.save_pipeline(results[1], tmp_path, "1.0.0")
    assert str(first.pkl_path) in str(info.value)
    assert snapshot(tmp_path) == before


def test_force_overwrites(tmp_path, results, frame):
    writer.save_pipeline(results[0], tmp_path, "1.0.0")
    out = writer.save_pipeline(results[1], tmp_path, "1.0.0", force=True, changelog="redo")
    loaded = registry.load(POS, "1.0.0", tmp_path)
    assert loaded.metadata.artifact.sha256 == out.sha256
    np.testing.assert_array_equal(loaded.pipeline.predict_proba(frame),
                                  results[1].pipeline.predict_proba(frame))
    log = layout.changelog_path(tmp_path, POS).read_text()
    assert log.count("## 1.0.0 (") == 2 and "re-exported with force=True" in log


def test_models_dir_is_created(tmp_path, results):
    target = tmp_path / "deep" / "er" / "models"
    writer.save_pipeline(results[0], target, "0.1.0")
    assert layout.existing_versions(target, POS) == ["0.1.0"]


def test_changelog_gets_one_entry_per_export(tmp_path, results):
    writer.save_pipeline(results[0], tmp_path, "1.0.0", changelog="Initial model.")
    writer.save_pipeline(results[1], tmp_path, "1.1.0", promote=False)
    log = layout.changelog_path(tmp_path, POS).read_text()
    entries = re.findall(r"^## (\S+) \((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\)$", log, re.M)
    assert [v for v, _ in entries] == ["1.0.0", "1.1.0"]
    assert "Initial model." in log and "(no changelog text)" in log
    assert "sha256 " + "ab" * 32 in log
    assert "0.310 (Bayes ceiling 0.550; 0.240 below it)" in log
    assert "0.720 (Bayes ceiling 0.930; 0.210 below it)" in log
    assert "Promoted to latest: yes" in log and "Promoted to latest: not by this export" in log
    assert log.count("- Served file: ") == 2 and ".skops (skops), sha256 " in log
    assert log.count("- Pickle copy (for the earlier system): ") == 2


def test_metadata_fields(tmp_path, results):
    out = writer.save_pipeline(results[0], tmp_path, "2.0.0", changelog="notes",
                               audit_record="runs/v2.0.0/qb.ipynb")
    raw = out.metadata_path.read_text()
    assert "NaN" not in raw  # strict JSON
    meta = json.loads(raw)
    assert meta["schema_version"] == 1
    assert meta["position"] == POS and meta["model_version"] == "2.0.0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["created_at"])
    assert meta["artifact"] == {"file": out.pkl_path.name, "sha256": out.sha256,
                                "size": out.size, "format": "joblib"}
    assert meta["data_fingerprint"]["rows"] == 300
    assert meta["input_schema"] == schema.input_schema(POS)
    assert meta["classes"] == list(schema.DIVISIONS)
    assert meta["metrics"]["headline"] == {"exact_accuracy": 0.31, "within_one_accuracy": 0.72}
    assert meta["metrics"]["cv"]["log_loss"]["mean"] is None
    assert meta["metrics"]["cv"]["confusion_matrix"][3] == [12, 13, 14, 15]
    assert meta["metrics"]["bayes_ceiling"]["exact_accuracy"] == 0.55
    assert meta["estimator"] == {"name": "LogisticRegression",
                                 "params": {"C": 0.5, "max_iter": 300, "class_weight": None}}
    assert meta["seed"] == 0
    assert set(meta["library_versions"]) == {"python", "scikit-learn", "pandas", "numpy", "joblib"}
    assert meta["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}", meta["git_commit"])
    assert meta["git_dirty"] in (None, True, False)
    assert meta["audit_record"] == {"notebook": "runs/v2.0.0/qb.ipynb"}
    assert meta["changelog"] == "notes"
    assert meta["validation_warning_count"] == 1


def test_every_metadata_field_is_documented(tmp_path, results):
    meta = json.loads(writer.save_pipeline(results[0], tmp_path, "1.0.0").metadata_path
                      .read_text())
    doc = (Path(__file__).resolve().parents[1] / "docs" / "artifacts.md").read_text()
    documented = set(re.findall(r"^\| `([a-z0-9_.]+)`", doc, re.M))
    keys = set(meta) | {f"{k}.{sub}" for k in ("artifact", "metrics", "estimator")
                        for sub in meta[k]}
    assert keys - documented == set()


def test_git_commit_never_crashes(monkeypatch):
    def boom(*args, **kwargs):
        raise subprocess.TimeoutExpired("git", 2)

    monkeypatch.setattr(metadata.subprocess, "run", boom)
    assert metadata.git_commit() is None and metadata.git_dirty() is None
    monkeypatch.setattr(metadata.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(
        a, 128, stdout="", stderr="fatal: not a git repository"))
    assert metadata.git_commit() is None and metadata.git_dirty() is None


def test_changelog_says_above_when_cv_beats_the_ceiling(results):
    meta = metadata.build_metadata(results[0], "1.0.0", sha256="0" * 64, size=1)
    ceiling = {**(meta.metrics.bayes_ceiling or {}), "exact_accuracy": 0.30}
    meta = meta.model_copy(update={"metrics": meta.metrics.model_copy(
        update={"bayes_ceiling": ceiling})})
    entry = writer.changelog_entry(meta, promoted=False)
    assert "0.310 (Bayes ceiling 0.300; 0.010 above it: CV noise)" in entry


def test_no_athlete_data_in_artifacts(tmp_path):
    result = make_result(names=True)  # fitted on a frame holding a name column
    assert "name" in result.pipeline.feature_names_in_
    writer.save_pipeline(result, tmp_path, "1.0.0", changelog="ok")
    blobs = b"".join(p.read_bytes() for p in final_files(tmp_path))
    for name in SECRET_NAMES[:300]:
        assert name.encode() not in blobs
    assert b"Zanzibar" not in blobs and b"odd weight" not in blobs


def test_pipeline_holding_training_rows_is_refused(tmp_path, results):
    frame, target = make_frame()
    numeric = [c.name for c in schema.numeric_columns(POS)]
    knn = make_pipeline(ColumnTransformer([("n", SimpleImputer(), numeric)]),
                        KNeighborsClassifier()).fit(frame, target)
    leaky = TrainingResult(**{**results[0].__dict__, "pipeline": knn})
    with pytest.raises(TrainingError, match="one entry per training row"):
        writer.save_pipeline(leaky, tmp_path / "m", "1.0.0")
    assert not (tmp_path / "m").exists()


def test_row_guard_flags_row_copies_but_not_tree_shapes():
    rows = 240
    writer._check_no_training_rows({"nodes": np.zeros(rows, dtype=[("value", "f8")]),
                                    "values": np.zeros((rows, 1, 4)),
                                    "leaf": np.zeros(rows), "coef": np.zeros((4, rows))}, rows)
    for leak in (np.zeros((rows, 3)), pd.DataFrame({"a": range(rows)}),
                 np.array(SECRET_NAMES[:rows], dtype=object), pd.Series(SECRET_NAMES[:rows])):
        with pytest.raises(TrainingError, match=f"shape \\({rows}"):
            writer._check_no_training_rows({"kept": leak}, rows)


def test_fingerprint_keeps_the_file_name_only(tmp_path, results):
    result = TrainingResult(**{**results[0].__dict__, "data_fingerprint": {
        **results[0].data_fingerprint, "file": "/home/coach/private/roster.csv"}})
    out = writer.save_pipeline(result, tmp_path, "1.0.0")
    assert json.loads(out.metadata_path.read_text())["data_fingerprint"]["file"] == "roster.csv"
    assert b"/home/coach" not in b"".join(p.read_bytes() for p in final_files(tmp_path))


def test_wrong_result_is_refused_before_writing(tmp_path, results):
    bad = TrainingResult(**{**results[0].__dict__, "pipeline": object()})
    with pytest.raises(TrainingError, match="predict_proba"):
        writer.save_pipeline(bad, tmp_path / "m", "1.0.0")
    assert not (tmp_path / "m").exists()


# ---------------------------------------------------------------------------
# Locks, crashes, concurrency

CTX = multiprocessing.get_context("fork")


def test_lock_timeout_names_the_lock(tmp_path, results, monkeypatch):
    writer.save_pipeline(results[0], tmp_path, "1.0.0")
    monkeypatch.setattr(writer, "LOCK_TIMEOUT_SECONDS", 0.2)
    with writer.position_lock(tmp_path, POS):  # a second open file description conflicts
        with pytest.raises(ArtifactLockError, match=r"\.recruit_reveal_qb\.lock"):
            writer.save_pipeline(results[1], tmp_path, "1.0.1")
        writer.save_pipeline(make_result("rb"), tmp_path, "1.0.0")  # other positions proceed
    assert layout.existing_versions(tmp_path, POS) == ["1.0.0"]


def test_filesystem_without_flock_is_a_clear_error(tmp_path, results, monkeypatch):
    import fcntl

    def unsupported(fd, op):
        raise OSError(95, "Operation not supported")

    monkeypatch.setattr(fcntl, "flock", unsupported)
    with pytest.raises(ArtifactLockError, match="supports flock"):
        writer.save_pipeline(results[0], tmp_path, "1.0.0")
    assert final_files(tmp_path) == []


def _child_save(folder, result, version, barrier, kill_at, force=False, notify_fd=None):
    metadata.git_commit = lambda: None  # keep the child's time in the file steps

    def hook(step):
        if step == "locked" and notify_fd is not None:
            os.write(notify_fd, b"L")  # tells the parent the file steps start now
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    if barrier is not None:
        barrier.wait()
    try:
        writer.save_pipeline(result, folder, version, changelog="child", force=force,
                             on_step=hook)
    except ArtifactExistsError:
        os._exit(3)
    except BaseException:  # noqa: BLE001 - reported through the exit code
        os._exit(1)
    os._exit(0)


def check_folder(folder: Path, models: dict[str, TrainingResult], frame,
                 changelog_max: int = 1) -> dict[str, bool]:
    """Invariants after any interruption; returns {version: valid}."""
    for path in final_files(folder):
        if path.name.endswith(".json"):
            json.loads(path.read_text())  # no half-written JSON under a final name
    status = {}
    for version in registry.list_versions(POS, folder):
        pkl = layout.artifact_path(folder, POS, version)
        try:
            registry.verify(POS, version, folder)
            status[version] = True
        except ArtifactIntegrityError as exc:
            # The only admissible broken state: metadata published, pkl not yet.
            assert not pkl.exists() and "interrupted export" in str(exc)
            status[version] = False
    listed = {r["version"]: r["valid"] for r in registry.list_models(folder, POS)}
    assert listed == status
    latest = registry.load(POS, "latest", folder)
    assert latest.version in models
    np.testing.assert_array_equal(latest.pipeline.predict_proba(frame),
                                  models[latest.version].pipeline.predict_proba(frame))
    log = layout.changelog_path(folder, POS).read_text()
    assert log.startswith("# Changelog: qb pipeline\n") and log.count("## 1.0.0 (") == 1
    assert log.count("## 1.0.1 (") <= changelog_max
    return status


def _recover(folder: Path, new: TrainingResult, frame, models) -> None:
    """A retry completes an interrupted export or finds it complete; then all is clean."""
    try:
        writer.save_pipeline(new, folder, "1.0.1", changelog="retry")
    except ArtifactExistsError:
        registry.promote(POS, "1.0.1", folder)
    assert check_folder(folder, models, frame) == {"1.0.0": True, "1.0.1": True}
    assert registry.load(POS, None, folder).version == "1.0.1"
    assert not [p.name for p in folder.iterdir() if ".tmp." in p.name]


@pytest.fixture
def base(tmp_path, results):
    folder = tmp_path / "base"
    writer.save_pipeline(results[0], folder, "1.0.0", changelog="base")
    return folder


STEPS = ["locked", "metadata", "skops", "pkl", "changelog", "manifest", "latest_pkl",
         "latest_metadata"]


@pytest.mark.parametrize("step", STEPS)
def test_sigkill_at_every_step_boundary(tmp_path, base, results, frame, step):
    models = {"1.0.0": results[0], "1.0.1": results[1]}
    proc = CTX.Process(target=_child_save, args=(base, results[1], "1.0.1", None, step))
    proc.start()
    proc.join(30)
    assert proc.exitcode == -signal.SIGKILL
    status = check_folder(base, models, frame)
    assert status.get("1.0.1", False) is (STEPS.index(step) >= STEPS.index("pkl"))
    _recover(base, results[1], frame, models)


@pytest.mark.parametrize("step", ["unlinked_old", "metadata", "skops", "pkl", "changelog",
                                  "latest_pkl"])
def test_sigkill_during_a_forced_overwrite(tmp_path, base, results, frame, step):
    writer.save_pipeline(results[1], base, "1.0.1")
    proc = CTX.Process(target=_child_save, args=(base, results[2], "1.0.1", None, step, True))
    proc.start()
    proc.join(30)
    assert proc.exitcode == -signal.SIGKILL
    replaced = step in ("pkl", "changelog", "latest_pkl")
    # The old pkl is unpublished before the new metadata lands, so no moment
    # shows an old pkl beside new metadata: 1.0.1 is the new model or invalid.
    models = {"1.0.0": results[0], "1.0.1": results[2] if replaced else results[1]}
    status = check_folder(base, models, frame, changelog_max=2)
    assert status["1.0.1"] is replaced
    if not replaced:
        assert registry.load(POS, "latest", base).version == "1.0.0"


def _start_and_wait_for_lock(folder, result, version):
    read_fd, write_fd = os.pipe()
    proc = CTX.Process(target=_child_save,
                       args=(folder, result, version, None, None, False, write_fd))
    proc.start()
    os.close(write_fd)
    assert os.read(read_fd, 1) == b"L"
    os.close(read_fd)
    return proc


def test_sigkill_at_random_moments(tmp_path, base, results, frame):
    """25 saves killed at a random moment of their file-writing phase."""
    models = {"1.0.0": results[0], "1.0.1": results[1]}
    spans = []
    for i in range(3):  # how long the file steps take here, from lock to exit
        proc = _start_and_wait_for_lock(tmp_path / f"timing{i}", results[1], "1.0.0")
        start = time.perf_counter()
        proc.join(30)
        spans.append(time.perf_counter() - start)
        assert proc.exitcode == 0
    span = sorted(spans)[1]
    rng = random.Random(1234)
    outcomes = {"completed": 0, "metadata only": 0, "not started": 0}
    for trial in range(25):
        folder = tmp_path / f"trial{trial}"
        shutil.copytree(base, folder, symlinks=True)
        proc = _start_and_wait_for_lock(folder, results[1], "1.0.1")
        time.sleep(rng.uniform(0, span))
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(30)
        status = check_folder(folder, models, frame)
        outcomes["completed" if status.get("1.0.1") else
                 "metadata only" if "1.0.1" in status else "not started"] += 1
        _recover(folder, results[1], frame, models)
    print(f"random SIGKILL outcomes over 25 trials (file phase {span * 1000:.1f} ms): {outcomes}")


def test_concurrent_exports_of_one_version(tmp_path, base, results, frame):
    for round_ in range(4):
        folder = tmp_path / f"race{round_}"
        shutil.copytree(base, folder, symlinks=True)
        barrier = CTX.Barrier(2)
        procs = [CTX.Process(target=_child_save,
                             args=(folder, results[1 + i], "1.0.1", barrier, None))
                 for i in range(2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert sorted(p.exitcode for p in procs) == [0, 3]
        winner = results[1 + [p.exitcode for p in procs].index(0)]
        status = check_folder(folder, {"1.0.0": results[0], "1.0.1": winner}, frame)
        assert status == {"1.0.0": True, "1.0.1": True}
        assert layout.changelog_path(folder, POS).read_text().count("## 1.0.1 (") == 1


def test_concurrent_exports_of_different_versions_all_land(tmp_path, base, results):
    barrier = CTX.Barrier(3)
    procs = [CTX.Process(target=_child_save, args=(base, results[i % 3], f"1.1.{i}", barrier,
                                                   None)) for i in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    log = layout.changelog_path(base, POS).read_text()
    assert all(log.count(f"## 1.1.{i} (") == 1 for i in range(3))  # no lost update
    assert all(r["valid"] for r in registry.list_models(base, POS))


def test_publish_new_refuses_existing_name_even_without_the_lock(tmp_path):
    target = tmp_path / "file.pkl"
    target.write_bytes(b"old")
    with pytest.raises(ArtifactExistsError, match="file.pkl"):
        writer._publish_new(open_store(tmp_path), "file.pkl", b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.pkl"]


# ---------------------------------------------------------------------------
# Against the real training pipeline (shared fixtures)


def test_real_pipelines_round_trip_without_athlete_names(exported_models_dir, trained_results,
                                                         sample_csv):
    raw = pd.read_csv(sample_csv)
    names = [n for n in raw.get("name", pd.Series(dtype=str)).dropna().astype(str) if n.strip()]
    assert names, "the sample CSV should carry fake athlete names"
    blobs = b"".join(p.read_bytes() for p in final_files(exported_models_dir))
    assert not [n for n in names if n.encode() in blobs]
    for pos, result in trained_results.items():
        loaded = registry.load(pos, None, exported_models_dir)
        rows = raw[raw["position"].str.lower() == pos].head(20)
        frame = rows.reindex(columns=schema.feature_names(pos))
        np.testing.assert_array_equal(loaded.pipeline.predict_proba(frame),
                                      result.pipeline.predict_proba(frame))
