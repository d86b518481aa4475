"""Where files live: a local folder or an object-store prefix, behind one :class:`Store` type.

Modules of the package import from the defining submodule; this namespace is
the curated API for users and notebooks.
"""

from .atomic import TMP_MARK, atomic_create, atomic_symlink, atomic_write, fsync_dir
from .base import PreconditionFailed, Store
from .local import LocalStore
from .locations import (
    REMOTE_SCHEMES,
    Location,
    as_location,
    is_relative,
    is_url,
    open_file,
    open_parent,
    open_store,
    resolve_local,
    shown,
)
from .objectstore import FsspecStore

__all__ = [
    "REMOTE_SCHEMES",
    "TMP_MARK",
    "FsspecStore",
    "LocalStore",
    "Location",
    "PreconditionFailed",
    "Store",
    "as_location",
    "is_relative",
    "atomic_create",
    "atomic_symlink",
    "atomic_write",
    "fsync_dir",
    "is_url",
    "open_file",
    "open_parent",
    "open_store",
    "resolve_local",
    "shown",
]
