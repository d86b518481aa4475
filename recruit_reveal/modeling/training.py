"""``train_position``: the one training function both engines call.

The notebook template and the direct engine (``recruit-reveal train
--engine direct``) call the same functions in the same order, so a model
trained either way predicts identically for the same data and seed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from .. import schema
from ..catalog import PositionSpec
from ..errors import TrainingError
from .input_profile import division_mix, input_profile
from .summaries import metric_mean

logger = logging.getLogger(__name__)


@dataclass
class TrainingResult:
    """Everything a training run produced, ready for :mod:`recruit_reveal.artifacts.writer`.

    Metric dictionaries map a metric name to ``{"mean": float, "std": float}``
    over the CV folds (see :mod:`recruit_reveal.modeling.summaries` for the names).
    Nothing here holds athlete names or raw rows except ``oof_proba``, which
    is kept for figures and never written to an artifact.
    """

    position: str
    pipeline: Any
    estimator: str
    params: dict[str, Any]
    seed: int
    cv_folds: int
    cv_metrics: dict[str, Any]
    baselines: dict[str, dict[str, Any]]
    bayes_ceiling: dict[str, float] | None
    data_fingerprint: dict[str, Any]
    features: list[str]
    input_schema: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    validation_warnings: list[str] = field(default_factory=list)
    #: Median of each numeric input over the training rows: the position's
    #: "typical athlete", used by explanations.top_factors.  Aggregates only.
    typical_values: dict[str, float] = field(default_factory=dict)
    #: Per input, the training rows' percentiles, usual range and missing share
    #: (:func:`recruit_reveal.modeling.input_profile.input_profile`); aggregates only.
    input_profile: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Share of the training rows in each level of the ladder.
    division_mix: dict[str, float] = field(default_factory=dict)
    #: The ladder's levels, lowest first (the model's probability columns; the spec's).
    classes: tuple[str, ...] = ()
    #: The rolling-origin backtest by class year with its comparison with shuffled CV
    #: (:mod:`recruit_reveal.modeling.backtest`); None without a class-year input with
    #: at least three classes.
    backtest: dict[str, Any] | None = None
    oof_proba: np.ndarray | None = field(default=None, repr=False)
    #: Ordinal codes (0 = the lowest level) of the rows behind ``oof_proba``,
    #: for the calibration figure.  Like ``oof_proba``, never written to an artifact.
    oof_target: np.ndarray | None = field(default=None, repr=False)
    #: The CV fold models (fold order of ``cross_validation.stratified_folds(target,
    #: cv_folds, seed)``), kept so permutation importance scores held-out rows without
    #: refitting.
    #: In memory only: export writes named fields and pickles ``pipeline`` alone.
    fold_models: list[Any] = field(default_factory=list, repr=False, compare=False)
    #: The spec the model was trained with: its ``to_dict()`` and ``digest`` are what the
    #: metadata embeds, so a server needs no catalog to serve the model.  Left out, it is
    #: ``position``'s in the active catalog.
    spec: PositionSpec = field(default=cast(PositionSpec, None))

    def __post_init__(self) -> None:
        if self.spec is None:
            self.spec = schema.spec_of(self.position)
        if not self.classes:
            self.classes = self.spec.levels

    @property
    def partial_profiles(self) -> dict[str, Any] | None:
        """Aggregates behind predictions without a per-game rate (games histogram, rate
        spread), from the pipeline; None for a pipeline without them."""
        from recruit_reveal.modeling.partial_profiles import summary

        return summary(self.pipeline)

    def headline(self) -> dict[str, float]:
        """Mean CV exact and within-one accuracy, the two figures quoted everywhere."""
        return {
            "exact_accuracy": metric_mean(self.cv_metrics, "exact_accuracy"),
            "within_one_accuracy": metric_mean(self.cv_metrics, "within_one_accuracy"),
        }


def _load(data, spec: PositionSpec, position: schema.PositionLike):
    """A TrainingData for ``position`` from a CSV path or an existing TrainingData."""
    if isinstance(data, str | Path):
        from recruit_reveal.data.loading import load_training_data

        # The loader reads a position by its key (in the active catalog).
        return load_training_data(data, position if isinstance(position, str) else spec.key)
    if not all(hasattr(data, a) for a in ("frame", "target", "position")):
        raise TrainingError(
            f"data must be a CSV path or a TrainingData, got {type(data).__name__}")
    held = data.position.key if isinstance(data.position, PositionSpec) else data.position
    if str(held).strip().lower() != spec.key:
        raise TrainingError(
            f"the TrainingData holds position {held!r}, but {spec.key!r} was requested")
    return data


def _check_folds(cv_folds: object, rows_per_division: dict[str, int], file: str) -> int:
    if isinstance(cv_folds, bool) or not isinstance(cv_folds, int | np.integer):
        raise TrainingError(f"cv_folds must be an integer >= 2, got {cv_folds!r}")
    if cv_folds < 2:
        raise TrainingError(f"cv_folds must be at least 2, got {cv_folds}")
    present = {d: n for d, n in rows_per_division.items() if n > 0}
    if not present:
        raise TrainingError(f"{file}: no rows to train on")
    smallest = min(present, key=lambda division: present[division])
    if present[smallest] < cv_folds:
        raise TrainingError(
            f"{file}: cv_folds={cv_folds} needs at least {cv_folds} rows in every division, "
            f"but {smallest} has {present[smallest]}; lower cv_folds or add rows")
    if len(present) < 2:
        raise TrainingError(f"{file}: only one division ({smallest}) present; "
                            "a classifier needs at least two")
    return int(cv_folds)


def _fingerprint(data, rows_per_division: dict[str, int]) -> dict[str, Any]:
    path = getattr(data, "path", None)
    fingerprint: dict[str, Any] = {
        "file": Path(path).name if path is not None else None,
        "sha256": getattr(data, "sha256", None) or None,
        "rows": int(len(data.frame)),
        "rows_per_division": rows_per_division,
    }
    if getattr(data, "source", None):
        fingerprint.update(source=dict(data.source), content_digest=data.content_digest)
    counts = getattr(data, "row_counts", None)
    if counts is not None and counts.data_rows:
        # How the file was read and where every row went: aggregates only, no rows.
        fingerprint.update(
            rows_in_file=counts.data_rows, rows_rejected=counts.rejected,
            rows_skipped=counts.skipped, rows_other_positions=dict(counts.other_positions),
            invalid_rows=data.invalid_rows, column_mapping=dict(data.column_mapping),
            rejected_by_rule=[{"column": g.column, "rule": g.rule, "count": g.count}
                              for g in data.problem_groups])
    return fingerprint


def _typical_values(frame, spec: PositionSpec) -> dict[str, float]:
    out = {}
    for col in spec.numeric:
        if col.name in frame:
            values = frame[col.name].astype("float64")
            if values.notna().any():
                out[col.name] = float(values.median())
    return out


def _is_synthetic(data) -> bool:
    path = getattr(data, "path", None)
    if path is None or not Path(path).is_file():
        return False
    from recruit_reveal.data import synthetic

    return bool(synthetic.is_synthetic_sample(path))


def train_position(data, position: schema.PositionLike, *, seed: int = 42, cv_folds: int = 5,
                   params: dict[str, Any] | None = None, estimator: str | None = None,
                   n_jobs: int = 1, bayes: bool | None = None,
                   backtest_classes: int = 3) -> TrainingResult:
    """Cross-validate, score baselines and the ceiling, then fit the final model of a position.

    ``data`` is a CSV path (loaded with :func:`recruit_reveal.data.loading.load_training_data`)
    or a ``TrainingData``.  ``params`` overrides the estimator's defaults
    (see :func:`recruit_reveal.modeling.estimators.build_pipeline`) and may name the
    estimator as ``params["estimator"]``; ``estimator`` defaults to
    :data:`recruit_reveal.modeling.estimators.DEFAULT_ESTIMATOR`.  ``n_jobs`` runs CV
    folds in parallel and never changes the results.  ``bayes`` forces
    (True) or skips (False) the Bayes ceiling; by default it is computed
    when the CSV is the synthetic sample.  ``backtest_classes``: how many of the last
    class years the rolling-origin backtest scores (it never changes the final model).
    ``params["recency_half_life"]`` (years) weights the backtest's fits and the final fit
    by class age (:func:`recruit_reveal.modeling.backtest.recency_weights`); shuffled CV
    stays unweighted, so judge the option by the backtest.

    ``position`` is a key of the active catalog, a spec or its plain data, resolved
    once here; the result's ``spec`` is the spec the model was trained with.

    Raises :class:`TrainingError` for unusable parameters and
    :class:`DataValidationError` for a bad CSV.
    """
    from recruit_reveal.modeling.estimators import build_pipeline, resolve_params

    spec = schema.spec_of(position)
    estimator, params = _choose_estimator(estimator, params)
    # Recency weighting rides in params like the estimator (the runner passes only params).
    half_life = params.pop("recency_half_life", None)
    timings: dict[str, float] = {}

    # Parameters are checked before the (possibly slow) load, so a typo fails fast.
    resolved = resolve_params(estimator, params, spec)
    # A key stays a key in the pipeline (resolved in fit, under this run's catalog).
    given = position if isinstance(position, str) else spec.to_dict()
    pipeline = build_pipeline(given, estimator, params, seed)

    with _timed(timings, "load"):
        data = _load(data, spec, given)
    frame, target = data.frame, data.target
    rows_per_division = {d: int((target == d).sum()) for d in spec.levels}
    file = getattr(data, "path", None)
    file = Path(file).name if file is not None else "training data"
    cv_folds = _check_folds(cv_folds, rows_per_division, file)
    # The loader has already logged its own findings; only ours are logged below.
    loader_warnings = [str(p) for p in getattr(data, "warnings", [])]
    warnings = _data_warnings(data, rows_per_division, file)
    logger.info("training %s on %s rows (%s), %s-fold CV, estimator %s, seed %s",
                spec.key, len(frame), rows_per_division, cv_folds, estimator, seed)

    cv = _cross_validate(pipeline, data, cv_folds, seed, n_jobs, timings, spec)
    warnings += _recall_warnings(cv.metrics, rows_per_division)

    baselines, ceiling = _references(data, given, cv.folds, bayes, timings)
    with _timed(timings, "backtest"):
        backtest = _backtest(pipeline, data, spec, backtest_classes, ceiling is not None,
                             cv.metrics, half_life)
    _final_fit(pipeline, frame, target, given, timings, _final_weights(frame, spec, half_life))

    for message in warnings:
        logger.warning(message)
    _log_outcome(spec.key, cv.metrics, baselines)
    result = _result(data, spec, pipeline, estimator, resolved, seed, cv_folds, cv, baselines,
                     ceiling, rows_per_division, timings, loader_warnings + warnings)
    if backtest is not None:
        _class_year_verdict(backtest, any(str(spec.class_year) in str(name)
                                          for name in result.features))
    result.backtest = backtest
    return result


def _final_weights(frame: Any, spec: PositionSpec, half_life: Any) -> Any:
    """Recency weights for the served model (None without a half-life): the newest class
    counts fully; a row without a class year counts like the oldest class."""
    if half_life is None:
        return None
    from recruit_reveal.modeling.backtest import class_years, recency_weights

    years = class_years(frame, spec)
    if years is None or np.isnan(years).all():
        raise TrainingError(f"recency_half_life needs a class-year input with values "
                            f"({spec.key} has {spec.class_year or 'none'})")
    years = np.where(np.isnan(years), np.nanmin(years), years)
    return recency_weights(years, float(years.max()), half_life)


def _backtest(pipeline: Any, data: Any, spec: PositionSpec, classes: int, bayes: bool,
              cv_metrics: dict[str, Any], half_life: Any = None) -> dict[str, Any] | None:
    """The next-class backtest beside shuffled CV (the ceiling per class when the
    generator's posterior applies, as for the CV ceiling)."""
    from recruit_reveal.modeling.backtest import backtest, class_year_trial, compare_with_cv

    posterior = None
    if bayes:
        from recruit_reveal.data.posterior import true_proba

        def posterior(rows: Any) -> Any:
            return true_proba(rows, spec.key)
    result = backtest(pipeline, data.frame, data.target, spec, classes=classes,
                      half_life=half_life, posterior=posterior)
    if result is not None:
        result["comparison"] = compare_with_cv(result, cv_metrics)
        result["class_year_trial"] = class_year_trial(
            pipeline, data.frame, data.target, spec, classes=classes, half_life=half_life)
    return result


def _class_year_verdict(backtest: dict[str, Any], in_model: bool) -> None:
    """Whether the class year is a model input, and whether the backtest says it should be
    (the served model is not changed by it: the record states the evidence)."""
    backtest["class_year_in_model"] = in_model
    trial = backtest.get("class_year_trial")
    if not trial:
        return
    mine = [c["log_loss"] for c in backtest["classes"]]
    with_year, without = ((backtest, trial) if in_model else (trial, backtest))
    pairs = zip(mine, trial["class_log_loss"], strict=True)
    # Helps only when it lowers the log loss of every backtested class: a mean gain
    # inside the class-to-class noise is no evidence.
    helps = all((a < b) if in_model else (b < a) for a, b in pairs)
    backtest["class_year_helps"] = bool(helps)
    backtest["class_year_verdict"] = (
        f"with the class year as an input the next-class log loss is "
        f"{with_year['log_loss']['mean']:.3f}, without it {without['log_loss']['mean']:.3f}: "
        f"it {'helps' if helps else 'does not help'} in every backtested class; the model "
        f"{'uses' if in_model else 'leaves out'} the class year")


def _references(data: Any, position: schema.PositionLike, folds: Any, bayes: bool | None,
                timings: dict[str, float]) -> tuple[Any, Any]:
    """The baselines on the CV folds, and the Bayes ceiling when asked for (by default:
    on the synthetic sample)."""
    from recruit_reveal.modeling.baselines import bayes_ceiling, run_baselines

    with _timed(timings, "baselines"):
        baselines = run_baselines(data.frame, data.target, position, folds)
    ceiling = None
    if bayes if bayes is not None else _is_synthetic(data):
        with _timed(timings, "bayes_ceiling"):
            ceiling = bayes_ceiling(data.frame, data.target, position)
    return baselines, ceiling


def _final_fit(pipeline: Any, frame: Any, target: Any, position: schema.PositionLike,
               timings: dict[str, float], weights: Any = None) -> None:
    """Fit the served model on every row, and what it needs for athletes whose per-game
    production is unknown (the measurables-only model and the games histogram)."""
    from recruit_reveal.modeling.backtest import fit_weighted
    from recruit_reveal.modeling.partial_profiles import fit_partial_profiles

    with _timed(timings, "final_fit"):
        fit_weighted(pipeline, frame, target, weights)
    with _timed(timings, "partial_profiles"):
        fit_partial_profiles(pipeline, frame, target, position)


def _choose_estimator(estimator: str | None,
                      params: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """The estimator's name and its parameters without it.

    The runner and CLI pass only ``params``, so the estimator may ride in there.
    """
    from recruit_reveal.modeling.estimators import DEFAULT_ESTIMATOR

    params = dict(params or {})
    in_params = params.pop("estimator", None)
    if in_params is not None and estimator is not None and in_params != estimator:
        raise TrainingError(f"estimator given twice: {estimator!r} and params['estimator']="
                            f"{in_params!r}")
    return estimator or in_params or DEFAULT_ESTIMATOR, params


@contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    """Record the seconds the block took as ``timings[step]`` (only when it succeeds)."""
    start = time.perf_counter()
    yield
    timings[step] = time.perf_counter() - start


def _data_warnings(data, rows_per_division: dict[str, int], file: str) -> list[str]:
    """What about the rows limits the model: ignored, empty columns and absent divisions."""
    warnings: list[str] = []
    unknown = list(getattr(data, "unknown_columns", []))
    if unknown:
        warnings.append(f"{file}: ignored unknown column(s): {', '.join(unknown)}")
    for name in data.frame.columns:
        if data.frame[name].isna().all():
            warnings.append(f"{file}: column '{name}' has no values; the model cannot use it")
    for division, n in rows_per_division.items():
        if n == 0:
            warnings.append(f"{file}: no {division} rows; the model will never predict it")
    return warnings


@dataclass
class _CrossValidation:
    folds: list[tuple[np.ndarray, np.ndarray]]
    metrics: dict[str, Any]
    oof_proba: np.ndarray
    fold_models: list[Any]


def _cross_validate(pipeline, data, cv_folds: int, seed: int, n_jobs: int,
                    timings: dict[str, float], spec: PositionSpec) -> _CrossValidation:
    from recruit_reveal.modeling.cross_validation import cross_validate, stratified_folds

    with _timed(timings, "cv"):
        folds = stratified_folds(data.target, cv_folds, seed, spec.ladder)
        fold_models: list[Any] = []
        metrics, oof_proba = cross_validate(pipeline, data.frame, data.target, folds,
                                            n_jobs=n_jobs, fold_models=fold_models,
                                            ladder=spec.ladder)
    return _CrossValidation(folds, metrics, oof_proba, fold_models)


def _recall_warnings(cv_metrics: dict[str, Any], rows_per_division: dict[str, int]) -> list[str]:
    return [f"the model never predicted {division} correctly in CV "
            "(recall 0); consider params={'class_weight': 'balanced'}"
            for division in rows_per_division
            if rows_per_division[division]
            and metric_mean(cv_metrics["recall_per_division"], division) == 0]


def _log_outcome(position: str, cv_metrics: dict[str, Any],
                 baselines: dict[str, dict[str, Any]]) -> None:
    rules = baselines.get("rule_based")  # none for a position without tiers
    logger.info("%s: CV exact %.3f, within-one %.3f (rule-based %s, majority %.3f)",
                position, metric_mean(cv_metrics, "exact_accuracy"),
                metric_mean(cv_metrics, "within_one_accuracy"),
                "none" if rules is None else f"{metric_mean(rules, 'exact_accuracy'):.3f}",
                metric_mean(baselines["majority"], "exact_accuracy"))


def _result(data, spec: PositionSpec, pipeline, estimator: str, resolved: dict[str, Any], seed: int,
            cv_folds: int, cv: _CrossValidation, baselines: dict[str, dict[str, Any]],
            ceiling: dict[str, float] | None, rows_per_division: dict[str, int],
            timings: dict[str, float], warnings: list[str]) -> TrainingResult:
    from recruit_reveal.modeling.estimators import encode_divisions
    from recruit_reveal.modeling.features import DerivedFeatures

    features: DerivedFeatures = pipeline.named_steps["features"]
    return TrainingResult(
        position=spec.key,
        spec=spec,
        pipeline=pipeline,
        estimator=estimator,
        params=resolved,
        seed=seed,
        cv_folds=cv_folds,
        cv_metrics=cv.metrics,
        baselines=baselines,
        bayes_ceiling=ceiling,
        data_fingerprint=_fingerprint(data, rows_per_division),
        features=[str(n) for n in features.get_feature_names_out()],
        input_schema=schema.input_schema(spec),
        timings=timings,
        validation_warnings=warnings,
        typical_values=_typical_values(data.frame, spec),
        input_profile=input_profile(data.frame, spec),
        division_mix=division_mix(data.target, spec.levels),
        classes=spec.levels,
        oof_proba=cv.oof_proba,
        oof_target=encode_divisions(data.target, spec.ladder),
        fold_models=cv.fold_models,
    )
