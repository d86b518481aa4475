"""The figures and the metrics table the training notebook shows.

Figures are built with matplotlib's object API (no pyplot state), so they
render the same in a notebook, a script or a test; ``display.show`` turns
them into PNGs.  Every number comes from a ``TrainingResult``
(:mod:`recruit_reveal.modeling.training`) or a ``TrainingData``
(:mod:`recruit_reveal.data.loading`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from recruit_reveal.modeling.cross_validation import permutation_importance_cv
from recruit_reveal.modeling.metrics import calibration_bins
from recruit_reveal.modeling.summaries import METRIC_NAMES, metric_mean, metric_std
from recruit_reveal.reporting.tables import format_metric, position_spec

from ..catalog import PositionSpec

#: The inputs the box plots show by default, those a position has (``None``: its
#: production stat); its other measurables follow (recruiting stars, say).
KEY_INPUTS: tuple[str | None, ...] = ("height_inches", "weight_lbs", "forty_yard_dash",
                                      "vertical_jump", None, "senior_tds")


def metrics_table(result) -> pd.DataFrame:
    """Model vs baselines vs ceiling: one row per metric, mean and std columns."""
    sources: dict[str, dict[str, Any]] = {"model": result.cv_metrics, **result.baselines}
    rows: dict[str, dict[str, float]] = {}
    names = [m for m in METRIC_NAMES if m not in ("confusion_matrix", "recall_per_division")]
    for metric in names:
        row = {}
        for source, metrics in sources.items():
            row[f"{source}_mean"] = metric_mean(metrics, metric)
            row[f"{source}_std"] = metric_std(metrics, metric)
        row["bayes_ceiling"] = (result.bayes_ceiling or {}).get(metric, float("nan"))
        rows[metric] = row
    for division in result.classes:
        row = {}
        for source, metrics in sources.items():
            row[f"{source}_mean"] = metric_mean(metrics["recall_per_division"], division)
            row[f"{source}_std"] = metric_std(metrics["recall_per_division"], division)
        row["bayes_ceiling"] = float("nan")
        rows[f"recall {division}"] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "metric"
    return table


def plot_class_balance(data) -> Figure:
    """Bar chart of rows per division (``data``: a TrainingData)."""
    target, position, levels = data.target, data.position, position_spec(data).levels
    counts = target.value_counts().reindex(levels, fill_value=0)
    fig = Figure(figsize=(6, 3.5), layout="constrained")
    ax = fig.add_subplot()
    bars = ax.bar(list(levels), counts.to_numpy(), color="#4477aa")
    ax.bar_label(bars, labels=[f"{c} ({c / max(len(target), 1):.0%})" for c in counts])
    ax.set_ylabel("athletes")
    ax.set_title(f"{position.upper()}: rows per division")
    return fig


def plot_inputs_by_division(data, columns: Sequence[str] | None = None) -> Figure:
    """Box plots of key inputs by division (missing values left out, counts in labels)."""
    frame, target, position = data.frame, data.target, data.position
    spec = position_spec(data)
    levels = spec.levels
    if columns is None:
        columns = key_inputs(spec)
    n = len(columns)
    ncols = 3
    nrows = max(1, math.ceil(n / ncols))
    fig = Figure(figsize=(4 * ncols, 3 * nrows), layout="constrained")
    for i, col in enumerate(columns):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        groups = [frame.loc[target == d, col].dropna().to_numpy() for d in levels]
        ax.boxplot([g if g.size else [np.nan] for g in groups], showfliers=False)
        ax.set_xticks(range(1, len(levels) + 1),
                      [f"{d}\n(n={g.size})" for d, g in zip(levels, groups, strict=True)],
                      fontsize=8)
        unit = spec.column(col).unit
        ax.set_title(f"{col} ({unit})", fontsize=9)
    fig.suptitle(f"{position.upper()}: inputs by division")
    return fig


def key_inputs(spec: PositionSpec) -> list[str]:
    """The inputs :func:`plot_inputs_by_division` shows: :data:`KEY_INPUTS` the position has
    (a position without production stat or combine results just shows fewer), then its
    other measurables (numeric, neither combine nor production, not the class year)."""
    wanted = [spec.production if name is None else name for name in KEY_INPUTS]
    chosen = [name for name in dict.fromkeys(wanted) if name is not None and spec.has(name)]
    others = [c.name for c in spec.numeric
              if c.group is None and not c.class_year and c.name not in chosen]
    return chosen + others


def plot_confusion_matrix(result) -> Figure:
    """Cross-validated confusion matrix (summed over folds), shaded by row share."""
    cm = np.asarray(result.cv_metrics["confusion_matrix"], dtype=float)
    shares = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig = Figure(figsize=(5.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{int(cm[i, j])}\n{shares[i, j]:.0%}", ha="center", va="center",
                    color="white" if shares[i, j] > 0.5 else "black", fontsize=9)
    levels = list(result.classes)
    ax.set_xticks(range(len(levels)), levels)
    ax.set_yticks(range(len(levels)), levels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{result.position.upper()}: confusion matrix ({result.cv_folds}-fold CV)")
    fig.colorbar(image, ax=ax, label="share of true division")
    return fig


def plot_calibration(result) -> Figure:
    """Reliability diagram of the out-of-fold probabilities (confidence vs accuracy)."""
    if result.oof_proba is None or getattr(result, "oof_target", None) is None:
        raise ValueError("the result holds no out-of-fold predictions to plot")
    bins = calibration_bins(result.oof_target, result.oof_proba)
    ece = metric_mean(result.cv_metrics, "expected_calibration_error")
    fig = Figure(figsize=(5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    ax.plot(bins["confidence"], bins["accuracy"], marker="o", label="model (out-of-fold)")
    for _, b in bins.iterrows():
        ax.annotate(str(int(b["rows"])), (b["confidence"], b["accuracy"]), fontsize=7,
                    textcoords="offset points", xytext=(3, -10))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (largest probability)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{result.position.upper()}: calibration (ECE {format_metric(ece)})")
    ax.legend(loc="upper left")
    return fig


def plot_permutation_importance(result, data, *, n_repeats: int = 5,
                                scoring: str = "neg_log_loss") -> Figure:
    """Bar chart of :func:`~recruit_reveal.modeling.cross_validation.permutation_importance_cv`
    (held-out folds only)."""
    table = permutation_importance_cv(result, data, n_repeats=n_repeats, scoring=scoring)
    table = table.iloc[::-1]
    fig = Figure(figsize=(6, 0.35 * len(table) + 1.5), layout="constrained")
    ax = fig.add_subplot()
    ax.barh(table["feature"], table["importance"], xerr=table["std"], color="#4477aa")
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_xlabel(f"drop in {scoring} when permuted (held-out folds)")
    ax.set_title(f"{result.position.upper()}: permutation importance")
    return fig


def plot_metrics_vs_baselines(result) -> Figure:
    """Model vs rule-based vs majority (mean ± std over folds), with the Bayes ceiling."""
    metrics = ["exact_accuracy", "within_one_accuracy", "macro_f1", "quadratic_weighted_kappa"]
    sources: dict[str, dict[str, Any]] = {"model": result.cv_metrics, **result.baselines}
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / (len(sources) + 1)
    x = np.arange(len(metrics))
    for i, (name, values) in enumerate(sources.items()):
        ax.bar(x + i * width, [metric_mean(values, m) for m in metrics], width,
               yerr=[metric_std(values, m) for m in metrics], label=name)
    if result.bayes_ceiling:
        ceiling = [result.bayes_ceiling.get(m, np.nan) for m in metrics]
        ax.bar(x + len(sources) * width, ceiling, width, label="Bayes ceiling", color="#999999")
    ax.set_xticks(x + width * len(sources) / 2, [m.replace("_", " ") for m in metrics])
    ax.set_ylim(0, 1.05)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"{result.position.upper()}: model vs baselines ({result.cv_folds}-fold CV)")
    return fig
