"""storage.base: every operation of a Store behaves alike on a local folder and in S3 (moto)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from recruit_reveal.storage.atomic import TMP_MARK
from recruit_reveal.storage.base import PreconditionFailed, Store
from recruit_reveal.storage.local import LocalStore
from recruit_reveal.storage.locations import open_store
from recruit_reveal.storage.objectstore import FsspecStore


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path) -> Store:
    if request.param == "local":
        return open_store(tmp_path / "place")
    return open_store(f"{request.getfixturevalue('bucket')}/place")


def test_create_is_create_only_and_write_replaces(store):
    store.create("a.bin", b"1")
    with pytest.raises(FileExistsError):
        store.create("a.bin", b"2")
    assert store.read("a.bin") == b"1"
    store.write("a.bin", b"3")
    assert store.read("a.bin") == b"3" and store.exists("a.bin")
    with pytest.raises(FileNotFoundError):
        store.read("missing")


def test_swap_replaces_only_the_version_read(store):
    store.swap("m.json", b"1", None)
    with pytest.raises(PreconditionFailed):
        store.swap("m.json", b"x", None)  # exists now
    data, tag = store.read_tagged("m.json")
    assert data == b"1" and store.tag("m.json") == tag
    store.swap("m.json", b"2", tag)
    with pytest.raises(PreconditionFailed):
        store.swap("m.json", b"3", tag)  # stale tag
    assert store.read("m.json") == b"2"
    assert store.read_tagged("nothing") is None and store.tag("nothing") is None


def test_listing_removing_and_renaming(store):
    assert store.names() == [] and store.folders() == []  # no folder yet: no error
    store.write("index.html", b"<html>")
    store.write("v1.0.0/qb.ipynb", b"{}")
    assert store.names() == ["index.html"] and store.folders() == ["v1.0.0"]
    sub = store.child("v1.0.0")
    assert sub.names() == ["qb.ipynb"] and sub.parent().same(store)
    sub.rename("qb.ipynb", "qb.failed.ipynb")
    assert sub.names() == ["qb.failed.ipynb"]
    sub.write("qb.ipynb", b"new")
    with pytest.raises(FileExistsError):
        sub.rename("qb.ipynb", "qb.failed.ipynb")  # never onto an existing file
    store.remove("index.html")
    store.remove("index.html")  # gone already: no error
    assert store.names() == []


def test_alias_shows_the_targets_bytes(store):
    store.write("v1.pkl", b"one")
    store.write("v2.pkl", b"two")
    store.alias("latest.pkl", "v1.pkl")
    assert store.read("latest.pkl") == b"one"
    store.alias("latest.pkl", "v2.pkl")
    assert store.read("latest.pkl") == b"two"


def test_names_locations_and_links(store):
    assert store.child("v1", "qb.ipynb").display() == store.display("v1/qb.ipynb")
    assert store.child("v1").same(store.child("v1")) and not store.child("v1").same(store)
    assert store.relative(store.child("v1", "x")) == "v1/x"
    assert store.child("a").relative(store.child("b")) == "../b"
    assert store.absolute().same(store)
    location = store.location("qb.ipynb")
    assert str(location) == store.display("qb.ipynb")
    assert open_store(location).display() == store.display("qb.ipynb")


def test_staging_then_publishing(store):
    with store.staging("v1/qb.ipynb") as path:
        assert isinstance(path, Path) and path.parent.is_dir()
        path.write_bytes(b"partial")
        store.write("v1/qb.ipynb", b"done")
    assert store.read("v1/qb.ipynb") == b"done"


def test_remove_temps_only_removes_the_given_debris(store):
    store.write("keep.json", b"{}")
    removed = store.remove_temps([".keep"])
    assert removed == [] and store.names() == ["keep.json"]


def test_lock_can_be_taken_and_released(store):
    with store.lock(".x.lock", 1.0):
        pass
    with store.lock(".x.lock", 1.0):
        pass


def test_local_specifics(tmp_path):
    store = open_store(tmp_path / "models")
    assert isinstance(store, LocalStore) and store.exclusive_locks
    store.write("a.json", b"{}")
    debris = tmp_path / "models" / f".a.json{TMP_MARK}123.abcd"
    debris.write_bytes(b"torn")
    assert store.remove_temps([".a.json"]) == [debris.name] and not debris.exists()
    assert store.location("a.json") == tmp_path / "models" / "a.json"
    with store.staging("v1/qb.ipynb") as path:  # papermill writes the file itself
        assert path == tmp_path / "models" / "v1" / "qb.ipynb"
    store.write("v2.pkl", b"2")
    store.alias("latest.pkl", "v2.pkl")
    assert os.readlink(tmp_path / "models" / "latest.pkl") == "v2.pkl"
    assert store.relative(open_store(tmp_path / "runs")) == "../runs"


def test_object_store_specifics(bucket, tmp_path):
    store = open_store(f"{bucket}/models/")
    assert isinstance(store, FsspecStore) and not store.exclusive_locks
    assert store.url == f"{bucket}/models" and store.location("a") == f"{bucket}/models/a"
    assert store.shown("a") == f"{bucket}/models/a"
    with store.staging("v1/qb.ipynb") as path:  # a private temp file, nothing in the bucket
        path.write_bytes(b"partial")
    assert not path.exists() and store.names() == [] and store.folders() == []
    assert open_store(bucket).parent().same(open_store(bucket))  # a bucket's root
    assert store.relative(open_store(tmp_path)) == str(tmp_path)  # no link across stores
