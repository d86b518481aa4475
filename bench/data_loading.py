"""Loading speed: read and validate a 200,000-row multi-position export for one position.

The file is the test suite's generated messy export (tests/messy_export.py) at
full size: 11 positions, other header names and a mapping file, UTF-8 with a
byte-order mark, CRLF line ends, heights such as 6-2 and 6'2", zero heights in
about 10% of the rows.  The clock covers ``load_training_data`` with the
mapping file and ``invalid_rows="quarantine"``: reading, decoding, header
mapping, validating the position's rows and setting the invalid ones aside.
Goal: <= 3 s on two cores.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

from ._common import Goal, Section, median_time, table

ROWS = 200_000
SMOKE_ROWS = 2_000
POSITION = "qb"
REPEATS = 5
GOAL_SECONDS = 3.0
SEED = 11

_TESTS = Path(__file__).resolve().parents[1] / "tests"


def _export(folder: Path, rows: int):
    if str(_TESTS) not in sys.path:
        sys.path.insert(0, str(_TESTS))
    from messy_export import write_messy_export

    return write_messy_export(folder / "export.csv", rows=rows, seed=SEED)


def measure(rows: int, repeats: int) -> dict:
    from recruit_reveal.data.loading import load_training_data

    # The export's findings (rows set aside, unknown columns) are expected: keep them quiet.
    log = logging.getLogger("recruit_reveal.data")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        return _measure(load_training_data, rows, repeats)
    finally:
        log.setLevel(level)


def _measure(load_training_data, rows: int, repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        export = _export(Path(tmp), rows)
        size_mb = export.path.stat().st_size / 2**20

        def load():
            return load_training_data(export.path, POSITION, columns=export.mapping_path,
                                      invalid_rows="quarantine")

        data = load()  # warm-up, and the counts to report
        median, times = median_time(load, repeats)
    counts = data.row_counts
    return {"median": median, "times": times, "size_mb": size_mb, "used": counts.used,
            "rejected": counts.rejected, "skipped": counts.skipped, "adds_up": counts.adds_up}


def run(smoke: bool = False) -> Section:
    rows = SMOKE_ROWS if smoke else ROWS
    repeats = 1 if smoke else REPEATS
    r = measure(rows, repeats)
    md = "\n".join([
        f"## Loading and validating a multi-position export ({POSITION.upper()})",
        "",
        f"`load_training_data` with a column-mapping file and `invalid_rows=\"quarantine\"` on "
        f"the generated messy export (tests/messy_export.py: 11 positions, other header names, "
        f"BOM and CRLF, zero heights in ~10% of rows); median of {repeats} runs after one "
        "warm-up, in one process.",
        "",
        table(["rows in file", "file size", "median", "all runs", "used", "rejected",
               "skipped", "counts add up"],
              [[f"{rows:,}", f"{r['size_mb']:.1f} MB", f"{r['median']:.2f} s",
                ", ".join(f"{t:.2f}" for t in r["times"]), f"{r['used']:,}",
                f"{r['rejected']:,}", f"{r['skipped']:,}", "yes" if r["adds_up"] else "**no**"]]),
        "",
        "Reproduce: `python -m bench.data_loading`",
    ])
    goals: tuple[Goal, ...] = ()
    if rows == ROWS:
        goals = (Goal(f"load and validate a {ROWS // 1000}k-row multi-position file",
                      f"<= {GOAL_SECONDS:.0f} s", f"{r['median']:.2f} s",
                      r["median"] <= GOAL_SECONDS and r["adds_up"],
                      f"{r['median'] / GOAL_SECONDS:.0%} of budget"),)
    return Section(md, goals)


if __name__ == "__main__":
    print(run().markdown)
