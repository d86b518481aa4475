"""Naming and layout of a models folder: versions, file names and what versions exist.

Every path under a models folder is built here from a validated position and
version, so nothing a caller passes can reach outside the folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import VersionError
from ..schema import check_position

if TYPE_CHECKING:
    from .storage import Store

LATEST = "latest"
#: The skops file of a version sits beside its pkl: ``{stem}.skops``.
SKOPS_SUFFIX = ".skops"
# Digits are spelled [0-9] because \d also matches non-ASCII digits.
_SEMVER = re.compile(r"(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})")


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


def check_version_or_latest(version: object) -> str:
    if version == LATEST:
        return LATEST
    parse_version(version)
    return str(version)


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


def existing_versions(models_dir: str | os.PathLike | Store, position: str, *,
                      with_pkl_only: bool = False) -> list[str]:
    """Versions with a pkl or a metadata file in ``models_dir``, in semver order.

    With ``with_pkl_only`` only versions whose pkl is published count: those
    are the versions :func:`save_pipeline` refuses to overwrite.
    """
    from .storage import open_store

    pattern = versioned_file_pattern(position)
    found: set[str] = set()
    for name in open_store(models_dir).names():
        match = pattern.fullmatch(name)
        if match and (not with_pkl_only or name.endswith(".pkl")):
            found.add(match[1])
    return sorted(found, key=parse_version)


def next_version(models_dir: str | os.PathLike | Store, position: str) -> str:
    """The next patch version after the newest exported one, or ``1.0.0`` when none exists.

    A version whose export was interrupted (metadata but no pkl) is not
    counted, so retrying gets the same number and completes it.
    """
    versions = existing_versions(models_dir, position, with_pkl_only=True)
    if not versions:
        return "1.0.0"
    major, minor, patch = parse_version(versions[-1])
    return format_version((major, minor, patch + 1))
