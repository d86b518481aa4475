"""``make bench-smoke``: every benchmark runs end to end at tiny sizes, so none can rot."""

import subprocess
import sys
from pathlib import Path

from bench.__main__ import DOCS, MODULES

ROOT = Path(__file__).resolve().parents[1]


def _stamp(path: Path):
    return path.stat().st_mtime_ns if path.exists() else None


def test_smoke_run_reports_every_section_and_leaves_the_docs_alone():
    before = _stamp(DOCS)
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = proc.stdout
    assert "Smoke run" in report
    assert "## Reading the results" in report
    assert "goals met" in report
    for name in MODULES:
        assert f"python -m bench.{name}" in report, f"section of bench.{name} is missing"
    # Tiny sizes say nothing about the goals: the committed results stay as they were.
    assert _stamp(DOCS) == before


def test_a_goal_not_measured_is_neither_met_nor_missed():
    from bench.__main__ import _goals_summary
    from bench._common import Goal

    summary = _goals_summary([Goal("a", "<= 1", "0.5", True),
                              Goal("b", "<= 1", "not measured", None, "why")])
    assert summary.startswith("1 of 2 goals met (1 not measured).")
    assert "| b | <= 1 | not measured | not measured | why |" in summary


def test_an_optional_benchmark_missing_from_the_tree_still_shows_its_goals(monkeypatch):
    import bench.__main__ as main

    everything = list(main._BASE_MODULES)
    monkeypatch.setattr(main, "MODULES", main._BASE_MODULES)  # as if bench/workers.py were gone
    pending = main.pending_goals(everything)
    assert [g.met for g in pending] == [None] * len(pending) and pending
    assert main.pending_goals(everything[:1]) == []  # --only: no placeholders
    monkeypatch.setattr(main, "MODULES", main._BASE_MODULES + ("workers",))
    assert main.pending_goals(everything) == []  # the module feeds its own goals


def test_scale_works_out_the_limits_from_the_two_largest_points():
    from bench.scale import _limits

    results = {200_000: {"wall": 30.0, "peak_mb": 500.0},
               1_000_000: {"wall": 150.0, "peak_mb": 1300.0}}
    text = " ".join(_limits(results))
    assert "15.0 s and 100 MB" in text  # per further 100,000 rows
    assert "5 minutes at about 2.0 million rows and 4 GB at about 3.8 million" in text
    assert "(needs two sizes" in _limits({1_000: {"wall": 1.0, "peak_mb": 1.0}})[0]


def test_plain_papermill_gets_the_parameters_recruit_reveal_injects(tmp_path):
    from bench.notebook_vs_direct import _same_parameters, plain_parameters
    from recruit_reveal.release.contract import NotebookParams

    params = plain_parameters(tmp_path / "train.csv", tmp_path / "a", 5, "rb")
    assert tuple(params) == NotebookParams.names()
    assert (params["position"], params["version"], params["promote"]) == ("rb", "1.0.0", False)
    assert params["audit_record"].endswith("rb.ipynb")
    other = plain_parameters(tmp_path / "train.csv", tmp_path / "b", 5, "rb")
    assert _same_parameters({"rb": params}, {"rb": other}, tmp_path / "a", tmp_path / "b")
    changed = {**other, "seed": 7}
    assert not _same_parameters({"rb": params}, {"rb": changed}, tmp_path / "a", tmp_path / "b")
    assert not _same_parameters({}, {}, tmp_path / "a", tmp_path / "b")


def test_a_peer_that_did_not_run_is_reported_not_measured():
    from bench.mlflow_serving import _section

    ours = {"p50": 1.0, "p99": 2.0, "rps": 900.0, "p99_32": 30.0}
    section = _section({"ours:plain": ours, "ours:whatif": ours}, "a model", 145,
                       "the MLflow environment could not be created (no network)", None,
                       0.0, 0.0, {}, 400, 40, 5)
    assert len(section.goals) == 6 and all(g.met is None for g in section.goals)
    assert "MLflow not measured: the MLflow environment could not be created" in section.markdown
    assert "0.00x" not in section.markdown


def test_mlflow_stays_out_of_the_product_and_the_tests():
    import tomllib

    from bench import mlflow_env

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + [d for deps in project["optional-dependencies"].values()
                                          for d in deps]
    assert not [d for d in declared if d.lower().startswith("mlflow")]
    assert mlflow_env.ENV.name in (ROOT / ".gitignore").read_text()
    makefile = (ROOT / "Makefile").read_text()
    test_target = next(line for line in makefile.splitlines() if line.startswith("test:"))
    assert "mlflow" not in test_target


def test_merge_replaces_a_section_and_its_goal_rows_and_recounts():
    from bench.__main__ import merge
    from bench._common import Goal, Section

    existing = ("# Benchmarks\n\n## Reading the results\n\n1 of 2 goals met.\n\n"
                "| goal | target | measured | verdict | margin |\n|---|---|---|---|---|\n"
                "| a | <= 1 | 0.5 | met |  |\n| b | <= 1 | 2 | **missed** |  |\n\n"
                "## Old section\n\nold b figures\n\n## Other\n\nkept\n")
    new = {"old": Section("## Old section\n\nnew b figures", (Goal("b", "<= 1", "0.9", True),
                                                             Goal("c", ">= 1", "3", True)))}
    merged = merge(existing, new, "2026-12-08")
    assert "3 of 3 goals met." in merged
    assert "| b | <= 1 | 0.9 | met |  |" in merged and "**missed**" not in merged
    assert "| c | >= 1 | 3 | met |  |" in merged
    assert "new b figures" in merged and "old b figures" not in merged
    assert "## Other\n\nkept" in merged
    assert "Old section: measured alone on 2026-12-08" in merged


def test_the_backtest_bench_takes_a_real_export_from_the_environment():
    from bench import backtest

    assert "No real export given" in backtest.real_export(None)
    text = backtest.real_export(f"{ROOT / 'data' / 'training.csv'}:qb")
    assert "Real export training.csv (qb, 2,000 rows)" in text
    header = next(line for line in text.splitlines() if line.startswith("| shuffled CV"))
    assert all(option in header for option in backtest.OPTIONS)
