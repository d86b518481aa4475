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
  so a stale lock cannot block anyone.
* Each file is written to a hidden temp file in the same folder, fsynced, then
  published under its final name (``os.link`` for a new versioned pkl, which
  fails if the name exists; ``os.replace`` otherwise), then the folder is fsynced.
* The metadata is published first, then the skops file, then the pkl.  So a pkl
  under a final name always has metadata (and a skops file) whose sha256 matches
  it; an interrupted export leaves at most metadata (and a skops file) without
  its pkl, which the registry reports as invalid and the next export of that
  version completes.
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
from ..reporting.tables import format_metric
from ..schema import DIVISIONS, check_position
from . import manifest
from .formats import dump_skops
from .layout import (
    artifact_name,
    changelog_name,
    lock_name,
    metadata_name,
    next_version,
    parse_version,
    skops_name,
)
from .metadata import ModelMetadata, build_metadata
from .storage import (
    TMP_MARK,
    LocalStore,
    PreconditionFailed,
    Store,
    atomic_create,
    atomic_write,
    fsync_dir,
    open_store,
)

logger = logging.getLogger(__name__)

#: How long an export waits for another export of the same position.
LOCK_TIMEOUT_SECONDS = 120.0
#: Conditional rewrites of a changelog that may lose to other writers (object storage).
MAX_CHANGELOG_ATTEMPTS = 20

# Test seam: called with a step name between the steps of an export, so tests
# can kill the process at every step boundary.  Never set in production.
_on_step: Callable[[str], None] | None = None


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


def _publish_new(final: Path | str, data: bytes, store: Store | None = None) -> None:
    """Publish a versioned file; a version, once written, is never overwritten."""
    try:
        if store is None:
            atomic_create(final, data)
        else:
            store.create(str(final), data)
    except FileExistsError:
        where = final if store is None else store.display(str(final))
        raise ArtifactExistsError(
            f"{where} already exists; versions are never overwritten "
            f"(export a new version, or pass force=True)") from None


def _step(name: str) -> None:
    if _on_step is not None:
        _on_step(name)


@contextlib.contextmanager
def position_lock(models_dir: str | os.PathLike | Store, position: str,
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
        if isinstance(store, LocalStore):
            _remove_stale_temps(store.root, check_position(position))
        yield
    finally:
        lock.__exit__(None, None, None)


def _remove_stale_temps(folder: Path, position: str) -> None:
    # Under the position lock no other exporter of this position is alive, so any
    # temp file of its versioned files or changelog was left by one that died.
    # (The latest files are written under the releases lock, which cleans theirs.)
    prefixes = (f".recruit_reveal_{position}_pipeline_v", f".CHANGELOG_{position}.md")
    for entry in os.scandir(folder):
        if entry.name.startswith(prefixes) and TMP_MARK in entry.name:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                logger.info("removed %s, left by an interrupted export", entry.name)


# ---------------------------------------------------------------------------
# Changelog


def changelog_entry(metadata: ModelMetadata, *, promoted: bool, replaced: bool = False) -> str:
    """Markdown entry for one export, built from its metadata (aggregates only)."""
    fp = metadata.data_fingerprint
    divs = ", ".join(f"{d} {fp.rows_per_division[d]}" for d in DIVISIONS
                     if d in fp.rows_per_division) or "n/a"
    head, metrics = metadata.metrics.headline, metadata.metrics

    def vs_ceiling(name: str) -> str:
        value, best = getattr(head, name), metrics.ceiling(name)
        if value is None or best is None:
            return format_metric(value, missing="n/a") + " (Bayes ceiling unknown)"
        side = "below it" if value <= best else "above it: CV noise"
        return f"{value:.3f} (Bayes ceiling {best:.3f}; {abs(best - value):.3f} {side})"

    text = (metadata.changelog or "").strip() or "(no changelog text)"
    lines = [
        f"## {metadata.model_version} ({metadata.created_at})",
        "",
        f"- Data: {fp.file or 'n/a'}, sha256 {fp.sha256 or 'n/a'}, "
        f"{fp.rows if fp.rows is not None else 'n/a'} rows ({divs})",
        f"- CV exact accuracy: {vs_ceiling('exact_accuracy')}",
        f"- CV within-one accuracy: {vs_ceiling('within_one_accuracy')}",
        f"- Estimator: {metadata.estimator.name}, seed {metadata.seed}, "
        f"{metrics.cv_folds} folds",
        f"- Artifact: {metadata.artifact.file}, sha256 {metadata.artifact.sha256}",
        f"- Promoted to latest: {'yes' if promoted else 'no'}"
        + ("; re-exported with force=True, replacing the earlier files of this version"
           if replaced else ""),
        "",
        text,
        "",
    ]
    return "\n".join(lines) + "\n"


def _append_changelog(store: Store, position: str, entry: str) -> str:
    """Append ``entry``: a rewrite published whole, conditional on what was read."""
    name = changelog_name(position)
    for _ in range(MAX_CHANGELOG_ATTEMPTS):
        found = store.read_tagged(name)
        old = (found[0].decode("utf-8") if found else
               f"# Changelog: {position} pipeline\n\nOne entry per export, oldest first.\n\n")
        if not old.endswith("\n"):
            old += "\n"
        try:
            store.swap(name, (old + entry).encode("utf-8"), found[1] if found else None)
        except PreconditionFailed:
            continue  # another export of this position appended first (object storage)
        return store.display(name)
    raise ArtifactLockError(f"{store.display(name)} kept changing; the entry for this export "
                            f"was not added (the metadata holds the same facts)")


# ---------------------------------------------------------------------------
# Public writers


def _location(store: Store, name: str) -> Path | str:
    return store.path(name) if isinstance(store, LocalStore) else store.display(name)


def _publish_local(store: LocalStore, names: dict[str, str], files: dict[str, bytes],
                   replaced: bool) -> None:
    """Metadata, then skops, then the pkl (linked: the version is valid from then on)."""
    folder = store.root
    if replaced:
        # Unpublish the old pkl first so no moment shows it beside the new metadata.
        os.unlink(folder / names["pkl"])
        fsync_dir(folder)
        _step("unlinked_old")
    # A skops file without its pkl was left by the replaced or interrupted export.
    store.remove(names["skops"])
    atomic_write(folder / names["meta"], files["meta"])
    _step("metadata")
    _publish_new(folder / names["skops"], files["skops"])
    _step("skops")
    _publish_new(folder / names["pkl"], files["pkl"])
    _step("pkl")


def _publish_remote(store: Store, names: dict[str, str], files: dict[str, bytes],
                    replaced: bool) -> None:
    """pkl first (create-only: the one writer that creates it owns the version), then the
    skops file, then the metadata (create-only): the version is valid from then on.

    Without locks, the first create-only write decides between racing writers
    before anything can be overwritten; a writer killed part way leaves files
    without metadata, which never load.
    """
    if replaced:
        for key in ("meta", "pkl", "skops"):
            store.remove(names[key])
        _step("unlinked_old")
    _publish_new(names["pkl"], files["pkl"], store)
    _step("pkl")
    _publish_new(names["skops"], files["skops"], store)
    _step("skops")
    _publish_new(names["meta"], files["meta"], store)
    _step("metadata")


def save_pipeline(result: Any, models_dir: str | os.PathLike | Store, version: str, *,
                  promote: bool = True, changelog: str | None = None,
                  audit_record: Any = None, force: bool = False) -> ExportedModel:
    """Export a :class:`~recruit_reveal.modeling.training.TrainingResult` as version ``version``.

    Writes the versioned pkl, skops file and metadata, appends to
    ``CHANGELOG_{pos}.md`` and, when ``promote``, makes a release with this
    version (:mod:`.manifest`).  ``models_dir`` is a folder or an ``s3://`` URL.
    Raises :class:`VersionError` for a version that is not strict semver
    (before any file is touched) and :class:`ArtifactExistsError` when the
    version exists and ``force`` is false.
    """
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
    files = {"pkl": pkl_bytes, "skops": skops_bytes, "meta": metadata.to_json_bytes()}
    names = {"pkl": artifact_name(pos, version), "skops": skops_name(pos, version),
             "meta": metadata_name(pos, version)}

    store = open_store(models_dir)
    if isinstance(store, LocalStore):
        store.root.mkdir(parents=True, exist_ok=True)
    with position_lock(store, pos):
        _step("locked")
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
        if isinstance(store, LocalStore):
            _publish_local(store, names, files, replaced)
        else:
            _publish_remote(store, names, files, replaced)
        log = _append_changelog(store, pos, changelog_entry(metadata, promoted=promote,
                                                            replaced=replaced))
        _step("changelog")
        if promote:
            manifest.promote(store, pos, version, how="api",
                             reason=changelog or f"exported {pos} {version}")
    logger.info("exported %s %s (%d bytes, sha256 %s)%s", pos, version, len(pkl_bytes),
                sha[:12], ", promoted to latest" if promote else "")
    return ExportedModel(position=pos, version=version, pkl_path=_location(store, names["pkl"]),
                         metadata_path=_location(store, names["meta"]), sha256=sha,
                         size=len(pkl_bytes), promoted=promote,
                         changelog_path=store.path(changelog_name(pos))
                         if isinstance(store, LocalStore) else log,
                         skops_path=_location(store, names["skops"]),
                         skops_sha256=metadata.artifact_skops.sha256
                         if metadata.artifact_skops else None)


def promote_version(models_dir: str | os.PathLike | Store, position: str, version: str, *,
                    reason: str | None = None, by: str | None = None,
                    how: str = "api") -> ExportedModel:
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
        manifest.promote(store, pos, version, how=how, reason=reason, by=by)
    logger.info("promoted %s %s to latest", pos, version)
    return ExportedModel(position=pos, version=version,
                         pkl_path=_location(store, artifact_name(pos, version)),
                         metadata_path=_location(store, metadata_name(pos, version)),
                         sha256=found.doc.artifact.sha256, size=len(found.pkl), promoted=True,
                         changelog_path=_location(store, changelog_name(pos)),
                         skops_sha256=found.doc.artifact_skops.sha256
                         if found.doc.artifact_skops else None)
