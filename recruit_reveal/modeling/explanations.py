"""What-if and explanation of a prediction, shared by the API and the notebook.

Everything here works on a fitted pipeline that takes the raw canonical
columns of a position and whose ``predict_proba`` returns one column per level
of its ladder, lowest first.  The position's spec is the one the model carries
(its features' ``spec_``, a scorer's ``spec``), else the given position's.

* :func:`what_if` finds, for each improvable input (combine results, weight
  and the key production stats), the smallest improvement that makes the
  model predict the next division up (the search itself is
  :mod:`recruit_reveal.modeling.levers`).  Every candidate of every input is
  scored in one ``predict_proba`` call.
* :func:`top_factors` ranks the inputs that move this athlete's predicted
  level most, relative to the position's typical athlete: each input in turn
  is replaced by its typical value (one vectorized call) and the change in
  expected division is measured.
* :func:`explain_frame` does both for many athletes at once, together with
  the plain prediction, in one ``predict_proba`` call per chunk.  The API's
  ``/predict`` and ``/predict/batch`` use it (through :func:`explain_arrays`,
  with the model's scorer: the fast path of :mod:`recruit_reveal.modeling.scoring`);
  the two single-athlete functions are thin wrappers around it, so the
  notebook and the API share one code path.
* :func:`narrative` (:mod:`.narrative`, re-exported here) turns an athlete's
  explanation into the text fields of the API response.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .. import schema
from ..catalog import PositionSpec
from . import decision
from .levers import lever_grid, target_result, what_if_result
from .narrative import narrative as narrative
from .probabilities import (
    _Layout,
    _to_matrix,
    decide,
    decision_rule,
    expected_division,
    score_arrays,
)
from .reference import model_spec

#: Candidates per input for a single athlete and, coarser, for batches.
DEFAULT_STEPS = 16
BATCH_STEPS = 6
#: Athletes per predict_proba call in explain_frame; bounds the grid's memory.
_CHUNK_ATHLETES = 500


def explain_frame(pipeline: Any, frame: pd.DataFrame, position: schema.PositionLike | None,
                  typical_values: dict[str, float] | None = None, *,
                  steps: int = DEFAULT_STEPS, top_n: int = 5) -> list[dict[str, Any]]:
    """Prediction, what-if and top factors for every row of ``frame``.

    ``frame`` holds the raw canonical columns of ``position`` (missing
    columns and NaN allowed).  Returns one dict per row, in order, with keys
    ``probabilities`` (np.ndarray, one per level), ``division`` (the predicted division,
    by the model's own decision rule), ``what_if`` (see :func:`what_if`)
    and ``top_factors`` (see :func:`top_factors`).  The model is called once
    per chunk of athletes for the base rows, every what-if candidate and
    every factor replacement together.
    """
    spec = model_spec(pipeline, position)
    x, state = _to_matrix(frame, _Layout.of(spec))
    return explain_arrays(pipeline, x, state, spec, typical_values, steps=steps, top_n=top_n)


def explain_arrays(pipeline: Any, x: np.ndarray, state: np.ndarray,
                   position: schema.PositionLike | None,
                   typical_values: dict[str, float] | None = None, *,
                   steps: int = DEFAULT_STEPS, top_n: int = 5,
                   target: tuple[int, float] | None = None) -> list[dict[str, Any]]:
    """:func:`explain_frame` on ready arrays: ``x`` holds the numeric columns of
    ``position`` in schema order (NaN for missing), ``state`` the state codes.

    ``pipeline`` may also be a scorer (:func:`score_arrays`): the base rows, every
    what-if candidate and every factor row then go through its fast path, in one call
    per chunk.  ``target=(division index, min_probability)`` adds ``target_search``
    (:func:`~recruit_reveal.modeling.levers.target_result`): the smallest single change
    per lever that reaches that division or higher with that probability, from the
    same candidates (no further model call).  The spec is the model's own when it
    carries one (``position`` may then be None), else ``position``'s."""
    spec = model_spec(pipeline, position)
    typical = {k: float(v) for k, v in (typical_values or {}).items()
               if v is not None and isinstance(v, int | float) and math.isfinite(v)}
    results: list[dict[str, Any]] = []
    for start in range(0, len(x), _CHUNK_ATHLETES):
        stop = start + _CHUNK_ATHLETES
        results.extend(_explain_chunk(pipeline, x[start:stop], state[start:stop], spec,
                                      typical, steps, top_n, target))
    return results


@dataclass(frozen=True)
class _FactorRows:
    """Each athlete's given inputs replaced, one at a time, by the typical value.

    Row ``k`` is athlete ``rows[k]`` with column ``cols[which[k]]`` set to
    ``typical[which[k]]``; inputs already typical (or missing) get no row.
    """

    cols: np.ndarray
    typical: np.ndarray
    rows: np.ndarray
    which: np.ndarray
    x: np.ndarray

    @classmethod
    def build(cls, x: np.ndarray, layout: _Layout, typical: dict[str, float]) -> _FactorRows:
        cols = np.asarray([j for j, name in enumerate(layout.numeric) if name in typical],
                          dtype=int)
        typ_vec = np.array([typical[layout.numeric[j]] for j in cols.tolist()])
        if len(cols):
            sub = x[:, cols]
            # ~np.isclose(sub, typ_vec), without its Python-level overhead
            changed = ~np.isnan(sub) & ~(np.abs(sub - typ_vec) <= 1e-8 + 1e-5 * np.abs(typ_vec))
            rows, which = np.nonzero(changed)
        else:
            rows = which = np.zeros(0, dtype=int)
        fx = x[rows]
        if len(rows):
            fx[np.arange(len(rows)), cols[which]] = typ_vec[which]
        return cls(cols, typ_vec, rows, which, fx)


def _explain_chunk(pipeline: Any, x: np.ndarray, state: np.ndarray, position: PositionSpec,
                   typical: dict[str, float], steps: int, top_n: int,
                   target: tuple[int, float] | None = None) -> list[dict[str, Any]]:
    layout, levels = _Layout.of(position), position.levels
    n = len(x)
    if n == 0:
        return []
    grid = lever_grid(x, layout.numeric, position, steps, typical)
    factor = _FactorRows.build(x, layout, typical)
    # Rows to score in one call: base rows, then every lever's candidates, then factor rows.
    proba = score_arrays(pipeline, np.concatenate((x, grid.inputs(x), factor.x)),
                         np.concatenate((state, state[grid.rows], state[factor.rows])),
                         position)
    rule = decision_rule(pipeline)
    base = proba[:n]
    pred = decide(base, rule)
    offset = n + grid.size

    # What-if: per lever, the first candidate (smallest change) that lifts
    # the predicted division to at least the next one up; the target search
    # reads the same candidates.
    p = proba[n:offset]
    decided = decide(p, rule)
    options, unreachable = grid.options(p, decided, pred, x, typical)
    factors = _top_factors(factor, x, base, proba[offset:], rule, position, top_n)
    out = [{
        "probabilities": base[i],
        "division": levels[code],
        "what_if": what_if_result(code, options[i], unreachable[i], levels),
        "top_factors": factors[i],
        "missing": [name for name, gap in zip(layout.numeric, missing, strict=True) if gap],
    } for i, (code, missing) in enumerate(zip(pred.tolist(), np.isnan(x).tolist(),
                                                strict=True))]
    if target:
        t_now = base[:, target[0]:].sum(axis=1)
        t_options, t_unreachable = grid.target_options(p, decided, target[0], target[1],
                                                       t_now >= target[1], x, typical)
        for i, result in enumerate(out):
            result["target_search"] = target_result(target[0], target[1], float(t_now[i]),
                                                    t_options[i], t_unreachable[i], levels)
    return out


def _top_factors(factor: _FactorRows, x: np.ndarray, base: np.ndarray, fp: np.ndarray,
                 rule: str, position: PositionSpec, top_n: int) -> list[list[dict[str, Any]]]:
    """Per athlete, the inputs whose typical value moves the expected division most.

    Replacing an input by its typical value; the drop in expected division is how
    much that input lifts this athlete.  Only each athlete's ``top_n`` factors become
    dicts: ranked per athlete by |effect| (largest first, ties in column order),
    ignoring effects under 1e-3.
    """
    f_rows = factor.rows
    f_pred = decide(fp, rule) if len(fp) else np.zeros(0, dtype=int)
    effects = expected_division(base)[f_rows] - expected_division(fp) if len(f_rows) \
        else np.zeros(0)
    strength = np.abs(effects)
    order = np.lexsort((np.arange(len(f_rows)), -strength, f_rows))
    order = order[strength[order] >= 1e-3]
    ranked_rows = f_rows[order]
    first_of_row = np.searchsorted(ranked_rows, ranked_rows, side="left")
    order = order[np.arange(len(order)) - first_of_row < top_n]
    cols = factor.cols[factor.which[order]]
    numeric = _Layout.of(position).numeric
    units = {c.name: c.unit for c in position.inputs}
    factors: list[list[dict[str, Any]]] = [[] for _ in range(len(x))]
    for i, j, value, typ, effect, code in zip(
            f_rows[order].tolist(), cols.tolist(), x[f_rows[order], cols].tolist(),
            # answers quote probabilities to 6 places (docs/api.md)
            factor.typical[factor.which[order]].tolist(), np.round(effects[order], 6).tolist(),
            f_pred[order].tolist(), strict=True):
        name = numeric[j]
        factors[i].append({
            "input": name,
            "value": value,
            "typical": typ,
            "unit": units[name],
            "effect": effect,
            "direction": "raises" if effect > 0 else "lowers",
            "division_if_typical": position.levels[code],
        })
    return factors


def _single_row(athlete: pd.DataFrame | dict) -> pd.DataFrame:
    frame = pd.DataFrame([athlete]) if isinstance(athlete, dict) else athlete
    if len(frame) != 1:
        raise ValueError(f"expected one athlete (1 row), got {len(frame)} rows")
    return frame


def what_if(pipeline: Any, athlete: pd.DataFrame | dict, position: schema.PositionLike | None,
            *,
            typical_values: dict[str, float] | None = None,
            steps: int = DEFAULT_STEPS) -> dict[str, Any]:
    """Smallest single-input improvement that lifts the prediction one division.

    Returns ``current_division``, ``target_division`` (``None`` at the top),
    ``at_top``, ``best`` (the option with the least effort, or ``None``),
    ``options`` (every lever that reaches the target, least effort first:
    input, unit, current, suggested, change, direction, new_division,
    new_probability, effort as a fraction of the input's plausible range),
    ``unreachable`` (levers that cannot reach it within range) and a
    ``message``.  ``typical_values`` seeds the search for missing inputs.
    """
    frame = _single_row(athlete)
    return explain_frame(pipeline, frame, position, typical_values, steps=steps)[0]["what_if"]


def top_factors(pipeline: Any, athlete: pd.DataFrame | dict,
                position: schema.PositionLike | None,
                typical_values: dict[str, float], *, top_n: int = 5) -> list[dict[str, Any]]:
    """Inputs that most move this athlete's predicted level, largest first.

    Each given input is replaced by the position's typical value; ``effect``
    is the athlete's expected level (0 = the lowest of the ladder) minus the
    expected division with that input typical, so a positive effect means
    the input lifts the athlete above a typical athlete.
    """
    frame = _single_row(athlete)
    return explain_frame(pipeline, frame, position, typical_values, steps=1,
                         top_n=top_n)[0]["top_factors"]


def predicted_tier(proba: np.ndarray, division: str | None = None,
                   levels: tuple[str, ...] | None = None) -> str:
    """"High", "Mid" or "Low" within the predicted level, by where the rest leans
    (:func:`recruit_reveal.modeling.decision.predicted_tiers` for one athlete).

    ``division`` defaults to the most probable one; ``levels``: the ladder (the active
    catalog's by default)."""
    levels = decision.levels_of(levels)
    row = np.asarray(proba, dtype=float)[None, :]
    pred = int(np.argmax(row)) if division is None else levels.index(division)
    return decision.predicted_tiers(row, np.array([pred]), levels)[0]


def confidence(proba: np.ndarray) -> float:
    """1 minus the normalized entropy: 0 for a uniform guess, 1 for certainty
    (:func:`recruit_reveal.modeling.decision.confidence_scores` for one athlete)."""
    return float(decision.confidence_scores(np.asarray(proba, dtype=float)[None, :])[0])
