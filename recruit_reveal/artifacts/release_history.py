"""The release history's document, ``releases.json``: its entries and their validation.

:class:`Release` (the versions served from then on, and who switched them),
:class:`Migration` (a version converted from pickle to skops) and :class:`Manifest` (the
whole document), with :func:`parse_manifest`, the one reading of its bytes.  How the
document is changed (under a lock or a conditional write, append only) is
:mod:`.manifest`'s.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ReleaseError, VersionError
from . import layout

MANIFEST = "releases.json"
MANIFEST_SCHEMA_VERSION = 1
#: How a release was made: by a training run, the CLI, or the Python/HTTP API.
HOWS = ("train", "cli", "api")


class Release(BaseModel):
    """One entry of the history: the versions served from then on, and who switched them."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: int = Field(ge=0)
    when: str
    by: str
    how: str
    #: release (a training run or several positions), promote (one position),
    #: rollback, or derived (read from the latest files of an older folder).
    action: str
    reason: str | None = None
    versions: dict[str, str]
    #: The release that was current when this one was made.
    previous: int | None = None
    #: For a rollback: the release whose versions it makes current again.
    restores: int | None = None

    @field_validator("versions")
    @classmethod
    def _versions(cls, value: dict[str, str]) -> dict[str, str]:
        for pos, version in value.items():
            layout.check_position(pos)
            layout.parse_version(version)
        return value


class Migration(BaseModel):
    """One version converted from pickle to skops, on an operator's word (``models migrate``)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    position: str
    version: str
    when: str
    by: str
    #: Always ``"migrate"``: the history's word for how the change was made.
    how: str = "migrate"
    reason: str
    #: The format the model was loaded from (``"pickle"``) and the one written.
    from_format: str
    to_format: str
    #: sha256 of the skops file written.
    sha256: str

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        layout.parse_version(value)
        return value


class Manifest(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    schema_version: int = MANIFEST_SCHEMA_VERSION
    #: The last release's id; None only in a folder whose history holds migrations alone.
    current: int | None
    releases: list[Release]
    migrations: list[Migration] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        if not self.releases and not self.migrations:
            raise ValueError("releases is empty")
        ids = [r.id for r in self.releases]
        if any(b <= a for a, b in zip(ids, ids[1:], strict=False)):
            raise ValueError("release ids are not increasing")
        last = ids[-1] if ids else None
        if self.current != last:
            raise ValueError(f"current is {self.current}, but the last release is {last}")
        return self

    def to_json_bytes(self) -> bytes:
        doc = self.model_dump(mode="json")
        if not doc["migrations"]:
            del doc["migrations"]  # manifests without migrations stay as they were
        return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()


def parse_manifest(data: bytes, source: object) -> Manifest:
    """Parse and validate a manifest; ReleaseError naming ``source`` and the problem."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ReleaseError(f"{source} is not valid JSON ({exc}); fix or restore it, "
                           "nothing was switched") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("schema_version"), int) \
            or doc["schema_version"] > MANIFEST_SCHEMA_VERSION:
        raise ReleaseError(f"{source} is not a release manifest this version reads "
                           f"(schema_version 1 to {MANIFEST_SCHEMA_VERSION})")
    try:
        return Manifest.model_validate(doc)
    except (ValidationError, VersionError) as exc:
        raise ReleaseError(f"{source} is not a valid release manifest: {_first_error(exc)}") \
            from None


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}" if where else first["msg"]
    return str(exc)
