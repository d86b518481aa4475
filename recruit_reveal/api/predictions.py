"""Prediction answers: probabilities, tier, completeness, what-if, factors and text.

Per-row numbers are computed vectorized over the athletes of one position; a
batch calls each position's model once for predictions, what-if candidates and
factors together (see :func:`recruit_reveal.modeling.explanations.explain_arrays`).
Every call goes through the served model's scorer (``ServedModel.scorer``): the
fast path of :mod:`recruit_reveal.modeling.scoring`, or the pipeline when /health
says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
from pydantic_core import to_json

from ..catalog import PositionSpec
from ..modeling import decision, explanations, partial_profiles, probabilities
from .http_errors import ApiError
from .observability import (
    record_integrated,
    record_predictions,
    record_scoring_time,
    record_unusual,
)
from .parsing import Athlete
from .store import ModelStore, ServedModel


@dataclass(frozen=True)
class Scored:
    """What one call of a position's model answered, for the prediction log: the athletes
    in order, their probabilities as scored (answers show them rounded to 6 places) and
    their predicted divisions; ``x`` and ``state`` are their inputs as :func:`arrays`
    built them (made from the athletes when not given)."""

    served: ServedModel
    athletes: list[Athlete]
    proba: np.ndarray
    predicted: list[str]
    x: np.ndarray | None = None
    state: np.ndarray | None = None
    #: Per athlete, the inputs its prediction integrated over and those outside the
    #: training range (names only).
    integrated: list[list[str]] = field(default_factory=list)
    unusual: list[list[str]] = field(default_factory=list)


#: Called with every :class:`Scored` group of a request (the prediction log's recorder).
OnScored = Callable[[Scored], None]


def _report(on_scored: OnScored | None, served: ServedModel, athletes: list[Athlete],
            proba: np.ndarray, bodies: list[dict[str, Any]], x: np.ndarray,
            state: np.ndarray) -> None:
    if on_scored is not None:
        on_scored(Scored(served, athletes, proba, [b["predicted_division"] for b in bodies],
                         x, state, [b["integrated_inputs"] for b in bodies],
                         [[u["input"] for u in b["unusual_inputs"]] for b in bodies]))


def score_rows(served: ServedModel, athletes: list[Athlete],
               on_scored: OnScored | None = None) -> Scored:
    """The plain path of the protocol routes (/invocations, /v2): probabilities (unrounded)
    and predicted divisions of athletes of one position, counted in /metrics and recorded
    in the prediction log like every other route's, with the inputs integrated over and
    the unusual ones; no answer body is built."""
    position, spec = served.position, served.spec
    x, state = arrays(spec, [a.values for a in athletes])
    started = time.perf_counter()
    proba = served.scorer.predict_arrays(x, state)
    record_scoring_time(position, time.perf_counter() - started)
    pred = probabilities.decide(proba, served.scorer.decision)
    record_predictions(position, served.version, pred, spec.levels)
    integrated = partial_profiles.integrated(x, spec)
    unusual = unusual_inputs(served, x)
    _count_inputs(position, unusual, integrated)
    scored = Scored(served, athletes, proba, [spec.levels[k] for k in pred.tolist()], x, state,
                    [names for names, _ in integrated],
                    [[u["input"] for u in unusual.get(i, [])] for i in range(len(athletes))])
    if on_scored is not None:
        on_scored(scored)
    return scored


def arrays(position: PositionSpec, rows: list[dict[str, Any]]
           ) -> tuple[np.ndarray, np.ndarray]:
    """Validated athletes -> (numeric matrix in schema order, state codes)."""
    names = probabilities.numeric_names(position)
    x = np.array([[np.nan if r.get(n) is None else r[n] for n in names] for r in rows],
                 dtype=float).reshape(len(rows), len(names))
    state = np.array([np.nan if r.get("state") is None else r["state"] for r in rows],
                     dtype=object)
    return x, state


@cache
def _columns(position: PositionSpec) -> tuple[list[str], list[int], list[int], list[int],
                                              list[int]]:
    """Input names of ``position``; where its numeric columns and its state (if it has
    one) sit among them; which are optional; where the combine results are."""
    names = position.feature_names
    numeric_at = [names.index(n) for n in probabilities.numeric_names(position)]
    optional = [j for j, c in enumerate(position.inputs) if not c.required]
    state_at = [j for j, c in enumerate(position.inputs) if c.kind == "state"]
    # Timed results first, then the jumps, as answers have always listed them.
    combine = sorted(position.combine, key=lambda m: position.column(m).better != "lower")
    return (names, numeric_at, state_at, optional, [names.index(m) for m in combine])


def _completeness_warning(missing_measurables: list[str], measurables: int,
                          missing_optional: int, optional: int) -> str | None:
    if not missing_measurables and missing_optional <= optional / 2:
        return None
    parts = []
    if missing_measurables:
        parts.append(f"{len(missing_measurables)} of {measurables} combine "
                     f"results missing ({', '.join(missing_measurables)})")
    parts.append(f"{missing_optional} of {optional} optional inputs missing")
    return ("; ".join(parts) + ": the model imputed them, so the prediction leans on the "
            "inputs given")


def unusual_inputs(served: ServedModel, x: np.ndarray) -> dict[int, list[dict[str, Any]]]:
    """Row -> the numeric inputs it gives outside the served version's training range
    (rows with none are left out; a version without an input profile flags nothing).

    A missing input (NaN) compares false on both sides, so it is never unusual.
    """
    low, high = served.input_low, served.input_high
    if low is None or high is None or not x.size:
        return {}
    rows, cols = np.nonzero((x < low) | (x > high))
    if not len(rows):
        return {}
    names = probabilities.numeric_names(served.spec)
    out: dict[int, list[dict[str, Any]]] = {}
    for i, j, value in zip(rows.tolist(), cols.tolist(), x[rows, cols].tolist(), strict=True):
        out.setdefault(i, []).append({"input": names[j], "value": value,
                                      "low": round(float(low[j]), 6),
                                      "high": round(float(high[j]), 6)})
    return out


def extrapolation_warning(unusual: list[dict[str, Any]]) -> str | None:
    """The note an answer carries when any of its inputs is outside the training range."""
    if not unusual:
        return None
    if len(unusual) == 1:
        u = unusual[0]
        return (f"{u['input']} {u['value']:g} is outside the range of the training data "
                f"({u['low']:.4g}\u2013{u['high']:.4g}): the prediction extrapolates.")
    listed = ", ".join(f"{u['input']} {u['value']:g} ({u['low']:.4g}\u2013{u['high']:.4g})"
                       for u in unusual)
    return f"{listed} are outside the range of the training data: the prediction extrapolates."


def _count_inputs(position: str, unusual: dict[int, list[dict[str, Any]]],
                  integrated: list[tuple[list[str], str | None]]) -> None:
    """Count, per input, the unusual inputs and the inputs integrated over (/metrics)."""
    for row in unusual.values():
        record_unusual(position, (u["input"] for u in row))
    for names, _ in integrated:
        if names:
            record_integrated(position, names)


def prediction_bodies(served: ServedModel, athletes: list[Athlete],
                      x: np.ndarray, state: np.ndarray, proba: np.ndarray,
                      explained: list[dict[str, Any]] | None = None,
                      count: bool = False) -> list[dict[str, Any]]:
    """Answers for athletes of one position; per-row numbers computed vectorized.

    ``count``: these are predictions served (not what-if scenarios), counted in /metrics.
    """
    n, position, spec = len(athletes), served.position, served.spec
    pred = probabilities.decide(proba, served.scorer.decision)
    if count:
        record_predictions(position, served.version, pred, spec.levels)
    top = proba[np.arange(n), pred]
    confidence = decision.confidence_scores(proba)
    expected = probabilities.expected_division(proba)

    names, _, _, optional, measurable_idx = _columns(spec)
    missing = _missing(spec, x, state)
    missing_optional = missing[:, optional].sum(axis=1).tolist()

    proba_r = np.round(proba, 6).tolist()
    top_r, conf_r, exp_r = (np.round(a, 6).tolist() for a in (top, confidence, expected))
    divisions = [spec.levels[k] for k in pred.tolist()]
    tiers = decision.predicted_tiers(proba, pred, spec.levels)
    integrated = partial_profiles.integrated(x, spec)
    unusual = unusual_inputs(served, x)
    if count:
        _count_inputs(position, unusual, integrated)
    extrapolating = {i: extrapolation_warning(u) for i, u in unusual.items()}
    out = []
    for i, athlete in enumerate(athletes):
        flags = missing[i].tolist()
        body: dict[str, Any] = {
            "position": position,
            "model_version": served.version,
            "predicted_division": divisions[i],
            "predicted_tier": tiers[i],
            "probability": top_r[i],
            "confidence_score": conf_r[i],
            "probabilities": dict(zip(spec.levels, proba_r[i], strict=True)),
            "expected_division_index": exp_r[i],
            "imputation_flags": dict(zip(names, flags, strict=True)),
            "unusual_inputs": unusual.get(i, []),
            "extrapolation_warning": extrapolating.get(i),
            "data_completeness_warning": _completeness_warning(
                [names[j] for j in measurable_idx if flags[j]], len(measurable_idx),
                missing_optional[i], len(optional)),
            "ignored_fields": athlete.ignored,
            "integrated_inputs": integrated[i][0],
            "integrated_over": integrated[i][1],
        }
        if explained is not None:
            _explain(body, spec, explained[i])
        out.append(body)
    return out


def _missing(position: PositionSpec, x: np.ndarray, state: np.ndarray) -> np.ndarray:
    """Rows x inputs (schema order): whether each input is missing."""
    names, numeric_at, state_at, _, _ = _columns(position)
    missing = np.empty((len(x), len(names)), dtype=bool)
    missing[:, numeric_at] = np.isnan(x)
    for j in state_at:
        missing[:, j] = [v is None or v != v for v in state]
    return missing


def _explain(body: dict[str, Any], position: PositionSpec, explanation: dict[str, Any]) -> None:
    """Add the text, what-if and factors of an explained answer (its notes end with the
    extrapolation warning, when there is one)."""
    body.update(explanations.narrative(position, explanation))
    body["what_if_results"] = explanation["what_if"]
    body["top_factors"] = explanation["top_factors"]
    if body["extrapolation_warning"]:
        body["notes"] += " " + body["extrapolation_warning"]


def predict_one(served: ServedModel, athlete: Athlete, target: str | None = None,
                min_probability: float = 0.5, on_scored: OnScored | None = None) -> bytes:
    """/predict: one athlete with its what-if, factors and text; with a ``target``
    division, also the smallest single changes that reach it (``target_search``).

    Returns the answer's JSON: a :class:`~.responses.ExplainedPrediction` (with a target,
    a :class:`~.responses.TargetedPrediction`), built to that model here and encoded once
    by pydantic-core, without validating it again on the way out (a noticeable share of
    the request's time; tests/test_api_schema.py checks every answer against the schema).
    """
    spec = served.spec
    x, state = arrays(spec, [athlete.values])
    goal = (_level(spec, target), min_probability) if target is not None else None
    started = time.perf_counter()
    explained = explanations.explain_arrays(served.scorer, x, state, spec,
                                            served.typical_values, target=goal)
    record_scoring_time(athlete.position, time.perf_counter() - started)
    proba = np.asarray([explained[0]["probabilities"]])
    body = prediction_bodies(served, [athlete], x, state, proba, explained, count=True)[0]
    _report(on_scored, served, [athlete], proba, [body], x, state)
    if goal is not None:
        body["target_search"] = explained[0]["target_search"]
    return to_json(body)


def _level(position: PositionSpec, target: str) -> int:
    """The class of a target division on the ladder of the model answering; 422 otherwise."""
    if target not in position.levels:
        raise ApiError(422, f"target_division: {target!r} is not a level of the {position.key} "
                       "model's ladder", field="target_division",
                       errors=[{"field": "target_division", "message": f"unknown level {target!r}",
                                "expected": "one of " + ", ".join(position.levels)}])
    return position.levels.index(target)


def predict_many(store: ModelStore, athletes: list[Athlete], explain: bool,
                 on_scored: OnScored | None = None) -> bytes:
    """/predict/batch: every athlete in input order, each position's model called once.

    Returns the answer (a :class:`~.responses.BatchResponse`) as JSON.  The bodies are built to
    that model here and encoded by pydantic-core's serializer without being validated
    again, because validating a large batch costs several times its encoding
    (tests/test_api_schema.py checks every answer against the schema).
    """
    by_position: dict[str, list[int]] = {}
    for i, a in enumerate(athletes):
        by_position.setdefault(a.position, []).append(i)
    # One snapshot: 503 before any work, and every row scored by the same release.
    served = store.require_all(by_position)
    bodies: list[dict[str, Any]] = [{} for _ in athletes]
    for pos, idx in by_position.items():
        model = served[pos]
        group = [athletes[i] for i in idx]
        x, state = arrays(model.spec, [a.values for a in group])
        explained = None
        started = time.perf_counter()
        if explain:
            explained = explanations.explain_arrays(model.scorer, x, state, model.spec,
                                                    model.typical_values,
                                                    steps=explanations.BATCH_STEPS)
            proba = np.asarray([e["probabilities"] for e in explained])
        else:
            proba = model.scorer.predict_arrays(x, state)
        record_scoring_time(pos, time.perf_counter() - started)
        group_bodies = prediction_bodies(model, group, x, state, proba, explained,
                                         count=True)
        _report(on_scored, model, group, proba, group_bodies, x, state)
        for i, body in zip(idx, group_bodies, strict=True):
            bodies[i] = body
    return to_json({"count": len(bodies),
                    "model_versions": {b["position"]: b["model_version"] for b in bodies},
                    "predictions": bodies})
