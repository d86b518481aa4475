"""Models and releases in s3:// (moto's S3 server on 127.0.0.1): export, serve, promote, races."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time

import numpy as np
import pandas as pd
import pytest
from test_artifacts_writer import POS, make_frame, make_result

from recruit_reveal import schema
from recruit_reveal.artifacts import layout, manifest, registry, writer
from recruit_reveal.cli import main
from recruit_reveal.errors import ArtifactExistsError, ModelNotFoundError, StorageError
from recruit_reveal.storage import base, locations
from recruit_reveal.storage.objectstore import FsspecStore

SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture(scope="module")
def results():
    return {seed: make_result(seed=seed) for seed in (0, 1, 2)}


@pytest.fixture
def frame():
    return make_frame(n=50, seed=9)[0]


def same(loaded, result, frame) -> bool:
    return np.array_equal(loaded.pipeline.predict_proba(frame),
                          result.pipeline.predict_proba(frame))


def test_moto_honours_if_none_match_and_if_match_on_put_object(s3_endpoint, bucket):
    import boto3
    from botocore.exceptions import ClientError

    client = boto3.client("s3", endpoint_url=s3_endpoint)
    name = bucket.removeprefix("s3://")
    first = client.put_object(Bucket=name, Key="k", Body=b"1", IfNoneMatch="*")
    with pytest.raises(ClientError, match="PreconditionFailed"):
        client.put_object(Bucket=name, Key="k", Body=b"2", IfNoneMatch="*")
    client.put_object(Bucket=name, Key="k", Body=b"3", IfMatch=first["ETag"])
    with pytest.raises(ClientError, match="PreconditionFailed"):
        client.put_object(Bucket=name, Key="k", Body=b"4", IfMatch=first["ETag"])
    assert client.get_object(Bucket=name, Key="k")["Body"].read() == b"3"


def test_store_create_only_and_compare_and_swap(bucket):
    store = locations.open_store(f"{bucket}/models")
    assert isinstance(store, FsspecStore) and not store.exclusive_locks
    store.create("a", b"1")
    with pytest.raises(FileExistsError):
        store.create("a", b"2")
    assert store.read("a") == b"1"
    assert store.read_tagged("m") is None
    store.swap("m", b"v1", None)
    with pytest.raises(base.PreconditionFailed):
        store.swap("m", b"v1 again", None)
    data, tag = store.read_tagged("m")
    store.swap("m", b"v2", tag)
    with pytest.raises(base.PreconditionFailed):
        store.swap("m", b"lost update", tag)
    assert store.read("m") == b"v2" and store.names() == ["a", "m"]
    store.write("v1.0.0/qb.ipynb", b"{}")
    assert store.names() == ["a", "m"] and store.folders() == ["v1.0.0"]


def test_unknown_schemes_are_refused_by_name(tmp_path):
    with pytest.raises(StorageError, match="unknown storage scheme 'ftp'"):
        locations.open_store("ftp://host/models")
    from recruit_reveal.settings import load_settings

    with pytest.raises(Exception, match="MODEL_DIR.*unknown storage scheme"):
        load_settings({"MODEL_DIR": "gopher://x/y"})
    assert load_settings({"MODEL_DIR": "s3://b/p"}).model_dir == "s3://b/p"
    assert str(load_settings({"MODEL_DIR": str(tmp_path)}).model_dir) == str(tmp_path)


def test_export_load_promote_rollback_and_history_on_s3(bucket, results, frame, capsys):
    url = f"{bucket}/team/models"
    writer.save_pipeline(results[0], url, "1.0.0", changelog="first")
    writer.save_pipeline(results[1], url, "1.0.1", promote=False, changelog="second")
    store = locations.open_store(url)
    names = store.names()
    for version in ("1.0.0", "1.0.1"):
        for name in (layout.artifact_name(POS, version), layout.skops_name(POS, version),
                     layout.metadata_name(POS, version)):
            assert name in names
    assert "releases.json" in names and layout.changelog_name(POS) in names
    assert store.read(layout.changelog_name(POS)).decode().count("## 1.0.") == 2
    with pytest.raises(ArtifactExistsError, match=r"s3://.*v1\.0\.0\.pkl already exists"):
        writer.save_pipeline(results[2], url, "1.0.0")
    assert layout.next_version(url, POS) == "1.0.2"

    loaded = registry.load(POS, None, url)
    assert loaded.version == "1.0.0" and loaded.format == "skops" and same(loaded, results[0],
                                                                            frame)
    tag = manifest.current_tag(url)
    assert main(["models", "promote", POS, "1.0.1", "--models-dir", url, "--reason", "better",
                 "--by", "ana"]) == 0
    assert manifest.current_tag(url) != tag
    assert registry.load(POS, None, url).version == "1.0.1"
    # the latest copies follow the manifest, for the earlier system's clients
    assert store.read(layout.artifact_name(POS, "latest")) == \
        store.read(layout.artifact_name(POS, "1.0.1"))
    assert main(["models", "rollback", "--models-dir", url, "--reason", "regressed"]) == 0
    assert registry.load(POS, None, url).version == "1.0.0"
    capsys.readouterr()
    assert main(["models", "history", "--json", "--models-dir", url]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(r["action"], r["versions"][POS]) for r in doc["releases"]] == [
        ("promote", "1.0.0"), ("promote", "1.0.1"), ("rollback", "1.0.0")]
    assert doc["releases"][1]["by"] == "ana" and doc["releases"][2]["reason"] == "regressed"
    assert main(["models", "list", "--models-dir", url]) == 0
    assert "release 3" in capsys.readouterr().out


def _concurrent_promotes(url, position, versions, barrier):
    barrier.wait()
    for version in versions:
        manifest.promote(url, position, version, how="api", reason=version)


def test_two_concurrent_promotes_on_s3_are_both_recorded(bucket, results):
    url = f"{bucket}/models"
    writer.save_pipeline(results[0], url, "1.0.0")
    writer.save_pipeline(results[1], url, "1.0.1", promote=False)
    barrier = SPAWN.Barrier(2)
    procs = [SPAWN.Process(target=_concurrent_promotes,
                           args=(url, POS, ["1.0.1", "1.0.0"] * 3, barrier)) for _ in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    history = manifest.read_state(url).history
    assert len(history) == 1 + 12
    assert [r.id for r in history] == list(range(1, 14))
    assert all(b.previous == a.id for a, b in zip(history, history[1:], strict=False))


def _child_export(url, result, version, barrier, kill_at):
    def hook(step):
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    if barrier is not None:
        barrier.wait()
    try:
        writer.save_pipeline(result, url, version, changelog=f"seed {result.seed}", on_step=hook)
    except ArtifactExistsError:
        os._exit(3)
    os._exit(0)


def test_two_concurrent_exports_of_one_version_one_wins_nothing_corrupt(bucket, results, frame):
    url = f"{bucket}/models"
    writer.save_pipeline(results[0], url, "1.0.0")
    for trial in range(3):
        version = f"1.1.{trial}"
        barrier = SPAWN.Barrier(2)
        procs = [SPAWN.Process(target=_child_export, args=(url, results[seed], version, barrier,
                                                           None)) for seed in (1, 2)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(120)
        assert sorted(p.exitcode for p in procs) == [0, 3], trial
        winner = results[1] if procs[0].exitcode == 0 else results[2]
        loaded = registry.load(POS, version, url)
        assert loaded.version == version and not loaded.fallback
        assert same(loaded, winner, frame)
        registry.verify(POS, version, url)  # pkl, skops and metadata are all the winner's


@pytest.mark.parametrize("kill_at", ["pkl", "skops", "metadata"])
def test_a_process_killed_mid_upload_never_shows_its_version(bucket, results, frame, kill_at):
    url = f"{bucket}/models"
    writer.save_pipeline(results[0], url, "1.0.0")
    before = manifest.read_state(url).history
    proc = SPAWN.Process(target=_child_export, args=(url, results[1], "1.0.1", None, kill_at))
    proc.start()
    proc.join(120)
    assert proc.exitcode == -signal.SIGKILL
    if kill_at == "metadata":  # the metadata is the last file: the version is complete
        assert same(registry.load(POS, "1.0.1", url), results[1], frame)
    else:
        with pytest.raises(ModelNotFoundError):
            registry.verify(POS, "1.0.1", url)
        loaded = registry.load(POS, "1.0.1", url)
        assert loaded.version == "1.0.0" and loaded.fallback
        assert not [r for r in registry.list_models(url, POS) if r["valid"]
                    and r["version"] == "1.0.1"]
    # never promoted: the release and the served latest are unchanged
    assert manifest.read_state(url).history == before
    assert registry.load(POS, None, url).version == "1.0.0"


def test_the_api_serves_from_s3(bucket, trained_results, s3_endpoint):
    from api_support import QB, settings
    from fastapi.testclient import TestClient

    from recruit_reveal.api.app import create_app

    url = f"{bucket}/serving"
    for result in trained_results.values():
        writer.save_pipeline(result, url, "1.0.0", changelog="fixture model")
    writer.save_pipeline(trained_results["qb"], url, "1.1.0", promote=False,
                         changelog="second qb")
    app = create_app(settings(release_poll_seconds=0.1), models_dir=url)
    with TestClient(app) as client:
        health = client.get("/health").json()
        assert all(health["models"][pos]["version"] == "1.0.0" for pos in schema.POSITIONS)
        answer = client.post("/predict", json=QB)
        assert answer.status_code == 200 and answer.json()["model_version"] == "1.0.0"
        # A promote made elsewhere (here: this process, through the bucket) is followed.
        registry.promote("qb", "1.1.0", url, how="cli", by="teammate")
        deadline = time.monotonic() + 10
        while client.post("/predict", json=QB).json()["model_version"] != "1.1.0":
            assert time.monotonic() < deadline, "the promote on S3 was not followed in 10 s"
            time.sleep(0.05)
        assert client.get("/health").json()["release"]["by"] == "teammate"
    frame = pd.DataFrame([QB]).reindex(columns=schema.feature_names("qb"))
    assert registry.load("qb", None, url).pipeline.predict_proba(frame).shape == (1, 4)


def test_training_with_the_notebook_engine_into_s3(bucket, sample_csv, capsys):
    """``train --models-dir s3://... --runs-dir s3://...``: each kernel exports to the bucket
    and the records land beside the models; one release for all positions."""
    from recruit_reveal.release import records

    url = f"{bucket}/team/models"
    runs = f"{bucket}/team/runs"
    assert main(["train", "--csv", str(sample_csv), "--position", "all", "--version", "1.0.0",
                 "--changelog", "trained into s3", "--models-dir", url, "--runs-dir", runs,
                 "--cv-folds", "2", "--jobs", "3", "--invalid-rows", "quarantine"]) == 0
    out = capsys.readouterr().out
    assert f"{url}/recruit_reveal_qb_pipeline_v1.0.0.pkl" in out
    assert f"records: {runs}/v1.0.0/" in out and f"{runs}/v1.0.0/qb.html" in out
    (made,) = manifest.read_state(url).history
    assert made.how == "train" and made.reason == "trained into s3"
    assert made.versions == {pos: "1.0.0" for pos in schema.POSITIONS}
    folder = locations.open_store(f"{runs}/v1.0.0")
    assert folder.names() == sorted(f"{pos}.{ext}" for pos in schema.POSITIONS
                                    for ext in ("html", "ipynb", "rejected.csv"))
    for pos in schema.POSITIONS:
        loaded = registry.load(pos, None, url)
        assert loaded.version == "1.0.0" and loaded.format == "skops"
        assert loaded.metadata.audit_record.notebook == f"{runs}/v1.0.0/{pos}.ipynb"
        # the record names the very files the registry verified
        stamp = records.read_record_stamp(runs, records.record_name("1.0.0", pos))
        assert stamp["status"] == "succeeded" and stamp["version"] == "1.0.0"
        assert stamp["sha256"] == loaded.metadata.artifact.sha256
        assert stamp["skops_sha256"] == loaded.metadata.artifact_skops.sha256
        assert folder.read(f"{pos}.rejected.csv").startswith(b"row,")
    # a succeeded record is never replaced, even when the models go elsewhere
    before = folder.read("qb.ipynb")
    assert main(["train", "--csv", str(sample_csv), "--position", "qb", "--version", "1.0.0",
                 "--models-dir", f"{bucket}/other/models", "--runs-dir", runs]) == 2
    assert f"{runs}/v1.0.0/qb.ipynb already exists" in capsys.readouterr().err
    assert folder.read("qb.ipynb") == before
    assert not locations.open_store(f"{bucket}/other/models").names()
