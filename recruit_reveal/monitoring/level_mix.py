"""Level-mix drift: the predicted (and, once outcomes arrive, observed) level mix of
recent traffic against the training mix.

A shift is flagged when the mix moved by at least :data:`MIX_SHIFT` in total variation
distance (half the summed absolute share differences) *and* scipy's chi-square test of
the live counts against the training shares says it is not noise (p below
:data:`~recruit_reveal.monitoring.drift.ALPHA`), on at least
:data:`~recruit_reveal.monitoring.drift.MIN_VALUES` records.  The predicted mix is the
mean of the model's probabilities over the traffic (a calibrated model keeps it at the
training mix when nothing moved; argmax counts would not), tested as if those expected
counts were counts (conservative: a mean of probabilities varies less than labels); the
observed mix is the truth, on the athletes whose outcomes are recorded.  When the mix moved, the prior-shift
correction (``recruit_reveal.modeling.backtest.shift_priors``) would multiply each
level's probability by ``live share / training share`` before renormalising: the ratios
are reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from .drift import ALPHA, MIN_VALUES

#: Total variation distance from the training mix that counts as a material shift.
MIX_SHIFT = 0.05


@dataclass(frozen=True)
class MixShift:
    """One mix (predicted or observed) of one stream against the training mix."""

    kind: str
    n: int
    live: dict[str, float]
    training: dict[str, float]
    distance: float
    p_value: float | None
    shifted: bool

    @property
    def prior_ratios(self) -> dict[str, float | None]:
        """What prior-shift correction would multiply each level's probability by."""
        return {k: (self.live[k] / t if t else None) for k, t in self.training.items()}

    def line(self) -> str:
        what = "shifted" if self.shifted else "steady"
        p = "-" if self.p_value is None else f"{self.p_value:.2g}"
        text = (f"{self.kind} level mix {what}: distance {self.distance:.3f} from training "
                f"on {self.n:,} records (p {p})")
        if self.shifted:
            ratios = ", ".join(f"{k} x{r:.2f}" for k, r in self.prior_ratios.items()
                               if r is not None)
            text += f"; correcting for the prior would re-weight {ratios}"
        return text


def mix_shift(kind: str, labels: Sequence[Any], training: dict[str, float],
              counts: Sequence[float] | None = None) -> MixShift | None:
    """The shift of ``labels`` (or their ``counts``, aligned with ``training``'s levels)
    from the training mix; None without a training mix."""
    levels = list(training)
    if not levels:
        return None
    if counts is None:
        values = list(labels)
        counts = [sum(1 for v in values if v == level) for level in levels]
    live_counts = np.asarray(counts, dtype=float)
    n = int(live_counts.sum())
    expected = np.asarray([training[k] for k in levels], dtype=float)
    expected = expected / expected.sum()
    live = live_counts / max(n, 1)
    distance = float(0.5 * np.abs(live - expected).sum())
    p_value = None
    if n >= MIN_VALUES:
        keep = expected > 0
        p_value = float(stats.chisquare(live_counts[keep], expected[keep] * live_counts[keep].sum()
                                        ).pvalue)
    shifted = p_value is not None and p_value < ALPHA and distance >= MIX_SHIFT
    return MixShift(kind, n, dict(zip(levels, map(float, live), strict=True)),
                    dict(zip(levels, map(float, expected), strict=True)), distance, p_value,
                    shifted)
