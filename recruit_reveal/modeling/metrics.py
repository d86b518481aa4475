"""The metrics of one set of predictions: accuracy, F1, kappa, log loss, calibration.

``y_true`` / ``y_pred`` are division labels or ordinal codes 0..3; ``proba``
is (n, 4) in DIVISIONS order.  :func:`fold_metrics` computes every metric of
one fold under the names listed in :mod:`recruit_reveal.modeling.summaries`.

Label metrics (accuracy, F1, recall, kappa, confusion) score the model's
own ``predict``, i.e. its decision rule (argmax by default); log loss and
ECE score ``predict_proba``.

Expected calibration error: the confidence of a row is its largest predicted
probability; rows fall into 10 equal-width bins on [0, 1], bin ``b`` holding
confidences in ``(b/10, (b+1)/10]`` (the first bin also holds 0).  ECE is the
row-weighted mean over bins of ``|accuracy - mean confidence|``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score, f1_score
from sklearn.metrics import confusion_matrix as _sk_confusion_matrix
from sklearn.metrics import log_loss as _sk_log_loss

from recruit_reveal.modeling.estimators import encode_divisions

from ..schema import DIVISIONS

_LABELS = list(range(len(DIVISIONS)))
ECE_BINS = 10
#: Probabilities are clipped to [PROBA_EPS, 1] for the log loss, so a
#: confident mistake costs about 34.5 nats instead of infinity.
PROBA_EPS = 1e-15


def exact_accuracy(y_true, y_pred) -> float:
    t, p = encode_divisions(y_true), encode_divisions(y_pred)
    return float(np.mean(t == p))


def within_one_accuracy(y_true, y_pred) -> float:
    """Share of predictions at most one division away from the truth."""
    t, p = encode_divisions(y_true), encode_divisions(y_pred)
    return float(np.mean(np.abs(t - p) <= 1))


def macro_f1(y_true, y_pred) -> float:
    """F1 averaged over the four divisions (a division never seen nor predicted scores 0)."""
    t, p = encode_divisions(y_true), encode_divisions(y_pred)
    return float(f1_score(t, p, labels=_LABELS, average="macro", zero_division=0))


def recall_per_division(y_true, y_pred) -> dict[str, float]:
    """Recall of each division; NaN for a division absent from ``y_true``."""
    t, p = encode_divisions(y_true), encode_divisions(y_pred)
    out = {}
    for k, name in enumerate(DIVISIONS):
        mask = t == k
        out[name] = float(np.mean(p[mask] == k)) if mask.any() else float("nan")
    return out


def quadratic_weighted_kappa(y_true, y_pred) -> float:
    """Cohen's kappa with quadratic weights (w_ij = (i - j)^2 / 9) over the 4 divisions."""
    t, p = encode_divisions(y_true), encode_divisions(y_pred)
    value = cohen_kappa_score(t, p, labels=_LABELS, weights="quadratic")
    return float(value) if np.isfinite(value) else 0.0


def log_loss(y_true, proba) -> float:
    """Mean negative log-probability of the true division (natural log)."""
    t = encode_divisions(y_true)
    p = np.clip(np.asarray(proba, dtype="float64"), PROBA_EPS, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    return float(_sk_log_loss(t, p, labels=_LABELS))


def _confidence_bins(y_true, proba, n_bins: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(confidence, correct as 0/1, bin index) of every row (see the module docstring)."""
    t = encode_divisions(y_true)
    p = np.asarray(proba, dtype="float64")
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == t).astype("float64")
    bins = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    return conf, correct, bins


def expected_calibration_error(y_true, proba, n_bins: int = ECE_BINS) -> float:
    """ECE on the max probability, ``n_bins`` equal-width bins (see module docstring)."""
    conf, correct, bins = _confidence_bins(y_true, proba, n_bins)
    ece = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)


def calibration_bins(y_true, proba, n_bins: int = ECE_BINS) -> pd.DataFrame:
    """Per-bin mean confidence, accuracy and row count (the reliability diagram's data)."""
    conf, correct, bins = _confidence_bins(y_true, proba, n_bins)
    rows = []
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            rows.append({"bin": b, "low": b / n_bins, "high": (b + 1) / n_bins,
                         "confidence": float(conf[mask].mean()),
                         "accuracy": float(correct[mask].mean()), "rows": int(mask.sum())})
    return pd.DataFrame(rows, columns=["bin", "low", "high", "confidence", "accuracy", "rows"])


def confusion_matrix(y_true, y_pred) -> list[list[int]]:
    """4x4 counts, rows = true division, columns = predicted, in DIVISIONS order."""
    t, p = encode_divisions(y_true), encode_divisions(y_pred)
    return _sk_confusion_matrix(t, p, labels=_LABELS).astype(int).tolist()


def fold_metrics(y_true, proba, y_pred=None) -> dict[str, Any]:
    """Every metric on one fold.  ``y_pred`` defaults to the argmax of ``proba``."""
    proba = np.asarray(proba, dtype="float64")
    pred = proba.argmax(axis=1) if y_pred is None else encode_divisions(y_pred)
    return {
        "exact_accuracy": exact_accuracy(y_true, pred),
        "within_one_accuracy": within_one_accuracy(y_true, pred),
        "macro_f1": macro_f1(y_true, pred),
        "recall_per_division": recall_per_division(y_true, pred),
        "quadratic_weighted_kappa": quadratic_weighted_kappa(y_true, pred),
        "log_loss": log_loss(y_true, proba),
        "expected_calibration_error": expected_calibration_error(y_true, proba),
        "confusion_matrix": confusion_matrix(y_true, pred),
    }
