"""Version strings: strict semver ``X.Y.Z``, and ``latest`` where a served version is named.

Checked before a version can reach a file name, so nothing a caller passes
can reach outside a models folder.
"""

from __future__ import annotations

import re

from .errors import VersionError

LATEST = "latest"
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
