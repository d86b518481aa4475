"""Versioned model artifacts: the only code that writes ``models/``.

For a position ``pos`` and version ``X.Y.Z`` an export writes::

    recruit_reveal_{pos}_pipeline_vX.Y.Z.pkl            joblib-pickled fitted pipeline
    recruit_reveal_{pos}_pipeline_vX.Y.Z.metadata.json  metadata (schema in docs/artifacts.md)
    recruit_reveal_{pos}_pipeline_latest.pkl            relative symlink to the versioned pkl
    recruit_reveal_{pos}_pipeline_latest.metadata.json  relative symlink to its metadata
    CHANGELOG_{pos}.md                                  one entry appended per export

The file protocol (docs/artifacts.md explains it in full):

* Every argument, including the version string, is validated and the pickle
  and metadata are built in memory *before* any file is touched.
* Writers of one position serialise on ``.recruit_reveal_{pos}.lock`` with
  ``flock``; the kernel drops the lock when its holder dies, even on SIGKILL,
  so a stale lock cannot block anyone.
* Each file is written to a hidden temp file in the same folder, fsynced, then
  published under its final name (``os.link`` for a new versioned pkl, which
  fails if the name exists; ``os.replace`` otherwise), then the folder is fsynced.
* The metadata is published *before* the pkl.  So a pkl under a final name
  always has metadata whose sha256 matches it; an interrupted export leaves at
  most a metadata file without its pkl, which the registry reports as invalid
  and the next export of that version completes.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import io
import json
import logging
import math
import os
import pickle
import platform
import re
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import (
    ArtifactExistsError,
    ArtifactIntegrityError,
    ArtifactLockError,
    TrainingError,
    VersionError,
)
from ..schema import DIVISIONS, check_position

logger = logging.getLogger(__name__)

#: Version of the metadata JSON layout; bump it when a field changes meaning.
METADATA_SCHEMA_VERSION = 1
LATEST = "latest"
#: How long an export waits for another export of the same position.
LOCK_TIMEOUT_SECONDS = 120.0
_GIT_TIMEOUT_SECONDS = 2.0
# Digits are spelled [0-9] because \d also matches non-ASCII digits.
_SEMVER = re.compile(r"(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})")
_TMP_MARK = ".tmp."

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


# ---------------------------------------------------------------------------
# Versions and names


def parse_version(text: object) -> tuple[int, int, int]:
    """Parse strict semver ``X.Y.Z`` into a tuple of ints.

    Rejects everything else *before* it can reach a path: a leading ``v``,
    pre-release or build suffixes, leading zeros, whitespace, separators,
    ``..``, absolute paths, non-ASCII digits and components over 9 digits.
    """
    if not isinstance(text, str):
        raise VersionError(f"version must be a string like '1.0.0', got {type(text).__name__}")
    match = _SEMVER.fullmatch(text)
    if match is None:
        hint = ""
        if text[:1] in ("v", "V") and _SEMVER.fullmatch(text[1:]):
            hint = f"; write {text[1:]!r} without the 'v'"
        raise VersionError(
            f"invalid version {text!r}: expected strict semver X.Y.Z such as '1.0.0' "
            f"(digits only, no leading zeros){hint}")
    return (int(match[1]), int(match[2]), int(match[3]))


def format_version(parts: tuple[int, int, int]) -> str:
    return ".".join(str(p) for p in parts)


def _check_version_or_latest(version: object) -> str:
    if version == LATEST:
        return LATEST
    parse_version(version)
    return str(version)


def file_stem(position: str, version: str) -> str:
    """``recruit_reveal_{pos}_pipeline_vX.Y.Z`` (or ``..._latest``); validates both parts."""
    pos = check_position(position)
    version = _check_version_or_latest(version)
    suffix = LATEST if version == LATEST else f"v{version}"
    return f"recruit_reveal_{pos}_pipeline_{suffix}"


def artifact_path(models_dir: str | os.PathLike, position: str, version: str) -> Path:
    """Path of the pkl of ``position`` at ``version`` (``"latest"`` allowed)."""
    return Path(models_dir) / f"{file_stem(position, version)}.pkl"


def metadata_path(models_dir: str | os.PathLike, position: str, version: str) -> Path:
    """Path of the metadata JSON of ``position`` at ``version`` (``"latest"`` allowed)."""
    return Path(models_dir) / f"{file_stem(position, version)}.metadata.json"


def changelog_path(models_dir: str | os.PathLike, position: str) -> Path:
    return Path(models_dir) / f"CHANGELOG_{check_position(position)}.md"


def lock_path(models_dir: str | os.PathLike, position: str) -> Path:
    return Path(models_dir) / f".recruit_reveal_{check_position(position)}.lock"


def versioned_file_pattern(position: str) -> re.Pattern[str]:
    """Regex matching the versioned pkl/metadata names of a position; group 1 is the version."""
    pos = check_position(position)
    return re.compile(
        rf"recruit_reveal_{pos}_pipeline_v((?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*))"
        r"\.(?:pkl|metadata\.json)")


def existing_versions(models_dir: str | os.PathLike, position: str, *,
                      with_pkl_only: bool = False) -> list[str]:
    """Versions with a pkl or a metadata file in ``models_dir``, in semver order.

    With ``with_pkl_only`` only versions whose pkl is published count: those
    are the versions :func:`save_pipeline` refuses to overwrite.
    """
    folder = Path(models_dir)
    if not folder.is_dir():
        return []
    pattern = versioned_file_pattern(position)
    found: set[str] = set()
    for entry in os.scandir(folder):
        match = pattern.fullmatch(entry.name)
        if match and (not with_pkl_only or entry.name.endswith(".pkl")):
            found.add(match[1])
    return sorted(found, key=parse_version)


def next_version(models_dir: str | os.PathLike, position: str) -> str:
    """The next patch version after the newest exported one, or ``1.0.0`` when none exists.

    A version whose export was interrupted (metadata but no pkl) is not
    counted, so retrying gets the same number and completes it.
    """
    versions = existing_versions(models_dir, position, with_pkl_only=True)
    if not versions:
        return "1.0.0"
    major, minor, patch = parse_version(versions[-1])
    return format_version((major, minor, patch + 1))


# ---------------------------------------------------------------------------
# Metadata


def library_versions() -> dict[str, str]:
    """Versions of the libraries a pickled pipeline depends on."""
    import joblib
    import numpy
    import pandas
    import sklearn

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
        "joblib": joblib.__version__,
    }


def _git(*args: str) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(
            ["git", *args], cwd=Path(__file__).resolve().parent,
            capture_output=True, text=True, timeout=_GIT_TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def git_commit() -> str | None:
    """HEAD of the repository holding this package, or ``None`` (no git, not a repo, timeout)."""
    out = _git("rev-parse", "HEAD")
    if out is None or out.returncode != 0:
        return None
    commit = out.stdout.strip()
    return commit if re.fullmatch(r"[0-9a-f]{40,64}", commit) else None


def git_dirty() -> bool | None:
    """Whether tracked files differ from HEAD (the model may come from uncommitted code)."""
    out = _git("status", "--porcelain", "--untracked-files=no")
    if out is None or out.returncode != 0:
        return None
    return bool(out.stdout.strip())


def _jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars/arrays unwrapped, NaN/inf -> None, tuples -> lists.

    Objects JSON cannot hold (a nested estimator in params, say) become their
    ``repr`` so the metadata still says what they were.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [_jsonable(v) for v in items]
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # numpy scalar or array
        return _jsonable(value.tolist())
    return repr(value)


def _audit_record(audit_record: Any) -> Any:
    if audit_record is None:
        return None
    if isinstance(audit_record, str | os.PathLike):
        return {"notebook": str(audit_record)}
    if isinstance(audit_record, Mapping):
        return _jsonable(audit_record)
    raise TypeError(
        f"audit_record must be a path to the executed notebook or a dict, "
        f"got {type(audit_record).__name__}")


def _headline(metrics: Mapping[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name in ("exact_accuracy", "within_one_accuracy"):
        value = metrics.get(name)
        if isinstance(value, Mapping):
            value = value.get("mean")
        out[name] = _jsonable(value) if value is not None else None
    return out


def build_metadata(result: Any, version: str, *, sha256: str, size: int,
                   changelog: str | None = None, audit_record: Any = None,
                   created_at: str | None = None) -> dict[str, Any]:
    """The metadata document of one export (documented field by field in docs/artifacts.md).

    Only aggregates go in: no athlete names, no rows, no per-row warnings.
    """
    pos = check_position(result.position)
    parse_version(version)
    stem = file_stem(pos, version)
    cv = _jsonable(result.cv_metrics)
    return {
        "schema_version": METADATA_SCHEMA_VERSION,
        "position": pos,
        "model_version": version,
        "created_at": created_at or _utc_now(),
        "artifact": {"file": f"{stem}.pkl", "sha256": sha256, "size": size, "format": "joblib"},
        "data_fingerprint": _fingerprint(result.data_fingerprint),
        "input_schema": _jsonable(result.input_schema),
        "features": _jsonable(list(result.features)),
        "classes": _jsonable(list(result.classes)),
        "metrics": {
            "headline": _headline(result.cv_metrics),
            "cv": cv,
            "cv_folds": _jsonable(result.cv_folds),
            "baselines": _jsonable(result.baselines),
            "bayes_ceiling": _jsonable(result.bayes_ceiling),
        },
        "typical_values": _jsonable(result.typical_values),
        "estimator": {"name": str(result.estimator), "params": _jsonable(result.params)},
        "seed": _jsonable(result.seed),
        "timings": _jsonable(result.timings),
        "validation_warning_count": len(result.validation_warnings or []),
        "library_versions": library_versions(),
        "git_commit": (commit := git_commit()),
        "git_dirty": git_dirty() if commit else None,
        "audit_record": _audit_record(audit_record),
        "changelog": changelog,
    }


def _fingerprint(fingerprint: Mapping[str, Any] | None) -> dict[str, Any]:
    # The file's name identifies the data; its directory may name a person or machine.
    doc = _jsonable(dict(fingerprint or {}))
    if isinstance(doc.get("file"), str):
        doc["file"] = Path(doc["file"]).name
    return doc


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dump_json(doc: Mapping[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, allow_nan=False, ensure_ascii=False) + "\n").encode("utf-8")


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


def _fsync_dir(folder: Path) -> None:
    # Makes a rename/link durable; some platforms cannot open a directory.
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


def _tmp_name(final: Path) -> Path:
    return final.with_name(f".{final.name}{_TMP_MARK}{os.getpid()}.{secrets.token_hex(4)}")


def _write_tmp(final: Path, data: bytes) -> Path:
    tmp = _tmp_name(final)
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


def _publish_replace(final: Path, data: bytes) -> None:
    """Write ``data`` under ``final`` atomically, replacing whatever is there."""
    tmp = _write_tmp(final, data)
    try:
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(final.parent)


def _publish_new(final: Path, data: bytes) -> None:
    """Write ``data`` under ``final`` atomically; fail with ArtifactExistsError if it exists.

    ``os.link`` refuses an existing target, so even a writer that bypassed the
    lock could not overwrite a published version.
    """
    tmp = _write_tmp(final, data)
    try:
        try:
            os.link(tmp, final)
        except FileExistsError:
            raise ArtifactExistsError(
                f"{final} already exists; versions are never overwritten "
                f"(export a new version, or pass force=True)") from None
        except OSError:
            # Filesystems without hard links: the position lock still excludes other writers.
            if final.exists():
                raise ArtifactExistsError(f"{final} already exists") from None
            os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _fsync_dir(final.parent)


def _publish_symlink(final: Path, target_name: str) -> bool:
    """Point ``final`` at ``target_name`` (relative, same folder) atomically.

    Returns False when the platform cannot make symlinks; the caller then copies.
    """
    tmp = _tmp_name(final)
    try:
        os.symlink(target_name, tmp)
    except (OSError, NotImplementedError):
        return False
    try:
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(final.parent)
    return True


def _step(name: str) -> None:
    if _on_step is not None:
        _on_step(name)


@contextlib.contextmanager
def position_lock(models_dir: str | os.PathLike, position: str,
                  timeout: float | None = None) -> Iterator[None]:
    """Exclusive lock over the files of one position in ``models_dir``.

    ``flock`` locks belong to the open file and die with the process, so a
    writer killed by SIGKILL never leaves a lock that blocks others.  The lock
    file itself is left in place on purpose: deleting it would let two writers
    lock two different files of the same name.
    """
    import fcntl  # POSIX only; see docs/artifacts.md

    if timeout is None:
        timeout = LOCK_TIMEOUT_SECONDS
    path = lock_path(models_dir, position)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ArtifactLockError(
                        f"{path} has been locked by another export of {position} for more "
                        f"than {timeout:.0f} s; wait for it to finish and retry") from None
                time.sleep(0.02)
            except OSError as exc:
                raise ArtifactLockError(
                    f"cannot lock {path}: {exc.strerror or exc}; keep models/ on a local "
                    f"filesystem that supports flock") from None
        _remove_stale_temps(Path(models_dir), check_position(position))
        yield
    finally:
        os.close(fd)  # releases the flock


def _remove_stale_temps(folder: Path, position: str) -> None:
    # Under the position lock no other writer of this position is alive, so any
    # of its temp files were left by a writer that died mid-export.
    prefixes = (f".recruit_reveal_{position}_pipeline_", f".CHANGELOG_{position}.md")
    for entry in os.scandir(folder):
        if entry.name.startswith(prefixes) and _TMP_MARK in entry.name:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                logger.info("removed %s, left by an interrupted export", entry.name)


# ---------------------------------------------------------------------------
# Changelog


def _fmt_metric(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) and not isinstance(value, bool) else "n/a"


def changelog_entry(metadata: Mapping[str, Any], *, promoted: bool, replaced: bool = False) -> str:
    """Markdown entry for one export, built from its metadata (aggregates only)."""
    fp = metadata.get("data_fingerprint") or {}
    per_div = fp.get("rows_per_division") or {}
    divs = ", ".join(f"{d} {per_div[d]}" for d in DIVISIONS if d in per_div) or "n/a"
    head = metadata["metrics"]["headline"]
    ceiling = metadata["metrics"].get("bayes_ceiling") or {}

    def vs_ceiling(name: str) -> str:
        value, best = head.get(name), ceiling.get(name)
        if not isinstance(value, int | float) or not isinstance(best, int | float):
            return _fmt_metric(value) + " (Bayes ceiling unknown)"
        side = "below it" if value <= best else "above it: CV noise"
        return f"{value:.3f} (Bayes ceiling {best:.3f}; {abs(best - value):.3f} {side})"

    text = (metadata.get("changelog") or "").strip() or "(no changelog text)"
    lines = [
        f"## {metadata['model_version']} ({metadata['created_at']})",
        "",
        f"- Data: {fp.get('file', 'n/a')}, sha256 {fp.get('sha256', 'n/a')}, "
        f"{fp.get('rows', 'n/a')} rows ({divs})",
        f"- CV exact accuracy: {vs_ceiling('exact_accuracy')}",
        f"- CV within-one accuracy: {vs_ceiling('within_one_accuracy')}",
        f"- Estimator: {metadata['estimator']['name']}, seed {metadata.get('seed')}, "
        f"{metadata['metrics'].get('cv_folds')} folds",
        f"- Artifact: {metadata['artifact']['file']}, sha256 {metadata['artifact']['sha256']}",
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
    _publish_replace(path, (old + entry).encode("utf-8"))
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
    if not _publish_symlink(latest_pkl, f"{stem}.pkl"):
        _publish_replace(latest_pkl, pkl_bytes)
    _step("latest_pkl")
    if not _publish_symlink(latest_meta, f"{stem}.metadata.json"):
        _publish_replace(latest_meta, meta_bytes)
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
    metadata = build_metadata(result, version, sha256=sha, size=len(pkl_bytes),
                              changelog=changelog, audit_record=audit_record)
    meta_bytes = _dump_json(metadata)

    folder = Path(models_dir)
    folder.mkdir(parents=True, exist_ok=True)
    pkl = artifact_path(folder, pos, version)
    meta = metadata_path(folder, pos, version)
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
            _fsync_dir(folder)
            logger.warning("force=True: replacing %s %s", pos, version)
            _step("unlinked_old")
        elif meta.exists():
            logger.warning("completing %s %s: an earlier export was interrupted after writing "
                           "its metadata", pos, version)
        _publish_replace(meta, meta_bytes)
        _step("metadata")
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
                         sha256=sha, size=len(pkl_bytes), promoted=promote, changelog_path=log)


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
            doc = json.loads(meta_bytes)
            expected = doc["artifact"]["sha256"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ArtifactIntegrityError(f"cannot promote: {meta} is not valid metadata "
                                         f"({exc})") from None
        sha = hashlib.sha256(pkl_bytes).hexdigest()
        if sha != expected or doc.get("model_version") != version or doc.get("position") != pos:
            raise ArtifactIntegrityError(
                f"cannot promote {pos} {version}: {pkl.name} does not match {meta.name} "
                f"(sha256 {sha[:12]}, expected {str(expected)[:12]})")
        _repoint_latest(folder, pos, version, pkl_bytes, meta_bytes)
    logger.info("promoted %s %s to latest", pos, version)
    return ExportedModel(position=pos, version=version, pkl_path=pkl, metadata_path=meta,
                         sha256=sha, size=len(pkl_bytes), promoted=True,
                         changelog_path=changelog_path(folder, pos))
