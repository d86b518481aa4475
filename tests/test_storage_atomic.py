"""atomic.atomic: files appear under their final name in one step, and failures leave no debris."""

from __future__ import annotations

import os

import pytest

from recruit_reveal.storage import atomic


def _debris(folder):
    return [p.name for p in folder.iterdir() if atomic.TMP_MARK in p.name]


def test_atomic_write_replaces_text_or_bytes_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "record.html"
    atomic.atomic_write(target, "first")
    atomic.atomic_write(target, b"second \xe2\x9c\x93")
    assert target.read_bytes() == b"second \xe2\x9c\x93"
    assert _debris(tmp_path) == []


def test_a_failed_rename_removes_the_temp_file_and_keeps_the_old_content(tmp_path, monkeypatch):
    target = tmp_path / "summary.json"
    atomic.atomic_write(target, "old")

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", broken)
    with pytest.raises(OSError, match="No space left"):
        atomic.atomic_write(target, "new")
    assert target.read_text() == "old"
    assert _debris(tmp_path) == []


def test_atomic_create_never_overwrites(tmp_path):
    target = tmp_path / "model.pkl"
    atomic.atomic_create(target, b"one")
    with pytest.raises(FileExistsError):
        atomic.atomic_create(target, b"two")
    assert target.read_bytes() == b"one"
    assert _debris(tmp_path) == []


def test_atomic_symlink_repoints_a_relative_link(tmp_path):
    (tmp_path / "v1").write_text("1")
    (tmp_path / "v2").write_text("2")
    link = tmp_path / "latest"
    assert atomic.atomic_symlink(link, "v1")
    assert atomic.atomic_symlink(link, "v2")
    assert os.readlink(link) == "v2" and link.read_text() == "2"
    assert _debris(tmp_path) == []


def test_temp_names_are_unique_per_writer(tmp_path):
    final = tmp_path / "x.json"
    names = {atomic.temp_name(final) for _ in range(50)}
    assert len(names) == 50
    assert all(n.parent == tmp_path and atomic.TMP_MARK in n.name for n in names)
