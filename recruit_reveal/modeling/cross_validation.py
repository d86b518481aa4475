"""Stratified cross-validation, and permutation importance on its held-out folds.

Every fold is fitted from scratch on its training rows only; the metrics of
each fold (:mod:`recruit_reveal.modeling.metrics`) are summarized over the
folds as mean ± std (:mod:`recruit_reveal.modeling.summaries`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy.special import xlogy as _xlogy
from sklearn.base import clone
from sklearn.inspection import permutation_importance
from sklearn.model_selection import StratifiedKFold

from recruit_reveal.modeling.estimators import LadderLike, encode_divisions, ladder_of
from recruit_reveal.modeling.metrics import PROBA_EPS, exact_accuracy, fold_metrics
from recruit_reveal.modeling.summaries import summarize_folds

from ..catalog import Ladder

Folds = Sequence[tuple[np.ndarray, np.ndarray]]


def stratified_folds(target, cv_folds: int, seed: int,
                     ladder: LadderLike = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified k-fold (shuffled with ``seed``): a list of (train, test) index arrays.
    ``ladder`` reads the labels (the active catalog's by default)."""
    codes = encode_divisions(target, ladder)
    splitter = StratifiedKFold(n_splits=cv_folds, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in splitter.split(np.zeros(len(codes)), codes)]


def _fit_predict(model, frame: pd.DataFrame, target: pd.Series, train, test, ladder: Ladder):
    fitted = clone(model).fit(frame.iloc[train], target.iloc[train])
    proba = np.asarray(fitted.predict_proba(frame.iloc[test]), dtype="float64")
    pred = encode_divisions(fitted.predict(frame.iloc[test]), ladder)
    return proba, pred, fitted


def cross_validate(model, frame: pd.DataFrame, target: pd.Series, folds: Folds, *,
                   n_jobs: int = 1, fold_models: list | None = None,
                   ladder: LadderLike = None) -> tuple[dict[str, Any], np.ndarray]:
    """Fit a clone of ``model`` per fold; return (summary of fold metrics, out-of-fold proba).

    Each fold is fitted from scratch on its training rows only, so nothing
    the model (or any transformer in it) learns comes from the held-out
    rows.  Results do not depend on ``n_jobs``: the folds are fixed and
    every fit is seeded.  Labels come from the model's own ``predict``.

    When ``fold_models`` is a list, the fitted fold models are appended to
    it in fold order, so later held-out analyses (permutation importance)
    can reuse them instead of fitting every fold again.  ``ladder`` (a Ladder or a
    position) reads the labels and gives the levels (the active catalog's by default).
    """
    ladder = ladder_of(ladder)
    outputs = Parallel(n_jobs=n_jobs)(
        delayed(_fit_predict)(model, frame, target, tr, te, ladder) for tr, te in folds)
    oof = np.full((len(frame), len(ladder.levels)), np.nan)
    per_fold = []
    for (_, test), (proba, pred, fitted) in zip(folds, outputs, strict=True):
        oof[test] = proba
        per_fold.append(fold_metrics(target.iloc[test], proba, pred, ladder))
        if fold_models is not None:
            fold_models.append(fitted)
    return summarize_folds(per_fold), oof


# ---------------------------------------------------------------------------
# Permutation importance on the held-out folds
# ---------------------------------------------------------------------------

def _reusable_fold_models(result, data, n_folds: int, ladder: Ladder) -> list | None:
    """``result.fold_models`` when they were fitted on the folds of ``data``, else None.

    A fold model may only score rows it never saw; that holds only when the
    folds are recomputed from the very rows the models were trained on, so
    the data must match the result's fingerprint (file hash when both have
    one, and always the row count and the target, in order).
    """
    models = getattr(result, "fold_models", None)
    if not models or len(models) != n_folds:
        return None
    fingerprint = getattr(result, "data_fingerprint", None) or {}
    sha, data_sha = fingerprint.get("sha256"), getattr(data, "sha256", None)
    if sha is not None and data_sha is not None and sha != data_sha:
        return None
    if fingerprint.get("rows") != len(data.frame):
        return None
    oof_target = getattr(result, "oof_target", None)
    if oof_target is None or not np.array_equal(oof_target,
                                                encode_divisions(data.target, ladder)):
        return None
    return list(models)


def _log_loss_unchecked(codes: np.ndarray, proba) -> float:
    """:func:`~recruit_reveal.modeling.metrics.log_loss` for ordinal codes, bit for bit,
    without scikit-learn's input checks.

    Permutation importance scores a few hundred predictions of the same rows;
    there scikit-learn's validation (label binarizing, dtype checks) cost
    more than the prediction.  The arithmetic is the same as
    ``sklearn.metrics.log_loss`` (clip to [eps, 1 - eps], ``xlogy`` of the
    true class, mean), so the value is identical (a test checks it).
    """
    p = np.clip(np.asarray(proba, dtype="float64"), PROBA_EPS, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    eps = np.finfo("float64").eps
    picked = np.clip(p, eps, 1 - eps)[np.arange(len(codes)), codes]
    return float(np.mean(-_xlogy(1.0, picked)))


def _neg_log_loss(estimator, X, y) -> float:
    # sklearn's "neg_log_loss" scorer assumes classes_ sorted alphabetically;
    # ours are in ladder order, so the score is computed here instead.
    return -_log_loss_unchecked(encode_divisions(y, _own_ladder(estimator)),
                                estimator.predict_proba(X))


def _own_ladder(estimator) -> Ladder:
    """The ladder a fitted model predicts on: its classes_ (the levels, in order)."""
    return Ladder(tuple(str(c) for c in estimator.classes_))


def _exact(estimator, X, y) -> float:
    ladder = _own_ladder(estimator)
    return exact_accuracy(y, estimator.predict(X), ladder)


_SCORERS: dict[str, Callable[[Any, Any, Any], float]] = {
    "neg_log_loss": _neg_log_loss, "accuracy": _exact}


def permutation_importance_cv(result, data, *, n_repeats: int = 5,
                              scoring: str = "neg_log_loss") -> pd.DataFrame:
    """Permutation importance of each raw input column, on held-out folds only.

    Each fold's model is fitted on that fold's training rows of the same
    stratified split (``cv_folds``, ``seed``) as the cross-validation, and
    each column is permuted in that fold's held-out rows; importances are
    the drop in ``scoring`` (``"neg_log_loss"`` or ``"accuracy"``),
    averaged over folds and repeats.  The fold models kept by
    :func:`recruit_reveal.modeling.training.train_position` (``result.fold_models``)
    are reused when ``data`` (a ``TrainingData``) is the data they were
    trained on; otherwise a clone of the pipeline (same estimator, params and
    seed) is re-fitted per fold, which gives the same models at a higher cost.
    """
    if scoring not in _SCORERS:
        raise ValueError(f"scoring must be one of {', '.join(_SCORERS)}, got {scoring!r}")
    frame, target = data.frame, data.target
    spec = getattr(result, "spec", None)
    ladder = ladder_of(spec if spec is not None else result.position)
    folds = stratified_folds(target, result.cv_folds, result.seed, ladder)
    reusable = _reusable_fold_models(result, data, len(folds), ladder)
    # Encoded once: the scorer runs once per column and repeat on the same rows.
    codes = encode_divisions(target, ladder)
    per_fold = []
    for i, (train, test) in enumerate(folds):
        if reusable is not None:
            fitted = reusable[i]
        else:
            fitted = clone(result.pipeline).fit(frame.iloc[train], target.iloc[train])
        imp = permutation_importance(
            fitted, frame.iloc[test], codes[test], scoring=_SCORERS[scoring],
            n_repeats=n_repeats, random_state=result.seed + i, n_jobs=1)
        per_fold.append(imp.importances)
    stacked = np.concatenate(per_fold, axis=1)
    table = pd.DataFrame({"feature": list(frame.columns), "importance": stacked.mean(axis=1),
                          "std": stacked.std(axis=1)})
    return table.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)
