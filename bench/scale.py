"""Training speed and scale: the direct engine on one position at growing sizes.

The rows come from the project's generator (``recruit_reveal.data.synthetic``),
written to a temporary CSV by this process before the clock starts; each
measurement then runs in a fresh interpreter, so its wall time and peak memory
(``ru_maxrss``) belong to that run alone: load and validate the CSV, 5-fold CV
with baselines, final fit and export.  At the largest size a second child only
loads and validates, for that step's own peak memory.

Goals: 100,000 rows per position, CV included, in <= 60 s and <= 2 GB; and
1,000,000 rows in <= 5 min and <= 4 GB, on two cores.  The million-row point
is one position (QB), one run: three positions at that size would take three
times as long one after another, too long for ``make bench``.  From the
measured points the section works out where one machine stops being enough.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from ._common import Goal, Section, run_isolated, table

SIZES = (2_000, 20_000, 100_000, 200_000, 1_000_000)
SMOKE_SIZES = (300,)
POSITION = "qb"
REPEATS = 3
#: Fewer runs where one run takes minutes: still a median where it can be.
REPEATS_AT = {200_000: 1, 1_000_000: 1}
GOAL_SECONDS = 60.0
GOAL_MEMORY_MB = 2048.0
GOAL_1M_SECONDS = 300.0
GOAL_1M_MEMORY_MB = 4096.0

_CHILD = r"""
import json, resource, sys, tempfile, time
from pathlib import Path
position, csv, seed, what = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
start = time.perf_counter()
if what == "load":
    from recruit_reveal.data.loading import load_training_data
    data = load_training_data(csv, position)
    timings = {"load": time.perf_counter() - start}
else:
    from recruit_reveal.modeling.training import train_position
    from recruit_reveal.artifacts.writer import save_pipeline
    with tempfile.TemporaryDirectory() as tmp:
        result = train_position(csv, position, seed=seed, cv_folds=5)
        save_pipeline(result, Path(tmp) / "models", "1.0.0")
    timings = result.timings
wall = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall": wall, "peak_mb": peak_mb, "timings": timings}))
"""


def _csv(folder: Path, n: int, seed: int) -> Path:
    from recruit_reveal.data.synthetic import generate

    path = folder / f"{POSITION}-{n}-{seed}.csv"
    generate(POSITION, n, seed).to_csv(path, index=False)
    return path


def measure(n: int, repeats: int, load_only: bool = False) -> dict:
    runs = []
    load_run = None
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(repeats):
            csv = _csv(Path(tmp), n, seed)
            runs.append(run_isolated(_CHILD, POSITION, str(csv), str(seed), "train",
                                     timeout=1800))
            if load_only and seed == 0:
                load_run = run_isolated(_CHILD, POSITION, str(csv), str(seed), "load")
            csv.unlink()
    return {
        "wall": statistics.median(r["wall"] for r in runs),
        "wall_all": [r["wall"] for r in runs],
        "peak_mb": statistics.median(r["peak_mb"] for r in runs),
        "load": statistics.median(r["timings"].get("load", float("nan")) for r in runs),
        "cv": statistics.median(r["timings"].get("cv", float("nan")) for r in runs),
        "repeats": repeats,
        "load_only": load_run,
    }


def _per_100k(results: dict[int, dict], key: str) -> tuple[float, float]:
    """Slope per 100,000 rows and intercept of ``key``, from the two largest sizes."""
    a, b = sorted(results)[-2:]
    slope = (results[b][key] - results[a][key]) / (b - a) * 100_000
    return slope, results[b][key] - slope * b / 100_000


def _limits(results: dict[int, dict]) -> list[str]:
    """Where one machine like this one stops being enough, from the measured points."""
    if len(results) < 2:
        return ["(needs two sizes to say.)"]
    t_slope, t_base = _per_100k(results, "wall")
    m_slope, m_base = _per_100k(results, "peak_mb")
    below, largest = sorted(results)[-2:]
    top = results[largest]
    lines = [
        f"Here {largest:,} rows of one position took {top['wall']:.0f} s and "
        f"{top['peak_mb']:,.0f} MB at peak.  Between {below:,} and {largest:,} rows each "
        f"further 100,000 rows cost {t_slope:.1f} s and {m_slope:.0f} MB (a straight line "
        "through the two largest points; beyond them an estimate, not a measurement)."]
    if t_slope > 0 and m_slope > 0:
        rows_time = (GOAL_1M_SECONDS - t_base) / t_slope * 100_000
        rows_mem = (GOAL_1M_MEMORY_MB - m_base) / m_slope * 100_000
        lines.append(
            f"On that line one position reaches 5 minutes at about {rows_time / 1e6:.1f} "
            f"million rows and 4 GB at about {rows_mem / 1e6:.1f} million; three positions "
            f"one after another take three times as long (about {rows_time / 3e6:.1f} "
            "million rows each within 5 minutes), and with --jobs 2 two positions share the "
            "two cores and need their memory at once.")
    lines.append(
        "So a machine like this one is enough up to roughly those sizes; it stops being "
        "enough when the data no longer fits in memory several times over (pandas holds "
        "the whole CSV, and CV copies it per fold) or a retrain must finish faster than "
        "the line above allows.  Before buying anything, the learning curve section shows "
        "how little the model gains from more rows, so a stratified sample is the first, "
        "cheapest step.  Past that a team would move to a bigger machine (CV folds run in "
        "parallel with n_jobs, so cores help directly), then to out-of-core reading "
        "(pyarrow or polars in chunks) with an incrementally fitted model (scikit-learn's "
        "partial_fit estimators), and only for data no single machine holds to a "
        "distributed trainer (Spark MLlib, Dask-ML or Ray).")
    return lines


def run(smoke: bool = False) -> Section:
    sizes = SMOKE_SIZES if smoke else SIZES
    largest = max(sizes)
    results = {n: measure(n, 1 if smoke else REPEATS_AT.get(n, REPEATS),
                          load_only=n == largest) for n in sizes}

    rows = []
    previous = None
    for n, r in results.items():
        growth = "" if previous is None else (
            f"x{r['wall'] / results[previous]['wall']:.1f} time, "
            f"x{r['peak_mb'] / results[previous]['peak_mb']:.1f} memory "
            f"for x{n / previous:.0f} rows")
        rows.append([f"{n:,}", r["repeats"], f"{r['wall']:.1f} s", f"{r['load']:.1f} s",
                     f"{r['cv']:.1f} s", f"{r['peak_mb']:.0f} MB", growth])
        previous = n
    top = results[largest]
    load_only = top["load_only"]
    md = "\n".join([
        f"## Training speed and scale ({POSITION.upper()}, direct engine)",
        "",
        f"Rows from the project's generator, written to a CSV before the clock starts; "
        f"each run a fresh process: load and validate, 5-fold CV with baselines, final fit "
        f"and export; median of the runs shown (seeds 0, 1, ...); peak memory is the "
        f"process's maxrss.  {largest:,} rows is one position, one run: all three at that "
        "size would take about three times as long one after another, too long for "
        "`make bench`.",
        "",
        table(["rows", "runs", "wall time", "of which load + validate", "of which CV",
               "peak memory", "growth"], rows),
        "",
        f"Loading and validating the {largest:,}-row CSV alone (a process that does only "
        f"that): {load_only['wall']:.1f} s, peak memory {load_only['peak_mb']:.0f} MB.",
        "",
        "Where one machine stops being enough.  " + "  ".join(_limits(results)),
        "",
        "Reproduce: `python -m bench.scale`",
    ])
    goals: list[Goal] = []
    if 100_000 in results:
        r = results[100_000]
        goals += [
            Goal("train 100k rows (CV included), time", f"<= {GOAL_SECONDS:.0f} s",
                 f"{r['wall']:.1f} s", r["wall"] <= GOAL_SECONDS,
                 f"{r['wall'] / GOAL_SECONDS:.0%} of budget"),
            Goal("train 100k rows, peak memory", f"<= {GOAL_MEMORY_MB:.0f} MB",
                 f"{r['peak_mb']:.0f} MB", r["peak_mb"] <= GOAL_MEMORY_MB,
                 f"{r['peak_mb'] / GOAL_MEMORY_MB:.0%} of budget"),
        ]
    if 1_000_000 in results:
        r = results[1_000_000]
        goals += [
            Goal("1M rows (one position, QB): load, validate, CV, fit, export; time",
                 f"<= {GOAL_1M_SECONDS:.0f} s", f"{r['wall']:.0f} s",
                 r["wall"] <= GOAL_1M_SECONDS, f"{r['wall'] / GOAL_1M_SECONDS:.0%} of budget"),
            Goal("1M rows (one position, QB), peak memory", f"<= {GOAL_1M_MEMORY_MB:.0f} MB",
                 f"{r['peak_mb']:.0f} MB", r["peak_mb"] <= GOAL_1M_MEMORY_MB,
                 f"{r['peak_mb'] / GOAL_1M_MEMORY_MB:.0%} of budget"),
        ]
    return Section(md, tuple(goals))


if __name__ == "__main__":
    print(run().markdown)
