"""Training speed and scale: the direct engine on one position at growing sizes.

Each measurement runs in a fresh interpreter so its wall time and peak
memory (ru_maxrss) belong to that run alone.  Goal: 100,000 rows
per position, CV included, in <= 60 s and <= 2 GB on two cores.
"""

from __future__ import annotations

import statistics

from ._common import Goal, Section, run_isolated, table

SIZES = (2_000, 20_000, 100_000)
SMOKE_SIZES = (300,)
POSITION = "qb"
REPEATS = 5
GOAL_SECONDS = 60.0
GOAL_MEMORY_MB = 2048.0

# Generation happens before the clock starts: the benchmark is about training.
_CHILD = r"""
import json, resource, sys, tempfile, time
from pathlib import Path
from recruit_reveal.data.synthetic import generate
from recruit_reveal.modeling.training import train_position
from recruit_reveal.artifacts.export import save_pipeline
position, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with tempfile.TemporaryDirectory() as tmp:
    csv = Path(tmp) / "train.csv"
    generate(position, n, seed).to_csv(csv, index=False)
    start = time.perf_counter()
    result = train_position(csv, position, seed=seed, cv_folds=5)
    save_pipeline(result, Path(tmp) / "models", "1.0.0")
    wall = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall": wall, "peak_mb": peak_mb, "timings": result.timings}))
"""


def measure(n: int, repeats: int) -> dict:
    runs = [run_isolated(_CHILD, POSITION, str(n), str(seed)) for seed in range(repeats)]
    return {
        "wall": statistics.median(r["wall"] for r in runs),
        "wall_all": [r["wall"] for r in runs],
        "peak_mb": statistics.median(r["peak_mb"] for r in runs),
        "cv": statistics.median(r["timings"].get("cv", float("nan")) for r in runs),
    }


def run(smoke: bool = False) -> Section:
    sizes = SMOKE_SIZES if smoke else SIZES
    repeats = 1 if smoke else REPEATS
    results = {n: measure(n, repeats) for n in sizes}

    rows = []
    previous = None
    for n, r in results.items():
        growth = "" if previous is None else (
            f"x{r['wall'] / results[previous]['wall']:.1f} time, "
            f"x{r['peak_mb'] / results[previous]['peak_mb']:.1f} memory "
            f"for x{n / previous:.0f} rows")
        rows.append([f"{n:,}", f"{r['wall']:.1f} s", f"{r['cv']:.1f} s", f"{r['peak_mb']:.0f} MB",
                     growth])
        previous = n
    md = "\n".join([
        f"## Training speed and scale ({POSITION.upper()}, direct engine)",
        "",
        f"Load, validate, 5-fold CV with baselines, final fit and export, in a fresh process; "
        f"median of {repeats} runs (seeds 0..{repeats - 1}); peak memory is the process's maxrss.",
        "",
        table(["rows", "wall time", "of which CV", "peak memory", "growth"], rows),
        "",
        "Reproduce: `python -m bench.scale`",
    ])
    goals: tuple[Goal, ...] = ()
    largest = max(sizes)
    if largest == 100_000:
        r = results[largest]
        goals = (
            Goal("train 100k rows (CV included), time", f"<= {GOAL_SECONDS:.0f} s",
                 f"{r['wall']:.1f} s", r["wall"] <= GOAL_SECONDS,
                 f"{r['wall'] / GOAL_SECONDS:.0%} of budget"),
            Goal("train 100k rows, peak memory", f"<= {GOAL_MEMORY_MB:.0f} MB",
                 f"{r['peak_mb']:.0f} MB", r["peak_mb"] <= GOAL_MEMORY_MB,
                 f"{r['peak_mb'] / GOAL_MEMORY_MB:.0%} of budget"),
        )
    return Section(md, goals)


if __name__ == "__main__":
    print(run().markdown)
