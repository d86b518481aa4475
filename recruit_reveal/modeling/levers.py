"""The what-if search: which inputs can improve, the values tried, the smallest change that works.

For each improvable input (a *lever*: combine results, weight and the key
production stats) :func:`lever_grids` lays out candidate values around the
athlete's current one, inside the schema's plausible range; the caller
scores every candidate of every lever in one ``predict_proba`` call
(:func:`recruit_reveal.modeling.explanations.explain_frame`), and
:func:`collect_options` keeps, per lever, the first candidate (the smallest
change) that lifts the prediction to at least the next division up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from ..schema import DIVISIONS, check_position, column

#: Inputs whose improvement the what-if considers: direction (+1 higher is
#: better, -1 lower is better, 0 either way: searched up and down, nearest
#: first), the search span from the current value, and the decimals shown.
#: The span keeps suggestions within one off-season's reach; the schema range
#: caps them further.
_COMMON_LEVERS: dict[str, tuple[int, float, int]] = {
    "forty_yard_dash": (-1, 0.8, 2),
    "shuttle": (-1, 0.6, 2),
    "vertical_jump": (+1, 12.0, 1),
    "broad_jump": (+1, 30.0, 0),
    "weight_lbs": (0, 40.0, 0),
}
_PRODUCTION_LEVERS: dict[str, dict[str, tuple[int, float, int]]] = {
    "qb": {"senior_ypg": (+1, 200.0, 0), "senior_tds": (+1, 30.0, 0),
           "senior_comp_pct": (+1, 25.0, 1)},
    "rb": {"senior_ypg": (+1, 150.0, 0), "senior_ypc": (+1, 5.0, 1),
           "senior_tds": (+1, 25.0, 0)},
    "wr": {"senior_rec_ypg": (+1, 100.0, 0), "senior_rec": (+1, 50.0, 0),
           "senior_avg": (+1, 10.0, 1), "senior_tds": (+1, 15.0, 0)},
}


@lru_cache(maxsize=8)
def levers(position: str) -> dict[str, tuple[int, float, int]]:
    """The improvable inputs of a position: name -> (direction, span, decimals).

    The returned dict is shared: do not modify it."""
    return {**_COMMON_LEVERS, **_PRODUCTION_LEVERS[check_position(position)]}


def _round(value: float, decimals: int) -> float:
    return float(round(value, decimals)) if decimals else float(round(value))


def _candidates(base: np.ndarray, name: str, position: str, steps: int,
                typical: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Candidate values (n x steps) of one lever and which are within range.

    A missing input is searched from the typical value, since the model
    imputes something close to it anyway.
    """
    direction, span, decimals = levers(position)[name]
    col = column(position, name)
    start = base.copy()
    fallback = typical if typical is not None and math.isfinite(typical) else None
    if fallback is None:
        fallback = ((col.low or 0.0) + (col.high or 0.0)) / 2
    start[np.isnan(start)] = fallback
    ks = np.arange(1, steps + 1, dtype=float)
    if direction == 0:
        # +1, -1, +2, -2, ...: the first success in this order is the smallest change.
        ks = np.column_stack([ks, -ks]).ravel()
    offsets = (direction or 1) * span * ks / steps
    cand = np.round(start[:, None] + offsets[None, :], decimals)
    valid = np.ones(cand.shape, dtype=bool)
    if col.low is not None:
        valid &= cand >= col.low
    if col.high is not None:
        valid &= cand <= col.high
    return cand, valid


@dataclass(frozen=True)
class LeverGrid:
    """The candidate values of one lever for a chunk of athletes."""

    name: str
    #: Index of the lever among the numeric input columns.
    column: int
    #: Candidate values (athletes x steps) and which of them lie in the plausible range.
    values: np.ndarray
    valid: np.ndarray
    #: Athlete and step of every valid candidate, in scoring order.
    rows: np.ndarray
    ks: np.ndarray

    @property
    def size(self) -> int:
        """Rows this grid adds to the scoring call."""
        return len(self.rows)

    def inputs(self, x: np.ndarray) -> np.ndarray:
        """The athletes' numeric inputs with this lever set to each valid candidate."""
        gx = x[self.rows].copy()
        gx[:, self.column] = self.values[self.rows, self.ks]
        return gx


def lever_grids(x: np.ndarray, numeric: list[str], position: str, steps: int,
                typical: dict[str, float]) -> list[LeverGrid]:
    """One grid per lever of ``position`` present among ``numeric`` (the columns of ``x``)."""
    grids = []
    for name in levers(position):
        if name not in numeric:
            continue
        j = numeric.index(name)
        values, valid = _candidates(x[:, j], name, position, steps, typical.get(name))
        rows, ks = np.nonzero(valid)
        grids.append(LeverGrid(name, j, values, valid, rows, ks))
    return grids


def collect_options(grid: LeverGrid, proba: np.ndarray, decided: np.ndarray, pred: np.ndarray,
                    x: np.ndarray, position: str, typical: dict[str, float],
                    options: list[list[dict[str, Any]]], unreachable: list[list[str]]) -> None:
    """Per athlete, the first candidate of ``grid`` (the smallest change) that lifts the
    predicted division ``pred`` to at least the next one up.

    ``proba`` and ``decided`` (predicted codes) belong to the grid's valid
    candidates, in :attr:`LeverGrid.rows` order.  An athlete below the top
    division gets an option dict appended to ``options[i]``, or the lever's
    name appended to ``unreachable[i]`` when no candidate lifts them.
    """
    target = pred + 1
    name, j = grid.name, grid.column
    cand, valid, rows, ks = grid.values, grid.valid, grid.rows, grid.ks
    m = grid.size
    grid_pred = np.full(cand.shape, -1)
    grid_pred[rows, ks] = decided
    grid_tp = np.zeros(cand.shape)
    safe_target = np.minimum(target, len(DIVISIONS) - 1)
    grid_tp[rows, ks] = proba[np.arange(m), safe_target[rows]]
    success = valid & (grid_pred >= target[:, None])
    found = success.any(axis=1)
    first = success.argmax(axis=1)
    col = column(position, name)
    direction, span, decimals = levers(position)[name]
    rng = (col.high - col.low) if col.low is not None and col.high is not None else span
    below_top = pred < len(DIVISIONS) - 1
    for i in np.nonzero(below_top & ~found)[0]:
        unreachable[i].append(name)
    for i in np.nonzero(below_top & found)[0]:
        current = x[i, j]
        value = float(cand[i, first[i]])
        reference = typical.get(name) if math.isnan(current) else current
        change = None if reference is None or math.isnan(current) else value - current
        effort = abs(value - reference) / rng if reference is not None else 1.0
        options[i].append({
            "input": name,
            "unit": col.unit,
            "current": None if math.isnan(current) else _round(current, decimals),
            "suggested": _round(value, decimals),
            "change": None if change is None else _round(change, decimals),
            "direction": "lower" if direction < 0 or (
                direction == 0 and reference is not None and value < reference)
            else "higher",
            "new_division": DIVISIONS[int(grid_pred[i, first[i]])],
            "new_probability": float(grid_tp[i, first[i]]),
            "effort": float(effort),
        })


def what_if_result(pred: int, options: list[dict], unreachable: list[str]) -> dict[str, Any]:
    """The what-if of one athlete predicted at ``pred`` (see ``explanations.what_if``)."""
    current = DIVISIONS[pred]
    if pred == len(DIVISIONS) - 1:
        return {
            "current_division": current, "target_division": None, "at_top": True,
            "best": None, "options": [], "unreachable": [],
            "message": f"Already predicted at the top division ({current}); "
                       "there is no next division up.",
        }
    target = DIVISIONS[pred + 1]
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


@lru_cache(maxsize=256)
def input_label(name: str) -> str:
    """Readable name of an input, from the schema's description."""
    for pos in ("qb", "rb", "wr"):
        try:
            text = column(pos, name).description
        except KeyError:
            continue
        return text or name.replace("_", " ")
    return name.replace("_", " ")


def describe_option(o: dict[str, Any]) -> str:
    """A what-if option in words: "cut 40-yard dash from 4.8 to 4.65 seconds"."""
    if o["current"] is None:
        return f"record a {input_label(o['input'])} of {o['suggested']:g} {o['unit']}"
    verb = "cut" if o["direction"] == "lower" else "raise"
    return (f"{verb} {input_label(o['input'])} from {o['current']:g} to {o['suggested']:g} "
            f"{o['unit']}")
