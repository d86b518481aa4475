"""Reading ``models/``: list, describe, resolve, verified load with fallback, promote.

This is the only code that reads model artifacts (:mod:`recruit_reveal.artifacts.export`
is the only code that writes them).  A model is *valid* when its metadata
parses, names the right position and version, and the pkl's sha256 and size
match the metadata.  The sha256 is checked on the bytes in memory, and those
same bytes are unpickled, so a file swapped between check and load cannot slip
through.

Resolution order of :func:`load`: the requested version (``MODEL_VERSION`` or
``latest`` when not given), then ``latest``, then every version newest first.
The first valid, compatible candidate is served; ``LoadedModel.reason`` and
the log say which one and why.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import logging
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recruit_reveal.artifacts import export, layout
from recruit_reveal.artifacts.metadata import ModelMetadata

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


def _verified_bytes(position: str, version: str, folder: Path) -> tuple[bytes, ModelMetadata]:
    """Metadata and pkl bytes of one candidate; raises unless the sha256 and size match."""
    meta_path = layout.metadata_path(folder, position, version)
    pkl_path = layout.artifact_path(folder, position, version)
    doc = _read_metadata(meta_path)
    _check_metadata(doc, meta_path, position, version)
    try:
        data = pkl_path.read_bytes()
    except FileNotFoundError:
        raise ArtifactIntegrityError(
            f"{pkl_path} is missing although {meta_path.name} exists "
            f"(an interrupted export; exporting {doc.model_version} again completes it)"
        ) from None
    except OSError as exc:
        raise ArtifactIntegrityError(f"{pkl_path} cannot be read: {exc}") from None
    expected = doc.artifact.sha256
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ArtifactIntegrityError(
            f"{pkl_path} does not match {meta_path.name}: sha256 {actual[:12]}..., "
            f"expected {expected[:12]}... ({len(data)} bytes, expected "
            f"{doc.artifact.size}); refusing to unpickle it")
    return data, doc


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


#: Modules that held pickled classes before the package was split by concern.
#: Models exported then name the old modules; they resolve to the new homes.
_MOVED_MODULES = {"recruit_reveal.model": "recruit_reveal.modeling.estimators",
                  "recruit_reveal.features": "recruit_reveal.modeling.features"}


def _alias_moved_modules() -> None:
    for old, new in _MOVED_MODULES.items():
        if old not in sys.modules:
            sys.modules[old] = importlib.import_module(new)


def _unpickle(data: bytes, path: Path) -> Any:
    import joblib

    _alias_moved_modules()
    try:
        with warnings.catch_warnings():
            # A version mismatch has been decided on already; don't warn twice.
            warnings.filterwarnings("ignore", message=".*Trying to unpickle estimator.*")
            pipeline = joblib.load(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - any failure here means "not loadable"
        raise ArtifactIntegrityError(
            f"{path} matches its sha256 but cannot be unpickled: "
            f"{type(exc).__name__}: {exc}") from exc
    if not hasattr(pipeline, "predict_proba"):
        raise ArtifactIntegrityError(f"{path} holds a {type(pipeline).__name__}, not a "
                                     f"classifier pipeline with predict_proba")
    return pipeline


def _load_candidate(position: str, version: str, folder: Path,
                    allow_version_mismatch: bool) -> tuple[Any, ModelMetadata, str | None]:
    data, doc = _verified_bytes(position, version, folder)
    pkl_path = layout.artifact_path(folder, position, version)
    note = _check_sklearn(doc, pkl_path, allow_version_mismatch)
    return _unpickle(data, pkl_path), doc, note


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
         *, allow_version_mismatch: bool = False) -> LoadedModel:
    """Load a verified pipeline, falling back gracefully.

    ``version`` None means ``$MODEL_VERSION`` or ``latest``; ``models_dir``
    None means ``$MODEL_DIR`` or ``models``.  Order tried: the requested
    version, then ``latest``, then every version newest first.  Raises
    :class:`IncompatibleModelError` when the only models present were saved
    with another scikit-learn, and :class:`ModelNotFoundError` when no valid
    model exists; both messages list every candidate and why it was skipped.
    """
    pos = check_position(position)
    requested = resolve_version(version)
    folder = resolve_models_dir(models_dir)

    skipped: list[tuple[str, Exception]] = []
    candidates = [requested] if requested == LATEST else [requested, LATEST]
    tried: set[str] = set()

    def attempt(candidate: str) -> LoadedModel | None:
        try:
            pipeline, doc, note = _load_candidate(pos, candidate, folder, allow_version_mismatch)
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
        loaded = LoadedModel(position=pos, requested=requested, version=served,
                             pipeline=pipeline, metadata=doc, reason=reason,
                             fallback=bool(skipped))
        log = logger.warning if skipped or note else logger.info
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
            allow_version_mismatch: bool = False) -> LoadedModel:
    """Point ``latest`` at ``version`` after checking it loads here; rollback is the same call.

    The version must verify and load with the running scikit-learn (unless
    ``allow_version_mismatch``); the writing is done by
    :func:`recruit_reveal.artifacts.export.promote_version`.
    """
    pos = check_position(position)
    layout.parse_version(version)
    folder = resolve_models_dir(models_dir)
    try:
        pipeline, doc, note = _load_candidate(pos, version, folder, allow_version_mismatch)
    except ModelNotFoundError:
        raise ModelNotFoundError(
            f"cannot promote {pos} {version}: it is not in {folder} "
            f"(versions: {', '.join(list_versions(pos, folder)) or 'none'})") from None
    export.promote_version(folder, pos, version)
    reason = f"promoted {version} to latest" + (f" despite a mismatch: {note}" if note else "")
    return LoadedModel(position=pos, requested=version, version=version, pipeline=pipeline,
                       metadata=doc, reason=reason)
