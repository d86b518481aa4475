"""storage.locations: what a user gives (path, file:// or s3:// URL) becomes one Store."""

from __future__ import annotations

from pathlib import Path

import pytest

from recruit_reveal.errors import StorageError
from recruit_reveal.storage.local import LocalStore
from recruit_reveal.storage.locations import (
    as_location,
    is_relative,
    is_url,
    open_file,
    open_parent,
    open_store,
    resolve_local,
    shown,
)
from recruit_reveal.storage.objectstore import FsspecStore


def test_open_store_by_location(tmp_path):
    assert isinstance(open_store(tmp_path), LocalStore)
    assert open_store(f"file://{tmp_path}").display() == str(tmp_path)
    store = open_store("s3://bucket/models")
    assert isinstance(store, FsspecStore) and store.display("a") == "s3://bucket/models/a"
    assert open_store(store) is store
    with pytest.raises(StorageError, match="unknown storage scheme 'ftp'"):
        open_store("ftp://host/models")
    with pytest.raises(StorageError, match="names no bucket"):
        open_store("s3://")


def test_open_parent_and_open_file(tmp_path):
    store, name = open_parent(tmp_path / "runs" / "qb.ipynb")
    assert store.display() == str(tmp_path / "runs") and name == "qb.ipynb"
    store, name = open_parent("s3://bucket/runs/v1/qb.ipynb")
    assert store.display() == "s3://bucket/runs/v1" and name == "qb.ipynb"
    (tmp_path / "folder").mkdir()
    store, name = open_file(tmp_path / "folder", "qb.rejected.csv")
    assert store.location(name) == tmp_path / "folder" / "qb.rejected.csv"
    store, name = open_file(tmp_path / "file.csv", "qb.rejected.csv")
    assert store.location(name) == tmp_path / "file.csv"
    store, name = open_file("s3://bucket/runs/", "qb.rejected.csv")
    assert store.location(name) == "s3://bucket/runs/qb.rejected.csv"
    store, name = open_file("s3://bucket/runs/x.csv", "qb.rejected.csv")
    assert store.location(name) == "s3://bucket/runs/x.csv"


def test_locations_kept_as_callers_keep_them(tmp_path, monkeypatch):
    assert as_location("models") == Path("models")
    assert as_location("s3://bucket//x") == "s3://bucket//x"  # a Path would fold the //
    assert as_location(open_store("s3://bucket/x")) == "s3://bucket/x"
    with pytest.raises(StorageError):
        as_location("gopher://x")
    assert is_url("s3://b") and not is_url(Path("s3:/b")) and not is_url("models")
    assert is_relative("models") and not is_relative(tmp_path) and not is_relative("s3://b/x")
    assert resolve_local("models", lambda p: p.absolute()) == Path("models").absolute()
    assert resolve_local("s3://b/x", lambda p: p.absolute()) == "s3://b/x"
    monkeypatch.chdir(tmp_path)
    assert shown(tmp_path / "runs" / "x") == str(Path("runs", "x"))
    assert shown("/elsewhere/x") == "/elsewhere/x"
    assert shown("s3://b/x") == "s3://b/x"
