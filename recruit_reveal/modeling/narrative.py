"""An athlete's explanation in words: the notes, goals, switches and calendar advice of
the API response (:func:`narrative`), built from the explanation of
:mod:`recruit_reveal.modeling.explanations` and the position's spec."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import schema
from ..catalog import PositionSpec
from .levers import describe_option, input_label


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def narrative(position: schema.PositionLike, explanation: dict[str, Any]) -> dict[str, Any]:
    """Notes, goals, switches and calendar advice from one athlete's explanation.

    Every sentence is built from this athlete's numbers: the predicted
    probabilities, the what-if options and the top factors.
    """
    spec = schema.spec_of(position)
    proba = np.asarray(explanation["probabilities"])
    division = explanation.get("division") or spec.levels[int(np.argmax(proba))]
    wi = explanation["what_if"]
    factors = explanation["top_factors"]
    lifts = [f for f in factors if f["effect"] > 0]
    drags = [f for f in factors if f["effect"] < 0]
    missing = [m for m in explanation.get("missing", []) if m in spec.combine]
    notes = _notes(spec, division, float(proba[spec.levels.index(division)]), lifts, drags,
                   wi["message"])
    return {"notes": notes, "goals": _goals(division, wi, lifts, drags),
            "switches": _switches(division, wi["best"], lifts),
            "calendar_advice": _calendar(division, wi["best"], missing, spec)}


def _notes(spec: PositionSpec, division: str, probability: float, lifts: list[dict[str, Any]],
           drags: list[dict[str, Any]], what_if_message: str) -> str:
    notes = [f"The {spec.key.upper()} model predicts {division} "
             f"(probability {probability:.2f})."]
    if lifts:
        f = lifts[0]
        notes.append(f"Strongest asset: {input_label(f['input'])} {f['value']:g} {f['unit']} "
                     f"against a typical {f['typical']:g} (+{f['effect']:.2f} division levels).")
    if drags:
        f = drags[0]
        notes.append(f"Biggest drag: {input_label(f['input'])} {f['value']:g} {f['unit']} "
                     f"against a typical {f['typical']:g} ({f['effect']:.2f} division levels).")
    notes.append(what_if_message)
    return " ".join(notes)


def _goals(division: str, wi: dict[str, Any], lifts: list[dict[str, Any]],
           drags: list[dict[str, Any]]) -> list[str]:
    goals: list[str] = []
    if wi["at_top"]:
        for f in drags[:3]:
            goals.append(f"Bring {input_label(f['input'])} from {f['value']:g} toward the typical "
                         f"{f['typical']:g} {f['unit']} to firm up a {division} projection.")
        for f in lifts[:max(0, 3 - len(goals))]:
            goals.append(f"Keep {input_label(f['input'])} at {f['value']:g} {f['unit']} or better: "
                         f"it carries the {division} projection.")
    else:
        for o in wi["options"][:3]:
            goals.append(f"{_sentence(describe_option(o))} to reach {o['new_division']} "
                         f"(model probability {o['new_probability']:.2f}).")
    if not goals and drags:
        f = drags[0]
        goals.append(f"Work on {input_label(f['input'])} ({f['value']:g} {f['unit']}, typical "
                     f"{f['typical']:g}): it pulls the prediction down most.")
    return goals


def _switches(division: str, best: dict[str, Any] | None,
              lifts: list[dict[str, Any]]) -> list[str]:
    switches: list[str] = []
    if best is not None:
        sign = "<=" if best["direction"] == "lower" else ">="
        switches.append(f"Prediction switches up to {best['new_division']} when "
                        f"{input_label(best['input'])} {sign} {best['suggested']:g} "
                        f"{best['unit']}.")
    for f in lifts:
        if f["division_if_typical"] != division:
            switches.append(f"Prediction drops to {f['division_if_typical']} if "
                            f"{input_label(f['input'])} were typical ({f['typical']:g} {f['unit']}).")
    return switches


def _calendar(division: str, best: dict[str, Any] | None, missing: list[str],
              spec: PositionSpec) -> str:
    if missing:
        return (f"Record {', '.join(input_label(m) for m in missing)} at a verified camp or "
                "combine this spring or summer: the model currently imputes them.")
    if best is not None and best["input"] in spec.combine:
        return (f"Your quickest lever is the {input_label(best['input'])}: train it in the "
                "off-season and re-test at spring and summer camps before senior evaluations.")
    if best is not None and best["input"] == "weight_lbs":
        return ("Add weight through an off-season strength block (winter to summer) "
                f"toward {best['suggested']:g} lb, then re-measure at camp.")
    if best is not None:
        return (f"Your lever is production ({input_label(best['input'])}): it counts during "
                "the senior season (August to November); send updated film mid-season.")
    return (f"Hold your {division} level: keep verified testing numbers current "
            "and send senior film to coaches early in the season.")
