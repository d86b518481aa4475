"""A hand-made QB "model" with known senior_ypg thresholds, so what-if answers are exact."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recruit_reveal.schema import feature_names

#: senior_ypg thresholds of the hand-made QB model: D3 < 100 <= D2 < 150 <= FCS < 200 <= P5.
THRESHOLDS = (100.0, 150.0, 200.0)


class ThresholdModel:
    """Division = number of senior_ypg thresholds passed; nothing else matters.

    Counts predict_proba calls and rows so tests can check vectorization.
    """

    def __init__(self, thresholds=THRESHOLDS, column_name="senior_ypg"):
        self.thresholds = thresholds
        self.column_name = column_name
        self.calls = 0
        self.rows = 0

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        self.calls += 1
        self.rows += len(frame)
        assert list(frame.columns) == feature_names("qb")
        values = frame[self.column_name].to_numpy(dtype=float)
        values = np.where(np.isnan(values), 0.0, values)
        level = np.searchsorted(np.asarray(self.thresholds), values, side="right")
        proba = np.full((len(frame), 4), 0.02)
        proba[np.arange(len(frame)), level] = 0.94
        return proba


TYPICAL = {"height_inches": 73.0, "weight_lbs": 200.0, "forty_yard_dash": 4.9,
           "senior_ypg": 180.0, "senior_tds": 18.0, "senior_comp_pct": 60.0}


def athlete(**values) -> pd.DataFrame:
    base = {"height_inches": 72, "weight_lbs": 200, "forty_yard_dash": 4.7, "senior_ypg": 140,
            "senior_tds": 20, "senior_comp_pct": 65.0}
    return pd.DataFrame([{**base, **values}])
