"""Training frames for any position of any catalog, built with numpy from its spec.

For tests of positions the synthetic sample does not (yet) generate, such as the
tight end and linebacker of tests/fixtures/catalog_five_levels.toml: one latent
talent per athlete sets the level (the ladder's labels) and shifts every input in
its better direction, inside the input's plausible range, with some inputs missing.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from recruit_reveal.catalog import Catalog, PositionSpec, load_catalog

FIVE_LEVELS = Path(__file__).parent / "fixtures" / "catalog_five_levels.toml"

_STATES = np.array(["TX", "OH", "IA", "VT", "CA", "NY", None], dtype=object)


def five_levels() -> Catalog:
    """The shared five-level test catalog (D3 < D2 < FCS < G5 < Power 4, with TE and LB)."""
    return load_catalog(FIVE_LEVELS)


def frame_for(spec: PositionSpec, n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """(raw canonical frame, level labels) of ``n`` plausible athletes of ``spec``."""
    rng = np.random.default_rng(seed)
    talent = rng.normal(size=n)
    k = len(spec.levels)
    cuts = np.quantile(talent + 0.5 * rng.normal(size=n), np.linspace(0, 1, k + 1)[1:-1])
    codes = np.searchsorted(cuts, talent + 0.5 * rng.normal(size=n))
    data: dict[str, object] = {}
    for col in spec.inputs:
        if col.kind == "state":
            data[col.name] = rng.choice(_STATES, size=n)
            continue
        low, high = float(col.low or 0.0), float(col.high if col.high is not None else 100.0)
        sign = -1.0 if col.better == "lower" else 1.0
        mid, span = (low + high) / 2, (high - low) / 8
        values = np.clip(mid + span * (0.8 * sign * talent + rng.normal(size=n)), low, high)
        data[col.name] = np.round(values) if col.kind == "int" else values
    frame = pd.DataFrame(data)[spec.feature_names]
    for rate in spec.rates:  # a rate is its total over the games, as in real files
        if rate.games in frame and rate.total in frame:
            frame[rate.total] = np.round(frame[rate.name] * frame[rate.games])
    for name in spec.combine:
        frame.loc[rng.random(n) < 0.25, name] = np.nan
    labels = pd.Series(np.asarray(spec.levels, dtype=object)[codes], name="division")
    return frame, labels


def training_data(spec: PositionSpec, n: int = 300, seed: int = 0) -> SimpleNamespace:
    """What ``train_position`` takes besides a CSV: frame, target and position."""
    frame, target = frame_for(spec, n, seed)
    return SimpleNamespace(frame=frame, target=target, position=spec.key)


@lru_cache(maxsize=4)
def trained(key: str) -> Any:
    """A TrainingResult of ``key`` of the five-level catalog (3 folds), once per process."""
    from recruit_reveal.modeling.training import train_position

    spec = five_levels().position(key)
    return train_position(training_data(spec), spec, seed=0, cv_folds=3)
