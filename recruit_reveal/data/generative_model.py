"""The generative model behind the synthetic sample: its parameters, compiled per position.

The data are **synthetic**.  Parameters, their public sources and the
resulting Bayes ceiling are written down in ``data/README.md``.
:mod:`recruit_reveal.data.synthetic` draws rows from this model and
:mod:`recruit_reveal.data.posterior` inverts it exactly.

The generative model, per position and division ``k`` (D3 ... Power 5):

1. ``k`` is drawn from :data:`DIVISION_PRIORS`.
2. A latent vector ``u`` of the *informative* continuous columns (height,
   weight, the four combine results, senior production per game, junior
   production per game and one efficiency stat) is drawn from a multivariate
   Gaussian ``N(mu_k, Sigma_k)``.  Each coordinate is mapped onto its schema
   range ``(low, high)`` by a scaled logistic function, so every value lies
   inside the plausible range without clipping, and the posterior stays
   exact: the Jacobian of that map does not depend on ``k`` and cancels.
3. Combine results go missing more often at lower levels: the athlete attends
   a testing event with a probability that depends on ``k``, then each test
   is recorded with a fixed probability.  The junior season is missing (not a
   varsity starter) with a probability that depends on ``k``.
4. The state's talent tier is drawn from a distribution that depends on ``k``;
   the state within its tier is uniform.
5. Every other column (games, season totals, touchdowns, interceptions,
   receptions, grad year, name, ...) is a function of the published
   informative columns plus noise that does not depend on ``k``, and some of
   them go missing completely at random.  They carry no extra information
   about the division.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..schema import check_position, column

#: P(division), D3 ... Power 5.  Many more athletes play at lower levels
#: (see the data card for the roster counts behind these shares).
DIVISION_PRIORS = np.array([0.40, 0.25, 0.20, 0.15])

#: P(attended a testing event | division); given attendance each test is
#: recorded with the fixed probability in TEST_RECORDED.
COMBINE_ATTENDANCE = np.array([0.35, 0.50, 0.65, 0.80])
COMBINE = ("forty_yard_dash", "vertical_jump", "shuttle", "broad_jump")
TEST_RECORDED = np.array([0.95, 0.80, 0.65, 0.75])

#: P(junior season missing | division): fewer lower-level players started as juniors.
JUNIOR_MISSING = np.array([0.30, 0.22, 0.15, 0.10])

#: P(state talent tier 1..4 | division).
STATE_TIER_PROBS = np.array([
    [0.22, 0.36, 0.22, 0.20],
    [0.25, 0.37, 0.21, 0.17],
    [0.30, 0.37, 0.19, 0.14],
    [0.40, 0.35, 0.15, 0.10],
])

_Four = tuple[float, float, float, float]


@dataclass(frozen=True)
class _Coord:
    """One latent coordinate: published column, rounding step, medians per division, sd."""

    name: str
    step: float
    medians: _Four
    #: natural-unit standard deviation, one per division
    sd: _Four


def _const(x: float) -> _Four:
    return (x, x, x, x)


def _cv(medians: _Four, cv: float) -> _Four:
    a, b, c, d = (round(m * cv, 4) for m in medians)
    return (a, b, c, d)


# Medians by division, D3, D2, FCS, Power 5.  Sources in data/README.md.
_QB_PROD: _Four = (150.0, 180.0, 212.0, 250.0)
_QB_JPROD: _Four = (115.0, 140.0, 168.0, 200.0)
_RB_PROD: _Four = (85.0, 103.0, 122.0, 145.0)
_RB_JPROD: _Four = (62.0, 78.0, 95.0, 115.0)
_WR_PROD: _Four = (45.0, 57.0, 70.0, 86.0)
_WR_JPROD: _Four = (30.0, 40.0, 51.0, 64.0)

_SPECS: dict[str, tuple[_Coord, ...]] = {
    "qb": (
        _Coord("height_inches", 0.5, (72.0, 73.0, 74.0, 75.0), _const(1.6)),
        _Coord("weight_lbs", 1.0, (182.0, 191.0, 200.0, 210.0), _const(12.5)),
        _Coord("forty_yard_dash", 0.01, (5.00, 4.91, 4.83, 4.75), _const(0.14)),
        _Coord("vertical_jump", 0.5, (26.0, 27.8, 29.6, 31.5), _const(3.0)),
        _Coord("shuttle", 0.01, (4.62, 4.54, 4.47, 4.40), _const(0.14)),
        _Coord("broad_jump", 1.0, (96.0, 101.0, 106.0, 111.0), _const(6.5)),
        _Coord("senior_ypg", 0.1, _QB_PROD, _cv(_QB_PROD, 0.27)),
        _Coord("junior_ypg", 0.1, _QB_JPROD, _cv(_QB_JPROD, 0.31)),
        _Coord("senior_comp_pct", 0.1, (55.0, 57.5, 60.0, 62.5), _const(5.5)),
    ),
    "rb": (
        _Coord("height_inches", 0.5, (68.5, 69.2, 70.0, 70.8), _const(1.6)),
        _Coord("weight_lbs", 1.0, (176.0, 184.0, 193.0, 202.0), _const(12.5)),
        _Coord("forty_yard_dash", 0.01, (4.72, 4.63, 4.55, 4.47), _const(0.115)),
        _Coord("vertical_jump", 0.5, (29.0, 30.8, 32.6, 34.5), _const(3.0)),
        _Coord("shuttle", 0.01, (4.45, 4.37, 4.29, 4.21), _const(0.12)),
        _Coord("broad_jump", 1.0, (101.0, 106.0, 111.0, 117.0), _const(6.5)),
        _Coord("senior_ypg", 0.1, _RB_PROD, _cv(_RB_PROD, 0.29)),
        _Coord("junior_ypg", 0.1, _RB_JPROD, _cv(_RB_JPROD, 0.34)),
        _Coord("senior_ypc", 0.1, (6.0, 6.4, 6.9, 7.4), _const(1.15)),
    ),
    "wr": (
        _Coord("height_inches", 0.5, (70.0, 71.0, 72.0, 73.0), _const(1.7)),
        _Coord("weight_lbs", 1.0, (166.0, 173.0, 180.0, 188.0), _const(11.5)),
        _Coord("forty_yard_dash", 0.01, (4.78, 4.69, 4.61, 4.53), _const(0.115)),
        _Coord("vertical_jump", 0.5, (29.5, 31.3, 33.1, 35.0), _const(3.0)),
        _Coord("shuttle", 0.01, (4.50, 4.42, 4.34, 4.26), _const(0.12)),
        _Coord("broad_jump", 1.0, (101.0, 106.0, 111.0, 117.0), _const(6.5)),
        _Coord("senior_rec_ypg", 0.1, _WR_PROD, _cv(_WR_PROD, 0.32)),
        _Coord("junior_rec_ypg", 0.1, _WR_JPROD, _cv(_WR_JPROD, 0.36)),
        _Coord("senior_avg", 0.1, (14.2, 14.8, 15.5, 16.2), _const(2.5)),
    ),
}

#: Within-division correlations between latent coordinates (shared by positions).
#: Generic names: "prod" = senior production per game, "jprod" = junior, "eff" = efficiency.
_CORRELATIONS = {
    ("height", "weight"): 0.60,
    ("weight", "forty"): 0.30,
    ("weight", "vertical"): -0.15,
    ("forty", "shuttle"): 0.60,
    ("forty", "vertical"): -0.55,
    ("forty", "broad"): -0.60,
    ("vertical", "broad"): 0.70,
    ("shuttle", "vertical"): -0.45,
    ("shuttle", "broad"): -0.50,
    ("height", "broad"): 0.15,
    ("prod", "jprod"): 0.60,
    ("prod", "eff"): 0.35,
    ("jprod", "eff"): 0.20,
    ("forty", "prod"): -0.15,
    ("forty", "jprod"): -0.10,
}

_GENERIC = {"height_inches": "height", "weight_lbs": "weight", "forty_yard_dash": "forty",
            "vertical_jump": "vertical", "shuttle": "shuttle", "broad_jump": "broad",
            "senior_ypg": "prod", "senior_rec_ypg": "prod", "junior_ypg": "jprod",
            "junior_rec_ypg": "jprod", "senior_comp_pct": "eff", "senior_ypc": "eff",
            "senior_avg": "eff"}


@dataclass(frozen=True)
class PositionModel:
    """The compiled generative model of one position."""

    position: str
    columns: tuple[str, ...]
    low: np.ndarray
    high: np.ndarray
    step: np.ndarray
    mean: np.ndarray          # (4, D) latent means
    cov: np.ndarray           # (4, D, D) latent covariances
    chol: np.ndarray          # (4, D, D) lower Cholesky factors
    combine_idx: np.ndarray   # latent indices of the four combine columns
    junior_idx: int


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


def _bound(value: float | None, position: str, name: str) -> float:
    if value is None:
        raise AssertionError(f"{position}: latent column {name} needs a bounded schema range")
    return float(value)


_MODELS: dict[str, PositionModel] = {}


def position_model(position: str) -> PositionModel:
    """The compiled model of ``position`` (built once, then cached)."""
    pos = check_position(position)
    if pos in _MODELS:
        return _MODELS[pos]
    coords = _SPECS[pos]
    names = tuple(c.name for c in coords)
    low = np.array([_bound(column(pos, n).low, pos, n) for n in names])
    high = np.array([_bound(column(pos, n).high, pos, n) for n in names])
    width = high - low
    generic = [_GENERIC[n] for n in names]
    dim = len(names)
    corr = np.eye(dim)
    for i in range(dim):
        for j in range(dim):
            pair = (generic[i], generic[j])
            r = _CORRELATIONS.get(pair, _CORRELATIONS.get(pair[::-1]))
            if r is not None and i != j:
                corr[i, j] = r
    if np.linalg.eigvalsh(corr).min() <= 0.05:
        raise AssertionError(f"{pos}: latent correlation matrix is not safely positive definite")
    medians = np.array([c.medians for c in coords]).T          # (4, D)
    sds = np.array([c.sd for c in coords]).T                   # (4, D)
    p = (medians - low) / width
    mean = _logit(p)
    # Delta method: natural sd -> latent sd at the median, where d x / d u = width p (1 - p).
    lat_sd = sds / (width * p * (1 - p))
    cov = lat_sd[:, :, None] * corr[None] * lat_sd[:, None, :]
    chol = np.linalg.cholesky(cov)
    model = PositionModel(
        position=pos, columns=names, low=low, high=high,
        step=np.array([c.step for c in coords]), mean=mean, cov=cov, chol=chol,
        combine_idx=np.array([names.index(c) for c in COMBINE]),
        junior_idx=next(i for i, g in enumerate(generic) if g == "jprod"),
    )
    _MODELS[pos] = model
    return model
