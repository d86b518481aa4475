"""The what-if search: which inputs can improve, the values tried, the smallest change that works.

For each improvable input (a *lever* of the position's spec: combine results,
weight and the key production stats) :func:`lever_grid` lays out candidate values around the
athlete's current one, inside the schema's plausible range, for every lever
and athlete at once; the caller scores every candidate in one call
(:func:`recruit_reveal.modeling.explanations.explain_arrays`), and
:meth:`LeverGrid.options` keeps, per lever, the first candidate (the smallest
change) that lifts the prediction to at least the next division up
(:meth:`LeverGrid.target_options`: that reaches a given division with a given
probability).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from .. import schema
from ..catalog import PositionSpec, active_catalog


def levers(position: schema.PositionLike) -> dict[str, tuple[int, float, int]]:
    """The improvable inputs of a position (its spec's levers): name -> (direction, span,
    decimals).  Direction +1: higher is better, -1: lower is better, 0: either way
    (searched up and down, nearest first); the span keeps suggestions within one
    off-season's reach, and the input's plausible range caps them further."""
    return {name: (lever.direction, lever.span, lever.decimals)
            for name, lever in schema.spec_of(position).levers.items()}


@lru_cache(maxsize=65536)
def _round(value: float, decimals: int) -> float:
    return float(round(value, decimals)) if decimals else float(round(value))


@dataclass(frozen=True, eq=False)
class _Plan:
    """The levers of a position among the given input columns, as arrays (one entry per
    lever, in :func:`levers` order) for a search of ``steps`` candidates per direction."""

    names: tuple[str, ...]
    units: tuple[str, ...]
    decimals: tuple[int, ...]
    #: The ladder's levels, lowest first (what the candidates' codes name).
    levels: tuple[str, ...]
    #: Column of each lever among the inputs; its direction; 10 ** decimals.
    cols: np.ndarray
    direction: np.ndarray
    scale: np.ndarray
    #: Plausible range (+-inf when open), its width (the span when open), its midpoint.
    low: np.ndarray
    high: np.ndarray
    width: np.ndarray
    middle: np.ndarray
    #: Offsets from the current value, nearest first (levers x candidates, NaN-padded).
    offsets: np.ndarray


@lru_cache(maxsize=64)
def _plan(position: PositionSpec, steps: int, numeric: tuple[str, ...]) -> _Plan:
    # Cached by spec (specs hash by digest): a model's levers never change.
    table = levers(position)
    spec = [(name, *table[name], position.column(name)) for name in table if name in numeric]
    width = 2 * steps if any(d == 0 for _, d, *_ in spec) else steps
    offsets = np.full((len(spec), width), np.nan)
    ks = np.arange(1, steps + 1, dtype=float)
    for i, (_, direction, span, _, _) in enumerate(spec):
        # Either way: +1, -1, +2, -2, ...: the first success in this order is the smallest.
        k = np.column_stack([ks, -ks]).ravel() if direction == 0 else ks
        offsets[i, :len(k)] = (direction or 1) * span * k / steps
    low = np.array([-np.inf if c.low is None else c.low for *_, c in spec], dtype=float)
    high = np.array([np.inf if c.high is None else c.high for *_, c in spec], dtype=float)
    return _Plan(
        tuple(n for n, *_ in spec), tuple(c.unit for *_, c in spec),
        tuple(d for _, _, _, d, _ in spec), position.levels,
        # Typed, so that a position without levers searches nothing rather than fail.
        np.array([numeric.index(n) for n, *_ in spec], dtype=int),
        np.array([d for _, d, *_ in spec], dtype=int),
        np.array([10.0 ** d for _, _, _, d, _ in spec], dtype=float),
        low, high, np.array([(c.high - c.low) if c.low is not None and c.high is not None
                             else span for _, _, span, _, c in spec], dtype=float),
        np.array([((c.low or 0.0) + (c.high or 0.0)) / 2 for *_, c in spec]), offsets)


@dataclass(frozen=True, eq=False)
class LeverGrid:
    """The candidate values of every lever for a chunk of athletes."""

    plan: _Plan
    #: Candidate values (athletes x levers x candidates) and which are in the plausible range.
    values: np.ndarray
    valid: np.ndarray
    #: Athlete, lever and candidate of every valid candidate, in scoring order.
    rows: np.ndarray
    levers: np.ndarray
    ks: np.ndarray

    @property
    def size(self) -> int:
        """Rows this grid adds to the scoring call."""
        return len(self.rows)

    def inputs(self, x: np.ndarray) -> np.ndarray:
        """The athletes' numeric inputs with one lever set to each valid candidate."""
        gx = x[self.rows]
        gx[np.arange(self.size), self.plan.cols[self.levers]] = \
            self.values[self.rows, self.levers, self.ks]
        return gx

    def _spread(self, per_row: np.ndarray, fill: float) -> np.ndarray:
        out = np.full(self.values.shape, fill, dtype=per_row.dtype)
        out[self.rows, self.levers, self.ks] = per_row
        return out

    def options(self, proba: np.ndarray, decided: np.ndarray, pred: np.ndarray, x: np.ndarray,
                typical: dict[str, float]) -> tuple[list[list[dict]], list[list[str]]]:
        """Per athlete, the first candidate of each lever (the smallest change) that lifts
        the predicted division ``pred`` to at least the next one up, and the levers that
        cannot.  ``proba`` and ``decided`` (predicted codes) belong to the candidates, in
        scoring order.  Athletes at the top division search nothing."""
        top = len(self.plan.levels) - 1
        target = pred + 1
        safe_target = np.minimum(target, top)
        grid_pred = self._spread(decided, -1)
        grid_prob = self._spread(proba[np.arange(self.size), safe_target[self.rows]], 0.0)
        success = self.valid & (grid_pred >= target[:, None, None])
        return self._collect(success, grid_pred, grid_prob, pred < top, x, typical)

    def target_options(self, proba: np.ndarray, decided: np.ndarray, target: int,
                       min_probability: float, reached: np.ndarray, x: np.ndarray,
                       typical: dict[str, float]) -> tuple[list[list[dict]], list[list[str]]]:
        """The target search: per athlete not yet ``reached``, the first candidate of each
        lever whose probability of division ``target`` *or higher* is at least
        ``min_probability``; an option's ``new_probability`` is that probability."""
        grid_pred = self._spread(decided, -1)
        grid_prob = self._spread(proba[:, target:].sum(axis=1), 0.0)
        success = self.valid & (grid_prob >= min_probability)
        return self._collect(success, grid_pred, grid_prob, ~reached, x, typical)

    def _collect(self, success: np.ndarray, grid_pred: np.ndarray, grid_prob: np.ndarray,
                 searching: np.ndarray, x: np.ndarray, typical: dict[str, float],
                 ) -> tuple[list[list[dict]], list[list[str]]]:
        plan = self.plan
        n = len(x)
        options: list[list[dict]] = [[] for _ in range(n)]
        unreachable: list[list[str]] = [[] for _ in range(n)]
        found = success.any(axis=2)
        for i, lever in zip(*np.nonzero(searching[:, None] & ~found), strict=True):
            unreachable[i].append(plan.names[lever])
        who, which = np.nonzero(searching[:, None] & found)
        if not len(who):
            return options, unreachable
        first = success[who, which].argmax(axis=1)
        value = self.values[who, which, first]
        current = x[who, plan.cols[which]]
        typ = np.array([typical.get(name, np.nan) for name in plan.names], dtype=float)[which]
        reference = np.where(np.isnan(current), typ, current)  # NaN: no reference at all
        effort = np.where(np.isnan(reference), 1.0,
                          np.abs(value - reference) / plan.width[which])
        lower = (plan.direction[which] < 0) | ((plan.direction[which] == 0) & (value < reference))
        new_pred = grid_pred[who, which, first]
        new_prob = grid_prob[who, which, first]
        for i, lever, cur, val, low, code, prob, eff in zip(
                who.tolist(), which.tolist(), current.tolist(), value.tolist(), lower.tolist(),
                # answers quote probabilities to 6 places (docs/api.md)
                new_pred.tolist(), np.round(new_prob, 6).tolist(), np.round(effort, 6).tolist(),
                strict=True):
            decimals = plan.decimals[lever]
            known = cur == cur
            options[i].append({
                "input": plan.names[lever],
                "unit": plan.units[lever],
                "current": _round(cur, decimals) if known else None,
                "suggested": val,  # rounded to the lever's decimals already
                "change": _round(val - cur, decimals) if known else None,
                "direction": "lower" if low else "higher",
                "new_division": plan.levels[code],
                "new_probability": prob,
                "effort": eff,
            })
        return options, unreachable


def lever_grid(x: np.ndarray, numeric: list[str], position: schema.PositionLike, steps: int,
               typical: dict[str, float]) -> LeverGrid:
    """The candidates of every lever of ``position`` among ``numeric`` (the columns of ``x``).

    Per lever, ``steps`` candidates in its improving direction (both ways, nearest
    first, for weight) over its span from the current value, rounded to its decimals
    and kept within the plausible range.  A missing input is searched from the typical
    value, since the model imputes something close to it anyway (else from the middle
    of the range).
    """
    plan = _plan(schema.spec_of(position), steps, tuple(numeric))
    fallback = np.array([typical.get(n, np.nan) for n in plan.names], dtype=float)
    fallback = np.where(np.isfinite(fallback), fallback, plan.middle)
    start = x[:, plan.cols]
    start = np.where(np.isnan(start), fallback, start)
    # np.round(v, d) is rint(v * 10**d) / 10**d: the same, with each lever's own d.
    scale = plan.scale[None, :, None]
    values = np.rint((start[:, :, None] + plan.offsets[None]) * scale) / scale
    valid = (values >= plan.low[None, :, None]) & (values <= plan.high[None, :, None])
    rows, which, ks = np.nonzero(valid)
    return LeverGrid(plan, values, valid, rows, which, ks)


def target_result(target: int, min_probability: float, probability: float,
                  options: list[dict], unreachable: list[str],
                  levels: tuple[str, ...]) -> dict[str, Any]:
    """The target search of one athlete whose probability of level ``target`` (of
    ``levels``, the ladder) or higher is ``probability`` now (see
    ``explanations.explain_arrays(target=...)``)."""
    division = levels[target]
    reached = probability >= min_probability
    options = [] if reached else sorted(options, key=lambda o: o["effort"])
    best = options[0] if options else None
    if reached:
        message = (f"Already at {division} or higher with probability {probability:.2f} "
                   f"(at least {min_probability:g} asked).")
    elif best is None:
        message = (f"No single improvement within plausible ranges reaches {division} or "
                   f"higher with probability {min_probability:g} (now {probability:.2f}).")
    else:
        message = (f"Smallest single change to reach {division} or higher with probability "
                   f"{min_probability:g}: {describe_option(best)} (then "
                   f"{best['new_probability']:.2f}; now {probability:.2f}).")
    return {
        "target_division": division, "min_probability": min_probability,
        "current_probability": round(probability, 6), "reached": reached, "best": best,
        "options": options, "unreachable": [] if reached else unreachable, "message": message,
    }


def what_if_result(pred: int, options: list[dict], unreachable: list[str],
                   levels: tuple[str, ...]) -> dict[str, Any]:
    """The what-if of one athlete predicted at level ``pred`` of ``levels`` (the ladder;
    see ``explanations.what_if``)."""
    current = levels[pred]
    if pred == len(levels) - 1:
        return {
            "current_division": current, "target_division": None, "at_top": True,
            "best": None, "options": [], "unreachable": [],
            "message": f"Already predicted at the top division ({current}); "
                       "there is no next division up.",
        }
    target = levels[pred + 1]
    options = sorted(options, key=lambda o: o["effort"])
    best = options[0] if options else None
    if best is None:
        message = (f"No single improvement within plausible ranges moves the prediction "
                   f"from {current} to {target}.")
    else:
        message = f"Smallest single change to reach {target}: {describe_option(best)}"
        message += (f" (the model then predicts {best['new_division']})."
                    if best["new_division"] != target else ".")
    return {
        "current_division": current, "target_division": target, "at_top": False,
        "best": best, "options": options, "unreachable": unreachable, "message": message,
    }


def input_label(name: str, position: schema.PositionLike | None = None) -> str:
    """Readable name of an input: its description in the position's spec, or (without a
    position, or for an input it lacks) in the active catalog's input definitions."""
    item = None
    if position is not None:
        spec = schema.spec_of(position)
        item = spec.column(name) if spec.has(name) else None
    if item is None:
        item = active_catalog().inputs.get(name)
    text = item.description if item is not None else ""
    return text or name.replace("_", " ")


def describe_option(o: dict[str, Any]) -> str:
    """A what-if option in words: "cut 40-yard dash from 4.8 to 4.65 seconds"."""
    if o["current"] is None:
        return f"record a {input_label(o['input'])} of {o['suggested']:g} {o['unit']}"
    verb = "cut" if o["direction"] == "lower" else "raise"
    return (f"{verb} {input_label(o['input'])} from {o['current']:g} to {o['suggested']:g} "
            f"{o['unit']}")
