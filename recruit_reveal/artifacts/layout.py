"""Naming and layout of a models folder: versions, file names and what versions exist.

Every path under a models folder is built here from a validated position and
version, so nothing a caller passes can reach outside the folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..catalog import POSITION_KEY, active_catalog
from ..errors import UnknownPositionError
from ..storage.locations import Location, open_store
from ..versions import LATEST, check_version_or_latest, format_version, parse_version

#: The skops file of a version sits beside its pkl: ``{stem}.skops``.
SKOPS_SUFFIX = ".skops"


_ANY_VERSIONED = re.compile(
    r"recruit_reveal_([a-z][a-z0-9_]{0,31})_pipeline_(?:latest|v[0-9]+\.[0-9]+\.[0-9]+)"
    r"\.(?:pkl|skops|metadata\.json)")


def check_position(position: object) -> str:
    """A position key as files name it (any case in, lower case out).

    Any catalog's key is accepted: a models folder may hold positions of catalogs this
    process has never read; which positions exist is what the folder holds.
    """
    key = str(position).strip().lower() if isinstance(position, str) else ""
    if not POSITION_KEY.fullmatch(key):
        raise UnknownPositionError(
            f"unknown position {position!r}: a position key is lower-case letters, digits "
            "and _, starting with a letter")
    return key


def ordered_positions(keys: object) -> list[str]:
    """Position keys in the active catalog's order, then any others alphabetically."""
    found = set(keys)  # type: ignore[call-overload]
    known = [k for k in active_catalog().keys if k in found]
    return known + sorted(found - set(known))


def positions_in(models_dir: Location) -> list[str]:
    """Every position with a versioned or latest file in ``models_dir``."""
    names = open_store(models_dir).names()
    return ordered_positions({m[1] for n in names if (m := _ANY_VERSIONED.fullmatch(n))})


def file_stem(position: str, version: str) -> str:
    """``recruit_reveal_{pos}_pipeline_vX.Y.Z`` (or ``..._latest``); validates both parts."""
    pos = check_position(position)
    version = check_version_or_latest(version)
    suffix = LATEST if version == LATEST else f"v{version}"
    return f"recruit_reveal_{pos}_pipeline_{suffix}"


def artifact_name(position: str, version: str) -> str:
    """File name of the pkl of ``position`` at ``version`` (``"latest"`` allowed)."""
    return f"{file_stem(position, version)}.pkl"


def skops_name(position: str, version: str) -> str:
    return f"{file_stem(position, version)}{SKOPS_SUFFIX}"


def metadata_name(position: str, version: str) -> str:
    return f"{file_stem(position, version)}.metadata.json"


def signature_name(position: str, version: str) -> str:
    """The signature bundle of a version's files (:mod:`.signatures`)."""
    return f"{file_stem(position, version)}.sig"


def changelog_name(position: str) -> str:
    return f"CHANGELOG_{check_position(position)}.md"


def lock_name(position: str) -> str:
    return f".recruit_reveal_{check_position(position)}.lock"


def artifact_path(models_dir: str | os.PathLike, position: str, version: str) -> Path:
    """Path of the pkl of ``position`` at ``version`` (``"latest"`` allowed)."""
    return Path(models_dir) / artifact_name(position, version)


def skops_path(models_dir: str | os.PathLike, position: str, version: str) -> Path:
    """Path of the skops file of ``position`` at ``version`` (there is no latest one)."""
    return Path(models_dir) / skops_name(position, version)


def metadata_path(models_dir: str | os.PathLike, position: str, version: str) -> Path:
    """Path of the metadata JSON of ``position`` at ``version`` (``"latest"`` allowed)."""
    return Path(models_dir) / metadata_name(position, version)


def changelog_path(models_dir: str | os.PathLike, position: str) -> Path:
    return Path(models_dir) / changelog_name(position)


def lock_path(models_dir: str | os.PathLike, position: str) -> Path:
    return Path(models_dir) / lock_name(position)


def versioned_file_pattern(position: str) -> re.Pattern[str]:
    """Regex matching the versioned pkl/metadata names of a position; group 1 is the version."""
    pos = check_position(position)
    return re.compile(
        rf"recruit_reveal_{pos}_pipeline_v((?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*))"
        r"\.(?:pkl|metadata\.json)")


def existing_versions(models_dir: Location, position: str, *,
                      with_pkl_only: bool = False) -> list[str]:
    """Versions with a pkl or a metadata file in ``models_dir``, in semver order.

    With ``with_pkl_only`` only versions whose pkl is published count: those
    are the versions :func:`save_pipeline` refuses to overwrite.
    """
    pattern = versioned_file_pattern(position)
    found: set[str] = set()
    for name in open_store(models_dir).names():
        match = pattern.fullmatch(name)
        if match and (not with_pkl_only or name.endswith(".pkl")):
            found.add(match[1])
    return sorted(found, key=parse_version)


def next_version(models_dir: Location, position: str) -> str:
    """The next patch version after the newest exported one, or ``1.0.0`` when none exists.

    A version whose export was interrupted (metadata but no pkl) is not
    counted, so retrying gets the same number and completes it.
    """
    versions = existing_versions(models_dir, position, with_pkl_only=True)
    if not versions:
        return "1.0.0"
    major, minor, patch = parse_version(versions[-1])
    return format_version((major, minor, patch + 1))
