"""Reading request bodies: JSON, then athletes validated by the generated request models.

Field names are matched case-insensitively with the earlier aliases applied
(:func:`recruit_reveal.schema.canonical_column_name`); ``name`` is dropped;
unknown fields are ignored and reported.  Every problem is collected and
raised as one :class:`~recruit_reveal.api.http_errors.ApiError` naming the fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request

from ..schema import (
    IGNORED_COLUMNS,
    POSITION_COLUMN,
    POSITIONS,
    canonical_column_name,
    feature_names,
)
from .http_errors import MAX_PROBLEMS, ApiError, clean_message, summary
from .payloads import ATHLETE_REF, POSITION_CASINGS, range_hint, request_model


@dataclass
class Athlete:
    """One validated athlete: canonical position, canonical values, fields ignored."""

    position: str
    values: dict[str, Any]
    ignored: list[str]
    #: The client's ``athlete_ref``, if sent (not an input: never in ``values``).
    ref: str | None = None


@lru_cache(maxsize=4096)
def _canonical(key: str) -> str:
    return canonical_column_name(key)


def canonical_name(key: str) -> str:
    """A field name as sent -> its canonical column name (any case, aliases applied)."""
    return _canonical(key)


@cache
def _feature_set(position: str) -> frozenset[str]:
    return frozenset(feature_names(position))


_ALL_FIELDS = frozenset(c for pos in POSITIONS for c in feature_names(pos))


def parse_athlete(raw: Any, where: str = "") -> Athlete:
    """Validate one athlete object; raise ApiError(422) naming every bad field."""
    if not isinstance(raw, dict):
        name = where.rstrip(".") or "body"
        raise ApiError(422, f"{name}: expected a JSON object describing one athlete, "
                       f"got {type(raw).__name__}", field=name)
    canonical: dict[str, Any] = {}
    origin: dict[str, str] = {}
    ignored: list[str] = []
    problems: list[dict[str, Any]] = []
    twice: list[tuple[str, str]] = []
    for key, value in raw.items():
        name = _canonical(key)
        if name in IGNORED_COLUMNS:
            continue
        if name in canonical:
            twice.append((name, key))
            continue
        canonical[name] = value
        origin[name] = key
    pos_raw = canonical.pop(POSITION_COLUMN, None)
    position = POSITION_CASINGS.get(pos_raw) if isinstance(pos_raw, str) else None
    known = _feature_set(position) if position is not None else _ALL_FIELDS
    repeated_ignored = []  # a field the position ignores may come twice: both are ignored
    for name, key in twice:
        if name in known or name in (POSITION_COLUMN, ATHLETE_REF):
            problems.append({"field": where + name,
                             "message": f"given twice (as {origin[name]!r} and {key!r})"})
        else:
            repeated_ignored.append(key)
    if position is None:
        message = ("missing required field" if pos_raw is None
                   else f"unknown position {pos_raw!r}")
        problems.insert(0, {"field": where + POSITION_COLUMN, "message": message,
                            "expected": "one of " + ", ".join(POSITIONS)})
        raise ApiError(422, summary(problems), field=where + POSITION_COLUMN, errors=problems)
    features = _feature_set(position)
    for name in list(canonical):
        if name not in features and name != ATHLETE_REF:
            ignored.append(origin[name])
            del canonical[name]
    ignored.extend(repeated_ignored)
    try:
        model = request_model(position).model_validate({POSITION_COLUMN: position, **canonical})
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            name = str(err["loc"][0]) if err["loc"] else "body"
            problem = {"field": where + name, "message": clean_message(err)}
            hint = range_hint(position, name)
            if hint:
                problem["expected"] = hint
            if name in origin and origin[name] != name:
                problem["given_as"] = origin[name]
            problems.append(problem)
    if problems:
        raise ApiError(422, summary(problems), field=problems[0]["field"], errors=problems)
    values = model.model_dump(exclude={POSITION_COLUMN, ATHLETE_REF})
    return Athlete(position, values, ignored, getattr(model, ATHLETE_REF))


def parse_batch(payload: Any, max_batch: int) -> list[Athlete]:
    """A JSON list of athletes, or ``{"athletes": [...]}``; every bad athlete reported."""
    if isinstance(payload, dict) and "athletes" in payload:
        payload = payload["athletes"]
    if not isinstance(payload, list):
        raise ApiError(422, "athletes: expected a JSON list of athletes (or an object "
                       "with an 'athletes' list)", field="athletes")
    if not payload:
        raise ApiError(422, "athletes: the batch is empty", field="athletes")
    if len(payload) > max_batch:
        raise ApiError(413, f"athletes: {len(payload)} athletes is more than the limit of "
                       f"{max_batch} per batch", field="athletes")
    athletes: list[Athlete] = []
    problems: list[dict[str, Any]] = []
    for i, raw in enumerate(payload):
        try:
            athletes.append(parse_athlete(raw, where=f"athletes[{i}]."))
        except ApiError as exc:
            problems.extend(exc.errors)
            if len(problems) >= MAX_PROBLEMS:
                break
    if problems:
        raise ApiError(422, summary(problems), field=problems[0]["field"],
                       errors=problems[:MAX_PROBLEMS])
    return athletes


async def read_json(request: Request) -> Any:
    """The request body as JSON; 422 when empty, 400 (with line and column) when malformed."""
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
