"""The exact Bayes posterior of the synthetic sample, and the ceiling it sets.

:func:`true_proba` is ``P(k | observed columns)`` under the generative model
(:mod:`recruit_reveal.data.generative_model`): prior x missingness likelihood
x state-tier likelihood x the Gaussian density of the *observed* latent
coordinates (marginalised over the missing ones).  The only approximation is
that published values are rounded (40 time to 0.01 s, height to 0.5 in, ...)
and the posterior treats the rounded value as exact; ``bench/bayes_ceiling.py``
measures that effect.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..schema import DIVISIONS, state_tier
from .generative_model import (
    COMBINE_ATTENDANCE,
    DIVISION_PRIORS,
    JUNIOR_MISSING,
    STATE_TIER_PROBS,
    TEST_RECORDED,
    PositionModel,
    position_model,
    to_latent,
)

#: The measured Bayes ceiling (``python -m bench.bayes_ceiling``: 50,000 rows per
#: position, seed CEILING_SEED).  data/README.md quotes these numbers and a test
#: checks both that they match the generator and that the card quotes them.
CEILING_SEED = 50_000
BAYES_CEILING: dict[str, dict[str, float]] = {
    "qb": {"exact_accuracy": 0.6423, "within_one_accuracy": 0.9670, "log_loss": 0.7913},
    "rb": {"exact_accuracy": 0.6356, "within_one_accuracy": 0.9612, "log_loss": 0.8008},
    "wr": {"exact_accuracy": 0.6419, "within_one_accuracy": 0.9665, "log_loss": 0.7910},
}


def _log_missingness(model: PositionModel, observed: np.ndarray) -> np.ndarray:
    """log P(missingness pattern of the combine and junior columns | division), (n, 4)."""
    comb = observed[:, model.combine_idx]                                  # (n, 4 tests)
    any_test = comb.any(axis=1)
    rec = np.where(comb, TEST_RECORDED, 1 - TEST_RECORDED).prod(axis=1)  # (n,)
    p_pattern = COMBINE_ATTENDANCE[None, :] * rec[:, None] + np.where(
        any_test, 0.0, 1.0)[:, None] * (1 - COMBINE_ATTENDANCE)[None, :]
    junior = observed[:, model.junior_idx][:, None]
    p_junior = np.where(junior, 1 - JUNIOR_MISSING[None, :], JUNIOR_MISSING[None, :])
    return np.log(p_pattern) + np.log(p_junior)


def _log_gaussian(model: PositionModel, latent: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """log N(observed latent coords; mu_k, Sigma_k) per division, grouped by missingness pattern."""
    n, dim = latent.shape
    out = np.zeros((n, 4))
    codes = observed.astype(np.int64) @ (1 << np.arange(dim, dtype=np.int64))
    for code in np.unique(codes):
        rows = np.flatnonzero(codes == code)
        idx = np.flatnonzero((code >> np.arange(dim)) & 1)
        if idx.size == 0:
            continue
        x = latent[np.ix_(rows, idx)]
        for k in range(4):
            cov = model.cov[k][np.ix_(idx, idx)]
            chol = np.linalg.cholesky(cov)
            diff = (x - model.mean[k, idx]).T
            z = np.linalg.solve(chol, diff)
            out[rows, k] = (-0.5 * (z * z).sum(axis=0) - np.log(np.diag(chol)).sum()
                            - 0.5 * idx.size * math.log(2 * math.pi))
    return out


def true_proba(frame: pd.DataFrame, position: str) -> np.ndarray:
    """Exact ``P(division | observed columns)`` under the generator, shape (n, 4), DIVISIONS order.

    Reads only canonical feature columns (never ``division``): the latent columns,
    which of the combine and junior columns are missing, and the state's tier.
    A latent column absent from ``frame`` counts as missing.  Values at or beyond a
    plausible-range bound are pulled just inside it.  Rounded published values are
    treated as exact (the data card measures the effect).
    """
    model = position_model(position)
    n = len(frame)
    x = np.full((n, len(model.columns)), np.nan)
    for j, name in enumerate(model.columns):
        if name in frame.columns:
            x[:, j] = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
    observed = ~np.isnan(x)
    latent = np.where(observed, to_latent(np.nan_to_num(x, nan=0.5 * (model.low + model.high)),
                                          model.low, model.high), np.nan)
    logp = np.log(DIVISION_PRIORS)[None, :] + _log_missingness(model, observed)
    logp = logp + _log_gaussian(model, latent, observed)
    if "state" in frame.columns:
        tiers = np.array([state_tier(s) or 0 for s in frame["state"].to_numpy()], dtype=int)
        known = tiers > 0
        logp[known] += np.log(STATE_TIER_PROBS.T[tiers[known] - 1])
    logp -= logp.max(axis=1, keepdims=True)
    proba = np.exp(logp)
    return proba / proba.sum(axis=1, keepdims=True)


def ceiling_metrics(proba: np.ndarray, divisions: pd.Series | np.ndarray) -> dict[str, float]:
    """Exact and within-one accuracy and log loss of the argmax of ``proba``."""
    y = np.array([DIVISIONS.index(d) for d in divisions])
    pred = proba.argmax(axis=1)
    p_true = np.clip(proba[np.arange(len(y)), y], 1e-15, 1.0)
    return {
        "exact_accuracy": float((pred == y).mean()),
        "within_one_accuracy": float((np.abs(pred - y) <= 1).mean()),
        "log_loss": float(-np.log(p_true).mean()),
    }
