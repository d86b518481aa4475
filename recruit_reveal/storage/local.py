"""A folder on the local disk: fsynced temp files, renames, links and flock (:mod:`.atomic`)."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .atomic import TMP_MARK, atomic_create, atomic_symlink, atomic_write, fsync_dir
from .base import PreconditionFailed, Store

logger = logging.getLogger(__name__)


def _tag_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LocalStore(Store):
    """A local folder; it need not exist until something is written into it."""

    exclusive_locks = True

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        self.url = str(self.root)

    def path(self, name: str = "") -> Path:
        return self.root / name if name else self.root

    def display(self, name: str = "") -> str:
        return str(self.path(name))

    def shown(self, name: str = "") -> str:
        absolute = self.path(name).absolute()
        try:
            return str(absolute.relative_to(Path.cwd().absolute()))
        except ValueError:
            return str(absolute)

    def location(self, name: str = "") -> Path:
        return self.path(name)

    def child(self, *parts: str) -> LocalStore:
        return LocalStore(self.root.joinpath(*parts))

    def parent(self) -> LocalStore:
        return LocalStore(self.root.parent)

    def absolute(self) -> LocalStore:
        return LocalStore(self.root.absolute())

    def same(self, other: Store) -> bool:
        if not isinstance(other, LocalStore):
            return False
        try:
            return os.path.samefile(self.root, other.root)
        except OSError:  # one is missing: compare the spelling
            return os.path.abspath(self.root) == os.path.abspath(other.root)

    def read(self, name: str) -> bytes:
        return self.path(name).read_bytes()

    def exists(self, name: str) -> bool:
        return os.path.lexists(self.path(name))

    def names(self) -> list[str]:
        try:
            return sorted(entry.name for entry in os.scandir(self.root)
                          if not entry.is_dir(follow_symlinks=False))
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

    def rename(self, name: str, new: str) -> None:
        target = self._parent(new)
        if os.path.lexists(target):
            raise FileExistsError(f"{target} already exists")
        self.path(name).rename(target)

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

    def remove_temps(self, prefixes: Iterable[str]) -> list[str]:
        starts = tuple(prefixes)
        removed = []
        for name in self.names():
            if name.startswith(starts) and TMP_MARK in name:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path(name))
                    removed.append(name)
        return removed

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

    @contextlib.contextmanager
    def staging(self, name: str) -> Iterator[Path]:
        yield self._parent(name)

    def arrow_filesystem(self) -> tuple[Any, str]:
        from pyarrow import fs

        return fs.LocalFileSystem(), str(self.root.absolute())
