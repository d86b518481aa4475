"""The runner's papermill execution and audit records, on small fixture notebooks (no
training needed), the notebook-run contract, and the version and pre-flight rules of
``runner.train``.

The end-to-end runs of the real template are in tests/test_cli.py and
tests/test_notebook.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
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
from recruit_reveal.release import contract, engines, notebook, records, runner
from recruit_reveal.release.summary import PositionRun, RunSummary
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

    executed = notebook.run_notebook(FIXTURES / "ok.ipynb", record,
                                     {"position": "rb", "value": 21}, position="rb",
                                     cell_timeout=60)

    # The executed notebook comes back, and it is what the record holds.
    assert executed.cells[-1].outputs[0]["text"] == "rb: value=42\n"
    assert nbformat.read(record, as_version=4).cells == executed.cells
    assert record.with_suffix(".html").is_file()
    assert records.record_status(record) == "succeeded"
    text = _outputs_text(record)
    assert "rb: value=42" in text  # the injected parameters were used
    # The kernel is this interpreter, so the venv that runs the runner trains the model.
    assert f"interpreter {sys.executable}" in text
    assert f"prefix {sys.prefix}" in text
    import recruit_reveal

    assert f"package {recruit_reveal.__file__}" in text


def test_each_finished_cell_logs_one_progress_line(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="recruit_reveal.release.notebook")
    notebook.run_notebook(FIXTURES / "ok.ipynb", tmp_path / "wr.ipynb", {"position": "wr"},
                          position="wr", cell_timeout=60)

    lines = [r.getMessage() for r in caplog.records if ": cell " in r.getMessage()]
    # markdown, parameters, injected parameters, then three code cells: six in all
    assert [line.split(" done in ")[0] for line in lines] == [
        "wr: cell 2/6", "wr: cell 3/6", "wr: cell 4/6", "wr: cell 5/6", "wr: cell 6/6"]
    assert lines[-1].endswith('print(f"{position}: value={value * 2}")')
    # Records are written atomically: no temp file is left beside them.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wr.html", "wr.ipynb"]


def test_failing_cell_names_position_and_cell_and_keeps_the_record(tmp_path):
    record = tmp_path / "wr.ipynb"

    with pytest.raises(NotebookExecutionError) as info:
        notebook.run_notebook(FIXTURES / "fails.ipynb", record, {"position": "wr"},
                            position="wr", cell_timeout=60)

    message = str(info.value)
    assert message.startswith("wr: cell ")
    assert "raise ValueError" in message and "boom in wr" in message
    assert str(record.name) in message
    assert records.record_status(record) == "failed"
    nb = nbformat.read(record, as_version=4)
    # papermill's own error banner and traceback stay in the record.
    assert "An Exception was encountered" in nb.cells[0].source
    assert any(o.get("ename") == "ValueError" for c in nb.cells for o in c.get("outputs", []))
    assert "boom in wr" in record.with_suffix(".html").read_text(encoding="utf-8")


def test_hanging_cell_is_stopped_by_the_cell_timeout(tmp_path):
    record = tmp_path / "rb.ipynb"

    with pytest.raises(NotebookExecutionError) as info:
        notebook.run_notebook(FIXTURES / "hangs.ipynb", record, {"position": "rb"},
                            position="rb", cell_timeout=2)

    message = str(info.value)
    assert "rb: cell" in message and "time.sleep(600)" in message
    assert "timed out after 2s" in message
    assert records.record_status(record) == "failed"
    nb = nbformat.read(record, as_version=4)
    assert "Execution stopped" in nb.cells[0].source
    assert record.with_suffix(".html").is_file()


def _fake_record(path: Path, status: str) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"{status} run")])
    nb.metadata[records.RECORD_METADATA_KEY] = {"status": status}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    path.with_suffix(".html").write_text(f"<p>{status}</p>", encoding="utf-8")


def test_successful_record_is_never_overwritten(tmp_path):
    record = tmp_path / "qb.ipynb"
    _fake_record(record, "succeeded")
    before = record.read_bytes()

    with pytest.raises(ArtifactExistsError, match="never overwritten"):
        notebook.run_notebook(FIXTURES / "ok.ipynb", record, {"position": "qb"}, position="qb")

    assert record.read_bytes() == before


def test_rerun_keeps_the_failed_record_under_another_name(tmp_path):
    record = tmp_path / "qb.ipynb"
    _fake_record(record, "failed")

    notebook.run_notebook(FIXTURES / "ok.ipynb", record, {"position": "qb"}, position="qb",
                        cell_timeout=60)

    kept = sorted(tmp_path.glob("qb.failed-*.ipynb"))
    assert len(kept) == 1
    assert "failed run" in kept[0].read_text(encoding="utf-8")
    assert kept[0].with_suffix(".html").read_text(encoding="utf-8") == "<p>failed</p>"
    assert records.record_status(record) == "succeeded"


def test_unfinished_or_unreadable_record_counts_as_failed(tmp_path):
    broken = tmp_path / "rb.ipynb"
    broken.write_text("{ not json", encoding="utf-8")
    assert records.record_status(broken) == "failed"
    assert records.record_status(tmp_path / "none.ipynb") is None
    kept = records.prepare_record_slot(broken)
    assert kept is not None and kept.name.startswith("rb.failed-") and not broken.exists()


def test_kernel_check_refuses_a_kernelspec_of_another_interpreter(tmp_path, monkeypatch):
    spec = tmp_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": ["/opt/other/bin/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "other", "language": "python"}), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))

    with pytest.raises(NotebookExecutionError, match="/opt/other/bin/python3"):
        notebook.check_kernel()


def test_kernel_check_accepts_this_interpreter():
    assert notebook.check_kernel() == sys.executable


def _kernelspec(tmp_path, monkeypatch, command: str) -> None:
    spec = tmp_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [command, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "spec", "language": "python"}), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))


def test_kernel_check_accepts_this_interpreter_however_spelled(tmp_path, monkeypatch):
    # The venv's bin folder through a symlink: another spelling, the same interpreter.
    (tmp_path / "bin-link").symlink_to(Path(sys.executable).parent, target_is_directory=True)
    _kernelspec(tmp_path, monkeypatch, str(tmp_path / "bin-link" / Path(sys.executable).name))
    assert notebook.check_kernel() == sys.executable


@pytest.mark.skipif(Path(sys.executable).resolve().parent == Path(sys.executable).parent,
                    reason="the interpreter is not a venv's symlink")
def test_kernel_check_refuses_the_base_interpreter_of_the_venv(tmp_path, monkeypatch):
    # The same file as the venv's python, but started outside the venv: other libraries.
    _kernelspec(tmp_path, monkeypatch, str(Path(sys.executable).resolve()))
    with pytest.raises(NotebookExecutionError, match="not"):
        notebook.check_kernel()


# --- the notebook-run contract -----------------------------------------------------------


def test_params_resolve_and_read_back_from_a_namespace(tmp_path):
    namespace = {**dataclasses.asdict(contract.NotebookParams()), "position": "WR",
                 "models_dir": str(tmp_path), "version": "v1.2.3", "unrelated": 1}
    params = contract.NotebookParams.from_namespace(namespace).resolve()
    assert params.position == "wr" and params.version == "1.2.3"
    assert params.models_dir == str(tmp_path) and Path(params.csv_path).is_absolute()
    assert contract.NotebookParams.from_namespace(dataclasses.asdict(params)) == params
    with pytest.raises(NotebookExecutionError, match="cv_folds"):
        contract.NotebookParams.from_namespace({"position": "qb"})


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


def test_the_runner_takes_results_from_the_runs_not_from_models(sample_csv, tmp_path,
                                                                monkeypatch):
    from recruit_reveal.artifacts import registry
    from recruit_reveal.artifacts.layout import artifact_path

    def no_reading_back(*args, **kwargs):
        raise AssertionError("the runner read the exported metadata back")

    monkeypatch.setattr(registry, "describe", no_reading_back)
    summary = runner.train(sample_csv, "qb", "2.0.0", engine="direct",
                           models_dir=tmp_path / "models", cv_folds=3)

    assert summary.ok and summary.promoted
    (run,) = summary.runs
    pkl = artifact_path(tmp_path / "models", "qb", "2.0.0")
    assert run.artifact == pkl
    assert run.sha256 == hashlib.sha256(pkl.read_bytes()).hexdigest()
    assert run.exact_accuracy is not None and 0 < run.exact_accuracy < 1
    stem = "recruit_reveal_qb_pipeline"
    assert {p.name for p in (tmp_path / "models").iterdir() if not p.name.startswith(".")} == {
        f"{stem}_v2.0.0.pkl", f"{stem}_v2.0.0.metadata.json", f"{stem}_latest.pkl",
        f"{stem}_latest.metadata.json", "CHANGELOG_qb.md"}


# --- versions and pre-flight checks (no notebook runs) --------------------------------


def test_resolve_version_checks_explicit_versions(tmp_path):
    assert contract.resolve_version(tmp_path, ["qb"], "2.3.4") == "2.3.4"
    assert contract.resolve_version(tmp_path, ["qb"], "v2.3.4") == "2.3.4"
    for bad in ("latest", "1.0", "../1.0.0", "1.0.0/../..", "/abs/1.0.0"):
        with pytest.raises(VersionError):
            contract.resolve_version(tmp_path, ["qb"], bad)


def test_resolve_version_takes_the_highest_next_version(models_dir, trained_results):
    from recruit_reveal.artifacts.export import save_pipeline

    assert contract.resolve_version(models_dir, POSITIONS) == "1.0.1"
    save_pipeline(trained_results["rb"], models_dir, "1.0.4", promote=False)
    # One version for the whole release: the highest next one among the positions.
    assert contract.resolve_version(models_dir, POSITIONS) == "1.0.5"
    assert contract.resolve_version(models_dir, ["qb"]) == "1.0.1"


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
    ({"positions": "te"}, DataValidationError, "unknown position 'te'"),
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
    root = Path(contract.__file__).resolve().parents[2]
    monkeypatch.chdir(root / "notebooks")  # where Jupyter runs the template
    assert contract.project_path("scratch/models") == root / "scratch" / "models"
    monkeypatch.chdir(tmp_path)
    assert contract.project_path("scratch/models") == tmp_path / "scratch" / "models"
    assert contract.project_path("/x/y") == Path("/x/y")


def test_summary_names_failures_and_the_exact_promote_command(tmp_path):
    summary = RunSummary(version="1.2.0", engine="notebook", models_dir=tmp_path / "m",
                                runs_dir=tmp_path / "runs")
    summary.runs = [
        PositionRun("qb", "1.2.0", status="succeeded", exact_accuracy=0.61,
                           within_one_accuracy=0.95, duration=3.0),
        PositionRun("rb", "1.2.0", status="succeeded", duration=2.0),
        PositionRun("wr", "1.2.0", status="failed", error="wr: cell 8 raised X"),
    ]
    assert not summary.ok
    command = summary.promote_command()
    assert command == (f"recruit-reveal models promote qb 1.2.0 --models-dir {tmp_path / 'm'}"
                       f" && recruit-reveal models promote rb 1.2.0 --models-dir "
                       f"{tmp_path / 'm'}")
    text = summary.report()
    assert "FAILED wr: wr: cell 8 raised X" in text
    assert "latest was left unchanged" in text and command in text
    assert text.splitlines()[0].split() == list(RunSummary.HEADERS)
    assert "0.610" in text and "0.950" in text
    summary.csv = tmp_path / "t.csv"
    assert summary.retry_command() == (
        f"recruit-reveal train --csv {tmp_path / 't.csv'} --position wr --version 1.2.0 "
        f"--models-dir {tmp_path / 'm'} --runs-dir {tmp_path / 'runs'}")
    assert summary.retry_command() in summary.report()
