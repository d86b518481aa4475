"""The data contract: positions, ordered divisions, canonical columns.

This module is the single source of truth for CSV validation
(:mod:`recruit_reveal.data.loading`), for the model's input schema and for the API's
request models.  Ranges are *plausible* bounds: wide enough for real
record-setting high-school seasons, tight enough to catch unit mistakes
(centimetres for inches, kilograms for pounds, season totals in a per-game
column).  Their sources are listed in ``data/README.md``.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Literal

from .errors import DataValidationError, Problem

POSITIONS: tuple[str, ...] = ("qb", "rb", "wr")

#: Divisions from lowest to highest.  The index is the ordinal class used by
#: every model and metric (0 = D3/NAIA ... 3 = Power 5).
DIVISIONS: tuple[str, ...] = ("D3", "D2", "FCS", "Power 5")

_DIVISION_SPELLINGS: dict[str, str] = {
    "power 5": "Power 5", "power5": "Power 5", "p5": "Power 5",
    "power 4": "Power 5", "power4": "Power 5", "p4": "Power 5",
    "fbs": "Power 5", "g5": "Power 5",
    "fcs": "FCS", "fcs (i-aa)": "FCS", "i-aa": "FCS", "1-aa": "FCS",
    "d2": "D2", "dii": "D2", "division ii": "D2", "division 2": "D2",
    "d3": "D3", "diii": "D3", "division iii": "D3", "division 3": "D3",
    "naia": "D3", "d3/naia": "D3", "d3 / naia": "D3",
}


def normalize_division(label: object) -> str | None:
    """Map a common spelling of a division to its canonical label.

    Returns ``None`` for an unknown or missing label, so callers can report
    the row and column themselves.
    """
    if label is None or (isinstance(label, float) and math.isnan(label)):
        return None
    key = re.sub(r"\s+", " ", str(label).strip().lower())
    return _DIVISION_SPELLINGS.get(key)


#: Spellings of football positions in recruiting exports, by the label rows
#: are counted under.  Only ``qb``, ``rb`` and ``wr`` have models; rows of the
#: others are skipped when a position is trained.  Keys are compared after
#: :func:`_position_key` (lower case, punctuation and spaces collapsed).
POSITION_SPELLINGS: dict[str, tuple[str, ...]] = {
    "qb": ("qb", "quarterback", "pro", "dual", "pro style qb", "dual threat qb",
           "pro style quarterback", "dual threat quarterback"),
    "rb": ("rb", "running back", "runningback", "apb", "all purpose back", "hb", "halfback",
           "tb", "tailback"),
    "wr": ("wr", "wide receiver", "receiver", "wideout"),
    "te": ("te", "tight end"),
    "ol": ("ol", "offensive line", "offensive lineman", "iol", "interior offensive line"),
    "ot": ("ot", "offensive tackle"),
    "og": ("og", "offensive guard", "guard"),
    "c": ("c", "oc", "center", "centre"),
    "dl": ("dl", "defensive line", "defensive lineman"),
    "dt": ("dt", "defensive tackle"),
    "de": ("de", "defensive end", "sde", "wde", "edge"),
    "lb": ("lb", "linebacker", "ilb", "olb", "mlb", "inside linebacker", "outside linebacker"),
    "db": ("db", "defensive back"),
    "cb": ("cb", "cornerback", "corner"),
    "s": ("s", "saf", "safety", "fs", "ss", "free safety", "strong safety"),
    "k": ("k", "pk", "kicker", "place kicker"),
    "p": ("p", "punter"),
    "ls": ("ls", "long snapper"),
    "ath": ("ath", "athlete"),
    "fb": ("fb", "fullback"),
}
_POSITION_LABELS: dict[str, str] = {
    spelling: label for label, spellings in POSITION_SPELLINGS.items() for spelling in spellings
}


def _position_key(value: object) -> str:
    return re.sub(r"[^a-z0-9]+", " ", str(value).lower()).strip()


def position_label(value: object) -> str | None:
    """The label of any football position spelling (``'Tight End'`` -> ``'te'``), else ``None``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return _POSITION_LABELS.get(_position_key(value))


def normalize_position(value: object) -> str | None:
    """``'QB'``, ``' qb '`` -> ``'qb'``; anything else -> ``None``.

    Strict on purpose: positions name files and routes.  Spellings found in
    data files (``'Quarterback'``) are :func:`position_label`'s business.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    key = str(value).strip().lower()
    return key if key in POSITIONS else None


def division_index(label: str) -> int:
    """Ordinal index of a canonical division label (D3 = 0 ... Power 5 = 3)."""
    return DIVISIONS.index(label)


@dataclass(frozen=True)
class Column:
    """One canonical input column.

    ``kind`` is ``"float"``, ``"int"`` (a count, stored as float so that it
    may be missing) or ``"state"`` (a US state code).  ``required`` means
    required for a prediction; training additionally needs ``division``.
    """

    name: str
    kind: str
    unit: str
    low: float | None = None
    high: float | None = None
    required: bool = False
    description: str = ""

    @property
    def range_text(self) -> str:
        return f"{self.unit} between {_fmt(self.low)} and {_fmt(self.high)}"


def _fmt(x: float | None) -> str:
    return "-inf" if x is None else (f"{x:g}")


US_STATES: frozenset[str] = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH "
    "NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY".split()
)

#: Recruiting-density tiers from the earlier system; every state not listed,
#: and DC, is tier 4.
STATE_TIERS: dict[str, int] = {
    **{s: 1 for s in ("TX", "FL", "CA", "GA")},
    **{s: 2 for s in ("OH", "PA", "NC", "VA", "MI", "IL", "LA", "AL", "TN", "SC", "AZ", "NJ", "MD")},
    **{s: 3 for s in ("IN", "MO", "WI", "MN", "IA", "KY", "OK", "AR", "MS", "KS", "CO", "OR",
                      "WA", "CT", "NV", "UT")},
}


def state_tier(state: object) -> int | None:
    """Talent tier 1 (elite) .. 4 (other) of a state code, ``None`` if unknown/missing."""
    if not isinstance(state, str):
        return None
    code = state.strip().upper()
    if code not in US_STATES:
        return None
    return STATE_TIERS.get(code, 4)


COMMON_COLUMNS: tuple[Column, ...] = (
    Column("grad_year", "int", "year", 2000, 2035, description="high-school graduation year"),
    Column("state", "state", "US state code", description="two-letter code, 50 states and DC"),
    Column("height_inches", "float", "inches", 60, 84, required=True, description="height"),
    Column("weight_lbs", "float", "pounds", 120, 350, required=True, description="weight"),
    Column("games", "int", "games", 1, 16, description="senior-season games played"),
    Column("forty_yard_dash", "float", "seconds", 4.2, 6.5, description="40-yard dash"),
    Column("vertical_jump", "float", "inches", 12, 48, description="vertical jump"),
    Column("shuttle", "float", "seconds", 3.7, 6.0, description="5-10-5 shuttle"),
    Column("broad_jump", "float", "inches", 60, 150, description="standing broad jump"),
)

# Season totals are bounded by national single-season records (about 7,000
# passing, 5,000 rushing, 2,900 receiving yards); per-game bounds are those
# totals over a short season, so a total typed into a per-game column fails.
POSITION_COLUMNS: dict[str, tuple[Column, ...]] = {
    "qb": (
        Column("senior_ypg", "float", "passing yards/game", 0, 600, required=True,
               description="senior passing yards per game"),
        Column("senior_yds", "int", "passing yards", 0, 7500, description="senior passing yards"),
        Column("senior_tds", "int", "touchdowns", 0, 100, description="senior passing TDs"),
        Column("senior_comp_pct", "float", "percent", 0, 100, description="senior completion %"),
        Column("senior_int", "int", "interceptions", 0, 50, description="senior interceptions"),
        Column("senior_rush_yds", "int", "rushing yards", -500, 4000,
               description="senior rushing yards"),
        Column("junior_yds", "int", "passing yards", 0, 7500, description="junior passing yards"),
        Column("junior_ypg", "float", "passing yards/game", 0, 600,
               description="junior passing yards per game"),
        Column("junior_tds", "int", "touchdowns", 0, 100, description="junior passing TDs"),
    ),
    "rb": (
        Column("senior_ypg", "float", "rushing yards/game", 0, 450, required=True,
               description="senior rushing yards per game"),
        Column("senior_yds", "int", "rushing yards", -200, 5500, description="senior rushing yards"),
        Column("senior_ypc", "float", "yards/carry", -5, 25, description="senior yards per carry"),
        Column("senior_tds", "int", "touchdowns", 0, 80, description="senior rushing TDs"),
        Column("senior_rec", "int", "receptions", 0, 120, description="senior receptions"),
        Column("senior_rec_yds", "int", "receiving yards", -100, 2500,
               description="senior receiving yards"),
        Column("junior_yds", "int", "rushing yards", -200, 5500, description="junior rushing yards"),
        Column("junior_ypg", "float", "rushing yards/game", 0, 450,
               description="junior rushing yards per game"),
        Column("junior_tds", "int", "touchdowns", 0, 80, description="junior rushing TDs"),
    ),
    "wr": (
        Column("senior_rec_ypg", "float", "receiving yards/game", 0, 300, required=True,
               description="senior receiving yards per game"),
        Column("senior_rec", "int", "receptions", 0, 160, description="senior receptions"),
        Column("senior_rec_yds", "int", "receiving yards", -50, 3000,
               description="senior receiving yards"),
        Column("senior_avg", "float", "yards/reception", -5, 50,
               description="senior yards per reception"),
        Column("senior_tds", "int", "touchdowns", 0, 50, description="senior receiving TDs"),
        Column("senior_rush_yds", "int", "rushing yards", -200, 2500,
               description="senior rushing yards"),
        Column("junior_rec_yds", "int", "receiving yards", -50, 3000,
               description="junior receiving yards"),
        Column("junior_rec_ypg", "float", "receiving yards/game", 0, 300,
               description="junior receiving yards per game"),
        Column("junior_tds", "int", "touchdowns", 0, 50, description="junior receiving TDs"),
    ),
}

#: The production stat the earlier rule-based tiers used, per position.
PRODUCTION_COLUMN: dict[str, str] = {"qb": "senior_ypg", "rb": "senior_ypg", "wr": "senior_rec_ypg"}

#: The three sample athletes: every model and the API must accept them.
SAMPLE_ATHLETES: tuple[dict[str, object], ...] = (
    {"position": "qb", "height_inches": 72, "weight_lbs": 200, "forty_yard_dash": 4.7,
     "senior_ypg": 250, "senior_tds": 20, "senior_comp_pct": 65.0, "name": "Test QB Player"},
    {"position": "rb", "height_inches": 70, "weight_lbs": 190, "forty_yard_dash": 4.4,
     "senior_ypg": 120, "senior_ypc": 5.2, "senior_tds": 15, "name": "Test RB Player"},
    {"position": "wr", "height_inches": 71, "weight_lbs": 180, "forty_yard_dash": 4.5,
     "senior_rec_ypg": 85, "senior_rec": 55, "senior_avg": 15.5, "name": "Test WR Player"},
)

#: Columns that are accepted and dropped; they never reach a model or artifact.
IGNORED_COLUMNS: frozenset[str] = frozenset({"name", "player_name"})

TARGET_COLUMN = "division"
POSITION_COLUMN = "position"

#: Every column a training file may name: the inputs of every position, the
#: target, the position and the dropped name columns.
CANONICAL_COLUMNS: frozenset[str] = frozenset(
    {c.name for c in COMMON_COLUMNS}
    | {c.name for cols in POSITION_COLUMNS.values() for c in cols}
    | {TARGET_COLUMN, POSITION_COLUMN} | IGNORED_COLUMNS
)

#: Header spellings of real exports, by canonical column.  Headers are compared
#: after :func:`header_key` (lower case, runs of spaces and punctuation as one
#: ``_``), so ``40 Time``, ``40-time`` and ``40_TIME`` are one spelling.
HEADER_SPELLINGS: dict[str, tuple[str, ...]] = {
    "height_inches": ("height", "ht", "hgt", "height_in", "height_inch", "height_ft_in"),
    "weight_lbs": ("weight", "wt", "wgt", "weight_lb", "weight_pounds", "lbs"),
    "forty_yard_dash": ("40", "forty", "fourty", "40_time", "forty_time", "40_yard",
                        "40_yard_dash", "40_yd", "40_yd_dash", "40yd", "40_dash", "forty_yard"),
    "vertical_jump": ("vertical", "vert", "vertical_in"),
    "shuttle": ("short_shuttle", "5_10_5", "pro_agility", "20_yard_shuttle"),
    "broad_jump": ("broad", "standing_broad_jump", "broad_jump_in"),
    "state": ("st", "home_state", "hs_state", "state_code"),
    "grad_year": ("class", "grad", "graduation_year", "hs_class", "class_year", "recruiting_class"),
    "games": ("gp", "games_played"),
    TARGET_COLUMN: ("level", "college_level", "college_division", "div", "division_level"),
    POSITION_COLUMN: ("pos", "primary_position"),
    "name": ("player", "athlete", "athlete_name", "full_name", "player_full_name"),
}
HEADER_ALIASES: dict[str, str] = {
    spelling: canonical for canonical, spellings in HEADER_SPELLINGS.items()
    for spelling in spellings
}

#: Spellings whose meaning depends on the position, by position and canonical column
#: (compared after :func:`header_key`).  Intake forms name production once for every
#: position: an RB's ``Senior_Avg`` is yards per carry, a WR's ``Senior_YPG`` receiving
#: yards per game.  A spelling that is itself a column of another position
#: (``senior_ypg``, ``senior_avg``, ``senior_rush_yds``) yields to the position's own
#: column when both are given, so files holding every position's columns still read.
POSITION_HEADER_SPELLINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "qb": {
        "senior_ypg": ("senior_pass_ypg", "senior_passing_ypg"),
        "senior_yds": ("senior_pass_yds", "senior_passing_yds", "senior_passing_yards"),
        "senior_tds": ("senior_td_passes", "senior_pass_tds", "senior_passing_tds",
                       "senior_td_pass"),
    },
    "rb": {
        "senior_ypg": ("senior_rush_ypg", "senior_rushing_ypg"),
        "senior_yds": ("senior_rush_yds", "senior_rushing_yds", "senior_rushing_yards"),
        "senior_ypc": ("senior_avg", "senior_rush_avg", "senior_yards_per_carry"),
        "senior_tds": ("senior_rush_td", "senior_rush_tds", "senior_rushing_tds"),
    },
    "wr": {
        "senior_rec_ypg": ("senior_ypg", "senior_receiving_ypg"),
        "senior_rec_yds": ("senior_receiving_yds", "senior_receiving_yards"),
        "senior_avg": ("senior_rec_avg", "senior_ypr", "senior_yards_per_catch"),
        "senior_tds": ("senior_rec_td", "senior_rec_tds", "senior_receiving_tds"),
    },
}
POSITION_HEADER_ALIASES: dict[str, dict[str, str]] = {
    position: {spelling: canonical for canonical, spellings in by_column.items()
               for spelling in spellings}
    for position, by_column in POSITION_HEADER_SPELLINGS.items()
}


def header_key(raw: object) -> str:
    """A header as matched: lower case, surrounding spaces gone, inner runs of spaces and
    punctuation as one ``_`` (``' Home State '`` -> ``'home_state'``)."""
    text = str(raw).strip().lower()
    return re.sub(r"[^0-9a-z]+", "_", text).strip("_") or text


def resolve_header(raw: object) -> str:
    """The canonical column a file header names through a built-in spelling, else its key."""
    key = header_key(raw)
    return HEADER_ALIASES.get(key, key)


def check_position(position: str) -> str:
    """Normalize a position or raise :class:`DataValidationError` naming the allowed values."""
    pos = normalize_position(position)
    if pos is None:
        raise DataValidationError(Problem(
            f"unknown position {position!r}", column=POSITION_COLUMN,
            expected="one of " + ", ".join(POSITIONS)))
    return pos


def columns_for(position: str) -> tuple[Column, ...]:
    """Canonical input columns of a position, common columns first."""
    return COMMON_COLUMNS + POSITION_COLUMNS[check_position(position)]


def feature_names(position: str) -> list[str]:
    """Names of the raw columns a model of ``position`` takes, in order."""
    return [c.name for c in columns_for(position)]


def numeric_columns(position: str) -> list[Column]:
    return [c for c in columns_for(position) if c.kind != "state"]


def required_columns(position: str) -> list[str]:
    return [c.name for c in columns_for(position) if c.required]


def column(position: str, name: str) -> Column:
    for c in columns_for(position):
        if c.name == name:
            return c
    raise KeyError(name)


def input_schema(position: str) -> dict:
    """JSON-ready description of a position's inputs, stored in model metadata."""
    return {
        "position": check_position(position),
        "target": {"column": TARGET_COLUMN, "classes": list(DIVISIONS)},
        "columns": [
            {k: v for k, v in asdict(c).items() if k != "description"} | {"description": c.description}
            for c in columns_for(position)
        ],
        "required": required_columns(position),
    }


def canonical_column_name(raw: str) -> str:
    """A column name matched as a header is (:func:`resolve_header`), whatever the position."""
    return resolve_header(raw)


_HEIGHT_FEET_INCHES = re.compile(
    r"""^\s*(?P<ft>\d)\s*(?:'|ft|feet|-|\s)\s*(?P<inch>\d{1,2}(?:\.\d+)?)?\s*(?:"|''|in|inches)?\s*$""",
    re.IGNORECASE,
)


#: Typographic quotes (as word processors and some exports write them) read as plain ones.
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u2032": "'", "\u00b4": "'",
                         "\u201d": '"', "\u201c": '"', "\u2033": '"'})


def parse_height(value: object) -> float | None:
    """Parse a height in inches: ``74``, ``74.5``, ``6-2``, ``6'2"``, ``6' 2``, ``6 ft 2 in``,
    ``6’2”`` (typographic quotes).

    Returns ``None`` when the text is not a recognised height format.
    """
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().translate(_QUOTES)
    try:
        return float(text)
    except ValueError:
        pass
    m = _HEIGHT_FEET_INCHES.match(text)
    if not m:
        return None
    inches = float(m.group("inch") or 0)
    if inches >= 12:
        return None
    return int(m.group("ft")) * 12 + inches


# --------------------------------------------------------------------------- invalid rows

#: What training does with a row holding an invalid value: fail the run, or set it aside.
InvalidRows = Literal["fail", "quarantine"]
INVALID_ROWS_POLICIES: tuple[InvalidRows, ...] = ("fail", "quarantine")
#: With quarantine, a run still fails when more than this share of a position's rows is invalid.
DEFAULT_MAX_INVALID_FRACTION = 0.2


def check_invalid_rows(policy: object) -> InvalidRows:
    """``fail`` or ``quarantine``; anything else is a DataValidationError naming the choices."""
    if policy not in INVALID_ROWS_POLICIES:
        raise DataValidationError(Problem(f"invalid_rows is {policy!r}", column="invalid_rows",
                                          expected="'fail' or 'quarantine'"))
    return policy


def check_invalid_fraction(fraction: float | str) -> float:
    """A share of a position's rows, from 0 to 1."""
    try:
        value = float(fraction)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise DataValidationError(Problem(
            f"max_invalid_fraction is {fraction!r}", column="max_invalid_fraction",
            expected="a fraction between 0 and 1, e.g. 0.2"))
    return value
