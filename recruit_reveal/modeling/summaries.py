"""Metrics summarized over cross-validation folds, and how a summary is read.

Metric names (keys of ``TrainingResult.cv_metrics`` and of each baseline):
``exact_accuracy``, ``within_one_accuracy`` (prediction at most one division
off), ``macro_f1``, ``recall_per_division`` (division -> {mean, std}),
``quadratic_weighted_kappa``, ``log_loss``, ``expected_calibration_error``
and ``confusion_matrix`` (rows = true level, columns = predicted, in
ladder order, summed over the folds).  Every other metric is a summary
``{"mean": float, "std": float}`` over the folds (std with ddof=0).

Two versions' means differ beyond fold noise by :func:`beyond_fold_noise`, the
one rule ``models diff``, the training record and ``runs/index.html`` apply.

The metrics of one fold are computed by :mod:`recruit_reveal.modeling.metrics`.
This module needs only numpy, so reading a summary (``TrainingResult.headline``)
never imports scikit-learn.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

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
            # Every fold names every level of the ladder, in ladder order.
            levels = list(folds[0][name]) if folds else []
            out[name] = {d: _mean_std([f[name][d] for f in folds]) for d in levels}
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


#: The rule :func:`beyond_fold_noise` applies, as the reports print it.
NOISE_RULE = "|delta| > pooled fold std, sqrt((std_a^2 + std_b^2) / 2)"


def pooled_fold_std(std_a: float | None, std_b: float | None) -> float | None:
    """The fold noise a change of a CV mean between two versions is judged against.

    ``sqrt((std_a² + std_b²) / 2)`` of the two versions' fold stds; None when
    either is unknown.  Pooled rather than the larger std, so one version with
    an unusually noisy fold does not hide every change against it.
    """
    if std_a is None or std_b is None:
        return None
    return math.sqrt((std_a ** 2 + std_b ** 2) / 2)


def beyond_fold_noise(delta: float | None, std_a: float | None,
                      std_b: float | None) -> bool | None:
    """Whether ``delta`` (b's mean - a's) exceeds :func:`pooled_fold_std`; None when unknown.

    A screen, not a test: both versions are usually scored on folds of the same
    rows, so their fold results are correlated.
    """
    noise = pooled_fold_std(std_a, std_b)
    return None if delta is None or noise is None else abs(delta) > noise
