"""From what a user gives (a path, a ``file://`` or ``s3://`` URL) to a :class:`~.base.Store`.

The one place that tells a local path from a URL: everything above opens a
location here once and then works with the store it gets.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..errors import StorageError
from .base import Store
from .local import LocalStore
from .objectstore import FsspecStore

#: URL schemes served by :class:`~.objectstore.FsspecStore`.
REMOTE_SCHEMES = ("s3", "s3a")

#: What a user may give for a place: a path, a URL or a store already opened.
Location = str | os.PathLike[str] | Store


def is_url(location: object) -> bool:
    """Whether ``location`` is a URL (``scheme://...``) rather than a local path."""
    return isinstance(location, str) and "://" in location


def _check_scheme(text: str) -> str:
    scheme = text.split("://", 1)[0].lower()
    if scheme not in (*REMOTE_SCHEMES, "file"):
        raise StorageError(
            f"unknown storage scheme {scheme!r} in {text!r}: use a local path, file://, "
            f"or {', '.join(s + '://bucket/prefix' for s in REMOTE_SCHEMES[:1])}")
    return scheme


def open_store(location: Location) -> Store:
    """The store at ``location``: a local path (or ``file://`` URL) or ``s3://bucket/prefix``.

    Raises :class:`~recruit_reveal.errors.StorageError` for a URL of another scheme.
    """
    if isinstance(location, Store):
        return location
    if not is_url(location):
        return LocalStore(Path(location).expanduser())
    text = str(location)
    if _check_scheme(text) == "file":
        return LocalStore(Path(text.split("://", 1)[1]))
    return FsspecStore(text)


def open_parent(location: str | os.PathLike[str]) -> tuple[Store, str]:
    """The store holding the file at ``location`` (a path or URL) and the file's name in it."""
    if is_url(location):
        folder, _, name = str(location).rstrip("/").rpartition("/")
        return open_store(folder), name
    path = Path(location).expanduser()
    return LocalStore(path.parent), path.name


def as_location(location: Location) -> Path | str:
    """``location`` as callers keep it: a Path for a local path, the URL as it is for a URL
    (a Path would fold its ``//``); StorageError for an unknown scheme."""
    if isinstance(location, Store):
        return location.location()
    if is_url(location):
        _check_scheme(str(location))
        return str(location)
    return Path(location)


def open_file(location: str | os.PathLike[str], default_name: str) -> tuple[Store, str]:
    """The store and the file's name for ``location``: the file itself, or ``default_name``
    in it when ``location`` names a folder (an existing local folder, or a URL ending
    with ``/``)."""
    if is_url(location) and str(location).endswith("/"):
        return open_store(str(location)), default_name
    if not is_url(location) and Path(location).expanduser().is_dir():
        return open_store(location), default_name
    return open_parent(location)


def is_relative(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` is a local path relative to the working directory (a URL never is)."""
    return not is_url(location) and not Path(location).is_absolute()


def resolve_local(location: str | os.PathLike[str],
                  resolve: Callable[[Path], Path]) -> Path | str:
    """A local path passed through ``resolve`` (made absolute, say); a URL as it is."""
    return str(location) if is_url(location) else resolve(Path(location))


def shown(location: Location) -> str:
    """``location`` as a user reads it: relative to the working directory when inside it,
    else absolute; a URL as it is (nothing is opened)."""
    if isinstance(location, Store):
        return location.shown()
    if is_url(location):
        return str(location)
    return LocalStore(location).shown()
