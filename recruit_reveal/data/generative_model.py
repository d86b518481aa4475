"""The generative model behind the synthetic sample, compiled per position from the catalog.

The data are **synthetic**.  Every parameter lives in the catalog's sample sections
(``[sample]`` and ``[positions.X.sample]``, read by :mod:`recruit_reveal.catalog.sample`);
their public sources and the resulting Bayes ceiling are written down in
``data/README.md``.  :mod:`recruit_reveal.data.synthetic` draws rows from this model and
:mod:`recruit_reveal.data.posterior` inverts it exactly.

The generative model, per position and ladder level ``k`` (lowest first):

1. ``k`` is drawn from the level priors.
2. A latent vector ``u`` of the *informative* continuous columns (the position's latent
   coordinates: measurables, combine results, production per game, an efficiency stat)
   is drawn from a multivariate Gaussian ``N(mu_k, Sigma_k)``.  Each coordinate is
   mapped onto its input's range ``(low, high)`` by a scaled logistic function, so every
   value lies inside the plausible range without clipping, and the posterior stays
   exact: the Jacobian of that map does not depend on ``k`` and cancels.
3. Combine results go missing more often at lower levels: the athlete attends a
   testing event with a probability that depends on ``k``, then each test is recorded
   with a fixed probability.  The junior season (the latent coordinates of inputs with
   ``junior_of``) is missing with a probability that depends on ``k``.
4. The state's talent tier is drawn from a distribution that depends on ``k``; the
   state within its tier is uniform.  A *levelled* input (recruiting stars) is drawn
   from a categorical distribution that depends on ``k``.
5. Every other column (games, season totals, touchdowns, ...) comes from a
   level-independent draw or a recipe over published columns plus noise that does not
   depend on ``k``, and some go missing completely at random.  They carry no extra
   information about the level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..catalog import Catalog, PositionSpec, active_catalog, resolve
from ..catalog.sample import PositionSample, correlation_matrix
from ..errors import DataValidationError, Problem, UnknownPositionError
from ..schema import POSITION_COLUMN, PositionLike


@dataclass(frozen=True)
class PositionModel:
    """The compiled generative model of one position (arrays in level order)."""

    spec: PositionSpec
    sample: PositionSample
    columns: tuple[str, ...]   # the latent coordinates' inputs
    low: np.ndarray
    high: np.ndarray
    step: np.ndarray
    mean: np.ndarray           # (L, D) latent means
    cov: np.ndarray            # (L, D, D) latent covariances
    chol: np.ndarray           # (L, D, D) lower Cholesky factors
    priors: np.ndarray         # (L,)
    combine_idx: np.ndarray    # latent indices of the combine results
    recorded: np.ndarray       # P(test recorded | attended), per combine index
    attendance: np.ndarray     # (L,) P(attended a testing event | level)
    junior_idx: np.ndarray     # latent indices of the junior season
    junior_missing: np.ndarray  # (L,) P(junior season missing | level)
    state_tier_probs: np.ndarray  # (L, tiers)

    @property
    def n_levels(self) -> int:
        return len(self.priors)


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def to_latent(x: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Natural units -> latent (scaled logit); values at or past a bound are pulled inside."""
    width = high - low
    p = (x - low) / width
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return _logit(p)


def from_latent(u: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return low + (high - low) / (1.0 + np.exp(-u))


def sample_of(position: PositionLike, catalog: Catalog | None = None
              ) -> tuple[PositionSpec, PositionSample]:
    """A position's spec and its catalog sample section (the active catalog by default).

    A spec is matched by key and must be on the same ladder as the catalog's section.
    """
    cat = catalog or active_catalog()
    try:
        spec = cat.position(position) if isinstance(position, str) else resolve(position)
    except UnknownPositionError as exc:
        raise DataValidationError(Problem(str(exc), column=POSITION_COLUMN,
                                          expected="one of " + ", ".join(cat.keys))) from exc
    sample = cat.sample.get(spec.key)
    if sample is None or sample.levels != spec.levels:
        known = ", ".join(k for k, s in cat.sample.items() if s.levels == spec.levels)
        raise DataValidationError(Problem(
            f"position {spec.key!r} has no sample section on its ladder in catalog "
            f"{cat.source}", column=POSITION_COLUMN, expected="one of " + (known or "(none)")))
    return spec, sample


_MODELS: dict[int, tuple[PositionSample, PositionSpec, PositionModel]] = {}


def position_model(position: PositionLike, catalog: Catalog | None = None) -> PositionModel:
    """The compiled model of ``position`` (built once per catalog section, then cached)."""
    spec, sample = sample_of(position, catalog)
    cached = _MODELS.get(id(sample))
    if cached is not None and cached[0] is sample and cached[1] == spec:
        return cached[2]
    model = compile_model(spec, sample)
    _MODELS[id(sample)] = (sample, spec, model)
    return model


def compile_model(spec: PositionSpec, sample: PositionSample) -> PositionModel:
    """Latent means and covariances from medians and natural-unit sds, per level."""
    coords = sample.latent
    names = tuple(c.input for c in coords)
    low = np.array([float(spec.column(n).low or 0.0) for n in names])
    high = np.array([float(spec.column(n).high or 0.0) for n in names])
    width = high - low
    corr = correlation_matrix(coords, sample.correlations)
    n_levels = len(sample.priors)
    medians = np.array([c.medians for c in coords]).T.reshape(n_levels, len(names))  # (L, D)
    sds = np.array([c.sd for c in coords]).T.reshape(n_levels, len(names))           # (L, D)
    p = (medians - low) / width
    mean = _logit(p)
    # Delta method: natural sd -> latent sd at the median, where d x / d u = width p (1 - p).
    lat_sd = sds / (width * p * (1 - p))
    cov = lat_sd[:, :, None] * corr[None] * lat_sd[:, None, :]
    combine = [i for i, n in enumerate(names) if spec.column(n).group == "combine"]
    return PositionModel(
        spec=spec, sample=sample, columns=names, low=low, high=high,
        step=np.array([c.step for c in coords]), mean=mean, cov=cov,
        chol=np.linalg.cholesky(cov) if names else cov,
        priors=np.array(sample.priors),
        combine_idx=np.array(combine, dtype=int),
        recorded=np.array([sample.test_recorded[names[i]] for i in combine]),
        attendance=np.array(sample.combine_attendance),
        junior_idx=np.array([i for i, n in enumerate(names) if spec.column(n).junior_of],
                            dtype=int),
        junior_missing=np.array(sample.junior_missing),
        state_tier_probs=np.array(sample.state_tiers),
    )
