"""A models or runs folder in an object store (``s3://bucket/prefix``), through fsspec and s3fs.

Each PUT publishes an object whole (a killed upload leaves nothing, or an
unfinished multipart upload that is never visible), so the temp-and-rename of
the local disk is not needed.  What the disk gets from links and flock, S3
gets from conditional writes:

* :meth:`FsspecStore.create` is a PUT with ``If-None-Match: *``: it fails
  (FileExistsError) when the key exists, so a version is never overwritten,
  even by two writers racing;
* :meth:`FsspecStore.swap` is a PUT with ``If-Match: <ETag read>`` (or
  ``If-None-Match: *`` when there was none): of two writers that read the same
  manifest, one wins and the other gets :class:`~.base.PreconditionFailed`.

Credentials, region and endpoint come from the usual AWS sources
(``AWS_ACCESS_KEY_ID``..., ``AWS_ENDPOINT_URL`` for MinIO, R2 or a test
server) or fsspec's configuration (``FSSPEC_S3_ENDPOINT_URL``...).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import StorageError
from .base import PreconditionFailed, Store


def _is_precondition_failure(exc: BaseException) -> bool:
    """A 412 (or 409 ConditionalRequestConflict) answer to a conditional write."""
    seen: BaseException | None = exc
    while seen is not None:
        response = getattr(seen, "response", None)
        if isinstance(response, dict):
            code = str(response.get("Error", {}).get("Code", ""))
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("PreconditionFailed", "ConditionalRequestConflict", "412") \
                    or status in (409, 412):
                return True
        seen = seen.__cause__ or seen.__context__
    return False


class FsspecStore(Store):
    """A prefix in a bucket; names below it may hold ``/``."""

    exclusive_locks = False

    def __init__(self, url: str, **storage_options: Any):
        import fsspec

        scheme, _, rest = url.partition("://")
        if not rest.strip("/"):
            raise StorageError(f"{url!r} names no bucket; use {scheme}://bucket/prefix")
        self.scheme = scheme.lower()
        self.url = f"{self.scheme}://{rest.strip('/')}"
        self.storage_options = storage_options
        self.fs = fsspec.filesystem(self.scheme, **storage_options)
        self.root = rest.strip("/")

    def _key(self, name: str) -> str:
        return f"{self.root}/{name}" if name else self.root

    def display(self, name: str = "") -> str:
        return f"{self.scheme}://{self._key(name)}"

    def shown(self, name: str = "") -> str:
        return self.display(name)

    def location(self, name: str = "") -> str:
        return self.display(name)

    def child(self, *parts: str) -> FsspecStore:
        return FsspecStore("/".join([self.url, *parts]), **self.storage_options)

    def parent(self) -> FsspecStore:
        if "/" not in self.root:
            return self
        return FsspecStore(f"{self.scheme}://{self.root.rsplit('/', 1)[0]}",
                           **self.storage_options)

    def absolute(self) -> FsspecStore:
        return self

    def same(self, other: Store) -> bool:
        return isinstance(other, FsspecStore) and other.url == self.url

    def _split(self, name: str) -> tuple[str, str]:
        bucket, key, _ = self.fs.split_path(self._key(name))
        return bucket, key

    def read(self, name: str) -> bytes:
        return bytes(self.fs.cat_file(self._key(name)))

    def exists(self, name: str) -> bool:
        self.fs.invalidate_cache(self._key(name))
        return bool(self.fs.exists(self._key(name)))

    def _entries(self, kind: str) -> list[str]:
        try:
            entries = self.fs.ls(self.root, detail=True, refresh=True)
        except FileNotFoundError:
            return []
        return sorted(e["name"].rstrip("/").rsplit("/", 1)[-1] for e in entries
                      if e.get("type") == kind)

    def names(self) -> list[str]:
        return self._entries("file")

    def folders(self) -> list[str]:
        return self._entries("directory")

    def _put(self, name: str, data: bytes, **condition: str) -> None:
        bucket, key = self._split(name)
        try:
            self.fs.call_s3("put_object", Bucket=bucket, Key=key, Body=data, **condition)
        finally:
            self.fs.invalidate_cache(self._key(name))

    def create(self, name: str, data: bytes) -> None:
        try:
            self._put(name, data, IfNoneMatch="*")
        except FileExistsError:
            raise FileExistsError(f"{self.display(name)} already exists") from None
        except OSError as exc:
            if _is_precondition_failure(exc):
                raise FileExistsError(f"{self.display(name)} already exists") from None
            raise

    def write(self, name: str, data: bytes) -> None:
        self._put(name, data)

    def remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._key(name))
        self.fs.invalidate_cache(self._key(name))

    def tag(self, name: str) -> str | None:
        self.fs.invalidate_cache(self._key(name))
        try:
            return str(self.fs.info(self._key(name))["ETag"])
        except FileNotFoundError:
            return None

    def read_tagged(self, name: str) -> tuple[bytes, str] | None:
        # The tag first: if the object changes before the body is read, the tag is
        # stale and a swap conditioned on it fails, so no change can be lost.
        tag = self.tag(name)
        if tag is None:
            return None
        try:
            return self.read(name), tag
        except FileNotFoundError:
            return None

    def swap(self, name: str, data: bytes, expected: str | None) -> None:
        condition = {"IfNoneMatch": "*"} if expected is None else {"IfMatch": expected}
        try:
            self._put(name, data, **condition)
        except (FileExistsError, FileNotFoundError) as exc:
            raise PreconditionFailed(f"{self.display(name)} changed since it was read") \
                from exc
        except OSError as exc:
            if _is_precondition_failure(exc):
                raise PreconditionFailed(f"{self.display(name)} changed since it was read") \
                    from exc
            raise

    def alias(self, name: str, target: str) -> None:
        """A server-side copy: object stores have no links."""
        self.fs.copy(self._key(target), self._key(name))
        self.fs.invalidate_cache(self._key(name))

    def rename(self, name: str, new: str) -> None:
        # No renames in an object store: the copy appears whole before the original
        # goes, so a process killed in between leaves two copies, never none.
        self.create(new, self.read(name))
        self.remove(name)

    def remove_temps(self, prefixes: Iterable[str]) -> list[str]:
        return []  # every PUT is whole: there are no temp files to leave behind

    @contextlib.contextmanager
    def lock(self, name: str, timeout: float) -> Iterator[None]:
        yield  # conditional writes instead of locks

    @contextlib.contextmanager
    def staging(self, name: str) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="recruit-reveal-record-") as folder:
            yield Path(folder) / name.rsplit("/", 1)[-1]

    def arrow_filesystem(self) -> tuple[Any, str]:
        from pyarrow.fs import FSSpecHandler, PyFileSystem

        return PyFileSystem(FSSpecHandler(self.fs)), self.root
