"""Releases: the versions served together, one per position, and the append-only history of them.

A models folder holds one manifest, ``releases.json``::

    {"schema_version": 1, "current": 3,
     "releases": [{"id": 1, "when": "2026-11-27T06:00:00Z", "by": "ana", "how": "train",
                   "action": "release", "reason": "weekly retrain",
                   "versions": {POSITION: "1.0.0", ...},
                   "previous": null, "restores": null}, ...]}

Entries are only ever appended; the last one is the current release.  Every
change reads the manifest with its tag, appends one entry and writes the whole
document back with :meth:`~recruit_reveal.storage.base.Store.swap`: on the local disk a rename
under an flock on ``.recruit_reveal_releases.lock`` (the tag, a sha256, is
checked under that lock); on S3 one PUT with ``If-Match`` on the ETag read (or
``If-None-Match: *`` for the first manifest).  A writer that loses re-reads and
re-applies its change, so two concurrent promotes are both recorded, one
after the other, and neither overwrites the other.

Only after the manifest is switched are the earlier system's
``recruit_reveal_{pos}_pipeline_latest.*`` files derived from it (symlinks
locally, copies on object storage), so old clients keep working.  A folder
without a manifest reads as one release (id 0, ``how: "derived"``) made of what
its ``latest`` files point at; the first change writes it into the history.

A server polls :func:`current_tag` (a stat or a HEAD request) and re-reads
the release only when the tag changes.

Beside the releases, ``migrations`` lists every version converted from pickle
to skops by ``recruit-reveal models migrate`` (:class:`Migration`: who, when,
why), appended the same way by :func:`record_migration`.  A migration changes
no version of any release, so it is not a release entry: rolling back never
lands on it.  The key is written only once a migration is recorded.

The document itself (its entries, their validation, the one parse of its bytes) is
:mod:`.release_history`; this module changes it.
"""

from __future__ import annotations

import datetime as _dt
import getpass
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ArtifactLockError, ReleaseError
from ..storage.base import PreconditionFailed, Store
from ..storage.locations import Location, open_store
from . import layout
from .release_history import (
    HOWS,
    MANIFEST,
    MANIFEST_SCHEMA_VERSION,
    Manifest,
    Migration,
    Release,
    parse_manifest,
)

__all__ = ["HOWS", "MANIFEST", "MANIFEST_SCHEMA_VERSION", "Manifest", "Migration", "Release",
           "ReleaseState", "current_tag", "current_versions", "default_user", "migrations",
           "parse_manifest", "promote", "read_state", "record_migration", "release",
           "rollback", "rollback_target", "write_latest"]

logger = logging.getLogger(__name__)

LOCK = ".recruit_reveal_releases.lock"
LOCK_TIMEOUT_SECONDS = 120.0
#: Conditional writes a change may lose to other writers before it gives up.
MAX_ATTEMPTS = 20


@dataclass(frozen=True)
class ReleaseState:
    """The manifest as read (None when the folder has none), its tag, and the derived release."""

    store: Store
    manifest: Manifest | None
    tag: str | None
    derived: Release | None = None

    @property
    def history(self) -> list[Release]:
        if self.manifest is not None and self.manifest.releases:
            return list(self.manifest.releases)
        return [self.derived] if self.derived is not None else []

    @property
    def current(self) -> Release | None:
        history = self.history
        return history[-1] if history else None

    def get(self, release_id: int) -> Release:
        for release in self.history:
            if release.id == release_id:
                return release
        raise ReleaseError(f"{self.store.display(MANIFEST)} has no release {release_id}")


def read_state(location: Location) -> ReleaseState:
    """The releases of a models folder (``ReleaseError`` when its manifest does not parse)."""
    store = open_store(location)
    found = store.read_tagged(MANIFEST)
    if found is None:
        return ReleaseState(store, None, None, _derive(store))
    data, tag = found
    doc = parse_manifest(data, store.display(MANIFEST))
    # A manifest holding migrations alone: the latest files still say what is served.
    return ReleaseState(store, doc, tag, None if doc.releases else _derive(store))


def current_tag(location: Location) -> str | None:
    """A tag that changes whenever the current release does (None: no manifest yet).

    Cheap enough to poll: a read and hash of one small file locally, one HEAD
    request on S3 (the ETag).
    """
    return open_store(location).tag(MANIFEST)


def current_versions(location: Location) -> dict[str, str]:
    current = read_state(location).current
    return dict(current.versions) if current else {}


def _derive(store: Store) -> Release | None:
    """What an older folder's latest metadata files name, as one release (None: nothing)."""
    versions: dict[str, str] = {}
    created: list[str] = []
    for pos in layout.positions_in(store):
        try:
            doc = json.loads(store.read(layout.metadata_name(pos, layout.LATEST)))
            version = doc["model_version"]
            layout.parse_version(version)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # no latest, or one the registry will report as broken
        versions[pos] = version
        if isinstance(doc.get("created_at"), str):
            created.append(doc["created_at"])
    if not versions:
        return None
    return Release(id=0, when=max(created, default=_utc_now()), by="-", how="derived",
                   action="derived", versions=versions,
                   reason="what the latest files pointed at before releases.json existed")


# ---------------------------------------------------------------------------
# Changing the current release


Change = Callable[[ReleaseState], tuple[dict[str, str], str, int | None]]
#: Called with a step name between the steps of a change (tests kill a writer there).
OnStep = Callable[[str], None]


def _no_step(name: str) -> None:
    pass


def _commit(location: Location, change: Change, *, how: str,
            reason: str | None, by: str | None, on_step: OnStep | None = None) -> Release:
    """Append the release ``change`` computes from the current state; switch; derive latest."""
    if how not in HOWS:
        raise ReleaseError(f"how must be one of {', '.join(HOWS)}, got {how!r}")
    if reason is not None and not isinstance(reason, str):
        raise TypeError(f"reason must be a string, got {type(reason).__name__}")
    store = open_store(location)
    who = by or default_user()
    step = on_step or _no_step
    try:
        with store.lock(LOCK, LOCK_TIMEOUT_SECONDS):
            _remove_stale_temps(store)
            for _attempt in range(MAX_ATTEMPTS):
                entry = _try_switch(store, change, how=how, reason=reason, by=who)
                if entry is None:
                    logger.info("another writer switched the release first; retrying")
                    continue
                step("manifest")
                write_latest(store, entry.versions, on_step=step)
                logger.info("release %d (%s by %s): %s", entry.id, entry.action, who,
                            ", ".join(f"{p} {v}" for p, v in sorted(entry.versions.items())))
                return entry
    except TimeoutError:
        raise ArtifactLockError(
            f"{store.display(LOCK)} has been locked by another promote for more than "
            f"{LOCK_TIMEOUT_SECONDS:.0f} s; retry") from None
    raise ReleaseError(f"{store.display(MANIFEST)} kept changing under {MAX_ATTEMPTS} attempts "
                       "to switch the release; retry")


def _try_switch(store: Store, change: Change, *, how: str, reason: str | None,
                by: str) -> Release | None:
    """Append the release ``change`` computes to the manifest as read; None if another
    writer changed the manifest first."""
    state = read_state(store)
    versions, action, restores = change(state)
    history = state.history
    current = state.current
    entry = Release(
        id=history[-1].id + 1 if history else 1, when=_utc_now(), by=by, how=how,
        action=action, reason=reason, versions=versions,
        previous=current.id if current else None, restores=restores)
    doc = Manifest(current=entry.id, releases=[*history, entry],
                   migrations=state.manifest.migrations if state.manifest else [])
    try:
        store.swap(MANIFEST, doc.to_json_bytes(), state.tag)
    except PreconditionFailed:
        return None
    return entry


def _remove_stale_temps(store: Store) -> None:
    """Temp files of the manifest and the latest files, left by a writer killed mid-switch.

    Only writers holding the releases lock write those files, so under the lock
    every such temp file is debris.
    """
    prefixes = (f".{MANIFEST}", *(f".{layout.file_stem(pos, layout.LATEST)}."
                                  for pos in layout.positions_in(store)))
    for name in store.remove_temps(prefixes):
        logger.info("removed %s, left by an interrupted release switch", name)


def write_latest(store: Store, versions: Mapping[str, str], *,
                 on_step: OnStep | None = None) -> None:
    """Point every position's latest pair at its version in the release (after the manifest).

    On object storage a slower writer may copy an older release's files last;
    so after copying, the manifest is read again and the copies redone until
    they match the release that is current then.
    """
    step = on_step or _no_step
    for _ in range(3):
        tag = store.tag(MANIFEST)
        for pos, version in sorted(versions.items()):
            store.alias(layout.artifact_name(pos, layout.LATEST),
                        layout.artifact_name(pos, version))
            step("latest_pkl")
            store.alias(layout.metadata_name(pos, layout.LATEST),
                        layout.metadata_name(pos, version))
            step("latest_metadata")
        # Under an exclusive lock nobody else switches, so the tag is unchanged.
        if store.tag(MANIFEST) == tag:
            return
        versions = read_state(store).current.versions  # type: ignore[union-attr]


def release(location: Location, versions: Mapping[str, str], *,
            how: str, reason: str | None = None, by: str | None = None,
            on_step: OnStep | None = None) -> Release:
    """A new release with ``versions`` (one or more positions) changed, the rest kept."""
    new = {layout.check_position(pos): _version(v) for pos, v in versions.items()}
    if not new:
        raise ReleaseError("a release needs at least one position")

    def change(state: ReleaseState) -> tuple[dict[str, str], str, int | None]:
        current = state.current
        return {**(current.versions if current else {}), **new}, "release", None

    return _commit(location, change, how=how, reason=reason, by=by, on_step=on_step)


def promote(location: Location, position: str, version: str, *,
            how: str, reason: str | None = None, by: str | None = None,
            on_step: OnStep | None = None) -> Release:
    """A new release with one position at ``version``, every other as it is."""
    pos, version = layout.check_position(position), _version(version)

    def change(state: ReleaseState) -> tuple[dict[str, str], str, int | None]:
        current = state.current
        return {**(current.versions if current else {}), pos: version}, "promote", None

    return _commit(location, change, how=how, reason=reason, by=by, on_step=on_step)


def rollback_target(state: ReleaseState) -> Release:
    """The release a rollback makes current: the one before the current release.

    A rollback stands for the release it restored, so rolling back again goes
    one further back, not forth.
    """
    current = state.current
    if current is None:
        raise ReleaseError(f"{state.store.display()} has no release to roll back")
    original = current
    while original.restores is not None:
        original = state.get(original.restores)
    if original.previous is None:
        raise ReleaseError(f"release {current.id} is the first one in "
                           f"{state.store.display(MANIFEST)}; there is nothing to roll back to")
    target = state.get(original.previous)
    while target.restores is not None:
        target = state.get(target.restores)
    return target


def rollback(location: Location, *, how: str,
             reason: str | None = None, by: str | None = None,
             check: Callable[[Release], None] | None = None,
             on_step: OnStep | None = None) -> Release:
    """Make the previous release current again, as a new entry of the history.

    ``check`` is called with the target before anything is written (the
    registry checks that its models load).
    """
    def change(state: ReleaseState) -> tuple[dict[str, str], str, int | None]:
        target = rollback_target(state)
        if check is not None:
            check(target)
        return dict(target.versions), "rollback", target.id

    return _commit(location, change, how=how, reason=reason, by=by, on_step=on_step)


def migrations(location: Location) -> list[Migration]:
    """Every migration recorded in the folder's manifest, oldest first."""
    state = read_state(location)
    return list(state.manifest.migrations) if state.manifest else []


def record_migration(location: Location, entry: Migration) -> Migration:
    """Append ``entry`` to the manifest's migrations; the releases stay as they are.

    The manifest is rewritten as a release switch rewrites it (under the
    releases lock, conditional on the tag read), so nothing another writer
    appended meanwhile is lost.  In a folder without a manifest the release
    its latest files make is written into the history as well.
    """
    store = open_store(location)
    try:
        with store.lock(LOCK, LOCK_TIMEOUT_SECONDS):
            for _attempt in range(MAX_ATTEMPTS):
                state = read_state(store)
                history, current = state.history, state.current
                old = list(state.manifest.migrations) if state.manifest else []
                doc = Manifest(current=current.id if current else None, releases=history,
                               migrations=[*old, entry])
                try:
                    store.swap(MANIFEST, doc.to_json_bytes(), state.tag)
                except PreconditionFailed:
                    continue
                if current is not None:
                    # On object storage the latest files are copies of the metadata.
                    write_latest(store, current.versions)
                return entry
    except TimeoutError:
        raise ArtifactLockError(f"{store.display(LOCK)} has been locked by another writer for "
                                f"more than {LOCK_TIMEOUT_SECONDS:.0f} s; retry") from None
    raise ReleaseError(f"{store.display(MANIFEST)} kept changing under {MAX_ATTEMPTS} attempts "
                       "to record the migration; retry")


# ---------------------------------------------------------------------------


def _version(version: Any) -> str:
    layout.parse_version(version)
    return str(version)


def default_user() -> str:
    """The OS user (``by`` when not given)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return "unknown"


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

