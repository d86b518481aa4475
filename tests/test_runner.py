"""The runner's papermill orchestration, on small fixture notebooks (no training needed),
plus the version and pre-flight rules of ``runner.train``.

The end-to-end runs of the real template are in tests/test_cli.py and
tests/test_notebook.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

from recruit_reveal.errors import (
    ArtifactExistsError,
    DataValidationError,
    NotebookExecutionError,
    RecruitRevealError,
    VersionError,
)
from recruit_reveal.release import runner
from recruit_reveal.schema import POSITIONS

FIXTURES = Path(__file__).parent / "fixtures"


def _outputs_text(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return json.dumps([c.get("outputs", []) for c in nb.cells] + [c.source for c in nb.cells])


def test_successful_notebook_leaves_record_html_and_runs_this_interpreter(tmp_path,
                                                                         monkeypatch):
    record = tmp_path / "runs" / "v1.0.0" / "qb.ipynb"
    # A stray recruit_reveal/ in the working directory (say a second checkout) must not
    # shadow the package the runner itself uses.
    (tmp_path / "recruit_reveal").mkdir()
    (tmp_path / "recruit_reveal" / "__init__.py").write_text("", encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    out = runner.run_notebook(FIXTURES / "ok.ipynb", record, {"position": "rb", "value": 21},
                              position="rb", cell_timeout=60)

    assert out == record
    assert record.with_suffix(".html").is_file()
    assert runner.record_status(record) == "succeeded"
    text = _outputs_text(record)
    assert "rb: value=42" in text  # the injected parameters were used
    # The kernel is this interpreter, so the venv that runs the runner trains the model.
    assert f"interpreter {sys.executable}" in text
    assert f"prefix {sys.prefix}" in text
    import recruit_reveal

    assert f"package {recruit_reveal.__file__}" in text


def test_failing_cell_names_position_and_cell_and_keeps_the_record(tmp_path):
    record = tmp_path / "wr.ipynb"

    with pytest.raises(NotebookExecutionError) as info:
        runner.run_notebook(FIXTURES / "fails.ipynb", record, {"position": "wr"},
                            position="wr", cell_timeout=60)

    message = str(info.value)
    assert message.startswith("wr: cell ")
    assert "raise ValueError" in message and "boom in wr" in message
    assert str(record.name) in message
    assert runner.record_status(record) == "failed"
    nb = nbformat.read(record, as_version=4)
    # papermill's own error banner and traceback stay in the record.
    assert "An Exception was encountered" in nb.cells[0].source
    assert any(o.get("ename") == "ValueError" for c in nb.cells for o in c.get("outputs", []))
    assert "boom in wr" in record.with_suffix(".html").read_text(encoding="utf-8")


def test_hanging_cell_is_stopped_by_the_cell_timeout(tmp_path):
    record = tmp_path / "rb.ipynb"

    with pytest.raises(NotebookExecutionError) as info:
        runner.run_notebook(FIXTURES / "hangs.ipynb", record, {"position": "rb"},
                            position="rb", cell_timeout=2)

    message = str(info.value)
    assert "rb: cell" in message and "time.sleep(600)" in message
    assert "timed out after 2s" in message
    assert runner.record_status(record) == "failed"
    nb = nbformat.read(record, as_version=4)
    assert "Execution stopped" in nb.cells[0].source
    assert record.with_suffix(".html").is_file()


def _fake_record(path: Path, status: str) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"{status} run")])
    nb.metadata[runner.RECORD_METADATA_KEY] = {"status": status}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    path.with_suffix(".html").write_text(f"<p>{status}</p>", encoding="utf-8")


def test_successful_record_is_never_overwritten(tmp_path):
    record = tmp_path / "qb.ipynb"
    _fake_record(record, "succeeded")
    before = record.read_bytes()

    with pytest.raises(ArtifactExistsError, match="never overwritten"):
        runner.run_notebook(FIXTURES / "ok.ipynb", record, {"position": "qb"}, position="qb")

    assert record.read_bytes() == before


def test_rerun_keeps_the_failed_record_under_another_name(tmp_path):
    record = tmp_path / "qb.ipynb"
    _fake_record(record, "failed")

    runner.run_notebook(FIXTURES / "ok.ipynb", record, {"position": "qb"}, position="qb",
                        cell_timeout=60)

    kept = sorted(tmp_path.glob("qb.failed-*.ipynb"))
    assert len(kept) == 1
    assert "failed run" in kept[0].read_text(encoding="utf-8")
    assert kept[0].with_suffix(".html").read_text(encoding="utf-8") == "<p>failed</p>"
    assert runner.record_status(record) == "succeeded"


def test_unfinished_or_unreadable_record_counts_as_failed(tmp_path):
    broken = tmp_path / "rb.ipynb"
    broken.write_text("{ not json", encoding="utf-8")
    assert runner.record_status(broken) == "failed"
    assert runner.record_status(tmp_path / "none.ipynb") is None
    kept = runner.prepare_record_slot(broken)
    assert kept is not None and kept.name.startswith("rb.failed-") and not broken.exists()


def test_kernel_check_refuses_a_kernelspec_of_another_interpreter(tmp_path, monkeypatch):
    spec = tmp_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": ["/opt/other/bin/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "other", "language": "python"}), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))

    with pytest.raises(NotebookExecutionError, match="/opt/other/bin/python3"):
        runner.check_kernel()


def test_kernel_check_accepts_this_interpreter():
    assert runner.check_kernel() == sys.executable


# --- versions and pre-flight checks (no notebook runs) --------------------------------


def test_resolve_version_checks_explicit_versions(tmp_path):
    assert runner.resolve_version(tmp_path, ["qb"], "2.3.4") == "2.3.4"
    assert runner.resolve_version(tmp_path, ["qb"], "v2.3.4") == "2.3.4"
    for bad in ("latest", "1.0", "../1.0.0", "1.0.0/../..", "/abs/1.0.0"):
        with pytest.raises(VersionError):
            runner.resolve_version(tmp_path, ["qb"], bad)


def test_resolve_version_takes_the_highest_next_version(models_dir, trained_results):
    from recruit_reveal.artifacts.export import save_pipeline

    assert runner.resolve_version(models_dir, POSITIONS) == "1.0.1"
    save_pipeline(trained_results["rb"], models_dir, "1.0.4", promote=False)
    # One version for the whole release: the highest next one among the positions.
    assert runner.resolve_version(models_dir, POSITIONS) == "1.0.5"
    assert runner.resolve_version(models_dir, ["qb"]) == "1.0.1"


def test_train_refuses_an_existing_version_before_training(models_dir, sample_csv, tmp_path):
    with pytest.raises(ArtifactExistsError, match="1.0.0 already exists for qb, rb, wr"):
        runner.train(sample_csv, "all", "1.0.0", models_dir=models_dir,
                     runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_train_refuses_a_successful_record_before_training(tmp_path, sample_csv):
    _fake_record(tmp_path / "runs" / "v3.0.0" / "wr.ipynb", "succeeded")
    with pytest.raises(ArtifactExistsError, match="wr.ipynb"):
        runner.train(sample_csv, "all", "3.0.0", models_dir=tmp_path / "models",
                     runs_dir=tmp_path / "runs")
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


@pytest.mark.parametrize("kwargs, error, match", [
    ({"positions": "te"}, RecruitRevealError, "te"),
    ({"engine": "spark"}, RecruitRevealError, "unknown engine"),
    ({"jobs": 0}, RecruitRevealError, "at least 1"),
    ({"csv": "missing.csv"}, DataValidationError, "missing.csv"),
])
def test_train_rejects_bad_requests(tmp_path, sample_csv, kwargs, error, match):
    args = {"csv": sample_csv, "positions": "qb", **kwargs}
    with pytest.raises(error, match=match):
        runner.train(args.pop("csv"), args.pop("positions"), "1.0.0",
                     models_dir=tmp_path / "m", runs_dir=tmp_path / "r", **args)


def test_project_path_resolves_from_the_project_root(tmp_path, monkeypatch):
    root = Path(runner.__file__).resolve().parents[2]
    monkeypatch.chdir(root / "notebooks")  # where Jupyter runs the template
    assert runner.project_path("scratch/models") == root / "scratch" / "models"
    monkeypatch.chdir(tmp_path)
    assert runner.project_path("scratch/models") == tmp_path / "scratch" / "models"
    assert runner.project_path("/x/y") == Path("/x/y")


def test_summary_names_failures_and_the_exact_promote_command(tmp_path):
    summary = runner.RunSummary(version="1.2.0", engine="notebook", models_dir=tmp_path / "m",
                                runs_dir=tmp_path / "runs")
    summary.runs = [
        runner.PositionRun("qb", "1.2.0", status="succeeded", exact_accuracy=0.61,
                           within_one_accuracy=0.95, duration=3.0),
        runner.PositionRun("rb", "1.2.0", status="succeeded", duration=2.0),
        runner.PositionRun("wr", "1.2.0", status="failed", error="wr: cell 8 raised X"),
    ]
    assert not summary.ok
    command = summary.promote_command()
    assert command == (f"recruit-reveal models promote qb 1.2.0 --models-dir {tmp_path / 'm'}"
                       f" && recruit-reveal models promote rb 1.2.0 --models-dir "
                       f"{tmp_path / 'm'}")
    text = summary.report()
    assert "FAILED wr: wr: cell 8 raised X" in text
    assert "latest was left unchanged" in text and command in text
    assert text.splitlines()[0].split() == list(runner.RunSummary.HEADERS)
    assert "0.610" in text and "0.950" in text
    summary.csv = tmp_path / "t.csv"
    assert summary.retry_command() == (
        f"recruit-reveal train --csv {tmp_path / 't.csv'} --position wr --version 1.2.0 "
        f"--models-dir {tmp_path / 'm'} --runs-dir {tmp_path / 'runs'}")
    assert summary.retry_command() in summary.report()
