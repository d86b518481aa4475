"""Configuration read once from the environment: the one place MODEL_DIR and friends are parsed.

The CLI, the registry and the API all take a :class:`Settings`; a bad value
fails the same way everywhere, with a message naming the variable.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .catalog import POSITION_KEY, active_catalog
from .errors import RecruitRevealError, StorageError, VersionError
from .storage.locations import as_location
from .versions import LATEST, check_version_or_latest

#: Most athletes in one /predict/batch request.
MAX_BATCH = 10_000
#: Largest request body accepted, in bytes (a full batch is about 2 MB).
MAX_BODY_BYTES = 8 * 1024 * 1024


#: A per-route limit of "off": the route is not limited.
OFF = "off"
#: RATE_LIMIT_STORAGE URL schemes (the `limits` Redis backends the redis package serves).
RATE_LIMIT_SCHEMES = ("redis", "rediss", "redis+unix")


def _version_or_latest(value: str) -> str:
    return check_version_or_latest(value.strip())


def _check_rate(value: str) -> str:
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        raise ValueError("expected a rate such as 100/minute, 10/second or "
                         "1000 per hour (several separated by ';')") from None
    return value.strip()


class Settings(BaseSettings):
    """MODEL_DIR, RUNS_DIR, MODEL_VERSION, MODEL_VERSION_{POS} (any position), HOST, PORT, ALLOWED_ORIGINS
    (comma-separated), ADMIN_TOKEN, MAX_BODY_BYTES, MAX_BATCH, ALLOW_PICKLE, RATE_LIMIT,
    RATE_LIMIT_STORAGE, RATE_LIMIT_BATCH, RATE_LIMIT_WHATIF, RATE_LIMITS (JSON),
    RATE_LIMIT_KEY_HEADER, TRUSTED_HOSTS (comma-separated), ACCESS_LOG, WORKERS and
    RELEASE_POLL_SECONDS (docs/api.md); METRICS, METRICS_DIR and LOG_FORMAT; PREDICTION_LOG,
    PREDICTION_LOG_FLUSH_SECONDS, PREDICTION_LOG_FLUSH_ROWS, PREDICTION_LOG_BUFFER and
    PREDICTION_LOG_DAYS
    (docs/monitoring.md)."""

    model_config = SettingsConfigDict(case_sensitive=False, env_ignore_empty=True,
                                      frozen=True, extra="ignore")

    #: A local folder (a Path) or an object-store URL such as s3://bucket/prefix (kept as str).
    model_dir: Path | str = Path("models")
    #: Where audit records go (training and monitoring runs, runs/index.html); as model_dir.
    runs_dir: Path | str = Path("runs")
    model_version: str = LATEST
    #: Per position, the version it serves (MODEL_VERSION_<POS>, for any position key).
    model_versions: dict[str, str] = Field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = Field(8000, gt=0, lt=65536)
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()
    admin_token: str | None = None
    max_body_bytes: int = Field(MAX_BODY_BYTES, gt=0)
    max_batch: int = Field(MAX_BATCH, gt=0)
    #: Unpickle a model's .pkl when it has no skops file (ALLOW_PICKLE=1); off by default,
    #: since unpickling runs the file's code (docs/artifacts.md, `models migrate`).
    allow_pickle: bool = False
    #: The private key that signs every exported or promoted version (keys create makes one).
    signing_key: Path | None = None
    #: Trusted public keys, comma-separated (several during a key rotation); set, only versions
    #: whose signature one of them verifies are loaded (docs/artifacts.md, "Trust").
    verify_key: Annotated[tuple[Path, ...], NoDecode] = ()
    #: Requests per client, e.g. "100/minute" (the `limits` notation), on every route without
    #: a limit of its own; unset: those are not limited (docs/api.md).
    rate_limit: str | None = None
    #: Where the counts live: "memory" (each worker its own) or a redis:// URL (shared).
    rate_limit_storage: str = "memory"
    #: The limits of /predict/batch and of /what-if, in place of RATE_LIMIT.
    rate_limit_batch: str | None = None
    rate_limit_whatif: str | None = None
    #: Any route's own limit: a JSON object of path (as in /openapi.json) to a limit or "off".
    rate_limits: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    #: The header naming the client (its first comma-separated entry) instead of the address.
    rate_limit_key_header: str | None = None
    #: Host header values accepted ("*.example.com" for subdomains); "*" accepts any.
    trusted_hosts: Annotated[tuple[str, ...], NoDecode] = ("*",)
    #: uvicorn's access log (ACCESS_LOG=0 turns it off).
    access_log: bool = True
    #: Server processes (`serve --workers`); each loads the models and follows the release.
    workers: int = Field(1, ge=1, le=64)
    #: How often a worker looks for a new release (a stat, or a HEAD request on S3); 0: never.
    release_poll_seconds: float = Field(1.0, ge=0, le=3600)
    #: /metrics and the HTTP metrics middleware (METRICS=0 turns both off).
    metrics: bool = True
    #: Where `serve --workers N` keeps the workers' metric files (emptied at start); unset:
    #: a fresh temporary folder, removed at exit.
    metrics_dir: Path | None = None
    #: "text" (one line per record) or "json" (one JSON object per line, with request ids).
    log_format: Literal["text", "json"] = "text"
    #: Where every prediction is recorded (a folder or s3://bucket/prefix); unset: nowhere.
    prediction_log: Path | str | None = None
    #: Each worker writes what it recorded this often, or sooner once it holds FLUSH_ROWS.
    prediction_log_flush_seconds: float = Field(5.0, gt=0, le=3600)
    prediction_log_flush_rows: int = Field(10_000, gt=0)
    #: Records a worker holds while the log cannot be written; beyond them, new ones are dropped.
    prediction_log_buffer: int = Field(100_000, gt=0)
    #: Days of records kept (older date partitions are deleted); unset: all are kept.
    prediction_log_days: int | None = Field(None, ge=1)

    @field_validator("model_version")
    @classmethod
    def _version(cls, value: str) -> str:
        return _version_or_latest(value)

    @field_validator("model_versions")
    @classmethod
    def _versions(cls, value: dict[str, str]) -> dict[str, str]:
        out = {}
        for pos, version in value.items():
            key = pos.strip().lower()
            if not POSITION_KEY.fullmatch(key):
                raise ValueError(f"{pos!r} is not a position key")
            out[key] = _version_or_latest(version)
        return out

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("model_dir", "runs_dir", "host", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("model_dir", "runs_dir", mode="after")
    @classmethod
    def _location(cls, value: Path | str) -> Path | str:
        # A Path would fold the // of a URL; an unknown scheme is refused here, by name.
        try:
            return as_location(value)
        except StorageError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("prediction_log", mode="after")
    @classmethod
    def _log_location(cls, value: Path | str | None) -> Path | str | None:
        if value is None or not str(value).strip():
            return None
        try:
            return as_location(str(value).strip())
        except StorageError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("rate_limit", "rate_limit_batch", "rate_limit_whatif")
    @classmethod
    def _rate_limit(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return _check_rate(value)

    @field_validator("rate_limits", mode="before")
    @classmethod
    def _rate_limits(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not JSON ({exc.msg} at column {exc.colno}): expected an "
                                 'object such as {"/predict/batch": "10/minute"}') from None
        if not isinstance(value, Mapping):
            raise ValueError('expected an object such as {"/predict/batch": "10/minute"}')
        checked = {}
        for path, rate in value.items():
            if not isinstance(path, str) or not path.startswith("/"):
                raise ValueError(f"{path!r}: a path starts with '/', e.g. /predict/batch")
            if not isinstance(rate, str):
                raise ValueError(f"{path}: expected a rate such as 10/minute or \"off\"")
            try:
                checked[path] = OFF if rate.strip().lower() == OFF else _check_rate(rate)
            except ValueError as exc:
                raise ValueError(f"{path}: {exc} or \"off\"") from None
        return checked

    @field_validator("rate_limit_storage", mode="after")
    @classmethod
    def _rate_limit_storage(cls, value: str) -> str:
        value = value.strip()
        if value.lower() == "memory":
            return "memory"
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme not in RATE_LIMIT_SCHEMES:
            raise ValueError("expected memory or a Redis URL such as redis://host:6379/0 "
                             f"(schemes: {', '.join(RATE_LIMIT_SCHEMES)})")
        return value

    @field_validator("rate_limit_key_header")
    @classmethod
    def _key_header(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", value.strip()):
            raise ValueError("expected a header name such as X-Forwarded-For or X-Real-IP")
        return value.strip()

    @field_validator("trusted_hosts", mode="before")
    @classmethod
    def _trusted_hosts(cls, value: Any) -> Any:
        hosts = tuple(h.strip() for h in value.split(",") if h.strip()) \
            if isinstance(value, str) else value
        for host in hosts or ():
            # Starlette asserts this shape only when the first request arrives.
            if "*" in host[1:] or (host.startswith("*") and host != "*"
                                   and not host.startswith("*.")):
                raise ValueError(f"{host!r}: a wildcard is '*' alone or '*.example.com'")
        return hosts or ("*",)

    @field_validator("verify_key", mode="before")
    @classmethod
    def _verify_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = tuple(Path(k.strip()).expanduser() for k in value.split(",") if k.strip())
        for key in value or ():
            if not Path(key).is_file():
                raise ValueError(f"{key}: no such public key file")
        return value

    @field_validator("signing_key", mode="after")
    @classmethod
    def _signing_key(cls, value: Path | None) -> Path | None:
        if value is not None and not value.expanduser().is_file():
            raise ValueError(f"{value}: no such private key file")
        return None if value is None else value.expanduser()

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(o.strip() for o in value.split(",") if o.strip())
        return value

    @property
    def versions(self) -> dict[str, str]:
        """The version each position serves: MODEL_VERSION_{POS}, else MODEL_VERSION; for
        the active catalog's positions and every position named in MODEL_VERSION_{POS}."""
        positions = dict.fromkeys([*active_catalog().keys, *self.model_versions])
        return {pos: self.model_versions.get(pos) or self.model_version for pos in positions}

    def replace(self, **overrides: Any) -> Settings:
        """A validated copy with ``overrides`` (field names) applied.

        ``versions={"qb": "1.0.0"}`` sets the version of qb (as MODEL_VERSION_QB does).
        A bad value raises as :func:`load_settings` does, naming the argument.
        """
        versions = overrides.pop("versions", None) or {}
        if versions:
            overrides["model_versions"] = {**self.model_versions,
                                           **_checked_versions(versions, "argument")}
        unknown = sorted(set(overrides) - set(type(self).model_fields))
        if unknown:
            raise TypeError(f"unknown setting(s): {', '.join(unknown)}")
        try:
            return type(self).model_validate({**self.model_dump(), **overrides})
        except ValidationError as exc:
            _raise_readable(exc, overrides)


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from ``env`` (default: the process environment), with explicit ``overrides``.

    A bad value raises :class:`VersionError` (versions) or
    :class:`RecruitRevealError` naming the environment variable and its value.
    """
    per_position = _checked_versions(_per_position_versions(os.environ if env is None else env),
                                     "environment variable")
    if per_position and "model_versions" not in overrides:
        overrides = {**overrides, "model_versions": per_position}
    try:
        if env is None:
            return Settings(**overrides)
        fields = Settings.model_fields
        values: dict[str, Any] = {k.lower(): v for k, v in env.items()
                                  if k.lower() in fields and str(v).strip()}
        return Settings.model_validate({**values, **overrides})
    except ValidationError as exc:
        _raise_readable(exc, overrides)


#: MODEL_VERSION_<POS>: the version one position serves, for any position key.
_PER_POSITION = "model_version_"


def _per_position_versions(env: Mapping[str, str]) -> dict[str, str]:
    return {k.lower()[len(_PER_POSITION):]: v for k, v in env.items()
            if k.lower().startswith(_PER_POSITION) and str(v).strip()}


def _checked_versions(versions: Mapping[str, str], source: str) -> dict[str, str]:
    """Position -> version, each checked and named as MODEL_VERSION_<POS> when bad."""
    out = {}
    for pos, version in versions.items():
        key = str(pos).strip().lower()
        name = f"{_PER_POSITION}{key}".upper()
        if not POSITION_KEY.fullmatch(key):
            raise RecruitRevealError(f"{source} {name}: {pos!r} is not a position key "
                                     "(lower-case letters, digits and _)")
        try:
            out[key] = _version_or_latest(str(version))
        except ValueError as exc:
            raise VersionError(f"{source} {name}: {exc} (or 'latest')") from None
    return out


def load_setting(name: str, env: Mapping[str, str] | None = None) -> Any:
    """One setting (a field name such as ``"model_dir"``) read from ``env`` alone.

    Validated and reported exactly as :func:`load_settings` does, but a bad
    value of another variable does not fail it: the registry reads
    ``MODEL_DIR`` and ``MODEL_VERSION`` this way.
    """
    field = name.lower()
    if field not in Settings.model_fields:
        raise KeyError(name)
    env = os.environ if env is None else env
    return getattr(load_settings({k: v for k, v in env.items() if k.lower() == field}), field)


def _raise_readable(exc: ValidationError, overrides: Mapping[str, Any]) -> NoReturn:
    first = exc.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else "?"
    source = "argument" if name in overrides else "environment variable"
    message = f"{source} {name.upper()}={first.get('input')!r}: {first['msg']}"
    if name.startswith("model_version"):
        cause = (first.get("ctx") or {}).get("error")
        raise VersionError(f"{source} {name.upper()}: {cause or first['msg']} "
                           f"(or 'latest')") from None
    raise RecruitRevealError(message) from None
