"""Reading ``models/``: list, describe, resolve, verified load with fallback, promote.

This is the only code that reads model artifacts (:mod:`recruit_reveal.artifacts.export`
is the only code that writes them).  A model is *valid* when its metadata
parses, names the right position and version, and the sha256 and size of its
files (the pkl and, since skops, the ``.skops`` file) match the metadata.  The
sha256 is checked on the bytes in memory, and those same bytes are loaded, so a
file swapped between check and load cannot slip through.  The skops file is
what is loaded (:mod:`.formats`, with its trusted types); a pkl only for a
version without one, as :func:`pickle_policy` allows.

Resolution order of :func:`load`: the requested version (``MODEL_VERSION`` or
``latest`` when not given), then ``latest``, then every version newest first.
The first valid, compatible candidate is served; ``LoadedModel.reason`` and
the log say which one and why.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recruit_reveal.artifacts import export, formats, layout
from recruit_reveal.artifacts.metadata import Artifact, ModelMetadata

from ..errors import (
    ArtifactIntegrityError,
    IncompatibleModelError,
    ModelNotFoundError,
    VersionError,
)
from ..schema import POSITIONS, check_position
from ..settings import load_setting

logger = logging.getLogger(__name__)

LATEST = layout.LATEST


@dataclass(frozen=True)
class LoadedModel:
    """A verified pipeline with its metadata and the story of how it was chosen."""

    position: str
    requested: str
    version: str
    pipeline: Any
    metadata: ModelMetadata
    reason: str
    #: True when the served version is not the one requested.
    fallback: bool = False
    #: The file that was loaded: ``"skops"``, or ``"pickle"`` (older exports, ALLOW_PICKLE=1).
    format: str = formats.SKOPS
    #: Why a pickle was loaded (None for skops): for /health and the logs.
    note: str | None = None


def resolve_models_dir(models_dir: str | os.PathLike | None = None) -> Path:
    """``models_dir``, else ``$MODEL_DIR`` (via :mod:`recruit_reveal.settings`), else ``models``."""
    if models_dir is None:
        return Path(load_setting("model_dir"))
    return Path(models_dir)


def resolve_version(version: str | None = None) -> str:
    """``version``, else ``$MODEL_VERSION``, else ``latest``; validated (VersionError).

    A bad ``MODEL_VERSION`` is reported by :mod:`recruit_reveal.settings`, in the
    same words as the CLI and the API use.
    """
    if version is None:
        return str(load_setting("model_version"))
    if version == LATEST:
        return LATEST
    try:
        layout.parse_version(version)
    except VersionError as exc:
        raise VersionError(f"version: {exc} (or 'latest')") from None
    return version


def list_versions(position: str, models_dir: str | os.PathLike | None = None) -> list[str]:
    """Versions of ``position`` with at least one file in the models folder, in semver order.

    Includes versions that fail verification; :func:`list_models` says which.
    """
    return layout.existing_versions(resolve_models_dir(models_dir), check_position(position))


# ---------------------------------------------------------------------------
# Verification


def _read_metadata(path: Path) -> ModelMetadata:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ModelNotFoundError(f"{path} does not exist") from None
    except OSError as exc:
        raise ArtifactIntegrityError(f"{path} cannot be read: {exc}") from None
    return ModelMetadata.from_json_bytes(raw, source=path)


def _check_metadata(meta: ModelMetadata, path: Path, position: str, version: str) -> None:
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
    if meta.artifact.file != f"{layout.file_stem(position, found)}.pkl":
        raise ArtifactIntegrityError(f"{path}: artifact.file {meta.artifact.file!r} does not "
                                     f"belong to {position} {found}")
    skops = meta.artifact_skops
    if skops is not None and skops.file != f"{layout.file_stem(position, found)}.skops":
        raise ArtifactIntegrityError(f"{path}: artifact_skops.file {skops.file!r} does not "
                                     f"belong to {position} {found}")


@dataclass(frozen=True)
class _Verified:
    """One version's metadata and files, every one matching its sha256 and size."""

    doc: ModelMetadata
    pkl: bytes
    skops: bytes | None
    pkl_path: Path
    skops_path: Path | None


def _check_bytes(data: bytes, path: Path, meta_path: Path, expected: Artifact,
                 what: str) -> None:
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected.sha256:
        raise ArtifactIntegrityError(
            f"{path} does not match {meta_path.name}: sha256 {actual[:12]}..., "
            f"expected {expected.sha256[:12]}... ({len(data)} bytes, expected "
            f"{expected.size}); refusing to {what} it")


def _read_file(path: Path, meta_path: Path, version: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ArtifactIntegrityError(
            f"{path} is missing although {meta_path.name} exists "
            f"(an interrupted export; exporting {version} again completes it)") from None
    except OSError as exc:
        raise ArtifactIntegrityError(f"{path} cannot be read: {exc}") from None


def _verified(position: str, version: str, folder: Path) -> _Verified:
    """Metadata and files of one candidate; raises unless every sha256 and size matches.

    The pkl is checked even when the skops file is what will be loaded: a
    version is served whole or not at all.
    """
    meta_path = layout.metadata_path(folder, position, version)
    pkl_path = layout.artifact_path(folder, position, version)
    doc = _read_metadata(meta_path)
    _check_metadata(doc, meta_path, position, version)
    pkl = _read_file(pkl_path, meta_path, doc.model_version)
    _check_bytes(pkl, pkl_path, meta_path, doc.artifact, "unpickle")
    if doc.artifact_skops is None:
        return _Verified(doc, pkl, None, pkl_path, None)
    skops_path = folder / doc.artifact_skops.file
    skops = _read_file(skops_path, meta_path, doc.model_version)
    _check_bytes(skops, skops_path, meta_path, doc.artifact_skops, "load")
    return _Verified(doc, pkl, skops, pkl_path, skops_path)


def _verified_bytes(position: str, version: str, folder: Path) -> tuple[bytes, ModelMetadata]:
    found = _verified(position, version, folder)
    return found.pkl, found.doc


def _check_sklearn(doc: ModelMetadata, path: Path, allow_version_mismatch: bool) -> str | None:
    import sklearn

    saved = doc.sklearn_version
    running = sklearn.__version__
    if saved == running:
        return None
    message = (f"{path.name} was saved with scikit-learn {saved}, but scikit-learn {running} "
               f"is running")
    if not allow_version_mismatch:
        raise IncompatibleModelError(
            message + "; retrain it, run the saved version, or pass allow_version_mismatch=True")
    logger.warning("%s; loading anyway (allow_version_mismatch=True)", message)
    return message


def pickle_policy(allow_pickle: bool | None = None) -> bool | None:
    """``allow_pickle``, else ``$ALLOW_PICKLE``: True, False, or None (only in an older folder)."""
    if allow_pickle is None:
        value = load_setting("allow_pickle")
        return None if value is None else bool(value)
    return bool(allow_pickle)


def _folder_has_skops(folder: Path) -> bool:
    try:
        return any(entry.name.endswith(layout.SKOPS_SUFFIX) for entry in os.scandir(folder))
    except OSError:
        return False


def _choose(found: _Verified, folder: Path,
            policy: bool | None) -> tuple[str, bytes, Path, str | None]:
    """(format, bytes, path, note) of what to load; the pkl only as the policy allows."""
    if found.skops is not None and found.skops_path is not None:
        return formats.SKOPS, found.skops, found.skops_path, None
    name = found.pkl_path.name
    if policy is False:
        raise ArtifactIntegrityError(
            f"{name} has no skops file and pickle loading is off (ALLOW_PICKLE=0); "
            f"re-export it, or allow pickle with --allow-pickle / ALLOW_PICKLE=1")
    if policy is None and _folder_has_skops(folder):
        raise ArtifactIntegrityError(
            f"{name} has no skops file, and this models folder is not an older one (it holds "
            f"skops files); refusing to unpickle it unless asked with --allow-pickle / "
            f"ALLOW_PICKLE=1")
    why = "ALLOW_PICKLE=1" if policy else "an older models folder without skops files"
    return formats.PICKLE, found.pkl, found.pkl_path, f"loaded from pickle ({why})"


def _load_candidate(position: str, version: str, folder: Path, allow_version_mismatch: bool,
                    policy: bool | None = None) -> tuple[Any, ModelMetadata, str | None,
                                                         str, str | None]:
    """(pipeline, metadata, mismatch note, format, format note) of one verified candidate."""
    found = _verified(position, version, folder)
    fmt, data, path, fmt_note = _choose(found, folder, policy)
    note = _check_sklearn(found.doc, path, allow_version_mismatch)
    if fmt == formats.SKOPS:
        pipeline = formats.load_skops(data, path)
    else:
        pipeline = formats.load_pickle(data, path)
    return pipeline, found.doc, note, fmt, fmt_note


#: Kept for callers of the earlier name; the pickle path still resolves moved modules.
_alias_moved_modules = formats.alias_moved_modules


def verify(position: str, version: str | None = LATEST,
           models_dir: str | os.PathLike | None = None) -> ModelMetadata:
    """Metadata of ``version`` after checking its pkl's sha256; never unpickles.

    Raises ModelNotFoundError (no metadata) or ArtifactIntegrityError.
    """
    pos = check_position(position)
    return _verified_bytes(pos, resolve_version(version), resolve_models_dir(models_dir))[1]


def describe(position: str, version: str | None = LATEST,
             models_dir: str | os.PathLike | None = None) -> ModelMetadata:
    """The metadata of one version (``latest`` by default) as stored; does not verify the pkl."""
    pos = check_position(position)
    version = resolve_version(version)
    path = layout.metadata_path(resolve_models_dir(models_dir), pos, version)
    try:
        return _read_metadata(path)
    except ModelNotFoundError:
        raise ModelNotFoundError(f"no metadata for {pos} {version}: {path} does not exist") \
            from None


# ---------------------------------------------------------------------------
# Loading with fallback


def load(position: str, version: str | None = None, models_dir: str | os.PathLike | None = None,
         *, allow_version_mismatch: bool = False,
         allow_pickle: bool | None = None) -> LoadedModel:
    """Load a verified pipeline, falling back gracefully.

    ``version`` None means ``$MODEL_VERSION`` or ``latest``; ``models_dir``
    None means ``$MODEL_DIR`` or ``models``.  Order tried: the requested
    version, then ``latest``, then every version newest first.  Raises
    :class:`IncompatibleModelError` when the only models present were saved
    with another scikit-learn, and :class:`ModelNotFoundError` when no valid
    model exists; both messages list every candidate and why it was skipped.

    The skops file is loaded; a version's pkl only as :func:`pickle_policy`
    (``allow_pickle``, else ``$ALLOW_PICKLE``) allows, and ``format`` and
    ``note`` of the result say so.
    """
    pos = check_position(position)
    requested = resolve_version(version)
    folder = resolve_models_dir(models_dir)
    policy = pickle_policy(allow_pickle)

    skipped: list[tuple[str, Exception]] = []
    candidates = [requested] if requested == LATEST else [requested, LATEST]
    tried: set[str] = set()

    def attempt(candidate: str) -> LoadedModel | None:
        try:
            pipeline, doc, note, fmt, fmt_note = _load_candidate(
                pos, candidate, folder, allow_version_mismatch, policy)
        except (ModelNotFoundError, ArtifactIntegrityError, IncompatibleModelError) as exc:
            skipped.append((candidate, exc))
            return None
        served = doc.model_version
        if candidate == requested and not skipped:
            reason = (f"requested {requested}, which is {served}" if requested == LATEST
                      else f"requested version {served}")
        else:
            reason = f"requested {requested}; serving {candidate}" + (
                f" = {served}" if candidate == LATEST else "") + " because " + "; ".join(
                f"{name}: {exc}" for name, exc in skipped)
        if note:
            reason += f" (loaded despite a version mismatch: {note})"
        if fmt_note:
            reason += f" ({fmt_note})"
        loaded = LoadedModel(position=pos, requested=requested, version=served,
                             pipeline=pipeline, metadata=doc, reason=reason,
                             fallback=bool(skipped), format=fmt, note=fmt_note)
        log = logger.warning if skipped or note or fmt_note else logger.info
        log("serving %s model %s: %s", pos, served, reason)
        return loaded

    for candidate in candidates:
        tried.add(candidate)
        if (loaded := attempt(candidate)) is not None:
            return loaded
    for candidate in reversed(layout.existing_versions(folder, pos, with_pkl_only=True)):
        if candidate in tried:
            continue
        tried.add(candidate)
        if (loaded := attempt(candidate)) is not None:
            return loaded

    details = "; ".join(f"{name}: {exc}" for name, exc in skipped)
    real = [exc for name, exc in skipped if not isinstance(exc, ModelNotFoundError)]
    if real and all(isinstance(exc, IncompatibleModelError) for exc in real):
        raise IncompatibleModelError(f"no {pos} model in {folder} can be loaded with this "
                                     f"scikit-learn: {details}")
    if not real:
        raise ModelNotFoundError(f"no {pos} model files in {folder} (the position is "
                                 f"unavailable): {details}")
    raise ModelNotFoundError(f"no valid {pos} model in {folder} (the position is unavailable): "
                             f"{details}")


# ---------------------------------------------------------------------------
# Listing and promotion


def _latest_version(folder: Path, position: str) -> tuple[str | None, str | None]:
    """(version the latest pair verifiably points at, problem) for ``position``."""
    try:
        doc = _verified_bytes(position, LATEST, folder)[1]
    except (ModelNotFoundError, ArtifactIntegrityError) as exc:
        return None, str(exc)
    return doc.model_version, None


def list_models(models_dir: str | os.PathLike | None = None,
                positions: str | list[str] | tuple[str, ...] | None = None) -> list[dict]:
    """One summary row per (position, version), for ``recruit-reveal models list``.

    Keys: position, version, created_at, exact_accuracy, within_one_accuracy,
    ceiling_exact_accuracy, ceiling_within_one_accuracy, rows, sklearn,
    sha256 (first 12 hex digits), valid, problem, is_latest.  Verifies every
    pkl's sha256 (no unpickling).
    """
    folder = resolve_models_dir(models_dir)
    if positions is None:
        positions = POSITIONS
    elif isinstance(positions, str):
        positions = [positions]
    rows: list[dict] = []
    for pos in (check_position(p) for p in positions):
        latest, _ = _latest_version(folder, pos)
        for version in layout.existing_versions(folder, pos):
            row: dict[str, Any] = {"position": pos, "version": version, "created_at": None,
                   "exact_accuracy": None, "within_one_accuracy": None,
                   "ceiling_exact_accuracy": None, "ceiling_within_one_accuracy": None,
                   "rows": None, "sklearn": None, "sha256": None, "valid": False,
                   "problem": None, "is_latest": version == latest}
            doc: ModelMetadata | None = None
            try:
                doc = _verified_bytes(pos, version, folder)[1]
                row["valid"] = True
            except (ModelNotFoundError, ArtifactIntegrityError) as exc:
                row["problem"] = str(exc)
                with contextlib.suppress(ModelNotFoundError, ArtifactIntegrityError):
                    doc = _read_metadata(layout.metadata_path(folder, pos, version))
            if doc is not None:
                head, metrics = doc.metrics.headline, doc.metrics
                row.update(
                    created_at=doc.created_at,
                    exact_accuracy=head.exact_accuracy,
                    within_one_accuracy=head.within_one_accuracy,
                    ceiling_exact_accuracy=metrics.ceiling("exact_accuracy"),
                    ceiling_within_one_accuracy=metrics.ceiling("within_one_accuracy"),
                    rows=doc.data_fingerprint.rows,
                    sklearn=doc.sklearn_version,
                    sha256=doc.artifact.sha256[:12] or None,
                )
            rows.append(row)
    return rows


def latest_version(position: str, models_dir: str | os.PathLike | None = None) -> str | None:
    """The version the latest pair points at, or None when the pair is missing or mismatched."""
    return _latest_version(resolve_models_dir(models_dir), check_position(position))[0]


def promote(position: str, version: str, models_dir: str | os.PathLike | None = None, *,
            allow_version_mismatch: bool = False,
            allow_pickle: bool | None = None) -> LoadedModel:
    """Point ``latest`` at ``version`` after checking it loads here; rollback is the same call.

    The version must verify and load with the running scikit-learn (unless
    ``allow_version_mismatch``); the writing is done by
    :func:`recruit_reveal.artifacts.export.promote_version`.
    """
    pos = check_position(position)
    layout.parse_version(version)
    folder = resolve_models_dir(models_dir)
    try:
        pipeline, doc, note, fmt, fmt_note = _load_candidate(
            pos, version, folder, allow_version_mismatch, pickle_policy(allow_pickle))
    except ModelNotFoundError:
        raise ModelNotFoundError(
            f"cannot promote {pos} {version}: it is not in {folder} "
            f"(versions: {', '.join(list_versions(pos, folder)) or 'none'})") from None
    export.promote_version(folder, pos, version)
    reason = f"promoted {version} to latest" + (f" despite a mismatch: {note}" if note else "")
    return LoadedModel(position=pos, requested=version, version=version, pipeline=pipeline,
                       metadata=doc, reason=reason, format=fmt, note=fmt_note)
