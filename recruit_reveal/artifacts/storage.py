"""Atomic file writes: every file the project publishes appears under its final name in one step.

A writer puts the bytes in a uniquely named hidden temp file in the same
folder, fsyncs it, then renames (or links) it into place and fsyncs the folder.
A reader therefore sees the old file or the new one, never a torn one, and a
writer killed at any moment leaves at most a temp file (named with
:data:`TMP_MARK`) that the next writer under the same lock removes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

#: Marks temp files in a published folder; nothing else carries it.
TMP_MARK = ".tmp."


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Make a rename or link in ``folder`` durable (skipped where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temp_name(final: Path) -> Path:
    # pid and random suffix: concurrent writers of one name never share a temp file.
    return final.with_name(f".{final.name}{TMP_MARK}{os.getpid()}.{secrets.token_hex(4)}")


def _write_temp(final: Path, data: bytes) -> Path:
    tmp = temp_name(final)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # disk full, say: leave no debris behind
        raise
    os.close(fd)
    return tmp


def _replace(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` onto ``final`` (removing ``tmp`` if that fails) and make it durable."""
    try:
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(final.parent)


def atomic_write(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Write ``data`` (text is UTF-8 encoded) under ``path`` atomically, replacing what is there."""
    final = Path(path)
    _replace(_write_temp(final, data.encode("utf-8") if isinstance(data, str) else data), final)
    return final


def atomic_create(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` under ``path`` atomically; raise FileExistsError if the name exists.

    ``os.link`` refuses an existing target, so even a writer that bypassed
    every lock could not overwrite the file.
    """
    final = Path(path)
    tmp = _write_temp(final, data)
    try:
        try:
            os.link(tmp, final)
        except FileExistsError:
            raise
        except OSError:
            # Filesystems without hard links: the caller's lock still excludes other writers.
            if final.exists():
                raise FileExistsError(f"{final} already exists") from None
            os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    fsync_dir(final.parent)
    return final


def atomic_symlink(path: str | os.PathLike[str], target_name: str) -> bool:
    """Point ``path`` at ``target_name`` (relative, same folder) atomically.

    Returns False when the platform cannot make symlinks; the caller then copies.
    """
    final = Path(path)
    tmp = temp_name(final)
    try:
        os.symlink(target_name, tmp)
    except (OSError, NotImplementedError):
        return False
    _replace(tmp, final)
    return True


# ---------------------------------------------------------------------------
# Stores: a models or runs folder, on the local disk or behind an fsspec URL


class PreconditionFailed(Exception):
    """A conditional write lost: the file was created or changed since it was read."""


class Store(Protocol):
    """A folder of named files (names may hold ``/``), local or in an object store.

    Every writer publishes a file whole or not at all.  ``create`` never
    replaces an existing file; ``swap`` replaces one only if it is still the
    version ``read_tagged`` returned (on the local disk only while the caller
    holds ``lock`` of that name, which is how every caller uses it).
    """

    url: str
    is_local: bool

    def display(self, name: str = "") -> str:
        """The file's path or URL, for messages."""

    def read(self, name: str) -> bytes:
        """The file's bytes; FileNotFoundError when it does not exist."""

    def exists(self, name: str) -> bool: ...

    def names(self) -> list[str]:
        """Names of the files directly in the folder."""

    def folders(self) -> list[str]:
        """Names of the folders directly in the folder (key prefixes on object stores)."""

    def create(self, name: str, data: bytes) -> None:
        """Publish a new file; FileExistsError when the name is taken."""

    def write(self, name: str, data: bytes) -> None:
        """Publish a file, replacing what is there."""

    def remove(self, name: str) -> None:
        """Remove a file (no error when it is gone already)."""

    def read_tagged(self, name: str) -> tuple[bytes, str] | None:
        """(bytes, tag) of the file, or None; the tag changes whenever the file does."""

    def tag(self, name: str) -> str | None:
        """The file's current tag (cheap: a stat or a HEAD request), or None."""

    def swap(self, name: str, data: bytes, expected: str | None) -> None:
        """Replace the file if its tag is still ``expected`` (None: if it does not exist);
        PreconditionFailed otherwise."""

    def alias(self, name: str, target: str) -> None:
        """Make ``name`` show ``target``'s bytes (a symlink where possible, else a copy)."""

    def lock(self, name: str, timeout: float) -> contextlib.AbstractContextManager[Any]:
        """An exclusive lock among local writers (flock); object stores rely on
        conditional writes instead and return a no-op."""


def _tag_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LocalStore:
    """A folder on the local disk: fsynced temp files, renames, links and flock."""

    is_local = True

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        self.url = str(self.root)

    def __repr__(self) -> str:
        return f"LocalStore({self.url!r})"

    def path(self, name: str) -> Path:
        return self.root / name if name else self.root

    def display(self, name: str = "") -> str:
        return str(self.path(name))

    def read(self, name: str) -> bytes:
        return self.path(name).read_bytes()

    def exists(self, name: str) -> bool:
        return os.path.lexists(self.path(name))

    def names(self) -> list[str]:
        try:
            return sorted(entry.name for entry in os.scandir(self.root))
        except FileNotFoundError:
            return []

    def folders(self) -> list[str]:
        try:
            return sorted(entry.name for entry in os.scandir(self.root) if entry.is_dir())
        except FileNotFoundError:
            return []

    def _parent(self, name: str) -> Path:
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def create(self, name: str, data: bytes) -> None:
        atomic_create(self._parent(name), data)

    def write(self, name: str, data: bytes) -> None:
        atomic_write(self._parent(name), data)

    def remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(name))
            fsync_dir(self.path(name).parent)

    def read_tagged(self, name: str) -> tuple[bytes, str] | None:
        try:
            data = self.read(name)
        except FileNotFoundError:
            return None
        return data, _tag_of(data)

    def tag(self, name: str) -> str | None:
        found = self.read_tagged(name)
        return None if found is None else found[1]

    def swap(self, name: str, data: bytes, expected: str | None) -> None:
        if self.tag(name) != expected:
            raise PreconditionFailed(f"{self.display(name)} changed since it was read")
        self.write(name, data)

    def alias(self, name: str, target: str) -> None:
        path = self._parent(name)
        with contextlib.suppress(OSError):
            if os.readlink(path) == target:
                return
        if not atomic_symlink(path, target):
            atomic_write(path, self.read(target))

    @contextlib.contextmanager
    def lock(self, name: str, timeout: float) -> Iterator[None]:
        from filelock import FileLock

        # fallback_to_soft=False: a filesystem without flock is an error, not a
        # pid-file lock that a killed writer would leave behind.
        lock = FileLock(self._parent(name), timeout=timeout, fallback_to_soft=False)
        lock.acquire(poll_interval=0.02)
        try:
            yield
        finally:
            lock.release()


def is_url(location: object) -> bool:
    """Whether ``location`` is a URL (``scheme://...``) rather than a local path."""
    return isinstance(location, str) and "://" in location


#: URL schemes served by :class:`~recruit_reveal.artifacts.objectstore.FsspecStore`.
REMOTE_SCHEMES = ("s3", "s3a")


def open_store(location: str | os.PathLike[str] | Store) -> Store:
    """The store at ``location``: a local path (or ``file://`` URL) or ``s3://bucket/prefix``.

    Raises :class:`~recruit_reveal.errors.StorageError` for a URL of another scheme.
    """
    if not isinstance(location, str | os.PathLike):
        return location  # a store already
    if not is_url(location):
        return LocalStore(Path(location).expanduser())
    text = str(location)
    scheme = text.split("://", 1)[0].lower()
    if scheme == "file":
        return LocalStore(Path(text.split("://", 1)[1]))
    if scheme not in REMOTE_SCHEMES:
        from ..errors import StorageError

        raise StorageError(
            f"unknown storage scheme {scheme!r} in {text!r}: use a local path, file://, "
            f"or {', '.join(s + '://bucket/prefix' for s in REMOTE_SCHEMES[:1])}")
    from .objectstore import FsspecStore

    return FsspecStore(text)


def open_parent(location: str | os.PathLike[str]) -> tuple[Store, str]:
    """The store holding the file at ``location`` (a path or URL) and the file's name in it."""
    if is_url(location):
        folder, _, name = str(location).rstrip("/").rpartition("/")
        return open_store(folder), name
    path = Path(location).expanduser()
    return LocalStore(path.parent), path.name
