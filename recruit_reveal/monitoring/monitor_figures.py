"""The figures of a monitoring record, for a reader: what moved, against what training saw.

Built with matplotlib's object API, as the training record's figures are
(:mod:`recruit_reveal.reporting.figures`), and shown as PNGs by
:func:`recruit_reveal.reporting.display.show`, so they land in the record and its HTML.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .accuracy import LiveAccuracy
from .drift import InputDrift

TRAINING, LIVE, ALERT = "#88aacc", "#cc6677", "#b00020"


def _paired_bars(ax, labels, training, live) -> None:
    x = np.arange(len(labels))
    ax.bar(x - 0.2, training, 0.4, label="training", color=TRAINING)
    ax.bar(x + 0.2, live, 0.4, label="live", color=LIVE)
    ax.set_xticks(x, labels, rotation=30 if len(labels) > 5 else 0, ha="right"
                  if len(labels) > 5 else "center", fontsize=8)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.legend(frameon=False)


def plot_input_shift(drift: InputDrift, stream: str) -> Figure:
    """One input's live distribution against training, over its PSI bins (the training
    deciles, or the states)."""
    fig = Figure(figsize=(7, 3.4), layout="constrained")
    ax = fig.add_subplot()
    _paired_bars(ax, drift.bins, drift.expected, drift.live)
    ax.set_ylabel("share of values")
    fig.suptitle(f"{stream}: {drift.input} now against training "
                 f"(PSI {drift.psi:.2f}, {drift.verdict})")
    return fig


def plot_division_mix(mix: pd.DataFrame, stream: str) -> Figure:
    """The predicted-level mix of live traffic against the training mix, as bars."""
    fig = Figure(figsize=(6, 3.2), layout="constrained")
    ax = fig.add_subplot()
    training = pd.to_numeric(mix["training share"], errors="coerce").fillna(0.0)
    _paired_bars(ax, list(mix["division"]), training, mix["live share"])
    ax.set_ylabel("share of athletes")
    fig.suptitle(f"{stream}: predicted level, live against training")
    return fig


def plot_live_accuracy(accuracy: LiveAccuracy, stream: str) -> Figure:
    """Live exact and within-one accuracy and ECE, with their 95% intervals, against the CV
    mean and its 95% interval (shaded)."""
    fig = Figure(figsize=(7, 3.1), layout="constrained")
    axes = fig.subplots(1, 3)
    rows = [("exact accuracy", accuracy.exact, accuracy.exact_ci, accuracy.cv_exact),
            ("within-one", accuracy.within_one, accuracy.within_one_ci, accuracy.cv_within_one),
            ("ECE (lower is better)", accuracy.ece, accuracy.ece_ci, accuracy.cv_ece)]
    for ax, (name, live, (low, high), cv) in zip(axes, rows, strict=True):
        bound = cv.lower_bound() if cv is not None else None
        if cv is not None and cv.mean is not None and bound is not None:
            ax.axhspan(bound, 2 * cv.mean - bound, color=TRAINING, alpha=0.35,
                       label="CV 95% interval")
            ax.axhline(cv.mean, color=TRAINING, label="CV mean")
        below = name == "exact accuracy" and accuracy.alert
        ax.errorbar([0], [live], yerr=[[live - low], [high - live]], fmt="o", capsize=6,
                    color=ALERT if below else LIVE, label="live, 95% interval")
        ax.set_xticks([])
        ax.set_title(name, fontsize=9)
    # Below the panels, where it hides no interval.
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    fig.suptitle(f"{stream}: live on {accuracy.outcomes:,} outcomes against cross-validation")
    return fig
