"""Notebook engine vs direct engine: wall time of training every position.

Each run is the real command, ``recruit-reveal train --csv data/training.csv
--position all --jobs 2`` with ``--engine notebook`` or ``--engine direct``,
in a fresh process writing to an empty temporary models/runs folder.  The two
engines alternate run by run, so both see the same machine load.  Goal:
median notebook / median direct <= 1.3.

The notebook records keep papermill's per-cell durations; the breakdown table
shows where the notebook's extra time goes (figures, kernel start, HTML).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from ._common import Goal, Section, table

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT / "data" / "training.csv"
JOBS = 2
REPEATS = 5
GOAL_RATIO = 1.3
SMOKE_ROWS = 120
#: Smoke mode trains one position: a notebook run costs a kernel start whatever the size.
SMOKE_POSITION = "qb"


def _train(engine: str, csv: Path, folder: Path, cv_folds: int, position: str) -> float:
    command = [str(Path(sys.executable).parent / "recruit-reveal"), "-q", "train",
               "--csv", str(csv), "--position", position, "--version", "1.0.0",
               "--engine", engine, "--jobs", str(JOBS), "--cv-folds", str(cv_folds),
               "--models-dir", str(folder / "models"), "--runs-dir", str(folder / "runs")]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, check=False, timeout=1800)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{engine} run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return wall


def _cell_breakdown(runs: Path) -> dict[str, float]:
    """Seconds per notebook step, summed over the positions of one run."""
    import nbformat

    steps: dict[str, float] = defaultdict(float)
    for record in sorted(runs.glob("v*/*.ipynb")):
        nb = nbformat.read(record, as_version=4)
        meta = nb.metadata.get("papermill", {})
        cells = 0.0
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            seconds = cell.metadata.get("papermill", {}).get("duration") or 0.0
            cells += seconds
            steps[_step(cell.source)] += seconds
        steps["kernel start, papermill, saving"] += (meta.get("duration") or 0.0) - cells
    return steps


def _step(source: str) -> str:
    for needle, name in (("train_position", "train_position (CV + final fit)"),
                         ("load_training_data", "load and validate"),
                         ("save_pipeline", "export"),
                         ("plot_permutation_importance", "figure: permutation importance"),
                         ("plot_", "other figures"),
                         ("import", "imports and settings")):
        if needle in source:
            return name
    return "tables and displays"


def run(smoke: bool = False) -> Section:
    repeats = 1 if smoke else REPEATS
    cv_folds = 3 if smoke else 5
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        csv = CSV
        if smoke or not csv.is_file():
            from recruit_reveal.data.synthetic import write_sample

            csv = write_sample(tmp_path / "sample.csv",
                               rows_per_position=SMOKE_ROWS if smoke else 2000)
        times: dict[str, list[float]] = {"notebook": [], "direct": []}
        breakdowns = []
        for i in range(repeats):
            for engine in ("notebook", "direct") if i % 2 == 0 else ("direct", "notebook"):
                folder = tmp_path / f"{engine}-{i}"
                times[engine].append(_train(engine, csv, folder, cv_folds,
                                            SMOKE_POSITION if smoke else "all"))
                if engine == "notebook":
                    breakdowns.append(_cell_breakdown(folder / "runs"))

    notebook = statistics.median(times["notebook"])
    direct = statistics.median(times["direct"])
    ratio = notebook / direct
    rows = [[engine, f"{statistics.median(t):.1f}",
             ", ".join(f"{x:.1f}" for x in t)] for engine, t in times.items()]
    steps = sorted({k for b in breakdowns for k in b},
                   key=lambda k: -statistics.median(b.get(k, 0.0) for b in breakdowns))
    step_rows = [[k, f"{statistics.median(b.get(k, 0.0) for b in breakdowns):.1f}"]
                 for k in steps]
    rows_per_position = SMOKE_ROWS if smoke else "2,000 (data/training.csv)"
    markdown = "\n".join([
        "## Notebook engine vs direct engine",
        "",
        f"Training {'QB only' if smoke else 'all three positions'} ({rows_per_position} rows "
        f"each, {cv_folds}-fold CV, "
        f"--jobs {JOBS}), each run a fresh `recruit-reveal train` process; engines "
        f"alternate, {repeats} run(s) each.",
        "",
        table(["engine", "median wall (s)", "runs (s)"], rows),
        "",
        f"Ratio notebook / direct: **{ratio:.2f}** (goal <= {GOAL_RATIO}).",
        "",
        "Where the notebook's time goes (seconds summed over the positions, median "
        "run; the positions run two at a time, so these add up to more than the wall time):",
        "",
        table(["step", "seconds"], step_rows),
        "",
        "Reproduce: `python -m bench.notebook_vs_direct`",
    ])
    goal = Goal(name="notebook / direct wall time", target=f"<= {GOAL_RATIO}",
                measured=f"{ratio:.2f}", met=ratio <= GOAL_RATIO,
                margin=f"{(GOAL_RATIO - ratio) / GOAL_RATIO:+.0%}")
    return Section(markdown=markdown, goals=(goal,))


if __name__ == "__main__":
    print(run().markdown)
