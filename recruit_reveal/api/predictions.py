"""Prediction answers: probabilities, tier, completeness, what-if, factors and text.

Per-row numbers are computed vectorized over the athletes of one position; a
batch calls each position's model once for predictions, what-if candidates and
factors together (see :func:`recruit_reveal.modeling.explanations.explain_arrays`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import TypeAdapter

from ..modeling import explanations as insights
from ..schema import DIVISIONS, columns_for, feature_names
from .parsing import Athlete
from .schemas import BatchResponse, ExplainedPrediction, Prediction
from .store import ModelStore, ServedModel

_EXPLAINED = TypeAdapter(list[ExplainedPrediction])
_PLAIN = TypeAdapter(list[Prediction])


def arrays(position: str, rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
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


def _bodies(position: str, served: ServedModel, athletes: list[Athlete],
            x: np.ndarray, state: np.ndarray, proba: np.ndarray,
            explanations: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Answers for athletes of one position; per-row numbers computed vectorized."""
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


def predict_one(served: ServedModel, athlete: Athlete) -> ExplainedPrediction:
    """/predict: one athlete with its what-if, factors and text."""
    x, state = arrays(athlete.position, [athlete.values])
    explanations = insights.explain_arrays(served.pipeline, x, state, athlete.position,
                                           served.typical_values)
    proba = np.asarray([explanations[0]["probabilities"]])
    body = _bodies(athlete.position, served, [athlete], x, state, proba, explanations)[0]
    return ExplainedPrediction.model_validate(body)


def predict_many(store: ModelStore, athletes: list[Athlete], explain: bool) -> BatchResponse:
    """/predict/batch: every athlete in input order, each position's model called once."""
    by_position: dict[str, list[int]] = {}
    for i, a in enumerate(athletes):
        by_position.setdefault(a.position, []).append(i)
    served = {pos: store.require(pos) for pos in by_position}  # 503 before any work
    bodies: list[dict[str, Any]] = [{} for _ in athletes]
    for pos, idx in by_position.items():
        model = served[pos]
        group = [athletes[i] for i in idx]
        x, state = arrays(pos, [a.values for a in group])
        explanations = None
        if explain:
            explanations = insights.explain_arrays(model.pipeline, x, state, pos,
                                                   model.typical_values,
                                                   steps=insights.BATCH_STEPS)
            proba = np.asarray([e["probabilities"] for e in explanations])
        else:
            proba = insights.predict_proba(model.pipeline, insights.model_frame(x, state, pos))
        for i, body in zip(idx, _bodies(pos, model, group, x, state, proba, explanations),
                           strict=True):
            bodies[i] = body
    # One list validation (here, in the worker thread) is much faster than a model_validate
    # per athlete or than validating the union of BatchResponse.predictions.
    predictions = (_EXPLAINED if explain else _PLAIN).validate_python(bodies)
    return BatchResponse(count=len(bodies),
                         model_versions={b["position"]: b["model_version"] for b in bodies},
                         predictions=predictions)
