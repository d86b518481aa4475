"""Configuration read once from the environment: the one place MODEL_DIR and friends are parsed.

The CLI, the registry and the API all take a :class:`Settings`; a bad value
fails the same way everywhere, with a message naming the variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .artifacts.layout import LATEST, check_version_or_latest
from .errors import RecruitRevealError, VersionError
from .schema import POSITIONS

#: Most athletes in one /predict/batch request.
MAX_BATCH = 10_000
#: Largest request body accepted, in bytes (a full batch is about 2 MB).
MAX_BODY_BYTES = 8 * 1024 * 1024


def _version_or_latest(value: str) -> str:
    return check_version_or_latest(value.strip())


class Settings(BaseSettings):
    """MODEL_DIR, MODEL_VERSION, MODEL_VERSION_{QB,RB,WR}, HOST, PORT, ALLOWED_ORIGINS
    (comma-separated), ADMIN_TOKEN, MAX_BODY_BYTES and MAX_BATCH (docs/api.md)."""

    model_config = SettingsConfigDict(case_sensitive=False, env_ignore_empty=True,
                                      frozen=True, extra="ignore")

    model_dir: Path = Path("models")
    model_version: str = LATEST
    model_version_qb: str | None = None
    model_version_rb: str | None = None
    model_version_wr: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(8000, gt=0, lt=65536)
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()
    admin_token: str | None = None
    max_body_bytes: int = Field(MAX_BODY_BYTES, gt=0)
    max_batch: int = Field(MAX_BATCH, gt=0)

    @field_validator("model_version", "model_version_qb", "model_version_rb", "model_version_wr")
    @classmethod
    def _version(cls, value: str | None) -> str | None:
        return None if value is None else _version_or_latest(value)

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(o.strip() for o in value.split(",") if o.strip())
        return value

    @property
    def versions(self) -> dict[str, str]:
        """The version each position serves: MODEL_VERSION_{POS}, else MODEL_VERSION."""
        return {pos: getattr(self, f"model_version_{pos}") or self.model_version
                for pos in POSITIONS}


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from ``env`` (default: the process environment), with explicit ``overrides``.

    A bad value raises :class:`VersionError` (versions) or
    :class:`RecruitRevealError` naming the environment variable and its value.
    """
    try:
        if env is None:
            return Settings(**overrides)
        fields = Settings.model_fields
        values: dict[str, Any] = {k.lower(): v for k, v in env.items()
                                  if k.lower() in fields and str(v).strip()}
        return Settings.model_validate({**values, **overrides})
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "?"
        source = "argument" if name in overrides else "environment variable"
        message = f"{source} {name.upper()}={first.get('input')!r}: {first['msg']}"
        if name.startswith("model_version"):
            cause = (first.get("ctx") or {}).get("error")
            raise VersionError(f"{source} {name.upper()}: {cause or first['msg']} "
                               f"(or 'latest')") from None
        raise RecruitRevealError(message) from None
