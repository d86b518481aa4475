"""A place to keep files: a local folder or an object-store prefix, behind one type.

Every writer of the project goes through :class:`Store`, so none of them has
to know where its files live.  Each backend publishes a file whole or not at
all; ``create`` never replaces an existing file; ``swap`` replaces one only if
it is still the version ``read_tagged`` returned.
"""

from __future__ import annotations

import abc
import contextlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any


class PreconditionFailed(Exception):
    """A conditional write lost: the file was created or changed since it was read."""


class Store(abc.ABC):
    """A folder of named files (names may hold ``/``), local or in an object store."""

    #: The folder's path or URL, normalised.
    url: str
    #: Whether :meth:`lock` excludes every other writer of the name (flock on a
    #: local disk).  Object stores cannot lock: their ``lock`` is a no-op and
    #: writers rely on create-only and conditional writes instead.
    exclusive_locks: bool

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    # -- naming ------------------------------------------------------------

    @abc.abstractmethod
    def display(self, name: str = "") -> str:
        """The file's absolute path or URL, for messages."""

    @abc.abstractmethod
    def shown(self, name: str = "") -> str:
        """The file's path as a user reads it: relative to the working directory when
        inside it, else absolute; a URL as it is."""

    @abc.abstractmethod
    def location(self, name: str = "") -> Path | str:
        """What callers pass around for the file: a Path on a local disk, else the URL
        (a Path would fold the ``//`` of a URL)."""

    @abc.abstractmethod
    def child(self, *parts: str) -> Store:
        """The folder ``parts`` below this one (nothing is created)."""

    @abc.abstractmethod
    def parent(self) -> Store:
        """The folder holding this one (a bucket's root is its own parent)."""

    @abc.abstractmethod
    def absolute(self) -> Store:
        """This folder named independently of the working directory."""

    @abc.abstractmethod
    def same(self, other: Store) -> bool:
        """Whether ``other`` names this very folder."""

    def relative(self, other: Store) -> str:
        """A relative link from this folder to ``other`` (its display when none exists)."""
        mine, theirs = self.display().rstrip("/"), other.display().rstrip("/")
        # Scheme and bucket (nothing for a local path) must match for a link to exist.
        if mine.split("/", 3)[:3] != theirs.split("/", 3)[:3] and "://" in mine + theirs:
            return theirs
        return os.path.relpath(theirs, mine).replace(os.sep, "/")

    # -- reading -----------------------------------------------------------

    @abc.abstractmethod
    def read(self, name: str) -> bytes:
        """The file's bytes; FileNotFoundError when it does not exist."""

    @abc.abstractmethod
    def exists(self, name: str) -> bool: ...

    @abc.abstractmethod
    def names(self) -> list[str]:
        """Names of the files directly in the folder."""

    @abc.abstractmethod
    def folders(self) -> list[str]:
        """Names of the folders directly in the folder (key prefixes on object stores)."""

    @abc.abstractmethod
    def tag(self, name: str) -> str | None:
        """The file's current tag (cheap: a stat or a HEAD request), or None."""

    @abc.abstractmethod
    def read_tagged(self, name: str) -> tuple[bytes, str] | None:
        """(bytes, tag) of the file, or None; the tag changes whenever the file does."""

    # -- writing -----------------------------------------------------------

    @abc.abstractmethod
    def create(self, name: str, data: bytes) -> None:
        """Publish a new file; FileExistsError when the name is taken."""

    @abc.abstractmethod
    def write(self, name: str, data: bytes) -> None:
        """Publish a file, replacing what is there."""

    @abc.abstractmethod
    def swap(self, name: str, data: bytes, expected: str | None) -> None:
        """Replace the file if its tag is still ``expected`` (None: if it does not exist);
        PreconditionFailed otherwise (locally only while the caller holds ``lock``)."""

    @abc.abstractmethod
    def remove(self, name: str) -> None:
        """Remove a file (no error when it is gone already)."""

    @abc.abstractmethod
    def rename(self, name: str, new: str) -> None:
        """Move a file to a new name that must be free; a crash in between may leave
        both names, never neither."""

    @abc.abstractmethod
    def alias(self, name: str, target: str) -> None:
        """Make ``name`` show ``target``'s bytes (a symlink where possible, else a copy)."""

    @abc.abstractmethod
    def remove_temps(self, prefixes: Iterable[str]) -> list[str]:
        """Remove the temp files of interrupted writes whose names start with one of
        ``prefixes``; call it only under the lock of those files.  Returns their names."""

    @abc.abstractmethod
    def lock(self, name: str, timeout: float) -> contextlib.AbstractContextManager[Any]:
        """An exclusive lock among writers of ``name`` (see :attr:`exclusive_locks`)."""

    @abc.abstractmethod
    def staging(self, name: str) -> contextlib.AbstractContextManager[Path]:
        """A local file a tool (papermill, say) can write ``name`` into.

        On the local disk that is the file itself (its folder created), so an
        interrupted tool leaves its partial file in place; elsewhere a private
        temp file, so nothing appears before the caller publishes the result.
        """

    @abc.abstractmethod
    def arrow_filesystem(self) -> tuple[Any, str]:
        """A pyarrow filesystem and this store's root in it, for pyarrow.dataset readers."""
