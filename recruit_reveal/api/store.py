"""The prediction service: a FastAPI app serving the exported models by version.

``create_app()`` builds the app; models load in its lifespan handler (never
at import time) through :mod:`recruit_reveal.artifacts.registry`.  ``run()`` serves it
with uvicorn; ``recruit-reveal serve`` calls it.  The contract (endpoints,
fields, error codes, limits, environment) is written down in docs/api.md.

Request validation is generated from :mod:`recruit_reveal.schema`, the one
source of ranges, kinds and required fields.  Every invalid request gets a
4xx whose ``detail`` names the field; ``errors`` lists every problem found.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import cache, lru_cache
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, Field, ValidationError, create_model
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from recruit_reveal.artifacts import layout, registry
from recruit_reveal.modeling import explanations as insights

from .. import __version__
from ..errors import (
    ArtifactIntegrityError,
    IncompatibleModelError,
    ModelNotFoundError,
    RecruitRevealError,
    VersionError,
)
from ..schema import (
    DIVISIONS,
    IGNORED_COLUMNS,
    POSITION_COLUMN,
    POSITIONS,
    US_STATES,
    Column,
    canonical_column_name,
    columns_for,
    feature_names,
    normalize_position,
    parse_height,
)

logger = logging.getLogger(__name__)

SERVICE_NAME = "recruit-reveal"
#: Most athletes in one /predict/batch request.
MAX_BATCH = 10_000
#: Largest request body accepted, in bytes (a full batch is about 2 MB).
MAX_BODY_BYTES = 8 * 1024 * 1024
#: Explicit versions kept loaded for /predict/{version}, least recently used dropped.
_VERSION_CACHE_SIZE = 6
#: Problems listed in one error response; the rest are counted.
_MAX_PROBLEMS = 50


# --------------------------------------------------------------------------- configuration

@dataclass(frozen=True)
class ServiceConfig:
    """Everything the service reads from the environment (see docs/api.md)."""

    models_dir: Path = Path("models")
    versions: Mapping[str, str] = field(default_factory=lambda: dict.fromkeys(POSITIONS, "latest"))
    host: str = "127.0.0.1"
    port: int = 8000
    allowed_origins: tuple[str, ...] = ()
    admin_token: str | None = None
    max_body_bytes: int = MAX_BODY_BYTES
    max_batch: int = MAX_BATCH

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServiceConfig:
        """MODEL_DIR, MODEL_VERSION, MODEL_VERSION_{QB,RB,WR}, HOST, PORT,
        ALLOWED_ORIGINS (comma-separated), ADMIN_TOKEN, MAX_BODY_BYTES, MAX_BATCH."""
        env = os.environ if env is None else env
        default = env.get("MODEL_VERSION", "").strip() or "latest"
        versions = {pos: env.get(f"MODEL_VERSION_{pos.upper()}", "").strip() or default
                    for pos in POSITIONS}
        for pos, version in versions.items():
            if version != "latest":
                try:
                    layout.parse_version(version)
                except VersionError as exc:
                    name = ("MODEL_VERSION_" + pos.upper()
                            if env.get(f"MODEL_VERSION_{pos.upper()}", "").strip()
                            else "MODEL_VERSION")
                    raise VersionError(f"environment variable {name}: {exc} "
                                       "(or 'latest')") from None
        origins = tuple(o.strip() for o in env.get("ALLOWED_ORIGINS", "").split(",") if o.strip())
        return cls(
            models_dir=Path(env.get("MODEL_DIR", "").strip() or "models"),
            versions=versions,
            host=env.get("HOST", "").strip() or "127.0.0.1",
            port=_env_int(env, "PORT", 8000),
            allowed_origins=origins,
            admin_token=env.get("ADMIN_TOKEN") or None,
            max_body_bytes=_env_int(env, "MAX_BODY_BYTES", MAX_BODY_BYTES),
            max_batch=_env_int(env, "MAX_BATCH", MAX_BATCH),
        )


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise RecruitRevealError(f"environment variable {name}={raw!r} is not an integer") from None
    if value <= 0:
        raise RecruitRevealError(f"environment variable {name}={raw!r} must be positive")
    return value


# --------------------------------------------------------------------------- errors

class ApiError(Exception):
    """A request problem answered with ``status`` and a message naming the field."""

    def __init__(self, status: int, message: str, *, field: str | None = None,
                 errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        if errors is None and field:
            text = message[len(field) + 2:] if message.startswith(f"{field}: ") else message
            errors = [{"field": field, "message": text}]
        self.errors = errors or []
        self.headers = headers


def _error_response(status: int, message: str, errors: list[dict[str, Any]] | None = None,
                    headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message, "errors": errors or []}, status_code=status,
                        headers=headers)


class _BodyTooLarge(Exception):
    pass


class _BodyLimitMiddleware:
    """413 for bodies over the limit, by Content-Length and by bytes actually streamed."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_large = int(value) > self.max_bytes
                except ValueError:
                    too_large = False
                if too_large:
                    await self._reject(scope, receive, send)
                    return
        received = 0
        started = False

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if started:
                raise
            await self._reject(scope, receive, send)

    async def _reject(self, scope, receive, send):
        response = _error_response(
            413, f"request body too large: the limit is {self.max_bytes} bytes",
            [{"field": "body", "message": f"more than {self.max_bytes} bytes"}])
        await response(scope, receive, send)


# --------------------------------------------------------------------------- request models

def _reject_bool(value: Any) -> Any:
    # JSON true/false would otherwise pass as 1/0 for numbers.
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    return value


def _height(value: Any) -> Any:
    value = _reject_bool(value)
    if isinstance(value, str):
        parsed = parse_height(value)
        if parsed is None:
            raise ValueError(f"unrecognised height {value!r}; give inches or feet-inches "
                             "like 6-2")
        return parsed
    return value


def _state(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str) or value.strip().upper() not in US_STATES:
        raise ValueError(f"unknown US state code {value!r}")
    return value.strip().upper()


def _field_type(col: Column) -> Any:
    if col.kind == "state":
        return Annotated[str | None, BeforeValidator(_state),
                         Field(description=f"{col.description} ({col.unit})")]
    base = int if col.kind == "int" else float
    constraints: dict[str, Any] = {"allow_inf_nan": False} if base is float else {}
    inner = Annotated[base, Field(ge=col.low, le=col.high, **constraints)]
    validator = _height if col.name == "height_inches" else _reject_bool
    # A required input may not be null; an optional one may (null = missing).
    return Annotated[inner if col.required else inner | None, BeforeValidator(validator),
                     Field(description=f"{col.description}; {col.range_text}")]


@cache
def request_model(position: str) -> type[BaseModel]:
    """The pydantic model of one athlete of ``position``, generated from the schema."""
    fields: dict[str, Any] = {
        POSITION_COLUMN: (str, Field(description="qb, rb or wr, any case",
                                     json_schema_extra={"example": position})),
    }
    for col in columns_for(position):
        fields[col.name] = (_field_type(col), ... if col.required else None)
    return create_model(f"{position.capitalize()}Athlete", **fields)


@lru_cache(maxsize=4096)
def _canonical(key: str) -> str:
    return canonical_column_name(key)


@cache
def _feature_set(position: str) -> frozenset[str]:
    return frozenset(feature_names(position))


@dataclass
class _Athlete:
    position: str
    values: dict[str, Any]
    ignored: list[str]


def _range_hint(position: str, name: str) -> str | None:
    for col in columns_for(position):
        if col.name == name:
            return col.unit if col.kind == "state" else col.range_text
    return None


def _parse_athlete(raw: Any, where: str = "") -> _Athlete:
    """Validate one athlete object; raise ApiError(422) naming every bad field."""
    if not isinstance(raw, dict):
        name = where.rstrip(".") or "body"
        raise ApiError(422, f"{name}: expected a JSON object describing one athlete, "
                       f"got {type(raw).__name__}", field=name)
    canonical: dict[str, Any] = {}
    origin: dict[str, str] = {}
    ignored: list[str] = []
    problems: list[dict[str, Any]] = []
    for key, value in raw.items():
        name = _canonical(key)
        if name in IGNORED_COLUMNS:
            continue
        if name in canonical:
            problems.append({"field": where + name,
                             "message": f"given twice (as {origin[name]!r} and {key!r})"})
            continue
        canonical[name] = value
        origin[name] = key
    pos_raw = canonical.pop(POSITION_COLUMN, None)
    position = normalize_position(pos_raw) if isinstance(pos_raw, str) else None
    if position is None:
        message = ("missing required field" if pos_raw is None
                   else f"unknown position {pos_raw!r}")
        problems.insert(0, {"field": where + POSITION_COLUMN, "message": message,
                            "expected": "one of " + ", ".join(POSITIONS)})
        raise ApiError(422, _summary(problems), field=where + POSITION_COLUMN, errors=problems)
    features = _feature_set(position)
    for name in list(canonical):
        if name not in features:
            ignored.append(origin[name])
            del canonical[name]
    try:
        model = request_model(position).model_validate({POSITION_COLUMN: position, **canonical})
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            name = str(err["loc"][0]) if err["loc"] else "body"
            problem = {"field": where + name, "message": _clean_message(err)}
            hint = _range_hint(position, name)
            if hint:
                problem["expected"] = hint
            if name in origin and origin[name] != name:
                problem["given_as"] = origin[name]
            problems.append(problem)
    if problems:
        raise ApiError(422, _summary(problems), field=problems[0]["field"], errors=problems)
    values = model.model_dump(exclude={POSITION_COLUMN})
    return _Athlete(position, values, ignored)


def _clean_message(err: dict[str, Any]) -> str:
    msg = str(err.get("msg", "invalid value"))
    if err.get("type") == "missing":
        return "missing required field"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if "input" in err and err.get("type") not in ("missing",):
        return f"{msg} (got {json.dumps(err['input'], default=str)})"
    return msg


def _summary(problems: list[dict[str, Any]]) -> str:
    first = problems[0]
    text = f"{first['field']}: {first['message']}"
    if first.get("expected"):
        text += f" (expected {first['expected']})"
    if len(problems) > 1:
        text += f"; and {len(problems) - 1} more problem(s)"
    return text


async def _read_json(request: Request) -> Any:
    body = await request.body()
    if not body.strip():
        raise ApiError(422, "request body is empty: expected JSON", field="body")
    try:
        # NaN/Infinity literals parse to float here and are then refused by
        # the per-field validation, which can name the field.
        return json.loads(body)
    except UnicodeDecodeError:
        raise ApiError(400, "malformed JSON: body is not UTF-8 text", field="body") from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"malformed JSON at line {exc.lineno} column {exc.colno}: "
                       f"{exc.msg}", field="body") from None
    except (ValueError, RecursionError) as exc:
        # e.g. an integer literal with thousands of digits, or arrays nested thousands deep.
        raise ApiError(400, f"malformed JSON: {type(exc).__name__}: {str(exc)[:200]}",
                       field="body") from None


def _check_position_path(position: str) -> str:
    pos = normalize_position(position)
    if pos is None:
        raise ApiError(404, f"unknown position {position!r} (expected one of "
                       f"{', '.join(POSITIONS)})", field="position")
    return pos


def _check_version(version: str, field_name: str = "version") -> str:
    try:
        layout.parse_version(version)
    except VersionError as exc:
        raise ApiError(422, f"{field_name}: malformed version {version!r}: {exc}",
                       field=field_name) from None
    return version


# --------------------------------------------------------------------------- model store

@dataclass(frozen=True)
class ServedModel:
    """One loaded model; immutable, so a request keeps a consistent view of it."""

    position: str
    requested: str
    version: str
    pipeline: Any
    metadata: dict[str, Any]
    reason: str
    typical_values: dict[str, float]
    loaded_at: str

    @classmethod
    def from_loaded(cls, loaded: Any) -> ServedModel:
        meta = dict(loaded.metadata or {})
        typical = {k: float(v) for k, v in (meta.get("typical_values") or {}).items()
                   if isinstance(v, int | float) and math.isfinite(v)}
        _self_check(loaded, typical)
        return cls(loaded.position, str(loaded.requested), str(loaded.version), loaded.pipeline,
                   meta, str(loaded.reason or ""), typical,
                   datetime.now(timezone.utc).isoformat(timespec="seconds"))


def _self_check(loaded: Any, typical: dict[str, float]) -> None:
    """One prediction on the typical athlete before a model is served.

    A pickle can verify and unpickle yet fail on use (e.g. saved by older
    feature code); that must make the position unavailable, not every request a 500.
    """
    names = insights.numeric_names(loaded.position)
    x = np.array([[typical.get(n, np.nan) for n in names]], dtype=float)
    try:
        proba = insights.predict_proba(
            loaded.pipeline, insights.model_frame(x, np.array([np.nan], dtype=object),
                                                  loaded.position))
    except Exception as exc:  # noqa: BLE001 - any failure means "cannot serve this model"
        raise ModelNotFoundError(
            f"{loaded.position} {loaded.version} loads but fails a test prediction: "
            f"{type(exc).__name__}: {exc}") from exc
    if proba.shape != (1, len(DIVISIONS)) or not np.all(np.isfinite(proba)) \
            or abs(float(proba.sum()) - 1) > 1e-6:
        raise ModelNotFoundError(
            f"{loaded.position} {loaded.version} returns probabilities of shape {proba.shape} "
            f"that are not {len(DIVISIONS)} finite values summing to 1")


@dataclass(frozen=True)
class Unavailable:
    """A position with no valid model, and why."""

    position: str
    requested: str
    reason: str


class ModelStore:
    """The served model per position, swapped atomically on a hot switch.

    Readers take one reference (``get``) and use it for the whole request;
    a switch loads the new model completely before replacing the mapping,
    so in-flight requests never see a half-loaded model.
    """

    def __init__(self, models_dir: Path, versions: Mapping[str, str]):
        self.models_dir = Path(models_dir)
        self.versions = dict(versions)
        self._served: dict[str, ServedModel | Unavailable] = {
            pos: Unavailable(pos, self.versions.get(pos, "latest"), "not loaded yet")
            for pos in POSITIONS}
        self._switch_lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, str], ServedModel] = OrderedDict()
        self._cache_lock = threading.Lock()

    def load_all(self) -> None:
        served: dict[str, ServedModel | Unavailable] = {}
        for pos in POSITIONS:
            requested = self.versions.get(pos, "latest")
            try:
                served[pos] = self._load_position(pos, requested)
            except RecruitRevealError as exc:
                served[pos] = Unavailable(pos, requested, str(exc))
        self._served = served

    def _load_position(self, position: str, requested: str) -> ServedModel:
        loaded = registry.load(position, requested, models_dir=self.models_dir)
        try:
            return ServedModel.from_loaded(loaded)
        except ModelNotFoundError as exc:
            if requested == "latest":
                raise
            # The requested version verified but cannot predict: try latest, as the
            # registry does for a missing version.
            fallback = registry.load(position, "latest", models_dir=self.models_dir)
            if fallback.version == loaded.version:
                raise
            model = ServedModel.from_loaded(fallback)
            return replace(model, requested=requested,
                           reason=f"requested {requested}; serving latest = "
                                         f"{fallback.version} because {exc}")

    def get(self, position: str) -> ServedModel | Unavailable:
        return self._served[position]

    def snapshot(self) -> dict[str, ServedModel | Unavailable]:
        return dict(self._served)

    def require(self, position: str) -> ServedModel:
        served = self._served[position]
        if isinstance(served, Unavailable):
            raise ApiError(503, f"position: no model available for {position!r}: "
                           f"{served.reason}", field="position")
        return served

    def _exists(self, position: str, version: str) -> None:
        try:
            versions = registry.list_versions(position, models_dir=self.models_dir)
        except RecruitRevealError:
            versions = []
        if version not in versions:
            listed = ", ".join(versions) or "none"
            raise ApiError(404, f"version: {position} model version {version!r} not found "
                           f"(available: {listed})", field="version")

    def _load_exact(self, position: str, version: str) -> ServedModel:
        self._exists(position, version)
        try:
            loaded = registry.load(position, version, models_dir=self.models_dir)
        except (ArtifactIntegrityError, IncompatibleModelError) as exc:
            raise ApiError(409, f"version: {position} {version} cannot be served: {exc}",
                           field="version") from None
        except ModelNotFoundError as exc:
            raise ApiError(404, f"version: {exc}", field="version") from None
        if str(loaded.version) != version:
            raise ApiError(409, f"version: {position} {version} is not loadable "
                           f"({loaded.reason})", field="version")
        try:
            return ServedModel.from_loaded(loaded)
        except ModelNotFoundError as exc:
            raise ApiError(409, f"version: {exc}", field="version") from None

    def versioned(self, position: str, version: str) -> ServedModel:
        """A specific version, for /predict/{version}; cached, never served by default."""
        current = self._served[position]
        if isinstance(current, ServedModel) and current.version == version:
            return current
        key = (position, version)
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        model = self._load_exact(position, version)
        with self._cache_lock:
            self._cache[key] = model
            while len(self._cache) > _VERSION_CACHE_SIZE:
                self._cache.popitem(last=False)
        return model

    def switch(self, position: str, version: str) -> tuple[ServedModel | Unavailable,
                                                             ServedModel]:
        """Load ``version`` fully, then swap it in; on any error the served model stays."""
        with self._switch_lock:
            new = self._load_exact(position, version)
            new = ServedModel(new.position, version, new.version, new.pipeline, new.metadata,
                              f"switched to {version} by an admin request", new.typical_values,
                              new.loaded_at)
            previous = self._served[position]
            served = dict(self._served)
            served[position] = new
            self._served = served  # one reference assignment: atomic for readers
        logger.info("switched %s from %s to %s", position,
                    getattr(previous, "version", "unavailable"), version)
        return previous, new


# --------------------------------------------------------------------------- predictions

def _arrays(position: str, rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Validated athletes -> (numeric matrix in schema order, state codes)."""
    names = insights.numeric_names(position)
    x = np.array([[np.nan if r.get(n) is None else r[n] for n in names] for r in rows],
                 dtype=float).reshape(len(rows), len(names))
    state = np.array([np.nan if r.get("state") is None else r["state"] for r in rows],
                     dtype=object)
    return x, state


def _completeness_warning(missing_measurables: list[str], missing_optional: int,
                          optional: int) -> str | None:
    if not missing_measurables and missing_optional <= optional / 2:
        return None
    parts = []
    if missing_measurables:
        parts.append(f"{len(missing_measurables)} of {len(insights.MEASURABLES)} combine "
                     f"results missing ({', '.join(missing_measurables)})")
    parts.append(f"{missing_optional} of {optional} optional inputs missing")
    return ("; ".join(parts) + ": the model imputed them, so the prediction leans on the "
            "inputs given")


def _predictions(position: str, served: ServedModel, athletes: list[_Athlete],
                 x: np.ndarray, state: np.ndarray, proba: np.ndarray,
                 explanations: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Response bodies for athletes of one position; per-row numbers computed vectorized."""
    n = len(athletes)
    pred = insights.decide(proba, insights.decision_rule(served.pipeline))
    top = proba[np.arange(n), pred]
    levels = np.arange(len(DIVISIONS))
    above = np.where(levels[None, :] > pred[:, None], proba, 0).sum(axis=1)
    below = np.where(levels[None, :] < pred[:, None], proba, 0).sum(axis=1)
    lean = above - below
    clipped = np.clip(proba, 1e-12, 1.0)
    confidence = np.clip(1 + (clipped * np.log(clipped)).sum(axis=1) / math.log(len(DIVISIONS)),
                         0, 1)
    expected = insights.expected_division(proba)

    names = feature_names(position)
    numeric = insights.numeric_names(position)
    missing = np.ones((n, len(names)), dtype=bool)
    for j, name in enumerate(names):
        missing[:, j] = ([v is None or v != v for v in state] if name == "state"
                         else np.isnan(x[:, numeric.index(name)]))
    optional = [j for j, c in enumerate(columns_for(position)) if not c.required]
    measurable_idx = [names.index(m) for m in insights.MEASURABLES]
    missing_optional = missing[:, optional].sum(axis=1)

    proba_r = np.round(proba, 6).tolist()
    top_r, conf_r, exp_r = (np.round(a, 6).tolist() for a in (top, confidence, expected))
    out = []
    for i, athlete in enumerate(athletes):
        flags = missing[i].tolist()
        division = DIVISIONS[int(pred[i])]
        band = "High" if lean[i] > 0.15 else "Low" if lean[i] < -0.15 else "Mid"
        body: dict[str, Any] = {
            "position": position,
            "model_version": served.version,
            "predicted_division": division,
            "predicted_tier": f"{band} {division}",
            "probability": top_r[i],
            "confidence_score": conf_r[i],
            "probabilities": dict(zip(DIVISIONS, proba_r[i], strict=True)),
            "expected_division_index": exp_r[i],
            "imputation_flags": dict(zip(names, flags, strict=True)),
            "data_completeness_warning": _completeness_warning(
                [names[j] for j in measurable_idx if flags[j]], int(missing_optional[i]),
                len(optional)),
            "ignored_fields": athlete.ignored,
        }
        if explanations is not None:
            e = explanations[i]
            body.update(insights.narrative(position, e))
            body["what_if_results"] = e["what_if"]
            body["top_factors"] = e["top_factors"]
        out.append(body)
    return out


def _predict_one(served: ServedModel, athlete: _Athlete) -> dict[str, Any]:
    x, state = _arrays(athlete.position, [athlete.values])
    explanations = insights.explain_arrays(served.pipeline, x, state, athlete.position,
                                           served.typical_values)
    proba = np.asarray([explanations[0]["probabilities"]])
    return _predictions(athlete.position, served, [athlete], x, state, proba, explanations)[0]


def _predict_many(store: ModelStore, athletes: list[_Athlete], explain: bool) -> list[dict]:
    by_position: dict[str, list[int]] = {}
    for i, a in enumerate(athletes):
        by_position.setdefault(a.position, []).append(i)
    served = {pos: store.require(pos) for pos in by_position}  # 503 before any work
    results: list[dict[str, Any] | None] = [None] * len(athletes)
    for pos, idx in by_position.items():
        model = served[pos]
        group = [athletes[i] for i in idx]
        x, state = _arrays(pos, [a.values for a in group])
        explanations = None
        if explain:
            explanations = insights.explain_arrays(model.pipeline, x, state, pos,
                                                   model.typical_values,
                                                   steps=insights.BATCH_STEPS)
            proba = np.asarray([e["probabilities"] for e in explanations])
        else:
            proba = insights.predict_proba(model.pipeline, insights.model_frame(x, state, pos))
        for i, body in zip(idx, _predictions(pos, model, group, x, state, proba, explanations),
                           strict=True):
            results[i] = body
    return results  # type: ignore[return-value]


# --------------------------------------------------------------------------- model listing

def _metric(metrics: dict[str, Any], name: str) -> float | None:
    value = metrics.get(name)
    if isinstance(value, dict):
        value = value.get("mean")
    return float(value) if isinstance(value, int | float) else None


def _headline(meta: dict[str, Any]) -> dict[str, float | None]:
    metrics = meta.get("metrics") or {}
    cv = metrics.get("cv") or {}
    return {name: _metric(cv, name) for name in
            ("exact_accuracy", "within_one_accuracy", "macro_f1", "log_loss")}


def _version_entry(meta: dict[str, Any], version: str, served_version: str | None) -> dict:
    fingerprint = meta.get("data_fingerprint") or {}
    return {
        "version": version,
        "created_at": meta.get("created_at"),
        "served": version == served_version,
        "metrics": _headline(meta),
        "training_rows": fingerprint.get("rows"),
        "estimator": (meta.get("estimator") or {}).get("name"),
    }


def _position_summary(store: ModelStore, position: str, *, with_versions: bool) -> dict:
    served = store.get(position)
    loaded = isinstance(served, ServedModel)
    summary: dict[str, Any] = {
        "position": position,
        "loaded": loaded,
        "version": served.version if loaded else None,
        "requested": served.requested,
        "reason": served.reason,
    }
    if loaded:
        summary.update({
            "created_at": served.metadata.get("created_at"),
            "loaded_at": served.loaded_at,
            "metrics": _headline(served.metadata),
            "estimator": (served.metadata.get("estimator") or {}).get("name"),
        })
    try:
        versions = registry.list_versions(position, models_dir=store.models_dir)
    except RecruitRevealError:
        versions = []
    summary["available_versions"] = versions
    if with_versions:
        entries = []
        for v in versions:
            try:
                meta = registry.describe(position, v, models_dir=store.models_dir)
            except RecruitRevealError as exc:
                entries.append({"version": v, "error": str(exc)})
                continue
            entries.append(_version_entry(meta, v, summary["version"]))
        summary["versions"] = entries
    return summary


# --------------------------------------------------------------------------- response docs

class WhatIfOption(BaseModel):
    input: str
    unit: str
    current: float | None
    suggested: float
    change: float | None
    direction: str
    new_division: str
    new_probability: float
    effort: float


class WhatIfResult(BaseModel):
    current_division: str
    target_division: str | None
    at_top: bool
    best: WhatIfOption | None
    options: list[WhatIfOption]
    unreachable: list[str]
    message: str


class Factor(BaseModel):
    input: str
    value: float
    typical: float
    unit: str
    effect: float = Field(description="expected division of this athlete minus that with this "
                                      "input at its typical value (division levels)")
    direction: str
    division_if_typical: str


class PredictionResponse(BaseModel):
    position: str
    model_version: str
    predicted_division: str = Field(description="one of " + ", ".join(DIVISIONS))
    predicted_tier: str
    probability: float
    confidence_score: float
    probabilities: dict[str, float]
    expected_division_index: float
    imputation_flags: dict[str, bool]
    data_completeness_warning: str | None
    ignored_fields: list[str]
    notes: str
    goals: list[str]
    switches: list[str]
    calendar_advice: str
    what_if_results: WhatIfResult
    top_factors: list[Factor]


class BatchResponse(BaseModel):
    count: int
    model_versions: dict[str, str]
    predictions: list[dict[str, Any]]


class ErrorResponse(BaseModel):
    detail: str
    errors: list[dict[str, Any]]


_ERRORS = {code: {"model": ErrorResponse} for code in (400, 404, 413, 422, 503)}


def _athlete_body_schema(batch: bool) -> dict[str, Any]:
    one = {"oneOf": [request_model(p).model_json_schema() for p in POSITIONS]}
    if not batch:
        schema = one
    else:
        items = {"type": "array", "items": one, "minItems": 1, "maxItems": MAX_BATCH}
        schema = {"oneOf": [items, {"type": "object", "properties": {"athletes": items},
                                    "required": ["athletes"]}]}
    return {"requestBody": {"required": True,
                            "content": {"application/json": {"schema": schema}}}}


# --------------------------------------------------------------------------- the app

def create_app(models_dir: str | Path | None = None, *, config: ServiceConfig | None = None,
               **overrides: Any) -> FastAPI:
    """Build the service.

    ``config`` defaults to :meth:`ServiceConfig.from_env`; ``models_dir`` and
    keyword ``overrides`` (any ServiceConfig field, e.g. ``admin_token=``,
    ``versions={"qb": "1.0.0"}``) replace what the environment says.  Models
    are loaded when the app starts (its lifespan), not here.
    """
    config = config or ServiceConfig.from_env()
    if models_dir is not None:
        overrides["models_dir"] = Path(models_dir)
    if "versions" in overrides:
        overrides["versions"] = {**config.versions, **overrides["versions"]}
    if overrides:
        config = ServiceConfig(**{**config.__dict__, **overrides})
    store = ModelStore(config.models_dir, config.versions)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await run_in_threadpool(store.load_all)
        _log_banner(store, config)
        yield

    app = FastAPI(
        title="Recruit Reveal",
        version=__version__,
        description="Predicts the college football division a high-school QB, RB or WR is "
                    "likely to reach, with a what-if and the factors behind it. "
                    "See docs/api.md.",
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.config = config
    if config.allowed_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(config.allowed_origins),
                           allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(_BodyLimitMiddleware, max_bytes=config.max_body_bytes)
    _install_error_handlers(app)
    _install_routes(app, store, config)
    return app


def _log_banner(store: ModelStore, config: ServiceConfig) -> None:
    logger.info("Recruit Reveal %s serving models from %s", __version__,
                config.models_dir.resolve())
    for pos, served in store.snapshot().items():
        if isinstance(served, ServedModel):
            logger.info("  %s: version %s (requested %s) - %s", pos, served.version,
                        served.requested, served.reason)
        else:
            logger.warning("  %s: UNAVAILABLE (requested %s) - %s", pos, served.requested,
                           served.reason)
    logger.info("  switch endpoint %s", "enabled" if config.admin_token
                else "disabled (no ADMIN_TOKEN)")


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return _error_response(exc.status, exc.message, exc.errors, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            problems.append({"field": ".".join(loc) or "request",
                             "message": _clean_message(dict(err))})
        return _error_response(422, _summary(problems) if problems else "invalid request",
                               problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        return _error_response(exc.status_code, str(exc.detail), [], getattr(exc, "headers", None))

    @app.exception_handler(RecruitRevealError)
    async def _domain_error(request: Request, exc: RecruitRevealError):
        return _error_response(400, str(exc), [])


def _install_routes(app: FastAPI, store: ModelStore, config: ServiceConfig) -> None:
    def health_body() -> dict[str, Any]:
        snap = store.snapshot()
        available = [p for p, s in snap.items() if isinstance(s, ServedModel)]
        return {
            "status": "healthy" if len(available) == len(POSITIONS) else "degraded",
            "service": SERVICE_NAME,
            "version": __version__,
            "models_loaded": len(available),
            "available_positions": available,
            "models": {p: {"loaded": isinstance(s, ServedModel),
                           "version": getattr(s, "version", None),
                           "requested": s.requested, "reason": s.reason}
                       for p, s in snap.items()},
        }

    @app.get("/", tags=["health"])
    async def root() -> dict[str, Any]:
        """Service name and version; "healthy" means the process answers."""
        return {"status": "healthy", "service": SERVICE_NAME, "version": __version__,
                "docs": "/docs"}

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, Any]:
        """healthy when every position is served, degraded otherwise."""
        return health_body()

    @app.get("/health/live", tags=["health"])
    async def live() -> dict[str, str]:
        """The process is up (always 200 while it answers)."""
        return {"status": "alive"}

    @app.get("/health/ready", tags=["health"], responses={503: {"model": dict[str, Any]}})
    async def ready():
        """200 when at least one position has a model loaded, 503 otherwise."""
        body = health_body()
        body["ready"] = body["models_loaded"] > 0
        return JSONResponse(body, status_code=200 if body["ready"] else 503)

    @app.post("/predict", tags=["predict"], response_model=PredictionResponse,
              responses=_ERRORS, openapi_extra=_athlete_body_schema(batch=False))
    async def predict(request: Request):
        """Predict one athlete with the served model of its position."""
        athlete = _parse_athlete(await _read_json(request))
        served = store.require(athlete.position)
        return JSONResponse(_predict_one(served, athlete))

    @app.post("/predict/batch", tags=["predict"], response_model=BatchResponse,
              responses=_ERRORS, openapi_extra=_athlete_body_schema(batch=True))
    async def predict_batch(request: Request, explain: bool = True):
        """Predict many athletes (positions mixed), in input order.

        Body: a JSON list of athletes, or ``{"athletes": [...]}``.  At most
        MAX_BATCH (10,000) athletes.  ``explain=false`` skips what-if, factors
        and text for bulk scoring.
        """
        payload = await _read_json(request)
        if isinstance(payload, dict) and "athletes" in payload:
            payload = payload["athletes"]
        if not isinstance(payload, list):
            raise ApiError(422, "athletes: expected a JSON list of athletes (or an object "
                           "with an 'athletes' list)", field="athletes")
        if not payload:
            raise ApiError(422, "athletes: the batch is empty", field="athletes")
        if len(payload) > config.max_batch:
            raise ApiError(413, f"athletes: {len(payload)} athletes is more than the limit of "
                           f"{config.max_batch} per batch", field="athletes")
        athletes, problems = [], []
        for i, raw in enumerate(payload):
            try:
                athletes.append(_parse_athlete(raw, where=f"athletes[{i}]."))
            except ApiError as exc:
                problems.extend(exc.errors)
                if len(problems) >= _MAX_PROBLEMS:
                    break
        if problems:
            raise ApiError(422, _summary(problems), field=problems[0]["field"],
                           errors=problems[:_MAX_PROBLEMS])
        results = await run_in_threadpool(_predict_many, store, athletes, explain)
        versions = {r["position"]: r["model_version"] for r in results}
        return JSONResponse({"count": len(results), "model_versions": versions,
                             "predictions": results})

    @app.post("/predict/{version:path}", tags=["predict"], response_model=PredictionResponse,
              responses=_ERRORS, openapi_extra=_athlete_body_schema(batch=False))
    async def predict_version(version: str, request: Request):
        """/predict with an explicit model version X.Y.Z for the athlete's position."""
        _check_version(version)
        athlete = _parse_athlete(await _read_json(request))
        served = await run_in_threadpool(store.versioned, athlete.position, version)
        return JSONResponse(_predict_one(served, athlete))

    @app.get("/models", tags=["models"])
    async def models() -> dict[str, Any]:
        """Served version and available versions of every position."""
        summaries = {p: _position_summary(store, p, with_versions=True) for p in POSITIONS}
        return {
            "available_models": summaries,
            "total_models": sum(s["loaded"] for s in summaries.values()),
            "total_versions": sum(len(s["available_versions"]) for s in summaries.values()),
        }

    @app.get("/models/{position}", tags=["models"], responses=_ERRORS)
    async def model_detail(position: str) -> dict[str, Any]:
        """The served model of a position: version, reason, metrics, input schema."""
        pos = _check_position_path(position)
        summary = _position_summary(store, pos, with_versions=False)
        served = store.get(pos)
        if isinstance(served, ServedModel):
            summary["input_schema"] = served.metadata.get("input_schema")
            summary["data_fingerprint"] = served.metadata.get("data_fingerprint")
            summary["classes"] = served.metadata.get("classes")
        return summary

    @app.get("/models/{position}/versions", tags=["models"], responses=_ERRORS)
    async def model_versions(position: str) -> dict[str, Any]:
        """Every exported version of a position with its headline metrics and date."""
        pos = _check_position_path(position)
        summary = _position_summary(store, pos, with_versions=True)
        return {"position": pos, "served_version": summary["version"],
                "versions": summary["versions"], "total_versions": len(summary["versions"])}

    @app.post("/models/{position}/switch", tags=["models"], responses={
        **_ERRORS, 401: {"model": ErrorResponse}, 403: {"model": ErrorResponse},
        409: {"model": ErrorResponse}})
    async def switch(position: str, request: Request, version: str | None = None):
        """Hot-switch the served version (Bearer ADMIN_TOKEN).  The new model is
        loaded completely before it replaces the old one."""
        _authorize(request, config.admin_token)
        pos = _check_position_path(position)
        if version is None:
            raise ApiError(422, "version: missing query parameter (?version=X.Y.Z)",
                           field="version")
        _check_version(version)
        previous, new = await run_in_threadpool(store.switch, pos, version)
        return {"position": pos, "previous_version": getattr(previous, "version", None),
                "version": new.version, "reason": new.reason}


def _authorize(request: Request, token: str | None) -> None:
    if not token:
        raise ApiError(403, "switching is disabled: the server has no ADMIN_TOKEN configured",
                       field="Authorization")
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                             token.encode()):
        raise ApiError(401, "Authorization: a valid 'Bearer <ADMIN_TOKEN>' header is required",
                       field="Authorization", headers={"WWW-Authenticate": "Bearer"})


def run(host: str | None = None, port: int | None = None, *,
        models_dir: str | Path | None = None, log_level: str = "info") -> None:
    """Serve with uvicorn; HOST/PORT (and everything else) default from the environment."""
    import uvicorn

    if not logging.getLogger().handlers:
        # So the startup banner shows when nothing configured logging (e.g. `make serve`).
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = ServiceConfig.from_env()
    app = create_app(models_dir, config=config)
    uvicorn.run(app, host=host or config.host, port=port or config.port, log_level=log_level)
