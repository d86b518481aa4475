"""Per-game production from a season total: the one derivation rule for files and requests.

Intake forms send season totals (a QB's passing yards) where the models take a
rate (passing yards per game).  The rule, used by training-file loading and by
every prediction request alike (docs/data-contract.md, "Season totals"):

* when the per-game rate is missing and the season total and the senior games
  played are both given (games > 0), ``rate = total / games``;
* the derived rate must lie in the rate column's plausible range, exactly as a
  rate given directly must; a derived rate outside it is a problem of the
  total and games cells, never clipped;
* a rate given directly always wins: it is never recomputed from the total;
* the rate, its total and its games are the position's production input and its
  ``total``/``games`` relation in the catalog (:func:`rate_of`); a position whose
  production stat is no such rate, or that has none, derives nothing;
* nothing else is derived here.  A total without games, or no production at
  all, stays missing: the model integrates over what is unknown
  (:mod:`recruit_reveal.modeling.partial_profiles`), it never guesses a default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import schema
from ..catalog import PositionSpec


@dataclass(frozen=True)
class Rate:
    """The production stat as a season total over games: ``rate = total / games``."""

    rate: str
    total: str
    games: str


def rate_of(position: schema.PositionLike) -> Rate | None:
    """The derivation rule of a position's production stat, from the catalog's
    ``total``/``games`` relation of that input; ``None`` when the position has no
    production stat or it is not such a rate (then nothing is derived)."""
    spec = schema.spec_of(position)
    return _rate(spec)


def _rate(spec: PositionSpec) -> Rate | None:
    if spec.production is None:
        return None
    col = spec.column(spec.production)
    if not col.total or not col.games or not spec.has(col.total) or not spec.has(col.games):
        return None
    return Rate(col.name, col.total, col.games)


def production_columns(position: schema.PositionLike) -> tuple[str, ...]:
    """Every production input of ``position``: its season statistics and the games played.

    What is left when these are removed (height, weight, combine results, state,
    graduation year) are the athlete's measurables.
    """
    return schema.spec_of(position).production_inputs


@dataclass(frozen=True)
class DerivedRates:
    """The rate column after the rule: ``rate`` (derived values filled in), which rows were
    ``derived`` and which had a total and games whose ratio is ``out_of_range``
    (those stay missing and are problems to report)."""

    rate: np.ndarray
    derived: np.ndarray
    out_of_range: np.ndarray


def derive_rates(rate: np.ndarray, total: np.ndarray, games: np.ndarray,
                 position: schema.PositionLike) -> DerivedRates:
    """Apply the rule to columns of rates, totals and games (float arrays, NaN missing)."""
    spec = schema.spec_of(position)
    rule = _rate(spec)
    rate = np.asarray(rate, dtype="float64")
    if rule is None:  # nothing to derive
        none = np.zeros(rate.shape, dtype=bool)
        return DerivedRates(rate, none, none.copy())
    col = spec.column(rule.rate)
    total = np.asarray(total, dtype="float64")
    games = np.asarray(games, dtype="float64")
    usable = np.isnan(rate) & np.isfinite(total) & np.isfinite(games) & (games > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(usable, total / np.where(usable, games, 1.0), np.nan)
        bad = usable & ((value < (col.low if col.low is not None else -np.inf))
                        | (value > (col.high if col.high is not None else np.inf)))
    derived = usable & ~bad
    return DerivedRates(np.where(derived, value, rate), derived, bad)


def out_of_range_message(position: schema.PositionLike, total: float, games: float) -> str:
    """Why a total and games give no usable rate, naming both inputs and the rate's range."""
    spec = schema.spec_of(position)
    rule = _rate(spec)
    assert rule is not None, "only a position with a rate has derived rates"
    col = spec.column(rule.rate)
    return (f"{rule.total} / {rule.games} = {total:g} / {games:g} = {total / games:.1f} "
            f"{col.unit}, outside the plausible range of {rule.rate} ({col.range_text})")
