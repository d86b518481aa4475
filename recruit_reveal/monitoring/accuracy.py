"""Live accuracy: outcomes joined to the predictions they judge.

An outcome names its athlete by ``athlete_ref`` (preferred) or by ``request_id``; it is
joined to the *latest* log record with that key (an athlete scored again, say after a
what-if, is judged on the last answer given).  When one key has several outcomes, the
one recorded last counts.  Exact and within-one accuracy come with Wilson 95% intervals,
ECE with a bootstrap interval; the alert compares them with the release's CV figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..catalog import Ladder
from ..catalog.spec import probability_columns
from ..modeling.metrics import (
    exact_accuracy,
    expected_calibration_error,
    within_one_accuracy,
)
from ..storage.locations import Location
from .logscan import open_dataset
from .outcomes import OUTCOMES_FOLDER
from .training_profile import CvFigure

#: Fewer joined outcomes than this and live accuracy raises no alert.
MIN_OUTCOMES = 30
Z95 = 1.959964
BOOTSTRAP_ROUNDS = 200


def read_outcomes(log: Location) -> pd.DataFrame:
    """Every outcome of the log, the last recorded per key (athlete_ref, else request_id)."""
    dataset = open_dataset(log, OUTCOMES_FOLDER)
    columns = ["athlete_ref", "request_id", "division", "outcome_date", "recorded_at"]
    if dataset is None:
        return pd.DataFrame(columns=[*columns, "key_kind", "key"])
    frame = dataset.to_table(columns=columns).to_pandas()
    frame["key_kind"] = np.where(frame["athlete_ref"].notna(), "athlete_ref", "request_id")
    frame["key"] = frame["athlete_ref"].where(frame["athlete_ref"].notna(), frame["request_id"])
    frame = frame.sort_values("recorded_at", kind="stable")
    return frame.drop_duplicates(["key_kind", "key"], keep="last").reset_index(drop=True)


def join_outcomes(outcomes: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """One row per outcome that has a logged prediction: the latest record of its key."""
    if outcomes.empty or records.empty:
        return pd.DataFrame(columns=[*records.columns, "division"])
    records = records.sort_values("time", kind="stable")
    parts = []
    for kind in ("athlete_ref", "request_id"):
        keyed = outcomes[outcomes["key_kind"] == kind][["key", "division"]]
        latest = records[records[kind].notna()].drop_duplicates(kind, keep="last")
        parts.append(latest.merge(keyed, left_on=kind, right_on="key").drop(columns="key"))
    return pd.concat(parts, ignore_index=True)


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion."""
    if n == 0:
        return float("nan"), float("nan")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def _bootstrap_ece(truth: np.ndarray, proba: np.ndarray, seed: int,
                   ladder: Ladder) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    n = len(truth)
    values = [expected_calibration_error(truth[i], proba[i], ladder=ladder)
              for i in (rng.integers(0, n, n) for _ in range(BOOTSTRAP_ROUNDS))]
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


@dataclass(frozen=True)
class LiveAccuracy:
    """Live figures of one stream against its CV figures."""

    outcomes: int
    exact: float
    exact_ci: tuple[float, float]
    within_one: float
    within_one_ci: tuple[float, float]
    ece: float
    ece_ci: tuple[float, float]
    cv_exact: CvFigure | None
    cv_within_one: CvFigure | None
    cv_ece: CvFigure | None

    @property
    def alert(self) -> bool:
        """Live exact accuracy is clearly below CV: even its upper 95% bound lies under
        the lower 95% bound of the CV mean (and there are enough outcomes to say so)."""
        bound = self.cv_exact.lower_bound() if self.cv_exact else None
        return (self.outcomes >= MIN_OUTCOMES and bound is not None
                and self.exact_ci[1] < bound)

    def rows(self) -> list[dict[str, Any]]:
        def cv(figure: CvFigure | None) -> dict[str, Any]:
            return {"CV mean": figure.mean if figure else None,
                    "CV lower bound": figure.lower_bound() if figure else None}

        return [
            {"metric": "exact accuracy", "live": self.exact, "95% low": self.exact_ci[0],
             "95% high": self.exact_ci[1], **cv(self.cv_exact)},
            {"metric": "within-one accuracy", "live": self.within_one,
             "95% low": self.within_one_ci[0], "95% high": self.within_one_ci[1],
             **cv(self.cv_within_one)},
            {"metric": "ECE", "live": self.ece, "95% low": self.ece_ci[0],
             "95% high": self.ece_ci[1], **cv(self.cv_ece)},
        ]


def live_accuracy(joined: pd.DataFrame, cv: dict[str, CvFigure], levels: Sequence[str],
                  seed: int = 0) -> LiveAccuracy | None:
    """Live exact, within-one and ECE of the joined rows of one stream (None: no outcomes).

    ``levels`` is the model's ladder, lowest first: it orders the labels and names the
    log's probability columns (:func:`~recruit_reveal.catalog.spec.probability_columns`).
    Outcomes naming a level the model does not know are left out.
    """
    joined = joined[joined["division"].isin(levels)] if len(joined) else joined
    n = len(joined)
    if n == 0:
        return None
    codes = {level: k for k, level in enumerate(levels)}
    truth = joined["division"].map(codes).to_numpy(dtype="int64")
    predicted = joined["predicted"].map(codes).to_numpy(dtype="int64")
    proba = joined[list(probability_columns(levels))].to_numpy(dtype="float64")
    ladder = Ladder(tuple(levels))  # the model's own: never the active catalog's
    exact = exact_accuracy(truth, predicted, ladder)
    within = within_one_accuracy(truth, predicted, ladder)
    return LiveAccuracy(
        outcomes=n, exact=exact, exact_ci=wilson(round(exact * n), n),
        within_one=within, within_one_ci=wilson(round(within * n), n),
        ece=expected_calibration_error(truth, proba, ladder=ladder),
        ece_ci=_bootstrap_ece(truth, proba, seed, ladder),
        cv_exact=cv.get("exact_accuracy"), cv_within_one=cv.get("within_one_accuracy"),
        cv_ece=cv.get("expected_calibration_error"))
