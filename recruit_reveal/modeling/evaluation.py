"""Honest evaluation: metrics, cross-validation, baselines, Bayes ceiling, figures.

Metric names (keys of ``TrainingResult.cv_metrics`` and of each baseline):
``exact_accuracy``, ``within_one_accuracy`` (prediction at most one division
off), ``macro_f1``, ``recall_per_division`` (division -> {mean, std}),
``quadratic_weighted_kappa``, ``log_loss``, ``expected_calibration_error``
and ``confusion_matrix`` (rows = true division, columns = predicted, in
DIVISIONS order, summed over the folds).  Every other metric is
``{"mean": float, "std": float}`` over the folds (std with ddof=0).

Label metrics (accuracy, F1, recall, kappa, confusion) score the model's
own ``predict``, i.e. its decision rule (argmax by default); log loss and
ECE score ``predict_proba``.

Expected calibration error: the confidence of a row is its largest predicted
probability; rows fall into 10 equal-width bins on [0, 1], bin ``b`` holding
confidences in ``(b/10, (b+1)/10]`` (the first bin also holds 0).  ECE is the
row-weighted mean over bins of ``|accuracy - mean confidence|``.

Baselines, fitted and scored on the same folds as the model:

``majority``
    always the most frequent division of the training fold; its
    probabilities are the training fold's class shares.
``rule_based``
    the earlier system's tier score (REFERENCE-FIGURES.md), see
    :class:`RuleBasedTierClassifier`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from matplotlib.figure import Figure
from scipy.special import xlogy as _xlogy
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.dummy import DummyClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import cohen_kappa_score, f1_score
from sklearn.metrics import confusion_matrix as _sk_confusion_matrix
from sklearn.metrics import log_loss as _sk_log_loss
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted

from recruit_reveal.modeling.estimators import DivisionClassifier, encode_divisions
from recruit_reveal.modeling.features import canonical_frame

from .. import schema

logger = logging.getLogger(__name__)

DIVISIONS = schema.DIVISIONS
_LABELS = list(range(len(DIVISIONS)))
ECE_BINS = 10
#: Probabilities are clipped to [PROBA_EPS, 1] for the log loss, so a
#: confident mistake costs about 34.5 nats instead of infinity.
PROBA_EPS = 1e-15

METRIC_NAMES: tuple[str, ...] = (
    "exact_accuracy", "within_one_accuracy", "macro_f1", "recall_per_division",
    "quadratic_weighted_kappa", "log_loss", "expected_calibration_error", "confusion_matrix",
)
#: Scalar metrics where higher is better (the rest: lower is better).
HIGHER_IS_BETTER = ("exact_accuracy", "within_one_accuracy", "macro_f1",
                    "quadratic_weighted_kappa")


# ---------------------------------------------------------------------------
# Metric functions.  y_true / y_pred: division labels or ordinal codes 0..3;
# proba: (n, 4) in DIVISIONS order.
# ---------------------------------------------------------------------------

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


def expected_calibration_error(y_true, proba, n_bins: int = ECE_BINS) -> float:
    """ECE on the max probability, ``n_bins`` equal-width bins (see module docstring)."""
    t = encode_divisions(y_true)
    p = np.asarray(proba, dtype="float64")
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == t).astype("float64")
    bins = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)


def calibration_bins(y_true, proba, n_bins: int = ECE_BINS) -> pd.DataFrame:
    """Per-bin mean confidence, accuracy and row count (the reliability diagram's data)."""
    t = encode_divisions(y_true)
    p = np.asarray(proba, dtype="float64")
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == t).astype("float64")
    bins = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
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


# ---------------------------------------------------------------------------
# Cross-validation
# ---------------------------------------------------------------------------

def stratified_folds(target, cv_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified k-fold (shuffled with ``seed``): a list of (train, test) index arrays."""
    codes = encode_divisions(target)
    splitter = StratifiedKFold(n_splits=cv_folds, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in splitter.split(np.zeros(len(codes)), codes)]


def _fit_predict(model, frame: pd.DataFrame, target: pd.Series, train, test):
    fitted = clone(model).fit(frame.iloc[train], target.iloc[train])
    proba = np.asarray(fitted.predict_proba(frame.iloc[test]), dtype="float64")
    pred = encode_divisions(fitted.predict(frame.iloc[test]))
    return proba, pred, fitted


def cross_validate(model, frame: pd.DataFrame, target: pd.Series,
                   folds: Sequence[tuple[np.ndarray, np.ndarray]], *, n_jobs: int = 1,
                   fold_models: list | None = None) -> tuple[dict[str, Any], np.ndarray]:
    """Fit a clone of ``model`` per fold; return (summary of fold metrics, out-of-fold proba).

    Each fold is fitted from scratch on its training rows only, so nothing
    the model (or any transformer in it) learns comes from the held-out
    rows.  Results do not depend on ``n_jobs``: the folds are fixed and
    every fit is seeded.  Labels come from the model's own ``predict``.

    When ``fold_models`` is a list, the fitted fold models are appended to
    it in fold order, so later held-out analyses (permutation importance)
    can reuse them instead of fitting every fold again.
    """
    outputs = Parallel(n_jobs=n_jobs)(
        delayed(_fit_predict)(model, frame, target, tr, te) for tr, te in folds)
    oof = np.full((len(frame), len(DIVISIONS)), np.nan)
    per_fold = []
    for (_, test), (proba, pred, fitted) in zip(folds, outputs, strict=True):
        oof[test] = proba
        per_fold.append(fold_metrics(target.iloc[test], proba, pred))
        if fold_models is not None:
            fold_models.append(fitted)
    return summarize_folds(per_fold), oof


# ---------------------------------------------------------------------------
# Baselines
# ---------------------------------------------------------------------------

def majority_baseline() -> DivisionClassifier:
    """Predicts the training fold's most frequent division, with its class shares."""
    return DivisionClassifier(DummyClassifier(strategy="prior"), decision="argmax")


# Tier thresholds of the earlier rule-based score (REFERENCE-FIGURES.md).
# Per tier: production >= , height window, weight window, 40-yard window,
# vertical window, broad jump >=, shuttle <=.  None = no check.
_TierRow = tuple[float, tuple[float, float], tuple[float, float], tuple[float, float] | None,
                 tuple[float, float] | None, float | None, float | None]
TIER_THRESHOLDS: dict[str, dict[str, _TierRow]] = {
    "qb": {
        "Power 5": (250, (74, 78), (200, 240), (4.6, 4.9), (30, 34), 108, 4.5),
        "FCS": (200, (72, 76), (190, 220), (4.7, 5.0), (28, 32), 102, 4.6),
        "D2": (150, (71, 74), (180, 210), (4.8, 5.1), (26, 30), 96, 4.7),
    },
    "rb": {
        "Power 5": (150, (69, 74), (190, 230), (4.2, 4.4), (34, 36), 120, 4.2),
        "FCS": (120, (68, 73), (180, 220), (4.3, 4.5), (32, 34), 110, 4.3),
        "D2": (90, (67, 72), (170, 210), (4.4, 4.6), (31, 33), 100, 4.4),
    },
    "wr": {
        "Power 5": (100, (71, 75), (180, 210), (4.4, 4.6), (34, 36), 120, 4.3),
        "FCS": (80, (70, 74), (170, 200), (4.5, 4.7), (32, 35), 110, 4.4),
        "D2": (60, (69, 73), (165, 195), (4.6, 4.8), (30, 33), 100, 4.5),
    },
}
TIER_PASS_SHARE = 0.6
TIER_BASE_SCORES = {"Power 5": 90, "FCS": 70, "D2": 50, "D3": 30}


def _tier_passes(frame: pd.DataFrame, tier: _TierRow, production: str
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(checks passed, checks available) per row for one tier; missing inputs are skipped.

    Height and weight must fall inside the tier's window, as in the earlier
    system.  The combine windows only bound the *bad* side: a 40 or shuttle
    faster than the window, or a jump higher, passes (the earlier tables list
    the typical range of the level, and beating it is no reason to demote).
    """
    prod, height, weight, forty, vertical, broad, shuttle = tier
    inf = np.inf
    # (column, low, high) per check, inclusive.
    checks = [(production, prod, inf), ("height_inches", *height), ("weight_lbs", *weight)]
    if forty is not None:
        checks.append(("forty_yard_dash", -inf, forty[1]))
    if vertical is not None:
        checks.append(("vertical_jump", vertical[0], inf))
    if broad is not None:
        checks.append(("broad_jump", broad, inf))
    if shuttle is not None:
        checks.append(("shuttle", -inf, shuttle))
    passed = np.zeros(len(frame))
    available = np.zeros(len(frame))
    for name, low, high in checks:
        values = frame[name].to_numpy(dtype="float64")
        have = np.isfinite(values)
        available += have
        passed += have & (values >= low) & (values <= high)
    return passed, available


def rule_based_tiers(frame: pd.DataFrame, position: str) -> np.ndarray:
    """The earlier system's tier (ordinal code) for every row of a raw canonical frame.

    Tiers are tried top-down (Power 5, FCS, D2); a tier is assigned when at
    least 60% of its *available* checks pass (a missing input is neither a
    pass nor a fail; a tier with no available check is not assigned).  An
    athlete who earns no higher tier is D3/NAIA, the bottom tier, whose own
    checks cannot move anyone anywhere.
    """
    position = schema.check_position(position)
    frame = canonical_frame(frame, position)
    production = schema.PRODUCTION_COLUMN[position]
    codes = np.zeros(len(frame), dtype=np.int64)
    decided = np.zeros(len(frame), dtype=bool)
    for division, tier in TIER_THRESHOLDS[position].items():
        passed, available = _tier_passes(frame, tier, production)
        earns = ~decided & (available > 0) & (passed >= TIER_PASS_SHARE * available)
        codes[earns] = schema.division_index(division)
        decided |= earns
    return codes


def rule_based_tier(row: dict[str, float], position: str) -> str:
    """:func:`rule_based_tiers` for one athlete, as a division label."""
    return DIVISIONS[int(rule_based_tiers(pd.DataFrame([row]), position)[0])]


class RuleBasedTierClassifier(ClassifierMixin, BaseEstimator):
    """The rule-based baseline as an estimator, so it runs on the same folds.

    ``predict`` is :func:`rule_based_tiers` and learns nothing.  For the log
    loss and calibration, ``predict_proba`` returns P(true division | tier)
    estimated on the training fold with add-one smoothing (``tier_table_``):
    the earlier system gave no probabilities, and this is the fairest ones
    its tiers can carry.
    """

    def __init__(self, position: str = "qb"):
        self.position = position

    def _tiers(self, X) -> np.ndarray:
        return rule_based_tiers(X, self.position)

    def fit(self, X, y):
        codes = encode_divisions(y)
        tiers = self._tiers(X)
        table = np.ones((len(DIVISIONS), len(DIVISIONS)))
        np.add.at(table, (tiers, codes), 1.0)
        self.tier_table_ = table / table.sum(axis=1, keepdims=True)
        self.classes_ = np.array(DIVISIONS, dtype=object)
        return self

    def predict(self, X):
        check_is_fitted(self, "tier_table_")
        return self.classes_[self._tiers(X)]

    def predict_proba(self, X):
        check_is_fitted(self, "tier_table_")
        return self.tier_table_[self._tiers(X)]


def run_baselines(frame: pd.DataFrame, target: pd.Series, position: str,
                  folds: Sequence[tuple[np.ndarray, np.ndarray]]) -> dict[str, dict[str, Any]]:
    """Majority and rule-based baselines on ``folds``: {name: summary of fold metrics}."""
    majority, _ = cross_validate(majority_baseline(), frame, target, folds)
    rules, _ = cross_validate(RuleBasedTierClassifier(position), frame, target, folds)
    return {"majority": majority, "rule_based": rules}


def bayes_ceiling(frame: pd.DataFrame, target: pd.Series, position: str) -> dict[str, float]:
    """Metrics of the generator's exact posterior on these rows (synthetic data only).

    The ceiling predicts the argmax of ``synthetic.true_proba``, the same
    decision rule as the models, so its exact and within-one accuracy are
    the best any model using argmax can expect on these rows (up to
    sampling noise).
    """
    from recruit_reveal.data import synthetic

    proba = np.asarray(synthetic.true_proba(frame, position), dtype="float64")
    pred = proba.argmax(axis=1)
    return {
        "exact_accuracy": exact_accuracy(target, pred),
        "within_one_accuracy": within_one_accuracy(target, pred),
        "log_loss": log_loss(target, proba),
        "macro_f1": macro_f1(target, pred),
        "quadratic_weighted_kappa": quadratic_weighted_kappa(target, pred),
        "expected_calibration_error": expected_calibration_error(target, proba),
    }


# ---------------------------------------------------------------------------
# Tables and figures (Figures are built with the object API: no pyplot state)
# ---------------------------------------------------------------------------

def metrics_table(result) -> pd.DataFrame:
    """Model vs baselines vs ceiling: one row per metric, mean and std columns."""
    sources: dict[str, dict[str, Any]] = {"model": result.cv_metrics, **result.baselines}
    rows: dict[str, dict[str, float]] = {}
    names = [m for m in METRIC_NAMES if m not in ("confusion_matrix", "recall_per_division")]
    for metric in names:
        row = {}
        for source, metrics in sources.items():
            row[f"{source}_mean"] = metrics[metric]["mean"]
            row[f"{source}_std"] = metrics[metric]["std"]
        row["bayes_ceiling"] = (result.bayes_ceiling or {}).get(metric, float("nan"))
        rows[metric] = row
    for division in DIVISIONS:
        row = {}
        for source, metrics in sources.items():
            row[f"{source}_mean"] = metrics["recall_per_division"][division]["mean"]
            row[f"{source}_std"] = metrics["recall_per_division"][division]["std"]
        row["bayes_ceiling"] = float("nan")
        rows[f"recall {division}"] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "metric"
    return table


def _data_parts(data) -> tuple[pd.DataFrame, pd.Series, str]:
    return data.frame, data.target, data.position


def plot_class_balance(data) -> Figure:
    """Bar chart of rows per division (``data``: a TrainingData)."""
    _, target, position = _data_parts(data)
    counts = target.value_counts().reindex(DIVISIONS, fill_value=0)
    fig = Figure(figsize=(6, 3.5), layout="constrained")
    ax = fig.add_subplot()
    bars = ax.bar(list(DIVISIONS), counts.to_numpy(), color="#4477aa")
    ax.bar_label(bars, labels=[f"{c} ({c / max(len(target), 1):.0%})" for c in counts])
    ax.set_ylabel("athletes")
    ax.set_title(f"{position.upper()}: rows per division")
    return fig


def plot_inputs_by_division(data, columns: Sequence[str] | None = None) -> Figure:
    """Box plots of key inputs by division (missing values left out, counts in labels)."""
    frame, target, position = _data_parts(data)
    if columns is None:
        columns = ["height_inches", "weight_lbs", "forty_yard_dash", "vertical_jump",
                   schema.PRODUCTION_COLUMN[position], "senior_tds"]
    n = len(columns)
    ncols = 3
    nrows = max(1, math.ceil(n / ncols))
    fig = Figure(figsize=(4 * ncols, 3 * nrows), layout="constrained")
    for i, col in enumerate(columns):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        groups = [frame.loc[target == d, col].dropna().to_numpy() for d in DIVISIONS]
        ax.boxplot([g if g.size else [np.nan] for g in groups], showfliers=False)
        ax.set_xticks(range(1, len(DIVISIONS) + 1),
                      [f"{d}\n(n={g.size})" for d, g in zip(DIVISIONS, groups, strict=True)],
                      fontsize=8)
        unit = schema.column(position, col).unit
        ax.set_title(f"{col} ({unit})", fontsize=9)
    fig.suptitle(f"{position.upper()}: inputs by division")
    return fig


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
    ax.set_xticks(range(len(DIVISIONS)), DIVISIONS)
    ax.set_yticks(range(len(DIVISIONS)), DIVISIONS)
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
    ece = result.cv_metrics["expected_calibration_error"]["mean"]
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
    ax.set_title(f"{result.position.upper()}: calibration (ECE {ece:.3f})")
    ax.legend(loc="upper left")
    return fig


def _reusable_fold_models(result, data, n_folds: int) -> list | None:
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
    if oof_target is None or not np.array_equal(oof_target, encode_divisions(data.target)):
        return None
    return list(models)


def _log_loss_unchecked(codes: np.ndarray, proba) -> float:
    """:func:`log_loss` for ordinal codes, bit for bit, without scikit-learn's input checks.

    Permutation importance scores a few hundred predictions of the same rows;
    there scikit-learn's validation (label binarizing, dtype checks) cost
    more than the prediction.  The arithmetic is the same as
    ``sklearn.metrics.log_loss`` (clip to [eps, 1 - eps], ``xlogy`` of the
    true class, mean), so the value is identical; tests/test_evaluate.py checks it.
    """
    p = np.clip(np.asarray(proba, dtype="float64"), PROBA_EPS, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    eps = np.finfo("float64").eps
    picked = np.clip(p, eps, 1 - eps)[np.arange(len(codes)), codes]
    return float(np.mean(-_xlogy(1.0, picked)))


def _neg_log_loss(estimator, X, y) -> float:
    # sklearn's "neg_log_loss" scorer assumes classes_ sorted alphabetically;
    # ours are in division order, so the score is computed here instead.
    return -_log_loss_unchecked(encode_divisions(y), estimator.predict_proba(X))


def _exact(estimator, X, y) -> float:
    return exact_accuracy(y, estimator.predict(X))


_SCORERS = {"neg_log_loss": _neg_log_loss, "accuracy": _exact}


def permutation_importance_cv(result, data, *, n_repeats: int = 5,
                              scoring: str = "neg_log_loss") -> pd.DataFrame:
    """Permutation importance of each raw input column, on held-out folds only.

    Each fold's model is fitted on that fold's training rows of the same
    stratified split (``cv_folds``, ``seed``) as the cross-validation, and
    each column is permuted in that fold's held-out rows; importances are
    the drop in ``scoring`` (``"neg_log_loss"`` or ``"accuracy"``),
    averaged over folds and repeats.  The fold models kept by
    :func:`recruit_reveal.modeling.training.train_position` (``result.fold_models``)
    are reused when ``data`` is the data they were trained on; otherwise a
    clone of the pipeline (same estimator, params and seed) is re-fitted
    per fold, which gives the same models at a higher cost.
    """
    if scoring not in _SCORERS:
        raise ValueError(f"scoring must be one of {', '.join(_SCORERS)}, got {scoring!r}")
    frame, target, _ = _data_parts(data)
    folds = stratified_folds(target, result.cv_folds, result.seed)
    reusable = _reusable_fold_models(result, data, len(folds))
    # Encoded once: the scorer runs once per column and repeat on the same rows.
    codes = encode_divisions(target)
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


def plot_permutation_importance(result, data, *, n_repeats: int = 5,
                                scoring: str = "neg_log_loss") -> Figure:
    """Bar chart of :func:`permutation_importance_cv` (held-out folds only)."""
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
        ax.bar(x + i * width, [values[m]["mean"] for m in metrics], width,
               yerr=[values[m]["std"] for m in metrics], label=name)
    if result.bayes_ceiling:
        ceiling = [result.bayes_ceiling.get(m, np.nan) for m in metrics]
        ax.bar(x + len(sources) * width, ceiling, width, label="Bayes ceiling", color="#999999")
    ax.set_xticks(x + width * len(sources) / 2, [m.replace("_", " ") for m in metrics])
    ax.set_ylim(0, 1.05)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"{result.position.upper()}: model vs baselines ({result.cv_folds}-fold CV)")
    return fig
