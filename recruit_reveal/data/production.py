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
* nothing else is derived here.  A total without games, or no production at
  all, stays missing: the model integrates over what is unknown
  (:mod:`recruit_reveal.modeling.partial_profiles`), it never guesses a default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import schema

#: Senior-season games played: the divisor of every senior per-game rate.
GAMES_COLUMN = "games"

#: (per-game rate, season total) of the senior production stat, per position.
RATE_PAIRS: dict[str, tuple[str, str]] = {
    "qb": ("senior_ypg", "senior_yds"),
    "rb": ("senior_ypg", "senior_yds"),
    "wr": ("senior_rec_ypg", "senior_rec_yds"),
}


def rate_pair(position: str) -> tuple[str, str]:
    """(rate column, season-total column) of ``position``."""
    return RATE_PAIRS[schema.check_position(position)]


def production_columns(position: str) -> tuple[str, ...]:
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
                 position: str) -> DerivedRates:
    """Apply the rule to columns of rates, totals and games (float arrays, NaN missing)."""
    name, _ = rate_pair(position)
    col = schema.column(position, name)
    rate = np.asarray(rate, dtype="float64")
    total = np.asarray(total, dtype="float64")
    games = np.asarray(games, dtype="float64")
    usable = np.isnan(rate) & np.isfinite(total) & np.isfinite(games) & (games > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(usable, total / np.where(usable, games, 1.0), np.nan)
        bad = usable & ((value < (col.low if col.low is not None else -np.inf))
                        | (value > (col.high if col.high is not None else np.inf)))
    derived = usable & ~bad
    return DerivedRates(np.where(derived, value, rate), derived, bad)


def out_of_range_message(position: str, total: float, games: float) -> str:
    """Why a total and games give no usable rate, naming both inputs and the rate's range."""
    name, total_name = rate_pair(position)
    col = schema.column(position, name)
    return (f"{total_name} / {GAMES_COLUMN} = {total:g} / {games:g} = {total / games:.1f} "
            f"{col.unit}, outside the plausible range of {name} ({col.range_text})")
