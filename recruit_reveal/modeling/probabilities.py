"""A model's probabilities in ladder order, and the level they decide.

Every caller that scores a position goes through here: :func:`predict_proba` (a
pipeline's probabilities with columns aligned to the ladder), :func:`score_arrays`
(rows as a numeric matrix and state codes, on the fast path of
:mod:`recruit_reveal.modeling.scoring` when the model has one), the model's own
decision rule (:func:`decision_rule`, :func:`decide`) and :func:`expected_division`.
Explanations and what-if (:mod:`.explanations`) build on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from .. import schema
from ..catalog import PositionSpec
from . import decision


def predict_proba(pipeline: Any, frame: pd.DataFrame,
                  levels: tuple[str, ...] | None = None) -> np.ndarray:
    """``pipeline.predict_proba`` with columns aligned to the ladder's ``levels``.

    When the final estimator exposes string ``classes_`` (level labels) in
    another order than ``levels``, its columns are reordered by label; integer
    classes are taken as the ordinal index, as the training contract says.
    ``levels`` defaults to the active catalog's ladder.
    """
    proba = np.asarray(pipeline.predict_proba(frame), dtype=float)
    classes = getattr(pipeline, "classes_", None)
    if classes is not None and levels is None:
        levels = decision.levels_of(None)
    if levels is not None and classes is not None and \
            set(map(str, classes)) == set(levels) and list(map(str, classes)) != list(levels):
        order = [list(map(str, classes)).index(d) for d in levels]
        proba = proba[:, order]
    return proba


#: estimators.DECISION_RULES, repeated so this module need not import scikit-learn
#: (a test checks the two agree).
_DECISION_RULES = ("argmax", "median")


def decision_rule(pipeline: Any) -> str:
    """The model's own rule for turning probabilities into a division.

    ``"argmax"`` unless the final step says otherwise (``DivisionClassifier(
    decision="median")``): explanations and the API predict what ``pipeline.predict`` would.
    """
    final = pipeline.steps[-1][1] if hasattr(pipeline, "steps") else pipeline
    rule = getattr(final, "decision", "argmax")
    # An unknown rule falls back to argmax (estimators.decide would reject it).
    return rule if rule in _DECISION_RULES else "argmax"


def decide(proba: np.ndarray, rule: str = "argmax") -> np.ndarray:
    """:func:`recruit_reveal.modeling.estimators.decide`, the one implementation of the decision rules.

    So what the API explains is always what ``pipeline.predict`` says.  The
    import is deferred because ``estimators`` pulls in scikit-learn, and
    ``import recruit_reveal`` (the CLI, ``models list``) must stay light.
    """
    from recruit_reveal.modeling.estimators import decide as model_decide

    return model_decide(proba, rule)


def expected_division(proba: np.ndarray) -> np.ndarray:
    """Probability-weighted level index (0 = the lowest level of the ladder)."""
    return proba @ np.arange(proba.shape[1], dtype=float)


@dataclass(frozen=True)
class _Layout:
    """Numeric columns of a position as a matrix, plus where each lever lives."""

    spec: PositionSpec
    features: list[str]
    numeric: list[str]
    state: str | None

    @property
    def state_present(self) -> bool:
        return self.state is not None

    @classmethod
    @lru_cache(maxsize=32)
    def of(cls, spec: PositionSpec) -> _Layout:
        # Cached by spec (specs hash by their digest).
        state = next((c.name for c in spec.inputs if c.kind == "state"), None)
        return cls(spec, spec.feature_names, [c.name for c in spec.numeric], state)


def _to_matrix(frame: pd.DataFrame, layout: _Layout) -> tuple[np.ndarray, np.ndarray]:
    """(numeric float matrix with NaN for missing, state object array)."""
    n = len(frame)
    sub = frame.reindex(columns=layout.numeric)
    try:
        x = sub.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        # Text in a numeric column: coerce column by column (rare; not the API path).
        x = np.column_stack([pd.to_numeric(sub[c], errors="coerce").to_numpy(dtype=float)
                             for c in layout.numeric]) if n else np.zeros((0, len(sub.columns)))
    if layout.state is not None and layout.state in frame.columns:
        state = frame[layout.state].to_numpy(dtype=object)
    else:
        state = np.full(n, np.nan, dtype=object)
    return x, state


def _to_frame(x: np.ndarray, state: np.ndarray, layout: _Layout) -> pd.DataFrame:
    # One float block plus the state column: far cheaper than a dict of columns.
    frame = pd.DataFrame(x, columns=layout.numeric, copy=False)
    if layout.state is not None:
        frame.insert(layout.features.index(layout.state), layout.state, state)
    return frame


def score_arrays(model: Any, x: np.ndarray, state: np.ndarray,
                 position: schema.PositionLike) -> np.ndarray:
    """Probabilities in ladder order of rows given as arrays (numeric columns of
    ``position`` in schema order, state codes).

    ``model`` is a pipeline (scored on the frame :func:`model_frame` builds) or
    a scorer of :mod:`recruit_reveal.modeling.scoring` (anything with
    ``predict_arrays``: the fast path, no frame at all).
    """
    predict = getattr(model, "predict_arrays", None)
    if predict is not None:
        return np.asarray(predict(x, state), dtype=float)
    spec = schema.spec_of(position)
    return predict_proba(model, model_frame(x, state, spec), spec.levels)


def model_frame(x: np.ndarray, state: np.ndarray, position: schema.PositionLike) -> pd.DataFrame:
    """The pipeline's input frame from numeric columns in schema order and state codes."""
    return _to_frame(x, state, _Layout.of(schema.spec_of(position)))


def numeric_names(position: schema.PositionLike) -> list[str]:
    """Numeric input columns of ``position`` in the order explain_arrays expects."""
    return list(_Layout.of(schema.spec_of(position)).numeric)
