"""Converting a pickle-only version to skops, once, on an operator's explicit word.

Pickle loading is off by default (:func:`.verification.pickle_policy`), so a
version exported before skops is refused until it is migrated.  Migrating one
(``recruit-reveal models migrate POS VERSION --trust-pickle --reason ...``):

1. under the position lock the exporters take (:func:`.writer.position_lock`),
   read the metadata with its tag and check the pkl's sha256 and size against it;
2. unpickle the pkl (this runs its code: hence ``trust_pickle``), dump it with
   skops, load that back through the trusted-types check and require identical
   ``predict_proba`` on the check rows;
3. publish the skops file create-only (:meth:`~recruit_reveal.storage.base.Store.create`);
4. replace the metadata, conditional on the tag read
   (:meth:`~recruit_reveal.storage.base.Store.swap`), with one naming the skops
   file (``artifact_skops``) and recording the migration (``migration``: who,
   when, why, from which format);
5. append the same facts to the manifest's ``migrations``
   (:func:`.manifest.record_migration`); which versions are current is unchanged.

Nothing is half-written: a failed metadata swap removes the skops file this
run created.  A run killed between steps leaves at most a skops file that no
metadata names (the next run checks it like its own dump and adopts it, or
refuses naming it) or a migrated metadata without its history entry (the next
run adds the entry).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ArtifactIntegrityError, ModelNotFoundError, RecruitRevealError
from ..storage.base import PreconditionFailed, Store
from ..storage.locations import Location, open_store
from . import formats, layout, manifest, signatures
from .metadata import ModelMetadata
from .verification import check_metadata, check_sklearn, verified
from .writer import position_lock

logger = logging.getLogger(__name__)

#: The metadata key that records a migration.
MIGRATION_KEY = "migration"
#: Builds the rows both models must score alike: (position, metadata) -> an input frame.
CheckRows = Callable[[str, ModelMetadata], Any]


class PickleNotTrustedError(RecruitRevealError):
    """Migrating was asked for without the operator's word that the pickle is trusted."""


class MigrationConflictError(RecruitRevealError):
    """The metadata changed while a version was migrated; nothing was changed."""


@dataclass(frozen=True)
class Migrated:
    """What migrating one version did: ``migrated``, ``skipped`` (it has a skops file) or
    ``completed`` (an earlier run migrated it; its history entry was added now)."""

    position: str
    version: str
    status: str
    message: str


def sample_rows(position: str, doc: ModelMetadata) -> Any:
    """The position's sample athlete and its typical athlete (from the metadata), and the
    typical athlete with each input missing in turn, as an input frame."""
    import pandas as pd

    spec = doc.position_spec()
    names = spec.feature_names
    typical = {k: v for k, v in doc.typical_values.items() if v is not None}
    rows: list[dict[str, Any]] = [dict(spec.example)]
    base = {**typical, "state": "TX"}
    rows.append(base)
    rows += [{k: v for k, v in base.items() if k != name} for name in names]
    return pd.DataFrame(rows).reindex(columns=names)


def _check_same(pickled: Any, skops_model: Any, frame: Any, source: str) -> None:
    import numpy as np

    want, got = pickled.predict_proba(frame), skops_model.predict_proba(frame)
    if np.shape(want) != np.shape(got) or not np.array_equal(want, got, equal_nan=True):
        raise ArtifactIntegrityError(
            f"{source} does not predict as the pickle does on {len(frame)} check rows; "
            f"nothing was migrated")


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_request(trust_pickle: bool, reason: object, what: str) -> None:
    if not trust_pickle:
        raise PickleNotTrustedError(
            f"migrating {what} unpickles a .pkl, which runs whatever code the file holds; "
            f"pass --trust-pickle (trust_pickle=True) if you trust whoever wrote it")
    if not isinstance(reason, str) or not reason.strip():
        raise PickleNotTrustedError(f"migrating {what} needs a reason (--reason TEXT), kept "
                                    f"in the metadata and the history")


def migrate(models_dir: Location, position: str, version: str, *, trust_pickle: bool = False,
            reason: str, by: str | None = None, rows: CheckRows | None = None,
            signing_key: str | os.PathLike[str] | None = None) -> Migrated:
    """Convert one pickle-only version to skops (see the module doc for every step).

    Raises :class:`PickleNotTrustedError` without ``trust_pickle`` or a reason,
    :class:`ModelNotFoundError` for a version without metadata, and
    :class:`ArtifactIntegrityError` when the pkl does not match its metadata or
    the skops model does not predict as the pickle; nothing is written then.
    ``rows`` builds the check rows (default :func:`sample_rows`).
    """
    pos = layout.check_position(position)
    layout.parse_version(version)
    _check_request(trust_pickle, reason, f"{pos} {version}")
    store = open_store(models_dir)
    who = by or manifest.default_user()
    with position_lock(store, pos):
        doc, tag = _read(store, pos, version)
        if doc.artifact_skops is not None:
            return _skip(store, doc)
        entry = _convert(store, doc, tag, reason=reason.strip(), by=who,
                         rows=rows or sample_rows)
        _sign_migrated(store, pos, version, signing_key)
    manifest.record_migration(store, entry)
    logger.warning("migrated %s %s from pickle to skops (by %s: %s)", pos, version, who,
                   entry.reason)
    return Migrated(pos, version, "migrated",
                    f"{pos} {version}: migrated from pickle to skops "
                    f"({layout.skops_name(pos, version)}, sha256 {entry.sha256[:12]}...)")


def _sign_migrated(store: Store, position: str, version: str,
                   signing_key: str | os.PathLike[str] | None) -> None:
    """A migration changes the metadata and adds the skops file, so a signature made
    before no longer covers the version: re-sign it with the key (``signing_key``, else
    ``$SIGNING_KEY``), or say that VERIFY_KEY servers will refuse it until it is signed."""
    key = signatures.signing_key(signing_key)
    if key is not None:
        signatures.resign_version(store, position, version, key)
    elif store.exists(layout.signature_name(position, version)):
        logger.warning("%s %s was signed before the migration and its signature no longer "
                       "covers it: re-run with --signing-key, or servers with VERIFY_KEY "
                       "will refuse it", position, version)


def _read(store: Store, position: str, version: str) -> tuple[ModelMetadata, str]:
    name = layout.metadata_name(position, version)
    found = store.read_tagged(name)
    if found is None:
        known = ", ".join(layout.existing_versions(store, position)) or "none"
        raise ModelNotFoundError(f"no metadata for {position} {version}: {store.display(name)} "
                                 f"does not exist (versions: {known})")
    doc = ModelMetadata.from_json_bytes(found[0], source=store.display(name))
    check_metadata(doc, store.display(name), position, version)
    return doc, found[1]


def _skip(store: Store, doc: ModelMetadata) -> Migrated:
    """A version with a skops file; a migration of it missing from the history is added."""
    pos, version = doc.position, doc.model_version
    record = (doc.model_extra or {}).get(MIGRATION_KEY)
    done = any(m.position == pos and m.version == version for m in manifest.migrations(store))
    if isinstance(record, dict) and not done and doc.artifact_skops is not None:
        manifest.record_migration(store, _entry(doc, record, doc.artifact_skops.sha256))
        return Migrated(pos, version, "completed",
                        f"{pos} {version}: migrated earlier; its history entry is added now")
    return Migrated(pos, version, "skipped",
                    f"{pos} {version}: already has a skops file "
                    f"({doc.artifact_skops.file if doc.artifact_skops else '-'}); skipped")


def _entry(doc: ModelMetadata, record: dict[str, Any], sha256: str) -> manifest.Migration:
    return manifest.Migration(
        position=doc.position, version=doc.model_version, when=str(record.get("when")),
        by=str(record.get("by")), reason=str(record.get("reason")),
        from_format=str(record.get("from_format", formats.PICKLE)),
        to_format=formats.SKOPS, sha256=sha256)


def _convert(store: Store, doc: ModelMetadata, tag: str, *, reason: str, by: str,
             rows: CheckRows) -> manifest.Migration:
    """Unpickle, dump with skops, check, publish the skops file and swap the metadata."""
    pos, version = doc.position, doc.model_version
    found = verified(store, pos, version)  # the pkl's sha256 and size, before unpickling
    if found.doc != doc:
        raise MigrationConflictError(f"{layout.metadata_name(pos, version)} changed while it "
                                     f"was being read; nothing was migrated, run it again")
    check_sklearn(doc, found.pkl_path, allow_version_mismatch=False)
    pickled = formats.load_pickle(found.pkl, found.pkl_path)
    frame = rows(pos, doc)
    name = layout.skops_name(pos, version)
    data = formats.dump_skops(pickled)
    _check_same(pickled, formats.load_skops(data, store.display(name)), frame,
                store.display(name))
    created = _publish_skops(store, name, data, pickled, frame)
    if not created:
        data = store.read(name)
    record = {"when": _utc_now(), "by": by, "reason": reason, "from_format": formats.PICKLE,
              "pickle_sha256": doc.artifact.sha256}
    try:
        store.swap(layout.metadata_name(pos, version), _migrated_metadata(doc, data, record),
                   tag)
    except BaseException as exc:
        if created:
            store.remove(name)  # no metadata names it: leave the version as it was
        if isinstance(exc, PreconditionFailed):
            raise MigrationConflictError(
                f"{store.display(layout.metadata_name(pos, version))} changed during the "
                f"migration; nothing was migrated, run it again") from None
        raise
    return _entry(doc, record, hashlib.sha256(data).hexdigest())


def _publish_skops(store: Store, name: str, data: bytes, pickled: Any, frame: Any) -> bool:
    """Create the skops file (True); or adopt one an interrupted run left, once it checks
    out like a fresh dump (False)."""
    try:
        store.create(name, data)
        return True
    except FileExistsError:
        pass
    left = store.read(name)
    try:
        _check_same(pickled, formats.load_skops(left, store.display(name)), frame,
                    store.display(name))
    except ArtifactIntegrityError as exc:
        raise ArtifactIntegrityError(
            f"{store.display(name)} exists but no metadata names it, and it is not this "
            f"model ({exc}); remove it and run the migration again") from None
    logger.info("adopting %s, left by an interrupted migration", store.display(name))
    return False


def _migrated_metadata(doc: ModelMetadata, data: bytes, record: dict[str, Any]) -> bytes:
    """The metadata as read, with ``artifact_skops`` beside ``artifact`` and the record."""
    raw = json.loads(doc.to_json_bytes())
    skops = {"file": layout.skops_name(doc.position, doc.model_version),
             "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
             "format": formats.SKOPS}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        out[key] = value
        if key == "artifact":
            out["artifact_skops"] = skops
    out[MIGRATION_KEY] = record
    new = ModelMetadata.model_validate(out)
    return new.to_json_bytes()


def pickle_only_versions(models_dir: Location) -> list[tuple[str, str]]:
    """(position, version) of every version whose metadata names no skops file."""
    store = open_store(models_dir)
    found = []
    for pos in layout.positions_in(store):
        for version in layout.existing_versions(store, pos, with_pkl_only=True):
            try:
                doc, _ = _read(store, pos, version)
            except (ModelNotFoundError, ArtifactIntegrityError):
                found.append((pos, version))  # migrate reports what is wrong with it
                continue
            if doc.artifact_skops is None or MIGRATION_KEY in (doc.model_extra or {}):
                found.append((pos, version))
    return found


def migrate_all(models_dir: Location, *, trust_pickle: bool = False, reason: str,
                by: str | None = None, rows: CheckRows | None = None,
                signing_key: str | os.PathLike[str] | None = None,
                ) -> list[Migrated | RecruitRevealError]:
    """:func:`migrate` every pickle-only version of every position: the result of each, or
    the error that stopped it (the others are migrated all the same)."""
    _check_request(trust_pickle, reason, "every pickle-only version")
    results: list[Migrated | RecruitRevealError] = []
    for pos, version in pickle_only_versions(models_dir):
        try:
            results.append(migrate(models_dir, pos, version, trust_pickle=True, reason=reason,
                                   by=by, rows=rows, signing_key=signing_key))
        except RecruitRevealError as exc:
            results.append(exc)
    return results
