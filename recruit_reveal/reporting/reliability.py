"""Calibration per level of a released model's out-of-sample predictions, and the colours
of the levels in every figure of ``notebooks/explore.ipynb``.

``oos`` is an :class:`~.exploration.OutOfSample` (``target`` codes, ``proba`` and the
``levels`` naming them); :mod:`.exploration` re-exports these for the notebook.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from recruit_reveal.catalog import Ladder
from recruit_reveal.modeling import metrics

#: One colour per level of a four-level ladder, lowest first (colour-blind safe).
COLORS = ("#4477aa", "#66ccee", "#ccbb44", "#ee6677")
#: Paul Tol's colour-blind safe "bright" scheme, for ladders of another length.
_MORE_COLORS = ("#4477aa", "#66ccee", "#228833", "#ccbb44", "#ee6677", "#aa3377", "#bbbbbb")


def level_colors(count: int) -> tuple[str, ...]:
    """One colour per level of a ladder of ``count`` levels, lowest first: :data:`COLORS`
    for four levels (the figures of the default ladder stay as they were), Tol's bright
    scheme up to seven, then evenly spaced viridis colours."""
    if count == len(COLORS):
        return COLORS
    if count <= len(_MORE_COLORS):
        return _MORE_COLORS[:count]
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    return tuple(to_hex(c) for c in colormaps["viridis"](np.linspace(0, 1, count)))


# ---------------------------------------------------------------------------
# Calibration per division
# ---------------------------------------------------------------------------

def division_reliability(oos: Any, *, bins: int = 10) -> pd.DataFrame:
    """Reliability bins of each division, one vs rest: rows binned by quantiles of P(division).

    One row per (division, bin): ``rows``, mean ``predicted`` P and the
    ``observed`` share of those rows truly in the division.  Tied
    probabilities share a bin, so a division may get fewer than ``bins``.
    """
    parts = []
    for k, division in enumerate(oos.levels):
        p, hit = oos.proba[:, k], (oos.target == k).astype(float)
        edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
        which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0))
        grouped = pd.DataFrame({"bin": which, "predicted": p, "observed": hit}).groupby("bin")
        part = grouped.agg(rows=("predicted", "size"), predicted=("predicted", "mean"),
                           observed=("observed", "mean")).reset_index()
        parts.append(part.assign(division=division))
    return pd.concat(parts, ignore_index=True)[["division", "bin", "rows", "predicted",
                                                "observed"]]


def calibration_table(oos: Any, reliability: pd.DataFrame | None = None
                      ) -> pd.DataFrame:
    """Per division: rows, mean predicted P, observed share, Brier score and the
    calibration error of its reliability bins; last row, the pooled largest
    probability with the ECE the metadata reports (:func:`metrics.expected_calibration_error`)."""
    reliability = division_reliability(oos) if reliability is None else reliability
    rows: dict[str, dict[str, float]] = {}
    for k, division in enumerate(oos.levels):
        hit = (oos.target == k).astype(float)
        bins = reliability[reliability["division"] == division]
        gap = (bins["observed"] - bins["predicted"]).abs()
        rows[division] = {"rows": int(hit.sum()), "mean predicted P": oos.proba[:, k].mean(),
                          "observed share": hit.mean(),
                          "Brier": float(np.mean((oos.proba[:, k] - hit) ** 2)),
                          "calibration error": float((gap * bins["rows"]).sum() / len(hit))}
    confidence = oos.proba.max(axis=1)
    ladder = Ladder(tuple(oos.levels))  # the model's own: never the active catalog's
    rows["largest P (pooled)"] = {
        "rows": len(oos.target), "mean predicted P": confidence.mean(),
        "observed share": metrics.exact_accuracy(oos.target, oos.proba.argmax(axis=1), ladder),
        "Brier": float("nan"),
        "calibration error": metrics.expected_calibration_error(oos.target, oos.proba,
                                                                ladder=ladder)}
    return pd.DataFrame.from_dict(rows, orient="index").astype({"rows": int}).round(3)


def plot_division_reliability(reliability: pd.DataFrame, title: str = "") -> Figure:
    """One reliability curve per division (:func:`division_reliability`), diagonal = calibrated."""
    levels = list(dict.fromkeys(reliability["division"]))
    fig = Figure(figsize=(2.5 * len(levels), 2.9), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(levels), sharey=True))
    for ax, color, division in zip(axes, level_colors(len(levels)), levels, strict=True):
        bins = reliability[reliability["division"] == division]
        ax.plot([0, 1], [0, 1], color="#bbbbbb", lw=1)
        ax.plot(bins["predicted"], bins["observed"], "o-", color=color)
        ax.set_title(division, fontsize=10)
        ax.set_xlabel("predicted P", fontsize=8)
    axes[0].set_ylabel("observed share")
    suffix = "reliability per division (out of sample)"
    fig.suptitle(f"{title}: {suffix}" if title else suffix)
    return fig
