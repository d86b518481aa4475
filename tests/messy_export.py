"""A realistic recruiting export, generated: every position, other header names, messy cells.

No real person is in it and nothing is downloaded: the QB, RB and WR rows are
the project's synthetic athletes (:func:`recruit_reveal.data.synthetic.generate`,
so models can learn from them), the other eight positions plausible filler.
The file is what a team's export looks like: UTF-8 with a byte-order mark,
Windows line ends, headers such as ``height``, ``fourty``, ``region_a`` and
``Level``, positions spelled ``QB``, ``Quarterback``, ``Running Back``,
heights as ``74``, ``6-2``, ``6'2"`` and ``6’2”``, weights as ``205 lbs``,
thousands separators, ``N/A`` and ``-`` for missing values, trailing spaces,
zero heights in about 10% of the rows and a few other invalid cells.  What was
injected is returned, so a test can check the loader found exactly that.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from recruit_reveal import schema
from recruit_reveal.catalog import default_catalog
from recruit_reveal.data.synthetic import generate

#: Share of each position in the export (11 positions; QB, RB and WR have models).
POSITION_SHARES: dict[str, float] = {
    "qb": 0.08, "rb": 0.08, "wr": 0.09, "te": 0.06, "ol": 0.16, "dl": 0.13, "lb": 0.10,
    "db": 0.14, "k": 0.03, "p": 0.02, "ath": 0.11,
}
SPELLINGS: dict[str, tuple[str, ...]] = {
    "qb": ("QB", "Quarterback", "qb", "Pro-Style QB"), "rb": ("RB", "Running Back", "rb "),
    "wr": ("WR", "Wide Receiver", "wr"), "te": ("TE", "Tight End"), "ol": ("OL",),
    "dl": ("DL",), "lb": ("LB",), "db": ("DB",), "k": ("K",), "p": ("P",),
    "ath": ("ATH", "Athlete"),
}
DIVISION_SPELLINGS: dict[str, tuple[str, ...]] = {
    "Power 5": ("Power 5", "P5", "FBS"), "FCS": ("FCS", "FCS (I-AA)"), "D2": ("D2", "DII"),
    "D3": ("D3", "NAIA", "Division III"),
}
#: The export's header for each canonical column it renames.
HEADERS: dict[str, str] = {
    "name": "Player", "position": "Pos", "division": "Level", "grad_year": "Class",
    "state": "region_a", "height_inches": "height", "weight_lbs": "weight",
    "forty_yard_dash": "fourty", "vertical_jump": "Vert", "shuttle": "Shuttle",
    "broad_jump": "Broad Jump", "games": "GP",
}
#: The mapping file a user writes for it ("their header": canonical column).
MAPPING: dict[str, str] = {
    "height": "height_inches", "weight": "weight_lbs", "fourty": "forty_yard_dash",
    "region_a": "state", "Level": "division",
}
ZERO_HEIGHT_SHARE = 0.10
MISSING_SPELLINGS = ("", "", "", "N/A", "NA", "-", "null", " ")


@dataclass
class MessyExport:
    """The export, its mapping file, and what it holds by spreadsheet row (header = row 1)."""

    path: Path
    mapping_path: Path
    positions: np.ndarray  # position label of each data row
    zero_height_rows: dict[str, set[int]] = field(default_factory=dict)
    injected_rows: dict[str, set[int]] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return len(self.positions)

    def invalid_rows(self, position: str) -> set[int]:
        """Every row of ``position`` the loader must reject."""
        return self.zero_height_rows[position] | self.injected_rows[position]

    def rows_of(self, position: str) -> int:
        return int((self.positions == position).sum())


def _common_columns() -> list[str]:
    """The inputs every model position has, in model order (measurables, games, combine)."""
    first, *rest = (schema.feature_names(pos) for pos in default_catalog().keys)
    return [n for n in first if all(n in other for other in rest)]


def _stat_columns() -> list[str]:
    common = set(_common_columns())
    out: list[str] = []
    for pos in default_catalog().keys:
        out += [n for n in schema.feature_names(pos) if n not in common and n not in out]
    return out


def _fmt(values: np.ndarray, decimals: int | None = None) -> np.ndarray:
    """Numbers as text; NaN as an empty string."""
    out = np.full(len(values), "", dtype=object)
    ok = ~np.isnan(values)
    spec = "{:g}" if decimals is None else f"{{:.{decimals}f}}"
    out[ok] = [spec.format(v) for v in values[ok]]
    return out


def _heights(inches: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    text = _fmt(inches)
    whole = ~np.isnan(inches) & (inches == np.round(inches))
    style = rng.integers(0, 4, len(inches))
    ft, inch = np.divmod(np.nan_to_num(inches).astype(int), 12)
    for k, pattern in ((1, "{}-{}"), (2, "{}'{}\""), (3, "{}\u2019{}\u201d")):
        pick = whole & (style == k)
        text[pick] = [pattern.format(f, i) for f, i in zip(ft[pick], inch[pick], strict=True)]
    return text


def _weights(lbs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    text = _fmt(lbs, 0)
    style = rng.integers(0, 4, len(lbs))
    text[style == 1] = text[style == 1] + " lbs"
    text[style == 2] = text[style == 2] + "lb"
    return text


def _model_rows(pos: str, n: int, seed: int, rng: np.random.Generator) -> pd.DataFrame:
    frame = generate(pos, n, seed)
    out = pd.DataFrame(index=frame.index)
    out["division"] = [rng.choice(DIVISION_SPELLINGS[d]) for d in frame["division"]]
    for name in frame.columns:
        if name in ("name", "position", "division"):
            continue
        values = frame[name]
        if name == "state":
            text = values.fillna("").to_numpy(dtype=object)
            lower = rng.random(n) < 0.2
            text[lower] = [t.lower() for t in text[lower]]
            out[name] = text
        elif name == "height_inches":
            out[name] = _heights(values.to_numpy(float), rng)
        elif name == "weight_lbs":
            out[name] = _weights(values.to_numpy(float), rng)
        elif name in ("senior_yds", "junior_yds", "senior_rec_yds", "junior_rec_yds"):
            arr = values.to_numpy(float)
            text = _fmt(arr, 0)
            big = ~np.isnan(arr) & (arr >= 1000) & (rng.random(n) < 0.5)
            text[big] = [f"{int(v):,}" for v in arr[big]]
            out[name] = text
        else:
            out[name] = _fmt(values.to_numpy(float))
    return out


def _filler_rows(pos: str, n: int, rng: np.random.Generator) -> pd.DataFrame:
    out = pd.DataFrame(index=pd.RangeIndex(n))
    out["division"] = rng.choice([s for v in DIVISION_SPELLINGS.values() for s in v], n)
    out["grad_year"] = _fmt(rng.integers(2019, 2027, n).astype(float))
    out["state"] = rng.choice(sorted(schema.US_STATES), n)
    big = pos in ("ol", "dl")
    out["height_inches"] = _heights(np.round(rng.normal(76 if big else 72, 2, n)), rng)
    out["weight_lbs"] = _weights(np.round(rng.normal(290 if big else 200, 20, n)), rng)
    forty = np.round(rng.normal(5.2 if big else 4.7, 0.2, n), 2)
    out["forty_yard_dash"] = _fmt(np.where(rng.random(n) < 0.5, np.nan, forty))
    out["games"] = _fmt(rng.integers(7, 16, n).astype(float))
    return out


def write_messy_export(path: str | Path, rows: int = 20_000, seed: int = 11) -> MessyExport:
    """Write the export (and ``<stem>.columns.json``, its mapping file) and say what it holds."""
    path = Path(path)
    rng = np.random.default_rng(seed)
    labels = list(POSITION_SHARES)
    positions = rng.choice(labels, size=rows, p=list(POSITION_SHARES.values()))
    parts = []
    for i, pos in enumerate(labels):
        where = np.flatnonzero(positions == pos)
        part = (_model_rows(pos, len(where), seed + i, rng) if pos in default_catalog().keys
                else _filler_rows(pos, len(where), rng))
        part.index = where
        part["position"] = rng.choice(SPELLINGS[pos], len(where))
        part["name"] = [f"Player {j + 1:06d}" for j in where]
        parts.append(part)
    frame = pd.concat(parts).sort_index()
    columns = ["name", "position", "division", *_common_columns(),
               *_stat_columns()]
    frame = frame.reindex(columns=columns).fillna("").astype(object)

    # Missing values spelled every way exports spell them, trailing spaces, notes.
    for name in columns[3:]:
        blank = (frame[name] == "").to_numpy()
        frame.loc[blank, name] = rng.choice(MISSING_SPELLINGS, int(blank.sum()))
        padded = ~blank & (rng.random(rows) < 0.05)
        frame.loc[padded, name] = frame.loc[padded, name] + " "
    frame["Stars"] = rng.integers(0, 6, rows)
    frame["Offers"] = rng.integers(0, 30, rows)

    sheet = np.arange(rows) + 2  # spreadsheet row of each data row
    zero = rng.random(rows) < ZERO_HEIGHT_SHARE
    frame.loc[zero, "height_inches"] = "0"
    injected: dict[str, set[int]] = {}
    for pos in default_catalog().keys:
        fine = np.flatnonzero((positions == pos) & ~zero)
        pick = rng.choice(fine, 6, replace=False)
        frame.loc[pick[:2], "weight_lbs"] = "n/k"
        frame.loc[pick[2:4], "state"] = "Texas"
        frame.loc[pick[4:], "division"] = "Juco"
        injected[pos] = {int(r) for r in sheet[pick]}

    frame = frame.rename(columns=HEADERS)
    text = frame.to_csv(index=False, lineterminator="\r\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8-sig"))
    mapping_path = path.with_name(path.stem + ".columns.json")
    mapping_path.write_text(json.dumps(MAPPING, indent=2) + "\n", encoding="utf-8")
    zero_rows = {pos: {int(r) for r in sheet[zero & (positions == pos)]}
                 for pos in default_catalog().keys}
    return MessyExport(path, mapping_path, positions, zero_rows, injected)
