"""Reading ``models/``: list, describe, resolve, verified load with fallback, promote, roll back.

This is the only code that reads model artifacts (:mod:`recruit_reveal.artifacts.writer`
writes them, and :mod:`.migration` adds a skops file to a pickle-only version).  A model is *valid* when its metadata
parses, names the right position and version, and the sha256 and size of its
files (the pkl and, since skops, the ``.skops`` file) match the metadata
(:mod:`.verification`).  The skops file is what is loaded (:mod:`.formats`,
with its trusted types); a pkl is never unpickled unless pickle loading is
turned on (:func:`pickle_policy`: ``allow_pickle=True`` or ``ALLOW_PICKLE=1``).
A version without a skops file is refused otherwise; ``recruit-reveal models
migrate`` (:mod:`.migration`) converts it once, on the operator's word.

``latest`` is the version of the current release in ``releases.json``
(:mod:`.releases`); in an older folder without one, the latest pair of files.
Resolution order of :func:`load`: the requested version (``MODEL_VERSION`` or
``latest`` when not given), then ``latest``, then every version newest first.
The first valid, compatible candidate is served; ``LoadedModel.reason`` and
the log say which one and why.

``models_dir`` is a local folder or an ``s3://bucket/prefix`` URL (:mod:`.storage`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recruit_reveal.artifacts import formats, layout, manifest, writer
from recruit_reveal.artifacts.metadata import ModelMetadata
from recruit_reveal.artifacts.verification import (
    Candidate,
    load_candidate,
    pickle_policy,
    read_metadata,
    verified,
)

from ..errors import (
    ArtifactIntegrityError,
    IncompatibleModelError,
    ModelNotFoundError,
    RecruitRevealError,
    ReleaseError,
    VersionError,
)
from ..settings import load_setting
from ..storage.base import Store
from ..storage.locations import Location, as_location, open_store

logger = logging.getLogger(__name__)

LATEST = layout.LATEST
__all__ = ["LoadedModel", "describe", "history", "latest_version", "list_models",
           "list_versions", "positions", "load", "pickle_policy", "promote", "release", "rollback", "verify"]


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
    #: The file that was loaded: ``"skops"``, or ``"pickle"`` (only with ALLOW_PICKLE=1).
    format: str = formats.SKOPS
    #: Why a pickle was loaded (None for skops): for /health and the logs.
    note: str | None = None


def resolve_models_dir(models_dir: Location | None = None) -> Path | str:
    """``models_dir``, else ``$MODEL_DIR`` (via :mod:`recruit_reveal.settings`), else ``models``.

    A local folder as a Path; an ``s3://`` URL as the string.
    """
    if models_dir is None:
        models_dir = load_setting("model_dir")
    return as_location(models_dir)


def _store(models_dir: Location | None) -> Store:
    return open_store(load_setting("model_dir") if models_dir is None else models_dir)


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


def positions(models_dir: Location | None = None) -> list[str]:
    """Every position with a file in the models folder or a version in its current release,
    in the active catalog's order, then alphabetically."""
    store = _store(models_dir)
    try:
        released = set(manifest.current_versions(store))
    except RecruitRevealError:
        released = set()  # a broken manifest is reported where it is read
    return layout.ordered_positions(set(layout.positions_in(store)) | released)


def list_versions(position: str, models_dir: Location | None = None) -> list[str]:
    """Versions of ``position`` with at least one file in the models folder, in semver order.

    Includes versions that fail verification; :func:`list_models` says which.
    """
    return layout.existing_versions(_store(models_dir), layout.check_position(position))


def _release_target(store: Store, position: str) -> str | None:
    """The version ``latest`` means in the current release; None in a folder without one.

    A manifest that does not parse makes ``latest`` unusable (the caller falls back).
    """
    try:
        state = manifest.read_state(store)
    except ReleaseError as exc:
        raise ArtifactIntegrityError(str(exc)) from None
    if state.manifest is None or state.current is None:
        return None
    version = state.current.versions.get(position)
    if version is None:
        raise ModelNotFoundError(f"the current release ({state.current.id}) in "
                                 f"{store.display(manifest.MANIFEST)} has no {position} model")
    return version


def verify(position: str, version: str | None = LATEST,
           models_dir: Location | None = None) -> ModelMetadata:
    """Metadata of ``version`` after checking the sha256 of its files; never loads a model.

    Raises ModelNotFoundError (no metadata) or ArtifactIntegrityError.
    """
    pos = layout.check_position(position)
    version = resolve_version(version)
    store = _store(models_dir)
    if version == LATEST:
        version = _release_target(store, pos) or LATEST
    return verified(store, pos, version).doc


def describe(position: str, version: str | None = LATEST,
             models_dir: Location | None = None) -> ModelMetadata:
    """The metadata of one version (``latest`` by default) as stored; does not verify files."""
    pos = layout.check_position(position)
    version = resolve_version(version)
    store = _store(models_dir)
    if version == LATEST:
        with contextlib.suppress(ArtifactIntegrityError, ModelNotFoundError):
            version = _release_target(store, pos) or LATEST
    name = layout.metadata_name(pos, version)
    try:
        return read_metadata(store, name)
    except ModelNotFoundError:
        raise ModelNotFoundError(f"no metadata for {pos} {version}: {store.display(name)} "
                                 f"does not exist") from None


# ---------------------------------------------------------------------------
# Loading with fallback


def load(position: str, version: str | None = None, models_dir: Location | None = None,
         *, allow_version_mismatch: bool = False,
         allow_pickle: bool | None = None) -> LoadedModel:
    """Load a verified pipeline, falling back gracefully.

    ``version`` None means ``$MODEL_VERSION`` or ``latest``; ``models_dir``
    None means ``$MODEL_DIR`` or ``models``.  Order tried: the requested
    version, then ``latest``, then every version newest first.  Raises
    :class:`IncompatibleModelError` when the only models present were saved
    with another scikit-learn, and :class:`ModelNotFoundError` when no valid
    model exists; both messages list every candidate and why it was skipped.

    The skops file is loaded; a version's pkl only when :func:`pickle_policy`
    (``allow_pickle``, else ``$ALLOW_PICKLE``, off by default) allows it, and
    ``format`` and ``note`` of the result say so.
    """
    pos = layout.check_position(position)
    search = _Search(_store(models_dir), pos, resolve_version(version), allow_version_mismatch,
                     pickle_policy(allow_pickle))
    requested = search.requested
    candidates = [requested] if requested == LATEST else [requested, LATEST]
    newest_first = reversed(layout.existing_versions(search.store, pos, with_pkl_only=True))
    for candidate in [*candidates, *newest_first]:
        if candidate in search.tried:
            continue
        search.tried.add(candidate)
        if (loaded := search.attempt(candidate)) is not None:
            return loaded
    raise search.failure()


class _Search:
    """The candidates :func:`load` tried, and why each one was skipped."""

    def __init__(self, store: Store, position: str, requested: str,
                 allow_version_mismatch: bool, policy: bool):
        self.store, self.position, self.requested = store, position, requested
        self.allow_version_mismatch, self.policy = allow_version_mismatch, policy
        self.skipped: list[tuple[str, Exception]] = []
        self.tried: set[str] = set()

    def attempt(self, candidate: str) -> LoadedModel | None:
        """The model ``candidate`` names, or None (the reason is kept in ``skipped``)."""
        pos = self.position
        try:
            target = _release_target(self.store, pos) if candidate == LATEST else candidate
            self.tried.add(target or LATEST)
            found = load_candidate(self.store, pos, target or LATEST,
                                   self.allow_version_mismatch, self.policy)
        except (ModelNotFoundError, ArtifactIntegrityError, IncompatibleModelError) as exc:
            self.skipped.append((candidate, exc))
            return None
        served = found.doc.model_version
        reason = self._reason(candidate, served)
        if found.mismatch:
            reason += f" (loaded despite a version mismatch: {found.mismatch})"
        if found.note:
            reason += f" ({found.note})"
        loaded = LoadedModel(position=pos, requested=self.requested, version=served,
                             pipeline=found.pipeline, metadata=found.doc, reason=reason,
                             fallback=bool(self.skipped), format=found.format, note=found.note)
        log = logger.warning if self.skipped or found.mismatch or found.note else logger.info
        log("serving %s model %s: %s", pos, served, reason)
        return loaded

    def _reason(self, candidate: str, served: str) -> str:
        requested = self.requested
        if candidate == requested and not self.skipped:
            return (f"requested {requested}, which is {served}" if requested == LATEST
                    else f"requested version {served}")
        return f"requested {requested}; serving {candidate}" + (
            f" = {served}" if candidate == LATEST else "") + " because " + "; ".join(
            f"{name}: {exc}" for name, exc in self.skipped)

    def failure(self) -> Exception:
        """Why no candidate loaded: every one of them, and the reason it was skipped."""
        pos, folder = self.position, self.store.display()
        details = "; ".join(f"{name}: {exc}" for name, exc in self.skipped)
        real = [exc for name, exc in self.skipped if not isinstance(exc, ModelNotFoundError)]
        if real and all(isinstance(exc, IncompatibleModelError) for exc in real):
            return IncompatibleModelError(f"no {pos} model in {folder} can be loaded with this "
                                          f"scikit-learn: {details}")
        if not real:
            return ModelNotFoundError(f"no {pos} model files in {folder} (the position is "
                                      f"unavailable): {details}")
        return ModelNotFoundError(f"no valid {pos} model in {folder} (the position is "
                                  f"unavailable): {details}")


# ---------------------------------------------------------------------------
# Listing


def _latest_version(store: Store, position: str) -> tuple[str | None, str | None]:
    """(version latest verifiably is, problem) for ``position``."""
    try:
        target = _release_target(store, position)
        doc = verified(store, position, target or LATEST).doc
    except (ModelNotFoundError, ArtifactIntegrityError) as exc:
        return None, str(exc)
    return doc.model_version, None


def list_models(models_dir: Location | None = None,
                positions: str | list[str] | tuple[str, ...] | None = None) -> list[dict]:
    """One summary row per (position, version), for ``recruit-reveal models list``.

    Keys: position, version, created_at, exact_accuracy, within_one_accuracy,
    ceiling_exact_accuracy, ceiling_within_one_accuracy, rows, sklearn,
    sha256 (first 12 hex digits of the pkl's), format (``skops`` or
    ``pickle``: the file that loads), valid, problem, is_latest (in the
    current release).  Verifies every file's sha256 (loads nothing).
    """
    store = _store(models_dir)
    if positions is None:
        positions = layout.positions_in(store)
    elif isinstance(positions, str):
        positions = [positions]
    rows: list[dict] = []
    for pos in (layout.check_position(p) for p in positions):
        latest, _ = _latest_version(store, pos)
        for version in layout.existing_versions(store, pos):
            row: dict[str, Any] = {"position": pos, "version": version, "created_at": None,
                   "exact_accuracy": None, "within_one_accuracy": None,
                   "ceiling_exact_accuracy": None, "ceiling_within_one_accuracy": None,
                   "rows": None, "sklearn": None, "sha256": None, "format": None,
                   "valid": False, "problem": None, "is_latest": version == latest}
            doc: ModelMetadata | None = None
            try:
                doc = verified(store, pos, version).doc
                row["valid"] = True
            except (ModelNotFoundError, ArtifactIntegrityError) as exc:
                row["problem"] = str(exc)
                with contextlib.suppress(ModelNotFoundError, ArtifactIntegrityError):
                    doc = read_metadata(store, layout.metadata_name(pos, version))
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
                    format=formats.SKOPS if doc.artifact_skops else formats.PICKLE,
                )
            rows.append(row)
    return rows


def latest_version(position: str, models_dir: Location | None = None) -> str | None:
    """The version latest is (the current release's), or None when it is missing or broken."""
    return _latest_version(_store(models_dir), layout.check_position(position))[0]


def history(models_dir: Location | None = None) -> manifest.ReleaseState:
    """The releases of the folder: ``.history`` (oldest first) and ``.current``."""
    return manifest.read_state(_store(models_dir))


# ---------------------------------------------------------------------------
# Switching releases


def _check_loads(store: Store, position: str, version: str, allow_version_mismatch: bool,
                 allow_pickle: bool | None, action: str) -> Candidate:
    """Refuse to make current a version that does not load here."""
    try:
        return load_candidate(store, position, version, allow_version_mismatch,
                              pickle_policy(allow_pickle))
    except ModelNotFoundError:
        raise ModelNotFoundError(
            f"cannot {action} {position} {version}: it is not in {store.display()} (versions: "
            f"{', '.join(layout.existing_versions(store, position)) or 'none'})") from None


def promote(position: str, version: str, models_dir: Location | None = None, *,
            allow_version_mismatch: bool = False, allow_pickle: bool | None = None,
            reason: str | None = None, by: str | None = None, how: str = "api") -> LoadedModel:
    """A new release with ``position`` at ``version``, after checking it loads here.

    The version must verify and load with the running scikit-learn (unless
    ``allow_version_mismatch``); the writing is done by
    :func:`recruit_reveal.artifacts.writer.promote_version`.  Rolling back
    is :func:`rollback` (or promoting an older version).
    """
    pos = layout.check_position(position)
    layout.parse_version(version)
    store = _store(models_dir)
    found = _check_loads(store, pos, version, allow_version_mismatch, allow_pickle, "promote")
    writer.promote_version(store, pos, version, reason=reason, by=by, how=how)
    note = found.mismatch
    text = f"promoted {version} to latest" + (f" despite a mismatch: {note}" if note else "")
    return LoadedModel(position=pos, requested=version, version=version,
                       pipeline=found.pipeline, metadata=found.doc, reason=text,
                       format=found.format, note=found.note)


def release(versions: Mapping[str, str], models_dir: Location | None = None, *,
            how: str = "api", reason: str | None = None, by: str | None = None,
            allow_version_mismatch: bool = False) -> manifest.Release:
    """One new release with every position of ``versions`` switched together.

    Every version is checked to load here first; nothing is switched if one fails.
    """
    store = _store(models_dir)
    checked = {layout.check_position(pos): version for pos, version in versions.items()}
    for pos, version in checked.items():
        layout.parse_version(version)
        _check_loads(store, pos, version, allow_version_mismatch, None, "release")
    return manifest.release(store, checked, how=how, reason=reason, by=by)


def rollback(models_dir: Location | None = None, *, how: str = "api",
             reason: str | None = None, by: str | None = None,
             allow_version_mismatch: bool = False) -> manifest.Release:
    """Make the previous release current again, as a new entry, after checking it loads here."""
    store = _store(models_dir)

    def check(target: manifest.Release) -> None:
        for pos, version in target.versions.items():
            _check_loads(store, pos, version, allow_version_mismatch, None, "roll back to")

    return manifest.rollback(store, how=how, reason=reason, by=by, check=check)
