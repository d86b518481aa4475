"""Rolling-origin backtest by class year, recency weights and prior-shift correction.

Shuffled cross-validation mixes every class into every fold, so it answers "how well
does the model do on athletes like the ones it saw".  A scout asks about the next class:
:func:`backtest` trains on the classes before ``Y`` and scores class ``Y``, for each of
the last ``k`` classes.  When the level mix moves from class to class the two figures
part, and :func:`compare_with_cv` says so.

Two options serve the next class and are judged here, never by shuffled CV:

* recency weighting (:func:`recency_weights`): rows of older classes count less, halving
  every ``half_life`` years; it assumes the recent classes look most like the next one;
* prior-shift correction (:func:`shift_priors`, :func:`estimate_mix`): the model's
  probabilities are re-weighted to a target level mix, given or estimated from the
  unlabelled rows with the EM method of Saerens, Latinne and Decaestecker (2002); it
  assumes only the mix moved (``P(inputs | level)`` is the same in every class).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils.validation import has_fit_parameter

from ..catalog import PositionSpec
from ..errors import TrainingError
from .estimators import encode_divisions
from .metrics import exact_accuracy, log_loss

#: How many of the last classes are backtested unless told otherwise.
DEFAULT_CLASSES = 3
#: Fewest distinct classes a backtest needs (at least two to train on, one to test).
MIN_CLASSES = 3
PRIOR_SHIFT_OPTIONS = (None, "em")


def recency_weights(years: np.ndarray, origin: float, half_life: float | None
                    ) -> np.ndarray | None:
    """Sample weights that halve every ``half_life`` years of class age before ``origin``
    (None without a half-life: every row counts alike, and the fit takes no weights)."""
    years = np.asarray(years, dtype=float)
    if half_life is None:
        return None
    if not half_life > 0:
        raise TrainingError(f"half_life must be a positive number of years, got {half_life!r}")
    return np.power(0.5, np.maximum(origin - years, 0.0) / float(half_life))


def fit_weighted(pipeline: Any, frame: Any, target: Any, weights: np.ndarray | None) -> Any:
    """``pipeline`` fitted with sample weights (none: the plain fit, unchanged); an
    estimator that takes no weights (LDA) is a TrainingError naming it."""
    if weights is None:
        return pipeline.fit(frame, target)
    step = pipeline.steps[-1][1]
    inner = getattr(step, "estimator", step)
    if not has_fit_parameter(inner, "sample_weight"):
        raise TrainingError(f"recency_half_life weights the rows, and the estimator "
                            f"{type(inner).__name__} takes no sample weights; choose "
                            "another estimator or leave recency_half_life unset")
    return pipeline.fit(frame, target, classifier__sample_weight=weights)


def shift_priors(proba: np.ndarray, train_mix: np.ndarray, target_mix: np.ndarray) -> np.ndarray:
    """Probabilities re-weighted from the training level mix to ``target_mix`` (Bayes'
    rule with the likelihoods unchanged), rows renormalised."""
    ratio = np.asarray(target_mix, float) / np.clip(np.asarray(train_mix, float), 1e-12, None)
    out = np.asarray(proba, float) * ratio[None, :]
    return out / np.clip(out.sum(axis=1, keepdims=True), 1e-300, None)


def estimate_mix(proba: np.ndarray, train_mix: np.ndarray, *, max_iter: int = 200,
                 tol: float = 1e-8) -> np.ndarray:
    """The level mix of unlabelled rows by EM (Saerens et al. 2002): re-weight the
    posteriors to the current mix estimate, take their mean as the next estimate."""
    train = np.clip(np.asarray(train_mix, float), 1e-12, None)
    mix = train.copy()
    for _ in range(max_iter):
        new = shift_priors(proba, train, mix).mean(axis=0)
        if np.abs(new - mix).max() < tol:
            return new
        mix = new
    return mix


def class_years(frame: pd.DataFrame, spec: PositionSpec) -> np.ndarray | None:
    """The class year of every row (NaN when missing), or None without a class-year input."""
    name = spec.class_year
    if name is None or name not in frame.columns:
        return None
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)


def backtest(pipeline: Any, frame: pd.DataFrame, target: pd.Series, spec: PositionSpec, *,
             classes: int = DEFAULT_CLASSES, half_life: float | None = None,
             prior_shift: str | None = None,
             posterior: Callable[[pd.DataFrame], np.ndarray] | None = None) -> dict[str, Any] | None:
    """Train on the classes before ``Y``, score class ``Y``, for the last ``classes`` classes.

    None when the data has no class-year input or fewer than :data:`MIN_CLASSES` classes.
    ``posterior`` (the generator's exact one, on synthetic data) adds the Bayes ceiling of
    each class.  Rows without a class year are never scored and never trained on.
    """
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise TrainingError(f"backtest classes must be a positive integer, got {classes!r}")
    if prior_shift not in PRIOR_SHIFT_OPTIONS:
        raise TrainingError(f"prior_shift must be one of {PRIOR_SHIFT_OPTIONS}, got {prior_shift!r}")
    years = class_years(frame, spec)
    if years is None:
        return None
    distinct = np.unique(years[~np.isnan(years)])
    if len(distinct) < MIN_CLASSES:
        return None
    per_class = [_one_class(pipeline, frame, target, spec, years, year, half_life,
                            prior_shift, posterior)
                 for year in distinct[-min(classes, len(distinct) - 1):]]
    return {
        "class_year": spec.class_year,
        "options": {"half_life": half_life, "prior_shift": prior_shift},
        "classes": per_class,
        **{m: _summary([c[m] for c in per_class]) for m in ("log_loss", "exact_accuracy")},
    }


def class_year_trial(pipeline: Any, frame: pd.DataFrame, target: pd.Series,
                     spec: PositionSpec, **options: Any) -> dict[str, Any] | None:
    """The backtest again with the class year's place flipped (added as an input when the
    pipeline leaves it out, left out when it uses it): the evidence for where it belongs.
    A model given the year can only extrapolate a trend past the last class it saw."""
    year = spec.class_year
    features = pipeline.named_steps["features"]
    current = list(features.exclude if features.exclude is not None else spec.exclude)
    uses = year not in current
    flipped = [*current, year] if uses else [e for e in current if e != year]
    record = backtest(clone(pipeline).set_params(features__exclude=flipped), frame, target,
                      spec, **options)
    if record is None:
        return None
    return {"class_year_in_model": not uses, "log_loss": record["log_loss"],
            "exact_accuracy": record["exact_accuracy"],
            "class_log_loss": [c["log_loss"] for c in record["classes"]]}


def _one_class(pipeline: Any, frame: pd.DataFrame, target: pd.Series, spec: PositionSpec,
               years: np.ndarray, year: float, half_life: float | None,
               prior_shift: str | None,
               posterior: Callable[[pd.DataFrame], np.ndarray] | None) -> dict[str, Any]:
    train, test = years < year, years == year
    codes = encode_divisions(target[train], spec.ladder)
    if len(np.unique(codes)) < 2:
        raise TrainingError(f"backtest of class {year:g}: the classes before it hold only "
                            "one level; a classifier needs at least two")
    weights = recency_weights(years[train], year, half_life)
    model = fit_weighted(clone(pipeline), frame[train], target[train], weights)
    proba = np.asarray(model.predict_proba(frame[test]), dtype=float)
    if prior_shift == "em":
        # The class's own rows, unlabelled, stand in for the traffic of the next class.
        train_mix = np.bincount(codes, weights=weights, minlength=len(spec.levels))
        train_mix = train_mix / train_mix.sum()
        proba = shift_priors(proba, train_mix, estimate_mix(proba, train_mix))
    truth = target[test]
    out: dict[str, Any] = {
        "year": int(year) if float(year).is_integer() else float(year),
        "train_rows": int(train.sum()), "rows": int(test.sum()),
        "log_loss": log_loss(truth, proba, spec.ladder),
        "exact_accuracy": exact_accuracy(truth, proba.argmax(axis=1), spec.ladder),
    }
    if posterior is not None:
        best = np.asarray(posterior(frame[test]), dtype=float)
        out["bayes_log_loss"] = log_loss(truth, best, spec.ladder)
        out["bayes_exact_accuracy"] = exact_accuracy(truth, best.argmax(axis=1), spec.ladder)
    return out


def _summary(values: list[float]) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "std": float(np.std(values))}


def compare_with_cv(result: dict[str, Any], cv_metrics: dict[str, Any]) -> dict[str, Any]:
    """Whether shuffled CV beats the backtest's log loss by more than the fold noise.

    The noise is the fold standard deviation of CV and the class standard deviation of
    the backtest, combined (``sqrt(a^2 + b^2)``): a gap inside it is what two honest
    estimates of the same error differ by.
    """
    cv = cv_metrics["log_loss"]
    gap = float(result["log_loss"]["mean"] - cv["mean"])
    noise = float(np.hypot(cv["std"], result["log_loss"]["std"]))
    flatters = gap > noise
    verdict = (f"shuffled CV flatters the model: its log loss {cv['mean']:.3f} beats the "
               f"next-class backtest's {result['log_loss']['mean']:.3f} by {gap:.3f}, more "
               f"than the fold noise {noise:.3f}; quote the backtest for the next class"
               if flatters else
               f"shuffled CV and the next-class backtest agree (log loss {cv['mean']:.3f} "
               f"vs {result['log_loss']['mean']:.3f}, gap {gap:+.3f} within the fold "
               f"noise {noise:.3f})")
    return {"log_loss_gap": gap, "noise": noise, "cv_flatters": flatters, "verdict": verdict}
