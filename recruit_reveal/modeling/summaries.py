"""Metrics summarized over cross-validation folds, and how a summary is read.

Metric names (keys of ``TrainingResult.cv_metrics`` and of each baseline):
``exact_accuracy``, ``within_one_accuracy`` (prediction at most one division
off), ``macro_f1``, ``recall_per_division`` (division -> {mean, std}),
``quadratic_weighted_kappa``, ``log_loss``, ``expected_calibration_error``
and ``confusion_matrix`` (rows = true division, columns = predicted, in
DIVISIONS order, summed over the folds).  Every other metric is a summary
``{"mean": float, "std": float}`` over the folds (std with ddof=0).

The metrics of one fold are computed by :mod:`recruit_reveal.modeling.metrics`.
This module needs only numpy, so reading a summary (``TrainingResult.headline``)
never imports scikit-learn.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..schema import DIVISIONS

METRIC_NAMES: tuple[str, ...] = (
    "exact_accuracy", "within_one_accuracy", "macro_f1", "recall_per_division",
    "quadratic_weighted_kappa", "log_loss", "expected_calibration_error", "confusion_matrix",
)


def _mean_std(values: Sequence[float]) -> dict[str, float]:
    arr = np.asarray([v for v in values if not math.isnan(v)], dtype="float64")
    if arr.size == 0:
        return {"mean": float("nan"), "std": float("nan")}
    return {"mean": float(arr.mean()), "std": float(arr.std())}


def summarize_folds(folds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per-fold metric dicts -> mean ± std per metric, confusion matrices summed."""
    out: dict[str, Any] = {}
    for name in METRIC_NAMES:
        if name == "confusion_matrix":
            out[name] = np.sum([f[name] for f in folds], axis=0).astype(int).tolist()
        elif name == "recall_per_division":
            out[name] = {d: _mean_std([f[name][d] for f in folds]) for d in DIVISIONS}
        else:
            out[name] = _mean_std([f[name] for f in folds])
    return out


def metric_mean(metrics: Mapping[str, Any], name: str) -> float:
    """Mean over the folds of metric ``name`` in a summary of fold metrics.

    ``metrics`` is ``TrainingResult.cv_metrics``, a baseline's metrics, or
    ``cv_metrics["recall_per_division"]`` (then ``name`` is a division).
    """
    return metrics[name]["mean"]


def metric_std(metrics: Mapping[str, Any], name: str) -> float:
    """Fold-to-fold standard deviation of metric ``name`` (see :func:`metric_mean`)."""
    return metrics[name]["std"]
