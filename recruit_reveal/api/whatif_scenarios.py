"""POST /what-if: a base athlete, modifications, and the base against the modified prediction.

The body is ``{"base_data": <athlete>, "modifications": {field: value}, "scenario_name":
"..."}``.  The base athlete is read as /predict reads one; every modification must name
an input of that athlete's position (canonical name, any case, or the ``height`` and
``weight`` aliases) and hold a value the position's request model accepts
(:func:`recruit_reveal.api.payloads.request_model`, so the ranges are the data
contract's); ``null`` removes an optional input.  An unknown or invalid
modification is a 422 naming ``modifications.<field>``.  Both athletes are scored
in one call of the served model's scorer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import to_json

from ..catalog import PositionSpec
from ..modeling.levers import input_label
from ..schema import POSITION_COLUMN
from .http_errors import ApiError, clean_message, summary
from .parsing import Athlete, Specs, canonical_name, parse_athlete
from .payloads import ATHLETE_REF, MAX_SCENARIO_NAME, range_hint, request_model
from .predictions import OnScored, Scored, arrays, prediction_bodies
from .store import ServedModel

_TOP_LEVEL = ("base_data", "modifications", "scenario_name")


@dataclass
class Scenario:
    """A validated /what-if body."""

    base: Athlete
    modified: Athlete
    name: str | None
    #: (canonical field, base value, modified value) of every modification, in order.
    changes: list[tuple[str, Any, Any]]


def _modifications(raw: Any, position: PositionSpec
                   ) -> tuple[dict[str, Any], dict[str, str], list[dict[str, Any]]]:
    """Canonical name -> value, canonical name -> name as sent, and the problems."""
    if not isinstance(raw, dict):
        return {}, {}, [{"field": "modifications", "message": "expected a JSON object of "
                         f"field: value, got {type(raw).__name__}"}]
    allowed = position.feature_names
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    problems: list[dict[str, Any]] = []
    for key, value in raw.items():
        name = canonical_name(key, position)
        where = f"modifications.{key}"
        if name == POSITION_COLUMN:
            problems.append({"field": where, "message": "the position cannot be modified: it "
                             "chooses the model (send another base athlete instead)"})
        elif name not in allowed:
            problems.append({"field": where, "message": f"unknown field for a {position.key} "
                             "athlete", "expected": "one of " + ", ".join(allowed)})
        elif name in values:
            problems.append({"field": where, "message": f"given twice (as {origin[name]!r} "
                             f"and {key!r})"})
        else:
            values[name], origin[name] = value, key
    return values, origin, problems


def parse_scenario(payload: Any, specs: Specs) -> Scenario:
    """Validate a /what-if body; ApiError(422) naming every bad field."""
    if not isinstance(payload, dict):
        raise ApiError(422, "body: expected a JSON object with base_data and modifications, "
                       f"got {type(payload).__name__}", field="body")
    missing = [{"field": k, "message": "missing required field"} for k in _TOP_LEVEL[:2]
               if k not in payload]
    name = payload.get("scenario_name")
    if name is not None and not isinstance(name, str):
        missing.append({"field": "scenario_name", "message": "expected text or null, got "
                        f"{type(name).__name__}"})
    elif isinstance(name, str) and len(name) > MAX_SCENARIO_NAME:
        missing.append({"field": "scenario_name", "message": f"longer than "
                        f"{MAX_SCENARIO_NAME} characters"})
    if missing:
        raise ApiError(422, summary(missing), field=missing[0]["field"], errors=missing)
    base = parse_athlete(payload["base_data"], specs, where="base_data.")
    spec = specs[base.position]
    mods, origin, problems = _modifications(payload["modifications"], spec)
    merged = {**base.values, **mods}
    try:
        model = request_model(spec).model_validate(
            {POSITION_COLUMN: base.position, **merged})
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            field = str(err["loc"][0]) if err["loc"] else "body"
            problem = {"field": f"modifications.{origin.get(field, field)}",
                       "message": clean_message(err)}
            hint = range_hint(spec, field)
            if hint:
                problem["expected"] = hint
            problems.append(problem)
    if problems:
        raise ApiError(422, summary(problems), field=problems[0]["field"], errors=problems)
    values = model.model_dump(exclude={POSITION_COLUMN, ATHLETE_REF})
    modified = Athlete(base.position, values, base.ignored, base.ref)
    changes = [(n, base.values.get(n), values.get(n)) for n in mods]
    return Scenario(base, modified, name, changes)


def what_if_answer(served: ServedModel, scenario: Scenario,
                   on_scored: OnScored | None = None) -> bytes:
    """The modified athlete's prediction and its comparison with the base athlete, as
    the JSON of a :class:`~.responses.WhatIfResponse` (built to it, encoded once, as
    /predict); ``on_scored`` receives both athletes, base first."""
    athletes = [scenario.base, scenario.modified]
    x, state = arrays(served.spec, [a.values for a in athletes])
    proba = served.scorer.predict_arrays(x, state)  # both athletes in one call
    base, body = prediction_bodies(served, athletes, x, state, proba)
    if on_scored is not None:
        on_scored(Scored(served, athletes, proba, [base["predicted_division"],
                                                   body["predicted_division"]], x, state))
    levels = served.spec.levels
    step = levels.index(body["predicted_division"]) - levels.index(base["predicted_division"])
    changes = [{"field": f, "base": b, "modified": m} for f, b, m in scenario.changes]
    moved = ("no change in division" if step == 0 else
             f"{'up' if step > 0 else 'down'} {abs(step)} division{'s' if abs(step) > 1 else ''}")
    what = ", ".join(f"{input_label(c['field'])} {_text(c['base'])} -> "
                     f"{_text(c['modified'])}" for c in changes) or "no modification"
    body["scenario_name"] = scenario.name
    body["what_if_results"] = {
        "scenario_name": scenario.name,
        "base_division": base["predicted_division"],
        "modified_division": body["predicted_division"],
        "base_probability": base["probability"],
        "modified_probability": body["probability"],
        "base_confidence": base["confidence_score"],
        "modified_confidence": body["confidence_score"],
        "division_change": step,
        "confidence_change": round(body["confidence_score"] - base["confidence_score"], 6),
        "expected_division_change": round(body["expected_division_index"]
                                          - base["expected_division_index"], 6),
        "base_probabilities": base["probabilities"],
        "probability_changes": {d: round(body["probabilities"][d] - base["probabilities"][d], 6)
                                for d in levels},
        "changes": changes,
        "base_unusual_inputs": base["unusual_inputs"],
        "message": (f"{what}: {base['predicted_division']} -> {body['predicted_division']} "
                    f"({moved}); confidence {base['confidence_score']:.2f} -> "
                    f"{body['confidence_score']:.2f}." + _extrapolation(base, body)),
    }
    return to_json(body)


def _extrapolation(base: dict[str, Any], modified: dict[str, Any]) -> str:
    """The extrapolation notes of either athlete, to follow the comparison's message."""
    return "".join(f" {who} athlete: {b['extrapolation_warning']}"
                   for who, b in (("Base", base), ("Modified", modified))
                   if b["extrapolation_warning"])


def _text(value: Any) -> str:
    if value is None:
        return "missing"
    return f"{value:g}" if isinstance(value, float) else str(value)
