"""Input drift against a release's training profile: PSI and K-S, corrected for many inputs.

Numeric inputs: the reference is the 101 training percentiles.  **PSI** is computed over
the training deciles: the cut points are the 10th, 20th, ... 90th percentiles (fewer when
a discrete input repeats a value), each bin's expected share comes from the reference
CDF (10% each for a continuous input), and ``PSI = sum((live - expected) *
ln(live / expected))`` with shares floored at :data:`PSI_FLOOR`.  Bands: below 0.1
stable, below 0.2 moderate, from 0.2 large.  **K-S** is scipy's one-sample test of
at most :data:`KS_SAMPLE` live values against the piecewise-linear CDF through the
percentiles, done as a test of uniformity of the values' probability transform; a value
that equals a run of repeated percentiles (an integer input's common value) is placed
uniformly within that run, so discrete inputs are not rejected for being discrete.
``state``: PSI over the states holding at least 1% of training rows plus "other", with
scipy's chi-square test of the sample in place of K-S.  When the metadata says how many
training rows made the profile, both tests are two-sample ones (the reference is a
sample too).

The p-values of one (position, release) are corrected together with Benjamini-Hochberg
(``scipy.stats.false_discovery_control``).  An input is **drifted** when its PSI is at
least :data:`PSI_SIGNIFICANT` *and* its corrected p-value is below :data:`ALPHA`, on at
least :data:`MIN_VALUES` live values: PSI alone says the shift is large, the test that it
is not noise of a small sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import stats

PSI_MODERATE = 0.1
PSI_SIGNIFICANT = 0.2
PSI_FLOOR = 1e-4
#: The false discovery rate of the corrected tests.
ALPHA = 0.01
#: Live values kept (a uniform random sample) for the K-S test of one input.
KS_SAMPLE = 5000
#: Fewer live values than this and an input is not judged.
MIN_VALUES = 50
#: States below this training share are pooled as "other".
STATE_MIN_SHARE = 0.01
OTHER = "other"


def decile_edges(quantiles: Sequence[float]) -> np.ndarray:
    """The cut points of the PSI bins: the distinct 10th ... 90th training percentiles."""
    q = np.asarray(quantiles, dtype="float64")
    return np.unique(q[10:100:10])


def _matches(q: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) percentile index equal to each ``x`` (first > last: none equal)."""
    return np.searchsorted(q, x, side="left"), np.searchsorted(q, x, side="right") - 1


def reference_cdf(quantiles: Sequence[float], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(share below, share at or below) each ``x`` under the reference.

    Between percentiles the CDF is linear; a value repeated over percentiles ``lo..hi``
    holds the mass from ``(lo - 0.5)%`` to ``(hi + 0.5)%``.
    """
    q = np.asarray(quantiles, dtype="float64")
    x = np.asarray(x, dtype="float64")
    lo, hi = _matches(q, x)
    last = len(q) - 1
    below = np.clip(hi, 0, last - 1)
    width = q[below + 1] - q[below]
    frac = np.where(width > 0, (x - q[below]) / np.where(width > 0, width, 1.0), 0.0)
    linear = np.clip((below + np.clip(frac, 0.0, 1.0)) / last, 0.0, 1.0)
    linear = np.where(x < q[0], 0.0, np.where(x > q[last], 1.0, linear))
    equal = lo <= hi
    run = equal & (hi > lo)
    at_or_below = np.where(run, np.minimum((hi + 0.5) / last, 1.0),
                           np.where(equal, lo / last, linear))
    strictly_below = np.where(run, np.maximum((lo - 0.5) / last, 0.0), at_or_below)
    return strictly_below, at_or_below


def expected_shares(quantiles: Sequence[float], edges: np.ndarray) -> np.ndarray:
    """The reference share of each bin ``(-inf, e1], (e1, e2], ..., (ek, inf)``."""
    _, at_or_below = reference_cdf(quantiles, edges)
    return np.diff(np.concatenate([[0.0], at_or_below, [1.0]]))


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """How many ``values`` fall in each bin of :func:`expected_shares`."""
    # A count per cut point (at most nine) is quicker than a bin index per value.
    at_or_below = [np.count_nonzero(values <= edge) for edge in edges]
    return np.diff(np.concatenate([[0], at_or_below, [len(values)]])).astype("int64")


def psi(expected: np.ndarray, counts: np.ndarray) -> float:
    """The population stability index of live ``counts`` against ``expected`` shares."""
    total = counts.sum()
    if total == 0:
        return float("nan")
    actual = np.maximum(counts / total, PSI_FLOOR)
    base = np.maximum(np.asarray(expected, dtype="float64"), PSI_FLOOR)
    return float(np.sum((actual - base) * np.log(actual / base)))


def psi_band(value: float) -> str:
    if not np.isfinite(value):
        return "n/a"
    return ("stable" if value < PSI_MODERATE else
            "moderate" if value < PSI_SIGNIFICANT else "large")


def ks_test(quantiles: Sequence[float], sample: np.ndarray, seed: int = 0,
            reference_rows: float | None = None) -> tuple[float, float]:
    """(statistic, p-value) of scipy's one-sample K-S of ``sample`` against the reference.

    With ``reference_rows`` (the training values behind the percentiles) the p-value is
    the two-sample one, from the effective size ``n m / (n + m)``: a reference drawn from a
    few hundred rows is itself uncertain, and a one-sample test would blame that on the
    live values.
    """
    n = len(sample)
    if n == 0:
        return float("nan"), float("nan")
    low, high = reference_cdf(quantiles, sample)
    rng = np.random.default_rng(seed)
    u = low + (high - low) * rng.random(n)
    result = stats.kstest(u, "uniform")
    statistic, p = float(result.statistic), float(result.pvalue)
    if reference_rows:
        effective = max(1, round(n * reference_rows / (n + reference_rows)))
        p = float(stats.kstwo.sf(statistic, effective))
    return statistic, p


def state_categories(shares: dict[str, float]) -> list[str]:
    """The states PSI compares one by one (the rest pooled as :data:`OTHER`)."""
    return sorted(s for s, share in shares.items() if share >= STATE_MIN_SHARE)


def state_expected(shares: dict[str, float]) -> np.ndarray:
    kept = state_categories(shares)
    total = sum(shares.values()) or 1.0
    expected = np.array([shares[s] / total for s in kept] + [0.0])
    expected[-1] = max(0.0, 1.0 - expected[:-1].sum())
    return expected


def chi_square_p(expected: np.ndarray, sample_counts: np.ndarray,
                 reference_rows: float | None = None) -> float:
    """scipy's chi-square p-value of sampled state counts against the training shares:
    of homogeneity with the training counts when ``reference_rows`` is known (see
    :func:`ks_test`), else of goodness of fit."""
    n = sample_counts.sum()
    if n == 0:
        return float("nan")
    if reference_rows:
        table = np.vstack([sample_counts, expected * reference_rows])
        table = table[:, table.sum(axis=0) > 0]
        if table.shape[1] < 2:
            return 1.0
        return float(stats.chi2_contingency(table).pvalue)
    base = np.maximum(expected, PSI_FLOOR)
    return float(stats.chisquare(sample_counts, base / base.sum() * n).pvalue)


@dataclass(frozen=True)
class InputDrift:
    """One input's drift verdict."""

    input: str
    values: int
    missing_share: float
    training_missing_share: float | None
    psi: float
    band: str
    test: str
    statistic: float
    p_value: float
    p_corrected: float = float("nan")
    drifted: bool = False
    note: str = ""
    #: The PSI bins as a reader names them, and the training and live share of each
    #: (for the record's figure of this input).
    bins: tuple[str, ...] = ()
    expected: tuple[float, ...] = ()
    live: tuple[float, ...] = ()

    @property
    def verdict(self) -> str:
        """"drifted"; "noisy at this sample size" when PSI alone is large but the corrected
        test (or the count of values) cannot tell the shift from sampling noise; or the
        PSI band."""
        if self.drifted:
            return "drifted"
        if self.values < MIN_VALUES:
            return f"too few values to judge (< {MIN_VALUES})"
        if self.band == "large":
            return "noisy at this sample size"
        return self.band

    def as_row(self) -> dict[str, Any]:
        """The reader's row: shares as percentages, PSI and p-values rounded to what
        matters (p below 0.001 shown as such)."""
        training = self.training_missing_share
        return {"input": self.input, "live values": self.values,
                "missing (live)": _percent(self.missing_share),
                "missing (training)": _percent(training),
                "PSI": _round(self.psi, 3), "test": self.test, "p": p_text(self.p_value),
                "p (BH)": p_text(self.p_corrected), "verdict": self.verdict,
                "note": self.note}


def p_text(p: float) -> str:
    """A p-value to two significant digits; "< 0.001" below that; "-" when not tested."""
    if not np.isfinite(p):
        return "-"
    return "< 0.001" if p < 0.001 else f"{p:.2g}"


def _percent(share: float | None) -> str:
    return "-" if share is None or not np.isfinite(share) else f"{share:.1%}"


def _round(value: float, digits: int) -> float | str:
    return round(value, digits) if np.isfinite(value) else "-"


def bin_labels(edges: np.ndarray) -> tuple[str, ...]:
    """``(-inf, e1], (e1, e2], ..., (ek, inf)`` as "<= e1", "e1 to e2", ..., "> ek"."""
    cut = [f"{e:g}" for e in edges]
    if not cut:
        return ("all",)
    return (f"<= {cut[0]}", *(f"{a} to {b}" for a, b in zip(cut, cut[1:], strict=False)),
            f"> {cut[-1]}")


def correct(results: Sequence[InputDrift], alpha: float = ALPHA) -> list[InputDrift]:
    """Benjamini-Hochberg over the judged inputs, then the drifted verdict of each."""
    judged = [i for i, r in enumerate(results) if np.isfinite(r.p_value)]
    adjusted = (stats.false_discovery_control([results[i].p_value for i in judged])
                if judged else [])
    out = list(results)
    for i, q in zip(judged, adjusted, strict=True):
        r = results[i]
        drifted = (r.values >= MIN_VALUES and np.isfinite(r.psi)
                   and r.psi >= PSI_SIGNIFICANT and float(q) < alpha)
        out[i] = replace(r, p_corrected=float(q), drifted=bool(drifted))
    return out
