"""release.engines: the notebook engine takes each position's result from the run itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from recruit_reveal.errors import (
    NotebookExecutionError,
)
from recruit_reveal.release import contract, engines, records

FIXTURES = Path(__file__).parent / "fixtures"


def test_notebook_engine_takes_the_result_the_notebook_displayed(tmp_path):
    engine = engines.NotebookEngine(runs_dir=tmp_path / "runs",
                                    template=FIXTURES / "result.ipynb", cell_timeout=60)
    params = contract.NotebookParams(position="rb", version="4.0.0",
                                     audit_record="runs/v4.0.0/rb.ipynb")

    result = engine.run(params)

    # Nothing was trained or exported: the result is read from the run, not from models/.
    assert result == contract.PositionResult(
        position="rb", version="4.0.0", artifact="/m/model.pkl",
        metadata="/m/model.metadata.json", sha256="ab" * 32, exact_accuracy=0.61,
        within_one_accuracy=0.95, rule_based_exact_accuracy=0.4, ceiling_exact_accuracy=None,
        rows=240, promoted=False, record="runs/v4.0.0/rb.ipynb")
    record = engine.record("4.0.0", "rb")
    assert record is not None and records.record_status(record) == "succeeded"
    # The reader of the record sees the summary table.
    assert "0.610" in record.with_suffix(".html").read_text(encoding="utf-8")


def test_a_notebook_without_a_result_is_a_failed_run(tmp_path):
    engine = engines.NotebookEngine(runs_dir=tmp_path, template=FIXTURES / "ok.ipynb",
                                    cell_timeout=60)
    with pytest.raises(NotebookExecutionError, match="no run result"):
        engine.run(contract.NotebookParams(position="qb", version="1.0.0"))


def test_a_warmed_engine_runs_each_position_in_a_kernel_started_ahead(tmp_path):
    engine = engines.NotebookEngine(runs_dir=tmp_path / "runs",
                                    template=FIXTURES / "result.ipynb", cell_timeout=60)
    engine.warm_up(runs=2, jobs=1)
    try:
        pool = engine.kernels
        assert pool is not None and len(pool.warm) == 1  # one run at a time
        results = [engine.run(contract.NotebookParams(position=pos, version="4.0.0"))
                   for pos in ("qb", "wr")]
        assert [r.position for r in results] == ["qb", "wr"]
        assert pool.take() is None and not pool.warm  # every kernel went to a run
    finally:
        engine.close()
    assert engine.kernels is None
    # without warming, each run starts its own kernel, as before
    assert engine.run(contract.NotebookParams(position="rb", version="4.0.0")).position == "rb"
