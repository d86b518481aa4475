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

from ..catalog import Catalog, active_catalog
from ..schema import PositionLike
from .generative_model import PositionModel, position_model, sample_of, to_latent

#: The seed of the measured Bayes ceiling (``python -m bench.bayes_ceiling``: 50,000 rows
#: per position).  The figures are data: each position's ``ceiling`` in its catalog sample
#: section (:func:`quoted_ceiling`); data/README.md quotes the default ones and a test
#: checks both that they match the generator and that the card quotes them.
CEILING_SEED = 50_000


def quoted_ceiling(position: PositionLike, catalog: Catalog | None = None) -> dict[str, float]:
    """The measured ceiling a catalog quotes for a position (empty when not measured)."""
    return dict(sample_of(position, catalog)[1].ceiling)


def _log_missingness(model: PositionModel, observed: np.ndarray) -> np.ndarray:
    """log P(missingness pattern of the combine and junior columns | level), (n, L)."""
    out = np.zeros((len(observed), model.n_levels))
    if model.combine_idx.size:
        comb = observed[:, model.combine_idx]                                 # (n, tests)
        any_test = comb.any(axis=1)
        rec = np.where(comb, model.recorded, 1 - model.recorded).prod(axis=1)  # (n,)
        p_pattern = model.attendance[None, :] * rec[:, None] + np.where(
            any_test, 0.0, 1.0)[:, None] * (1 - model.attendance)[None, :]
        out += np.log(p_pattern)
    if model.junior_idx.size:
        # One event blanks every junior coordinate together.
        junior = np.asarray(observed[:, model.junior_idx].any(axis=1))[:, None]
        out += np.log(np.where(junior, 1 - model.junior_missing[None, :],
                               model.junior_missing[None, :]))
    return out


def _log_gaussian(model: PositionModel, latent: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """log N(observed latent coords; mu_k, Sigma_k) per level, grouped by missingness pattern."""
    n, dim = latent.shape
    out = np.zeros((n, model.n_levels))
    codes = observed.astype(np.int64) @ (1 << np.arange(dim, dtype=np.int64))
    for code in np.unique(codes):
        rows = np.flatnonzero(codes == code)
        idx = np.flatnonzero((code >> np.arange(dim)) & 1)
        if idx.size == 0:
            continue
        x = latent[np.ix_(rows, idx)]
        for k in range(model.n_levels):
            cov = model.cov[k][np.ix_(idx, idx)]
            chol = np.linalg.cholesky(cov)
            diff = (x - model.mean[k, idx]).T
            z = np.linalg.solve(chol, diff)
            out[rows, k] = (-0.5 * (z * z).sum(axis=0) - np.log(np.diag(chol)).sum()
                            - 0.5 * idx.size * math.log(2 * math.pi))
    return out


def _log_categorical(model: PositionModel, frame: pd.DataFrame) -> np.ndarray:
    """log P(state tier | level) + log P(levelled value | level); unknown or missing: 0."""
    out = np.zeros((len(frame), model.n_levels))
    for state in (c.name for c in model.spec.inputs if c.kind == "state"):
        if state in frame.columns:
            tiers = np.array([model.spec.state_tier(s) or 0 for s in frame[state].to_numpy()],
                             dtype=int)
            known = tiers > 0
            out[known] += np.log(model.state_tier_probs.T[tiers[known] - 1])
    for item in model.sample.levelled:
        if item.input in frame.columns:
            x = pd.to_numeric(frame[item.input], errors="coerce").to_numpy(dtype=float)
            p = np.array(item.p).T                                  # (values, L)
            for v, value in enumerate(item.values):
                out[x == value] += np.log(p[v])
    return out


def _log_prior(model: PositionModel, frame: pd.DataFrame) -> np.ndarray:
    """log P(level), (n, L): the class year's priors when the sample gives them per year
    (a row whose year is missing or not drawn falls back to the year-weighted mix)."""
    base = np.log(model.priors)[None, :].repeat(len(frame), axis=0)
    year = model.spec.class_year
    if not model.sample.year_priors or year is None or year not in frame.columns:
        return base
    table = dict(model.sample.year_priors)
    draw = next(d for d in model.sample.draws if d.name == year)
    weights = np.array(draw.p) if draw.p else np.full(len(draw.values), 1 / len(draw.values))
    mixed = np.log(weights @ np.array([table[v] for v in draw.values]))
    years = pd.to_numeric(frame[year], errors="coerce").to_numpy(dtype=float)
    rows = np.array([np.log(table[y]) if y in table else mixed for y in years])
    return rows.reshape(len(frame), model.n_levels)


def true_proba(frame: pd.DataFrame, position: PositionLike,
               catalog: Catalog | None = None) -> np.ndarray:
    """Exact ``P(level | observed columns)`` under the generator, shape (n, levels), ladder order.

    ``position`` is a key of ``catalog`` (the active one by default) or a spec on the same
    ladder as the catalog's sample section.  Reads only canonical feature columns (never
    ``division``): the latent columns, which of the combine and junior columns are
    missing, the state's tier and the levelled inputs.  A latent column absent from
    ``frame`` counts as missing.  Values at or beyond a plausible-range bound are pulled
    just inside it.  Rounded published values are treated as exact (the data card
    measures the effect).
    """
    model = position_model(position, catalog)
    n = len(frame)
    x = np.full((n, len(model.columns)), np.nan)
    for j, name in enumerate(model.columns):
        if name in frame.columns:
            x[:, j] = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
    observed = ~np.isnan(x)
    latent = np.where(observed, to_latent(np.nan_to_num(x, nan=0.5 * (model.low + model.high)),
                                          model.low, model.high), np.nan)
    logp = _log_prior(model, frame) + _log_missingness(model, observed)
    logp = logp + _log_gaussian(model, latent, observed) + _log_categorical(model, frame)
    logp -= logp.max(axis=1, keepdims=True)
    proba = np.exp(logp)
    return proba / proba.sum(axis=1, keepdims=True)


def ceiling_metrics(proba: np.ndarray, divisions: pd.Series | np.ndarray,
                    levels: tuple[str, ...] | None = None) -> dict[str, float]:
    """Exact and within-one accuracy and log loss of the argmax of ``proba``.

    ``levels``: the ladder ``divisions`` are on (the active catalog's by default).
    """
    ladder = levels or active_catalog().ladder.levels
    y = np.array([ladder.index(d) for d in divisions])
    pred = proba.argmax(axis=1)
    p_true = np.clip(proba[np.arange(len(y)), y], 1e-15, 1.0)
    return {
        "exact_accuracy": float((pred == y).mean()),
        "within_one_accuracy": float((np.abs(pred - y) <= 1).mean()),
        "log_loss": float(-np.log(p_true).mean()),
    }
