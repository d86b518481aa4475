"""Checking and loading one candidate model: metadata, sha256 of every file, format, scikit-learn.

A version is *valid* when its metadata parses, names the right position,
version and files, and the sha256 and size of its pkl and (since skops) its
skops file match the metadata.  The bytes that are hashed are the bytes that
are loaded, so a file swapped between check and load cannot slip through.
Which file is loaded is :func:`choose`'s decision: the skops file, or the pkl
only as :func:`pickle_policy` allows.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from ..errors import (
    ArtifactIntegrityError,
    IncompatibleModelError,
    ModelNotFoundError,
    VersionError,
)
from ..settings import load_setting
from ..storage.base import Store
from . import formats, layout, signatures
from .metadata import Artifact, ModelMetadata

logger = logging.getLogger("recruit_reveal.artifacts.registry")

LATEST = layout.LATEST


def read_metadata_bytes(store: Store, name: str) -> tuple[bytes, ModelMetadata]:
    """The metadata file's bytes (what a signature covers) and its parsed document."""
    try:
        raw = store.read(name)
    except FileNotFoundError:
        raise ModelNotFoundError(f"{store.display(name)} does not exist") from None
    except OSError as exc:
        raise ArtifactIntegrityError(f"{store.display(name)} cannot be read: {exc}") from None
    return raw, ModelMetadata.from_json_bytes(raw, source=store.display(name))


def read_metadata(store: Store, name: str) -> ModelMetadata:
    return read_metadata_bytes(store, name)[1]


def check_metadata(meta: ModelMetadata, path: str, position: str, version: str) -> None:
    if meta.position != position:
        raise ArtifactIntegrityError(f"{path}: position is {meta.position!r}, "
                                     f"expected {position!r}")
    found = meta.model_version
    try:
        layout.parse_version(found)
    except VersionError:
        raise ArtifactIntegrityError(f"{path}: model_version {found!r} is not X.Y.Z") from None
    if version != LATEST and found != version:
        raise ArtifactIntegrityError(f"{path}: model_version is {found!r}, expected {version!r}")
    if meta.artifact.file != layout.artifact_name(position, found):
        raise ArtifactIntegrityError(f"{path}: artifact.file {meta.artifact.file!r} does not "
                                     f"belong to {position} {found}")
    skops = meta.artifact_skops
    if skops is not None and skops.file != layout.skops_name(position, found):
        raise ArtifactIntegrityError(f"{path}: artifact_skops.file {skops.file!r} does not "
                                     f"belong to {position} {found}")


@dataclass(frozen=True)
class Verified:
    """One version's metadata and files, every one matching its sha256 and size."""

    doc: ModelMetadata
    pkl: bytes
    skops: bytes | None
    pkl_path: str
    skops_path: str | None


def _check_bytes(data: bytes, path: str, meta_name: str, expected: Artifact, what: str) -> None:
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected.sha256:
        raise ArtifactIntegrityError(
            f"{path} does not match {meta_name}: sha256 {actual[:12]}..., "
            f"expected {expected.sha256[:12]}... ({len(data)} bytes, expected "
            f"{expected.size}); refusing to {what} it")


def _read_file(store: Store, name: str, meta_name: str, version: str) -> bytes:
    try:
        return store.read(name)
    except FileNotFoundError:
        raise ArtifactIntegrityError(
            f"{store.display(name)} is missing although {meta_name} exists "
            f"(an interrupted export; exporting {version} again completes it)") from None
    except OSError as exc:
        raise ArtifactIntegrityError(f"{store.display(name)} cannot be read: {exc}") from None


def verified(store: Store, position: str, version: str) -> Verified:
    """Metadata and files of one candidate (``latest``: the latest pair as named);
    raises unless every sha256 and size matches.

    The pkl is checked even when the skops file is what will be loaded: a
    version is served whole or not at all.
    """
    meta_name = layout.metadata_name(position, version)
    raw, doc = read_metadata_bytes(store, meta_name)
    check_metadata(doc, store.display(meta_name), position, version)
    pkl_name = layout.artifact_name(position, version)
    pkl = _read_file(store, pkl_name, meta_name, doc.model_version)
    _check_bytes(pkl, store.display(pkl_name), meta_name, doc.artifact, "unpickle")
    skops: bytes | None = None
    if doc.artifact_skops is not None:
        skops = _read_file(store, doc.artifact_skops.file, meta_name, doc.model_version)
        _check_bytes(skops, store.display(doc.artifact_skops.file), meta_name,
                     doc.artifact_skops, "load")
    keys = signatures.verify_keys()
    if keys:
        signatures.check_version(store, signed_files(doc, raw, pkl, skops), position,
                                 doc.model_version, keys)
    return Verified(doc, pkl, skops, store.display(pkl_name),
                    None if doc.artifact_skops is None
                    else store.display(doc.artifact_skops.file))


def signed_files(doc: ModelMetadata, metadata: bytes, pkl: bytes,
                 skops: bytes | None) -> dict[str, bytes]:
    """A version's files under their versioned names, as a signature covers them (the
    ``latest`` aliases hold the same bytes under other names)."""
    pos, version = doc.position, doc.model_version
    files = {layout.artifact_name(pos, version): pkl,
             layout.metadata_name(pos, version): metadata}
    if skops is not None:
        files[layout.skops_name(pos, version)] = skops
    return files


def check_sklearn(doc: ModelMetadata, path: str, allow_version_mismatch: bool) -> str | None:
    import sklearn

    saved = doc.sklearn_version
    running = sklearn.__version__
    if saved == running:
        return None
    message = (f"{path.rsplit('/', 1)[-1]} was saved with scikit-learn {saved}, but "
               f"scikit-learn {running} is running")
    if not allow_version_mismatch:
        raise IncompatibleModelError(
            message + "; retrain it, run the saved version, or pass allow_version_mismatch=True")
    logger.warning("%s; loading anyway (allow_version_mismatch=True)", message)
    return message


def pickle_policy(allow_pickle: bool | None = None) -> bool:
    """``allow_pickle``, else ``$ALLOW_PICKLE`` (off unless set): whether a pkl may be unpickled."""
    if allow_pickle is None:
        return bool(load_setting("allow_pickle"))
    return bool(allow_pickle)


def pickle_refusal(position: str, version: str, name: str) -> str:
    """Why a version without a skops file is not loaded, and the ways to load it."""
    return (f"{name} has no skops file, and pickle loading is off: unpickling runs whatever code "
            f"the file holds. If you trust the pickle, convert it to skops once with "
            f"`recruit-reveal models migrate {position} {version} --trust-pickle --reason "
            f"\"...\"`, or turn pickle loading on (ALLOW_PICKLE=1, serve --allow-pickle)")


def choose(found: Verified, policy: bool) -> tuple[str, bytes, str, str | None]:
    """(format, bytes, path, note) of what to load; the pkl only when ``policy`` allows it."""
    if found.skops is not None and found.skops_path is not None:
        return formats.SKOPS, found.skops, found.skops_path, None
    if not policy:
        raise ArtifactIntegrityError(pickle_refusal(
            found.doc.position, found.doc.model_version, found.pkl_path.rsplit("/", 1)[-1]))
    return formats.PICKLE, found.pkl, found.pkl_path, "loaded from pickle (ALLOW_PICKLE=1)"


@dataclass(frozen=True)
class Candidate:
    """A verified, loaded candidate."""

    pipeline: Any
    doc: ModelMetadata
    #: Why it was loaded despite a scikit-learn mismatch (None: no mismatch).
    mismatch: str | None
    format: str
    #: Why a pickle was loaded (None for skops).
    note: str | None


def load_candidate(store: Store, position: str, version: str, allow_version_mismatch: bool,
                   policy: bool = False) -> Candidate:
    found = verified(store, position, version)
    fmt, data, path, note = choose(found, policy)
    mismatch = check_sklearn(found.doc, path, allow_version_mismatch)
    if fmt == formats.SKOPS:
        pipeline = formats.load_skops(data, path)
    else:
        pipeline = formats.load_pickle(data, path)
    return Candidate(pipeline, found.doc, mismatch, fmt, note)
