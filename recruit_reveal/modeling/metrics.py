"""The metrics of one set of predictions: accuracy, F1, kappa, log loss, calibration.

``y_true`` / ``y_pred`` are level labels or ordinal codes 0..K-1 of a ladder of K
levels; ``proba`` is (n, K) in ladder order.  ``ladder`` (a
:class:`~recruit_reveal.catalog.Ladder` or a position whose ladder it is; the active
catalog's by default) reads the labels and gives K.  :func:`fold_metrics` computes every metric of
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

from recruit_reveal.modeling.estimators import LadderLike, encode_divisions, ladder_of

ECE_BINS = 10
#: Probabilities are clipped to [PROBA_EPS, 1] for the log loss, so a
#: confident mistake costs about 34.5 nats instead of infinity.
PROBA_EPS = 1e-15


def _labels(ladder: LadderLike) -> list[int]:
    return list(range(len(ladder_of(ladder).levels)))


def exact_accuracy(y_true, y_pred, ladder: LadderLike = None) -> float:
    ladder = ladder_of(ladder)
    t, p = encode_divisions(y_true, ladder), encode_divisions(y_pred, ladder)
    return float(np.mean(t == p))


def within_one_accuracy(y_true, y_pred, ladder: LadderLike = None) -> float:
    """Share of predictions at most one division away from the truth."""
    ladder = ladder_of(ladder)
    t, p = encode_divisions(y_true, ladder), encode_divisions(y_pred, ladder)
    return float(np.mean(np.abs(t - p) <= 1))


def macro_f1(y_true, y_pred, ladder: LadderLike = None) -> float:
    """F1 averaged over the levels (a division never seen nor predicted scores 0)."""
    ladder = ladder_of(ladder)
    t, p = encode_divisions(y_true, ladder), encode_divisions(y_pred, ladder)
    return float(f1_score(t, p, labels=_labels(ladder), average="macro", zero_division=0))


def recall_per_division(y_true, y_pred, ladder: LadderLike = None) -> dict[str, float]:
    """Recall of each division; NaN for a division absent from ``y_true``."""
    ladder = ladder_of(ladder)
    t, p = encode_divisions(y_true, ladder), encode_divisions(y_pred, ladder)
    out = {}
    for k, name in enumerate(ladder.levels):
        mask = t == k
        out[name] = float(np.mean(p[mask] == k)) if mask.any() else float("nan")
    return out


def quadratic_weighted_kappa(y_true, y_pred, ladder: LadderLike = None) -> float:
    """Cohen's kappa with quadratic weights (w_ij = (i - j)^2 / (K - 1)^2) over the levels."""
    ladder = ladder_of(ladder)
    t, p = encode_divisions(y_true, ladder), encode_divisions(y_pred, ladder)
    value = cohen_kappa_score(t, p, labels=_labels(ladder), weights="quadratic")
    return float(value) if np.isfinite(value) else 0.0


def log_loss(y_true, proba, ladder: LadderLike = None) -> float:
    """Mean negative log-probability of the true division (natural log)."""
    t = encode_divisions(y_true, ladder)
    p = np.clip(np.asarray(proba, dtype="float64"), PROBA_EPS, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    return float(_sk_log_loss(t, p, labels=_labels(ladder)))


def _confidence_bins(y_true, proba, n_bins: int, ladder: LadderLike = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(confidence, correct as 0/1, bin index) of every row (see the module docstring)."""
    t = encode_divisions(y_true, ladder)
    p = np.asarray(proba, dtype="float64")
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == t).astype("float64")
    bins = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    return conf, correct, bins


def expected_calibration_error(y_true, proba, n_bins: int = ECE_BINS,
                               ladder: LadderLike = None) -> float:
    """ECE on the max probability, ``n_bins`` equal-width bins (see module docstring)."""
    conf, correct, bins = _confidence_bins(y_true, proba, n_bins, ladder)
    ece = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)


def calibration_bins(y_true, proba, n_bins: int = ECE_BINS,
                     ladder: LadderLike = None) -> pd.DataFrame:
    """Per-bin mean confidence, accuracy and row count (the reliability diagram's data)."""
    conf, correct, bins = _confidence_bins(y_true, proba, n_bins, ladder)
    rows = []
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            rows.append({"bin": b, "low": b / n_bins, "high": (b + 1) / n_bins,
                         "confidence": float(conf[mask].mean()),
                         "accuracy": float(correct[mask].mean()), "rows": int(mask.sum())})
    return pd.DataFrame(rows, columns=["bin", "low", "high", "confidence", "accuracy", "rows"])


def confusion_matrix(y_true, y_pred, ladder: LadderLike = None) -> list[list[int]]:
    """K x K counts, rows = true level, columns = predicted, in ladder order."""
    ladder = ladder_of(ladder)
    t, p = encode_divisions(y_true, ladder), encode_divisions(y_pred, ladder)
    return _sk_confusion_matrix(t, p, labels=_labels(ladder)).astype(int).tolist()


def fold_metrics(y_true, proba, y_pred=None, ladder: LadderLike = None) -> dict[str, Any]:
    """Every metric on one fold.  ``y_pred`` defaults to the argmax of ``proba``."""
    ladder = ladder_of(ladder)
    proba = np.asarray(proba, dtype="float64")
    t = encode_divisions(y_true, ladder)  # once, for every metric
    pred = proba.argmax(axis=1) if y_pred is None else encode_divisions(y_pred, ladder)
    return {
        "exact_accuracy": exact_accuracy(t, pred, ladder),
        "within_one_accuracy": within_one_accuracy(t, pred, ladder),
        "macro_f1": macro_f1(t, pred, ladder),
        "recall_per_division": recall_per_division(t, pred, ladder),
        "quadratic_weighted_kappa": quadratic_weighted_kappa(t, pred, ladder),
        "log_loss": log_loss(t, proba, ladder),
        "expected_calibration_error": expected_calibration_error(t, proba, ladder=ladder),
        "confusion_matrix": confusion_matrix(t, pred, ladder),
    }
