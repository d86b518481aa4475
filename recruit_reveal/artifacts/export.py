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

from filelock import FileLock, Timeout

from ..errors import (
    ArtifactExistsError,
    ArtifactIntegrityError,
    ArtifactLockError,
    TrainingError,
)
from ..reporting.tables import format_metric
from ..schema import DIVISIONS, check_position
from .formats import dump_skops
from .layout import (
    LATEST,
    artifact_path,
    changelog_path,
    file_stem,
    lock_path,
    metadata_path,
    next_version,
    parse_version,
    skops_path,
)
from .metadata import ModelMetadata, build_metadata
from .storage import TMP_MARK, atomic_create, atomic_symlink, atomic_write, fsync_dir

logger = logging.getLogger(__name__)

#: How long an export waits for another export of the same position.
LOCK_TIMEOUT_SECONDS = 120.0

# Test seam: called with a step name between the steps of an export, so tests
# can kill the process at every step boundary.  Never set in production.
_on_step: Callable[[str], None] | None = None


@dataclass(frozen=True)
class ExportedModel:
    """What :func:`save_pipeline` (or :func:`promote_version`) wrote."""

    position: str
    version: str
    pkl_path: Path
    metadata_path: Path
    sha256: str
    size: int
    promoted: bool
    changelog_path: Path | None = None
    skops_path: Path | None = None


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
# Atomic file primitives


def _publish_new(final: Path, data: bytes) -> None:
    """Publish a versioned file; a version, once written, is never overwritten."""
    try:
        atomic_create(final, data)
    except FileExistsError:
        raise ArtifactExistsError(
            f"{final} already exists; versions are never overwritten "
            f"(export a new version, or pass force=True)") from None


def _step(name: str) -> None:
    if _on_step is not None:
        _on_step(name)


@contextlib.contextmanager
def position_lock(models_dir: str | os.PathLike, position: str,
                  timeout: float | None = None) -> Iterator[None]:
    """Exclusive lock over the files of one position in ``models_dir``.

    ``filelock`` takes an ``flock`` on ``.recruit_reveal_{pos}.lock``: the lock
    belongs to the open file and dies with the process, so a writer killed by
    SIGKILL never leaves a lock that blocks others.  The lock file stays in
    place, so every writer locks the same inode.
    """
    path = lock_path(models_dir, position)
    wait = LOCK_TIMEOUT_SECONDS if timeout is None else timeout
    # fallback_to_soft=False: a filesystem without flock is an error, not a
    # pid-file lock that a killed writer would leave behind.
    lock = FileLock(path, timeout=wait, fallback_to_soft=False)
    try:
        lock.acquire(poll_interval=0.02)
    except Timeout:
        raise ArtifactLockError(
            f"{path} has been locked by another export of {position} for more "
            f"than {wait:.0f} s; wait for it to finish and retry") from None
    except OSError as exc:
        raise ArtifactLockError(
            f"cannot lock {path}: {exc.strerror or exc}; keep models/ on a local "
            f"filesystem that supports flock") from None
    try:
        _remove_stale_temps(Path(models_dir), check_position(position))
        yield
    finally:
        lock.release()


def _remove_stale_temps(folder: Path, position: str) -> None:
    # Under the position lock no other writer of this position is alive, so any
    # of its temp files were left by a writer that died mid-export.
    prefixes = (f".recruit_reveal_{position}_pipeline_", f".CHANGELOG_{position}.md")
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


def _append_changelog(models_dir: Path, position: str, entry: str) -> Path:
    path = changelog_path(models_dir, position)
    try:
        old = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        old = f"# Changelog: {position} pipeline\n\nOne entry per export, oldest first.\n\n"
    if not old.endswith("\n"):
        old += "\n"
    atomic_write(path, (old + entry).encode("utf-8"))
    return path


# ---------------------------------------------------------------------------
# Public writers


def _repoint_latest(models_dir: Path, position: str, version: str,
                    pkl_bytes: bytes, meta_bytes: bytes) -> None:
    stem = file_stem(position, version)
    latest_pkl = artifact_path(models_dir, position, LATEST)
    latest_meta = metadata_path(models_dir, position, LATEST)
    # The pkl is switched first; until the metadata follows, the pair's sha256
    # disagrees and the registry falls back to the newest valid version.
    if not atomic_symlink(latest_pkl, f"{stem}.pkl"):
        atomic_write(latest_pkl, pkl_bytes)
    _step("latest_pkl")
    if not atomic_symlink(latest_meta, f"{stem}.metadata.json"):
        atomic_write(latest_meta, meta_bytes)
    _step("latest_metadata")


def save_pipeline(result: Any, models_dir: str | os.PathLike, version: str, *,
                  promote: bool = True, changelog: str | None = None,
                  audit_record: Any = None, force: bool = False) -> ExportedModel:
    """Export a :class:`~recruit_reveal.modeling.training.TrainingResult` as version ``version``.

    Writes the versioned pkl and metadata, appends to ``CHANGELOG_{pos}.md``
    and, when ``promote``, repoints the latest pair.  Raises
    :class:`VersionError` for a version that is not strict semver (before any
    file is touched) and :class:`ArtifactExistsError` when the version exists
    and ``force`` is false.
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
    meta_bytes = metadata.to_json_bytes()

    folder = Path(models_dir)
    folder.mkdir(parents=True, exist_ok=True)
    pkl = artifact_path(folder, pos, version)
    meta = metadata_path(folder, pos, version)
    skops = skops_path(folder, pos, version)
    with position_lock(folder, pos):
        _step("locked")
        replaced = pkl.exists() or pkl.is_symlink()
        if replaced and not force:
            raise ArtifactExistsError(
                f"{pkl} already exists; versions are never overwritten "
                f"(export {next_version(folder, pos)} instead, or pass force=True)")
        if replaced:
            # Unpublish the old pkl first so no moment shows it beside the new metadata.
            os.unlink(pkl)
            fsync_dir(folder)
            logger.warning("force=True: replacing %s %s", pos, version)
            _step("unlinked_old")
        elif meta.exists():
            logger.warning("completing %s %s: an earlier export was interrupted after writing "
                           "its metadata", pos, version)
        if skops.exists():
            # Left by the replaced or interrupted export: its pkl is not published.
            os.unlink(skops)
        atomic_write(meta, meta_bytes)
        _step("metadata")
        _publish_new(skops, skops_bytes)
        _step("skops")
        _publish_new(pkl, pkl_bytes)
        _step("pkl")
        log = _append_changelog(folder, pos, changelog_entry(metadata, promoted=promote,
                                                               replaced=replaced))
        _step("changelog")
        if promote:
            _repoint_latest(folder, pos, version, pkl_bytes, meta_bytes)
    logger.info("exported %s %s (%d bytes, sha256 %s)%s", pos, version, len(pkl_bytes),
                sha[:12], ", promoted to latest" if promote else "")
    return ExportedModel(position=pos, version=version, pkl_path=pkl, metadata_path=meta,
                         sha256=sha, size=len(pkl_bytes), promoted=promote, changelog_path=log,
                         skops_path=skops)


def promote_version(models_dir: str | os.PathLike, position: str, version: str) -> ExportedModel:
    """Repoint the latest pair of ``position`` at an exported ``version`` (also how rollback works).

    The version's pkl is re-verified against its metadata under the lock.
    Callers normally go through :func:`recruit_reveal.artifacts.registry.promote`,
    which also checks that the model loads in this environment.
    """
    parse_version(version)
    pos = check_position(position)
    folder = Path(models_dir)
    pkl = artifact_path(folder, pos, version)
    meta = metadata_path(folder, pos, version)
    with position_lock(folder, pos):
        try:
            meta_bytes = meta.read_bytes()
            pkl_bytes = pkl.read_bytes()
        except FileNotFoundError as exc:
            raise ArtifactIntegrityError(
                f"cannot promote {pos} {version}: {exc.filename} is missing") from None
        try:
            doc = ModelMetadata.from_json_bytes(meta_bytes, source=meta)
        except ArtifactIntegrityError as exc:
            raise ArtifactIntegrityError(f"cannot promote: {exc}") from None
        expected = doc.artifact.sha256
        sha = hashlib.sha256(pkl_bytes).hexdigest()
        if sha != expected or doc.model_version != version or doc.position != pos:
            raise ArtifactIntegrityError(
                f"cannot promote {pos} {version}: {pkl.name} does not match {meta.name} "
                f"(sha256 {sha[:12]}, expected {str(expected)[:12]})")
        _repoint_latest(folder, pos, version, pkl_bytes, meta_bytes)
    logger.info("promoted %s %s to latest", pos, version)
    return ExportedModel(position=pos, version=version, pkl_path=pkl, metadata_path=meta,
                         sha256=sha, size=len(pkl_bytes), promoted=True,
                         changelog_path=changelog_path(folder, pos))
