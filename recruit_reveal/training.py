"""``train_position``: the one training function both engines call.

The notebook template and the direct engine (``recruit-reveal train
--engine direct``) call the same functions in the same order, so a model
trained either way predicts identically for the same data and seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .schema import DIVISIONS


@dataclass
class TrainingResult:
    """Everything a training run produced, ready for :mod:`recruit_reveal.export`.

    Metric dictionaries map a metric name to ``{"mean": float, "std": float}``
    over the CV folds (see :mod:`recruit_reveal.evaluate` for the names).
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
    #: "typical athlete", used by insights.top_factors.  Aggregates only.
    typical_values: dict[str, float] = field(default_factory=dict)
    classes: tuple[str, ...] = DIVISIONS
    oof_proba: np.ndarray | None = field(default=None, repr=False)

    def headline(self) -> dict[str, float]:
        """Mean CV exact and within-one accuracy, the two figures quoted everywhere."""
        return {
            "exact_accuracy": self.cv_metrics["exact_accuracy"]["mean"],
            "within_one_accuracy": self.cv_metrics["within_one_accuracy"]["mean"],
        }
