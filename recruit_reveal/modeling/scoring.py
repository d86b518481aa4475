"""The fast scoring path: an exported pipeline's arithmetic on plain numpy arrays.

Serving scores one athlete and a few hundred what-if candidates per request.
Through the scikit-learn pipeline every call pays for pandas and per-call
input validation, about a millisecond, around a handful of dot products.
:func:`build_scorer` compiles a fitted pipeline of the shape
:func:`recruit_reveal.modeling.estimators.build_pipeline` makes::

    DerivedFeatures -> SimpleImputer -> StandardScaler -> DivisionClassifier(
        LogisticRegression | LinearDiscriminantAnalysis
        | CumulativeOrdinalClassifier(LogisticRegression | LinearDiscriminantAnalysis))

into a :class:`FastScorer` (its parts are in :mod:`.compiled`): the derived
features of the fitted :class:`~recruit_reveal.modeling.features.DerivedFeatures` (its fitted norms,
combine Gaussian and typical games; conditional-mean coefficients solved once),
the imputer's fill values, and the linear models with the scaling folded into
their weights.  It then checks the scorer against the pipeline's own
``predict_proba`` on :func:`reference_rows` (generated from the position's
typical athlete and the sample athletes; no training row is stored anywhere):
the largest absolute difference must be at most :data:`CHECK_TOLERANCE`.

A pipeline of another shape (the HGB estimators, a tampered step) or one that
fails the check gets a :class:`PipelineScorer` instead, the pipeline behind the
same interface, and its ``reason`` says why (the API shows it in /health).

Both take ``predict_arrays(x, state)``: ``x`` the numeric input columns of the
position in schema order (float64, NaN for missing; finite otherwise, as the
API guarantees: there is no per-call validation) and ``state`` the state codes
(text, or None/NaN for missing); they return (n, levels) probabilities in the
order of the model's ladder.  The position's spec comes from the fitted pipeline
itself (its features' ``spec_``), so no catalog is needed to build a scorer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

import numpy as np

from .. import schema
from ..catalog import PositionSpec
from . import probabilities
from .compiled import CompiledFeatures, CompiledModel, UnsupportedPipeline, state_tiers
from .partial_profiles import PartialProfiles, profiles_for
from .reference import model_spec, reference_rows

__all__ = ["CHECK_TOLERANCE", "FastScorer", "PipelineScorer", "Scorer", "UnsupportedPipeline",
           "build_scorer", "compile_pipeline", "reference_rows", "state_tiers"]

#: Largest absolute difference in any probability allowed between the fast
#: path and the pipeline on the reference rows.
CHECK_TOLERANCE = 1e-9


class Scorer(Protocol):
    """What the API scores with: the fast path or the pipeline, one interface."""

    @property
    def position(self) -> str: ...
    @property
    def mode(self) -> Literal["fast", "pipeline"]: ...
    @property
    def reason(self) -> str:
        """Why this mode: the check's result, or why there is no fast path."""
    @property
    def decision(self) -> str:
        """The model's decision rule (``estimators.decide``)."""

    def predict_arrays(self, x: np.ndarray, state: np.ndarray) -> np.ndarray:
        """(n, levels) probabilities in ladder order of the rows of ``x`` and ``state``."""


@dataclass(frozen=True, eq=False)
class FastScorer:
    """A compiled pipeline (see the module docstring); build it with :func:`build_scorer`."""

    position: str
    decision: str
    features: CompiledFeatures
    model: CompiledModel
    reason: str = "not checked against the pipeline yet"
    mode: Literal["fast"] = "fast"
    #: Rows without a per-game rate (None: scored like any other row).
    profiles: PartialProfiles | None = None
    #: The spec the model carries (None: fitted before specs travelled with models).
    spec: PositionSpec | None = None

    def predict_arrays(self, x: np.ndarray, state: np.ndarray) -> np.ndarray:
        if self.profiles is None:
            return self._complete(x, state)
        return self.profiles.predict(self._complete, x, state)

    def _complete(self, x: np.ndarray, state: np.ndarray) -> np.ndarray:
        return self.model(self.features(x, self.features.state_tiers(state)))


@dataclass(frozen=True, eq=False)
class PipelineScorer:
    """The pipeline itself behind the scorer interface (the fallback)."""

    position: str
    pipeline: Any
    reason: str
    mode: Literal["pipeline"] = "pipeline"
    #: The spec the rows are laid out by (None: ``position`` in the active catalog).
    spec: schema.PositionLike | None = None
    #: Rows without a per-game rate (None: scored like any other row).
    profiles: PartialProfiles | None = None

    @property
    def decision(self) -> str:
        return probabilities.decision_rule(self.pipeline)

    def predict_arrays(self, x: np.ndarray, state: np.ndarray) -> np.ndarray:
        if self.profiles is None:
            return self._complete(x, state)
        return self.profiles.predict(self._complete, x, state)

    def _complete(self, x: np.ndarray, state: np.ndarray) -> np.ndarray:
        return probabilities.score_arrays(self.pipeline, x, state, self.spec or self.position)


def compile_pipeline(pipeline: Any, position: schema.PositionLike | None = None) -> FastScorer:
    """The fast path of a fitted pipeline, unchecked; UnsupportedPipeline if it has none
    (or if it was fitted for another position than ``position``, when given)."""
    from sklearn.pipeline import Pipeline

    if type(pipeline) is not Pipeline or len(pipeline.steps) < 2:
        raise UnsupportedPipeline(f"{type(pipeline).__name__} is not a feature-and-model "
                                  "Pipeline")
    # A key is compared as given: the pipeline carries its spec, no catalog is asked.
    key = position.strip().lower() if isinstance(position, str) else \
        None if position is None else schema.spec_of(position).key
    try:
        features = CompiledFeatures.compile(pipeline.steps[0][1], key)
        names = [str(n) for n in pipeline.steps[0][1].feature_names_out_]
        model = CompiledModel.compile(pipeline.steps[1:], [names.index(n) for n in features.order])
    except (AttributeError, KeyError, IndexError, TypeError, np.linalg.LinAlgError) as exc:
        raise UnsupportedPipeline(f"cannot read the fitted pipeline: {type(exc).__name__}: "
                                  f"{exc}") from exc
    data = getattr(pipeline.steps[0][1], "spec_", None)
    return FastScorer(features.position, probabilities.decision_rule(pipeline), features, model,
                      spec=PositionSpec.from_dict(data) if data else None)


def build_scorer(pipeline: Any, position: schema.PositionLike | None = None,
                 typical_values: dict[str, float] | None = None,
                 *, tolerance: float = CHECK_TOLERANCE) -> FastScorer | PipelineScorer:
    """The fast path of ``pipeline`` if it has one that matches the pipeline on the
    reference rows within ``tolerance``; otherwise the pipeline, with the reason.

    Rows without a per-game rate are answered by :mod:`.partial_profiles`, with the
    pipeline's measurables-only model built the same way (fast when it can be).

    The spec is the one the pipeline carries (``position`` is then a check, and may be
    None); a pipeline fitted before specs travelled with models takes ``position``'s."""
    try:
        spec = model_spec(pipeline, position)
    except ValueError as exc:  # fitted for another position: no fast path, the pipeline's
        if position is None:
            raise
        asked = schema.spec_of(position)
        return PipelineScorer(asked.key, pipeline, f"no fast path: {exc}", spec=asked)
    scorer = _checked_scorer(pipeline, spec, typical_values, tolerance)

    def measurables(model: Any) -> Any:
        return _checked_scorer(model, spec, typical_values, tolerance).predict_arrays

    return replace(scorer, profiles=profiles_for(pipeline, spec, measurables))


def _checked_scorer(pipeline: Any, spec: Any, typical_values: dict[str, float] | None,
                    tolerance: float) -> FastScorer | PipelineScorer:
    position = spec.key
    try:
        fast = compile_pipeline(pipeline, position)
    except UnsupportedPipeline as exc:
        return PipelineScorer(position, pipeline, f"no fast path: {exc}", spec=spec)
    x, state = reference_rows(spec, typical_values)
    try:
        want = probabilities.score_arrays(pipeline, x, state, spec)
        got = fast.predict_arrays(x, state)
        diff = float(np.max(np.abs(got - want))) if got.shape == want.shape else math.inf
    except Exception as exc:  # noqa: BLE001 - any failure means "use the pipeline"
        return PipelineScorer(position, pipeline, f"fast path not checked: the reference rows "
                              f"failed with {type(exc).__name__}: {exc}", spec=spec)
    if not diff <= tolerance:  # also NaN
        return PipelineScorer(position, pipeline, f"fast path differs from the pipeline by "
                              f"{diff:.3g} on {len(x)} reference rows (tolerance {tolerance:g})",
                              spec=spec)
    return replace(fast, reason=f"matches the pipeline on {len(x)} reference rows "
                                f"(max abs diff {diff:.1e})")
