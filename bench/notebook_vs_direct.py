"""Notebook engine vs direct engine vs plain papermill: wall time of training every position.

Each run is the real command, ``recruit-reveal train --csv data/training.csv
--position all --jobs 2`` with ``--engine notebook`` or ``--engine direct``,
in a fresh process writing to an empty temporary models/runs folder.  The
peer is the same template run by hand with the plain ``papermill`` CLI, one
position after another, each with the parameters recruit-reveal injects
(``dataclasses.asdict`` of the run's ``NotebookParams``; checked against the
parameters papermill recorded in recruit-reveal's own records).  The three
take turns run by run (the order rotates), so all see the same machine load.
Goals: median notebook / median direct <= 1.3, and recruit-reveal's notebook
engine no slower than plain papermill (ratio <= 1.0).

The notebook records keep papermill's per-cell durations; the breakdown table
shows where the notebook's extra time goes (figures, kernel start, HTML).
"""

from __future__ import annotations

import dataclasses
import json
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
#: Three ways, each a few seconds to half a minute: three runs each keep make bench short.
REPEATS = 3
GOAL_RATIO = 1.3
GOAL_PLAIN_RATIO = 1.0
VERSION = "1.0.0"
ENGINES = ("notebook", "direct", "papermill")
SMOKE_ROWS = 120
#: Smoke mode trains one position: a notebook run costs a kernel start whatever the size.
SMOKE_POSITION = "qb"


def _positions(position: str) -> tuple[str, ...]:
    from recruit_reveal.schema import POSITIONS

    return tuple(POSITIONS) if position == "all" else (position,)


def record_path(runs: Path, version: str, position: str) -> Path:
    """Where recruit-reveal puts a run's record (``release.records.record_path``)."""
    return runs / f"v{version}" / f"{position}.ipynb"


def plain_parameters(csv: Path, folder: Path, cv_folds: int, position: str) -> dict:
    """What ``recruit-reveal train`` injects for ``position`` (runner defaults, no promote)."""
    from recruit_reveal.release.contract import NotebookParams, display_path

    runs = folder / "runs"
    params = NotebookParams(position=position, csv_path=str(csv), version=VERSION,
                            models_dir=str(folder / "models"), cv_folds=cv_folds,
                            promote=False, changelog=None, runs_dir=str(runs),
                            audit_record=display_path(record_path(runs, VERSION, position)))
    return dataclasses.asdict(params)


def _papermill(csv: Path, folder: Path, cv_folds: int, position: str) -> float:
    """The template through the plain papermill CLI, one position after another."""
    from recruit_reveal.release.contract import TEMPLATE

    papermill = str(Path(sys.executable).parent / "papermill")
    commands = []
    for pos in _positions(position):
        record = record_path(folder / "runs", VERSION, pos)
        record.parent.mkdir(parents=True, exist_ok=True)
        params_file = folder / f"{pos}.parameters.yaml"  # JSON is YAML
        params_file.write_text(json.dumps(plain_parameters(csv, folder, cv_folds, pos)))
        commands.append([papermill, str(TEMPLATE), str(record), "-f", str(params_file),
                         "-k", "python3", "--no-progress-bar"])
    start = time.perf_counter()
    for command in commands:
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False,
                              timeout=1800)
        if proc.returncode != 0:
            raise RuntimeError(f"papermill run failed:\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def _recorded_parameters(runs: Path) -> dict[str, dict]:
    """The parameters papermill wrote into each record of a run, by position."""
    import nbformat

    out = {}
    for record in sorted(runs.glob("v*/*.ipynb")):
        nb = nbformat.read(record, as_version=4)
        out[record.stem] = dict(nb.metadata.get("papermill", {}).get("parameters", {}))
    return out


def _same_parameters(ours: dict[str, dict], plain: dict[str, dict], ours_folder: Path,
                     plain_folder: Path) -> bool:
    """Both ran every position with the same parameters, up to their own folders."""
    def normal(params: dict, folder: Path) -> str:
        text = json.dumps(params, sort_keys=True)
        for form in {str(folder), str(folder.resolve())}:
            text = text.replace(form, "<folder>")
        return text

    return (bool(ours) and set(ours) == set(plain)
            and all(normal(ours[p], ours_folder) == normal(plain[p], plain_folder)
                    for p in ours))


def _train(engine: str, csv: Path, folder: Path, cv_folds: int, position: str) -> float:
    if engine == "papermill":
        return _papermill(csv, folder, cv_folds, position)
    command = [str(Path(sys.executable).parent / "recruit-reveal"), "-q", "train",
               "--csv", str(csv), "--position", position, "--version", VERSION,
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
    position = SMOKE_POSITION if smoke else "all"
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        csv = CSV
        if smoke or not csv.is_file():
            from recruit_reveal.data.synthetic import write_sample

            csv = write_sample(tmp_path / "sample.csv",
                               rows_per_position=SMOKE_ROWS if smoke else 2000)
        times: dict[str, list[float]] = {engine: [] for engine in ENGINES}
        breakdowns = []
        same_parameters = []
        for i in range(repeats):
            order = ENGINES[i % len(ENGINES):] + ENGINES[:i % len(ENGINES)]
            for engine in order:
                folder = tmp_path / f"{engine}-{i}"
                times[engine].append(_train(engine, csv, folder, cv_folds, position))
                if engine == "notebook":
                    breakdowns.append(_cell_breakdown(folder / "runs"))
            same_parameters.append(_same_parameters(
                _recorded_parameters(tmp_path / f"notebook-{i}" / "runs"),
                _recorded_parameters(tmp_path / f"papermill-{i}" / "runs"),
                tmp_path / f"notebook-{i}", tmp_path / f"papermill-{i}"))

    medians = {engine: statistics.median(t) for engine, t in times.items()}
    notebook, direct, plain = medians["notebook"], medians["direct"], medians["papermill"]
    ratio = notebook / direct
    plain_ratio = notebook / plain
    labels = {"notebook": "recruit-reveal train --engine notebook",
              "direct": "recruit-reveal train --engine direct",
              "papermill": "plain papermill CLI, one position after another"}
    rows = [[labels[engine], f"{medians[engine]:.1f}", f"{medians[engine] / plain:.2f}",
             ", ".join(f"{x:.1f}" for x in t)] for engine, t in times.items()]
    steps = sorted({k for b in breakdowns for k in b},
                   key=lambda k: -statistics.median(b.get(k, 0.0) for b in breakdowns))
    step_rows = [[k, f"{statistics.median(b.get(k, 0.0) for b in breakdowns):.1f}"]
                 for k in steps]
    rows_per_position = SMOKE_ROWS if smoke else "2,000 (data/training.csv)"
    checked = ("yes, in every run" if all(same_parameters)
               else f"**no** in {same_parameters.count(False)} of {len(same_parameters)} runs")
    markdown = "\n".join([
        "## Notebook engine vs direct engine vs plain papermill",
        "",
        f"Training {'QB only' if smoke else 'all three positions'} ({rows_per_position} rows "
        f"each, {cv_folds}-fold CV), each run a fresh process writing to empty folders; "
        f"`recruit-reveal train` with --jobs {JOBS} (two positions at a time, an HTML copy "
        "of each record, then one release of all positions), plain papermill "
        "(`papermill notebooks/train_position.ipynb runs/v1.0.0/{pos}.ipynb -f params.yaml "
        "-k python3`) one position after another with the parameters recruit-reveal "
        "injects (no HTML, no release: what a person running the template by hand gets). "
        f"The three take turns, the order rotating, {repeats} run(s) each.  Same "
        f"parameters in the records of both notebook runs, up to their folders: {checked}.",
        "",
        table(["how", "median wall (s)", "/ plain papermill", "runs (s)"], rows),
        "",
        f"Ratio notebook / direct: **{ratio:.2f}** (goal <= {GOAL_RATIO}).  "
        f"Ratio recruit-reveal notebook engine / plain papermill: **{plain_ratio:.2f}** "
        f"(goal <= {GOAL_PLAIN_RATIO}); direct / plain papermill: {direct / plain:.2f}.",
        "",
        "Where the notebook's time goes (seconds summed over the positions, median "
        "run; the positions run two at a time, so these add up to more than the wall time):",
        "",
        table(["step", "seconds"], step_rows),
        "",
        "Reproduce: `python -m bench.notebook_vs_direct`",
    ])
    goals = (
        Goal(name="notebook / direct wall time", target=f"<= {GOAL_RATIO}",
             measured=f"{ratio:.2f}", met=ratio <= GOAL_RATIO,
             margin=f"{(GOAL_RATIO - ratio) / GOAL_RATIO:+.0%}"),
        Goal(name="notebook engine / plain papermill wall time", target=f"<= {GOAL_PLAIN_RATIO}",
             measured=f"{plain_ratio:.2f}", met=plain_ratio <= GOAL_PLAIN_RATIO,
             margin=f"{(GOAL_PLAIN_RATIO - plain_ratio) / GOAL_PLAIN_RATIO:+.0%}"),
    )
    return Section(markdown=markdown, goals=goals)


if __name__ == "__main__":
    print(run().markdown)
