"""Versioned model artifacts: the only code that writes ``models/``.

For a position ``pos`` and version ``X.Y.Z`` an export writes::

    recruit_reveal_{pos}_pipeline_vX.Y.Z.pkl            joblib-pickled fitted pipeline
    recruit_reveal_{pos}_pipeline_vX.Y.Z.skops          the same pipeline in skops (loaded by default)
    recruit_reveal_{pos}_pipeline_vX.Y.Z.metadata.json  metadata (schema in docs/artifacts.md)
    recruit_reveal_{pos}_pipeline_latest.pkl            relative symlink to the versioned pkl
    recruit_reveal_{pos}_pipeline_latest.metadata.json  relative symlink to its metadata
    CHANGELOG_{pos}.md                                  one entry appended per export

The file protocol (docs/artifacts.md explains it in full):

* Every argument, including the version string, is validated and the pickle
  and metadata are built in memory *before* any file is touched.
* Writers of one position serialise on ``.recruit_reveal_{pos}.lock`` with
  ``filelock`` (an ``flock``); the kernel drops the lock when its holder dies, even on SIGKILL,
  so a stale lock cannot block anyone.  Object stores cannot lock; there
  create-only writes decide between racing writers instead.
* Every file is published whole under its final name (:mod:`recruit_reveal.storage`),
  versioned files create-only, so a version, once written, is never overwritten.
* One protocol for every store (:func:`_publish`): the file published last
  makes the version valid.  Under an exclusive lock that is the pkl: the
  metadata goes first, then the skops file, so a pkl always has metadata (and
  a skops file) whose sha256 matches it, and an interrupted export leaves at
  most metadata without its pkl, which the registry reports as invalid and the
  next export of that version completes.  Without a lock the first
  create-only write must decide between racing writers: the pkl goes first and
  the metadata last, so an interrupted export leaves files without metadata,
  which never load.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import Timeout

from ..errors import (
    ArtifactExistsError,
    ArtifactIntegrityError,
    ArtifactLockError,
    ModelNotFoundError,
    TrainingError,
)
from ..storage.base import Store
from ..storage.locations import Location, open_store
from . import manifest, signatures
from .changelog import append_changelog, changelog_entry, note_promotion
from .formats import dump_skops
from .layout import (
    artifact_name,
    changelog_name,
    check_position,
    lock_name,
    metadata_name,
    next_version,
    parse_version,
    signature_name,
    skops_name,
)
from .metadata import ModelMetadata, build_metadata

__all__ = ["ExportedModel", "changelog_entry", "note_promotion", "position_lock",
           "promote_version", "save_pipeline"]

logger = logging.getLogger(__name__)

#: How long an export waits for another export of the same position.
LOCK_TIMEOUT_SECONDS = 120.0

#: Called with a step name between the steps of an export (tests kill the writer
#: at every step boundary through it).
OnStep = Callable[[str], None]


def _no_step(name: str) -> None:
    pass


@dataclass(frozen=True)
class ExportedModel:
    """What :func:`save_pipeline` (or :func:`promote_version`) wrote."""

    position: str
    version: str
    #: Paths in a local folder; URLs (str) on object storage.
    pkl_path: Path | str
    metadata_path: Path | str
    sha256: str
    size: int
    promoted: bool
    changelog_path: Path | str | None = None
    skops_path: Path | str | None = None
    skops_sha256: str | None = None


# ---------------------------------------------------------------------------
# Serialisation and the no-raw-rows guard


class _RowGuard(pickle.Pickler):
    """Pickler that only looks: flags objects shaped like copies of the training rows.

    Flagged: 2-D arrays, sparse matrices and frames with exactly ``rows`` rows
    (a stored feature matrix), and 1-D text/object arrays or Series of that
    length (names, labels).  1-D numeric and structured arrays and 3-D arrays
    are not flagged: tree nodes and values have those shapes, and a tree can
    have as many nodes as there were rows by coincidence.
    """

    def __init__(self, rows: int):
        super().__init__(_NullSink(), protocol=pickle.HIGHEST_PROTOCOL)
        self.rows = rows
        self.offenders: list[str] = []

    def reducer_override(self, obj: Any) -> Any:
        shape = getattr(obj, "shape", None)
        if (isinstance(shape, tuple) and shape and shape[0] == self.rows
                and type(obj).__module__.split(".")[0] in ("numpy", "pandas", "scipy")):
            kind = getattr(getattr(obj, "dtype", None), "kind", None)
            if len(shape) == 2 or (len(shape) == 1 and kind in ("O", "U", "S")):
                self.offenders.append(f"{type(obj).__name__} of shape {shape}")
        return NotImplemented


class _NullSink:
    def write(self, data: bytes) -> int:
        return len(data)


def _check_no_training_rows(pipeline: Any, rows: object) -> None:
    """Refuse a pipeline that carries one entry per training row (KNN-style copies of X, say)."""
    if not isinstance(rows, int) or rows < 20:  # too few rows to tell a copy from a coincidence
        return
    guard = _RowGuard(rows)
    guard.dump(pipeline)
    if guard.offenders:
        raise TrainingError(
            f"the fitted pipeline holds {len(guard.offenders)} array(s) with one entry per "
            f"training row ({', '.join(guard.offenders[:3])}); model artifacts must not carry "
            f"raw rows, so this estimator cannot be exported")


def _serialize(pipeline: Any) -> bytes:
    import joblib

    buf = io.BytesIO()
    joblib.dump(pipeline, buf)
    return buf.getvalue()


# ---------------------------------------------------------------------------
# Publishing files


def _publish_new(store: Store, name: str, data: bytes) -> None:
    """Publish a versioned file; a version, once written, is never overwritten."""
    try:
        store.create(name, data)
    except FileExistsError:
        raise ArtifactExistsError(
            f"{store.display(name)} already exists; versions are never overwritten "
            f"(export a new version, or pass force=True)") from None


@contextlib.contextmanager
def position_lock(models_dir: Location, position: str,
                  timeout: float | None = None) -> Iterator[None]:
    """Exclusive lock over the files of one position in ``models_dir`` (local folders).

    ``filelock`` takes an ``flock`` on ``.recruit_reveal_{pos}.lock``: the lock
    belongs to the open file and dies with the process, so a writer killed by
    SIGKILL never leaves a lock that blocks others.  The lock file stays in
    place, so every writer locks the same inode.  On object storage this is a
    no-op: create-only and conditional writes protect the files instead.
    """
    store = open_store(models_dir)
    name = lock_name(position)
    wait = LOCK_TIMEOUT_SECONDS if timeout is None else timeout
    try:
        lock = store.lock(name, wait)
        lock.__enter__()
    except Timeout:
        raise ArtifactLockError(
            f"{store.display(name)} has been locked by another export of {position} for more "
            f"than {wait:.0f} s; wait for it to finish and retry") from None
    except OSError as exc:
        raise ArtifactLockError(
            f"cannot lock {store.display(name)}: {exc.strerror or exc}; keep models/ on a local "
            f"filesystem that supports flock") from None
    try:
        _remove_stale_temps(store, check_position(position))
        yield
    finally:
        lock.__exit__(None, None, None)


def _remove_stale_temps(store: Store, position: str) -> None:
    # Under the position lock no other exporter of this position is alive, so any
    # temp file of its versioned files or changelog was left by one that died.
    # (The latest files are written under the releases lock, which cleans theirs.)
    prefixes = (f".recruit_reveal_{position}_pipeline_v", f".CHANGELOG_{position}.md")
    for name in store.remove_temps(prefixes):
        logger.info("removed %s, left by an interrupted export", name)


# ---------------------------------------------------------------------------
# Changelog


# ---------------------------------------------------------------------------
# Public writers


#: Each file of a version: the step reported once it is published.
_STEPS = {"meta": "metadata", "skops": "skops", "pkl": "pkl"}


def _publish_order(store: Store) -> tuple[str, str, str]:
    """The version's files in publishing order; the last one makes the version valid.

    Under an exclusive lock the pkl, linked last, makes it valid, so a pkl always has
    its metadata and skops file beside it.  Without one the first create-only write
    must decide between racing writers: the pkl goes first, the metadata last.
    """
    return ("meta", "skops", "pkl") if store.exclusive_locks else ("pkl", "skops", "meta")


def _publish(store: Store, names: dict[str, str], files: dict[str, bytes], *,
             replaced: bool, step: OnStep) -> None:
    """Publish the version's files (one protocol for every store, see the module doc)."""
    first, *rest = order = _publish_order(store)
    # Only under an exclusive lock is the first file (the metadata) replaced in place:
    # it may be the one an interrupted export left, which this export completes.
    in_place = store.exclusive_locks
    if replaced:
        # Unpublish the old version first so no moment shows its last file beside new ones.
        store.remove(names[order[-1]])
        step("unlinked_old")
    if replaced or in_place:
        # Files of the replaced version, or left by an interrupted export.  Without a lock
        # (and without force) they may be a racing writer's: create-only writes decide.
        for key in rest if in_place else order:
            store.remove(names[key])
    if in_place:
        store.write(names[first], files[first])
    else:
        _publish_new(store, names[first], files[first])
    step(_STEPS[first])
    for key in rest:
        _publish_new(store, names[key], files[key])
        step(_STEPS[key])


@dataclass(frozen=True)
class _Export:
    """A version built in memory: its metadata and the bytes and name of each file."""

    position: str
    version: str
    metadata: ModelMetadata
    files: dict[str, bytes]
    names: dict[str, str]


def _build(result: Any, version: str, changelog: str | None, audit_record: Any) -> _Export:
    """Check everything and build every file in memory, before any file is touched."""
    parse_version(version)
    pos = check_position(result.position)
    if not hasattr(result.pipeline, "predict_proba"):
        raise TrainingError(f"result.pipeline ({type(result.pipeline).__name__}) has no "
                            f"predict_proba; export needs a fitted classifier pipeline")
    if changelog is not None and not isinstance(changelog, str):
        raise TypeError(f"changelog must be a string, got {type(changelog).__name__}")
    _check_no_training_rows(result.pipeline, (result.data_fingerprint or {}).get("rows"))
    pkl_bytes = _serialize(result.pipeline)
    sha = hashlib.sha256(pkl_bytes).hexdigest()
    skops_bytes = dump_skops(result.pipeline)
    metadata = build_metadata(result, version, sha256=sha, size=len(pkl_bytes),
                              changelog=changelog, audit_record=audit_record,
                              skops=(hashlib.sha256(skops_bytes).hexdigest(), len(skops_bytes)))
    return _Export(pos, version, metadata,
                   files={"pkl": pkl_bytes, "skops": skops_bytes,
                          "meta": metadata.to_json_bytes()},
                   names={"pkl": artifact_name(pos, version), "skops": skops_name(pos, version),
                          "meta": metadata_name(pos, version)})


def _check_slot(store: Store, export: _Export, force: bool) -> bool:
    """Whether the version exists (and may be replaced: ``force``); ArtifactExistsError."""
    pos, version, names = export.position, export.version, export.names
    replaced = store.exists(names["pkl"])
    if replaced and not force:
        raise ArtifactExistsError(
            f"{store.display(names['pkl'])} already exists; versions are never overwritten "
            f"(export {next_version(store, pos)} instead, or pass force=True)")
    if replaced:
        logger.warning("force=True: replacing %s %s", pos, version)
    elif store.exists(names["meta"]):
        logger.warning("completing %s %s: an earlier export was interrupted after writing "
                       "its metadata", pos, version)
    return replaced


def save_pipeline(result: Any, models_dir: Location, version: str, *,
                  promote: bool = True, changelog: str | None = None,
                  audit_record: Any = None, force: bool = False,
                  on_step: OnStep | None = None,
                  signing_key: str | os.PathLike[str] | None = None) -> ExportedModel:
    """Export a :class:`~recruit_reveal.modeling.training.TrainingResult` as version ``version``.

    Writes the versioned pkl, skops file and metadata, appends to
    ``CHANGELOG_{pos}.md`` and, when ``promote``, makes a release with this
    version (:mod:`.manifest`).  ``models_dir`` is a folder or an ``s3://`` URL.
    Raises :class:`VersionError` for a version that is not strict semver
    (before any file is touched) and :class:`ArtifactExistsError` when the
    version exists and ``force`` is false.  ``on_step`` is called with the
    name of each step once it is done.  With a signing key (``signing_key``, else
    ``$SIGNING_KEY``) the version's files are signed (:mod:`.signatures`) before it
    can be promoted, so a server with VERIFY_KEY can follow the release.
    """
    export = _build(result, version, changelog, audit_record)
    pos, names, metadata = export.position, export.names, export.metadata
    step = on_step or _no_step
    key = signatures.signing_key(signing_key)
    store = open_store(models_dir)
    with position_lock(store, pos):
        step("locked")
        replaced = _check_slot(store, export, force)
        if replaced:
            store.remove(signature_name(pos, version))  # it covers the files being replaced
        _publish(store, names, export.files, replaced=replaced, step=step)
        if key is not None:
            signatures.sign_version(store, {names[k]: export.files[k] for k in names},
                                    pos, version, key)
            step("signed")
        append_changelog(store, pos, changelog_entry(metadata, promoted=promote,
                                                      replaced=replaced))
        step("changelog")
        if promote:
            manifest.promote(store, pos, version, how="api",
                             reason=changelog or f"exported {pos} {version}", on_step=step)
    pkl = export.files["pkl"]
    logger.info("exported %s %s (%d bytes, sha256 %s)%s", pos, version, len(pkl),
                metadata.artifact.sha256[:12], ", promoted to latest" if promote else "")
    return ExportedModel(position=pos, version=version, pkl_path=store.location(names["pkl"]),
                         metadata_path=store.location(names["meta"]),
                         sha256=metadata.artifact.sha256, size=len(pkl), promoted=promote,
                         changelog_path=store.location(changelog_name(pos)),
                         skops_path=store.location(names["skops"]),
                         skops_sha256=metadata.artifact_skops.sha256
                         if metadata.artifact_skops else None)


def promote_version(models_dir: Location, position: str, version: str, *,
                    reason: str | None = None, by: str | None = None,
                    how: str = "api",
                    signing_key: str | os.PathLike[str] | None = None) -> ExportedModel:
    """A new release with ``position`` at an exported ``version`` (:func:`.manifest.promote`).

    The version's files are re-verified against its metadata under the
    position lock.  Callers normally go through
    :func:`recruit_reveal.artifacts.registry.promote`, which also checks that
    the model loads in this environment.
    """
    from .verification import verified

    parse_version(version)
    pos = check_position(position)
    store = open_store(models_dir)
    with position_lock(store, pos):
        try:
            found = verified(store, pos, version)
        except (ArtifactIntegrityError, ModelNotFoundError) as exc:
            raise ArtifactIntegrityError(f"cannot promote {pos} {version}: {exc}") from None
        _sign_if_unsigned(store, found, signing_key)
        manifest.promote(store, pos, version, how=how, reason=reason, by=by)
    logger.info("promoted %s %s to latest", pos, version)
    return ExportedModel(position=pos, version=version,
                         pkl_path=store.location(artifact_name(pos, version)),
                         metadata_path=store.location(metadata_name(pos, version)),
                         sha256=found.doc.artifact.sha256, size=len(found.pkl), promoted=True,
                         changelog_path=store.location(changelog_name(pos)),
                         skops_sha256=found.doc.artifact_skops.sha256
                         if found.doc.artifact_skops else None)


def _sign_if_unsigned(store: Store, found: Any,
                      signing_key: str | os.PathLike[str] | None) -> None:
    """Sign a verified version being promoted when a key is given and it has no signature
    yet (an existing signature is never replaced: the server checks it)."""
    from .verification import read_metadata_bytes, signed_files

    key = signatures.signing_key(signing_key)
    doc = found.doc
    if key is None or store.exists(signature_name(doc.position, doc.model_version)):
        return
    raw, _ = read_metadata_bytes(store, metadata_name(doc.position, doc.model_version))
    signatures.sign_version(store, signed_files(doc, raw, found.pkl, found.skops),
                            doc.position, doc.model_version, key)
    logger.info("signed %s %s with %s", doc.position, doc.model_version, key)
