"""release.notebook: papermill execution of small fixture notebooks, progress lines, timeouts and the kernel check.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from pathlib import Path

import nbformat
import pytest

from recruit_reveal.errors import (
    NotebookExecutionError,
)
from recruit_reveal.release import notebook, records

FIXTURES = Path(__file__).parent / "fixtures"


def _kernelspec(tmp_path, monkeypatch, command: str) -> None:
    spec = tmp_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [command, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "spec", "language": "python"}), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))


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


def test_records_in_an_object_store_appear_only_when_finished(bucket):
    from recruit_reveal.storage.locations import open_store

    record = f"{bucket}/runs/v1.0.0/wr.ipynb"
    with pytest.raises(NotebookExecutionError, match=f"boom in wr.*record: {record}"):
        notebook.run_notebook(FIXTURES / "fails.ipynb", record, {"position": "wr"},
                              position="wr", cell_timeout=60)
    assert records.record_status(record) == "failed"

    executed = notebook.run_notebook(FIXTURES / "ok.ipynb", record, {"position": "wr"},
                                     position="wr", cell_timeout=60)
    assert executed.cells[-1].outputs[0]["text"] == "wr: value=2\n"
    folder = open_store(f"{bucket}/runs/v1.0.0")
    names = folder.names()
    kept = [n for n in names if n.startswith("wr.failed-")]
    assert sorted(n.rsplit(".", 1)[1] for n in kept) == ["html", "ipynb"]
    assert b"boom in wr" in folder.read(next(n for n in kept if n.endswith(".html")))
    assert records.record_status(record) == "succeeded"
    assert nbformat.reads(folder.read("wr.ipynb").decode(), as_version=4).cells == \
        executed.cells
    assert b"wr: value=2" in folder.read("wr.html")


def _children(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (Linux /proc; empty elsewhere)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _run_hanging(record: str) -> None:
    notebook.run_notebook(FIXTURES / "hangs.ipynb", record, {"position": "rb"},
                          position="rb", cell_timeout=None)


def test_a_killed_run_leaves_nothing_in_the_object_store(bucket, tmp_path, monkeypatch):
    import multiprocessing
    import signal

    # The child's staging files land here, so the test can see how far the run got.
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    record = f"{bucket}/runs/v1.0.0/rb.ipynb"
    child = multiprocessing.get_context("spawn").Process(target=_run_hanging, args=(record,))
    child.start()
    try:
        deadline = time.monotonic() + 120
        while True:
            staged = list(tmp_path.glob("recruit-reveal-record-*/rb.ipynb"))
            started = records.last_started_cell(staged[0]) if staged else None
            if started is not None and "sleep" in nbformat.read(
                    staged[0], as_version=4).cells[started].source:
                break
            assert time.monotonic() < deadline and child.is_alive()
            time.sleep(0.2)
        assert not records.exists(record)  # mid-run, the bucket shows nothing
    finally:
        kernels = _children(child.pid)
        os.kill(child.pid, signal.SIGKILL)
        child.join(30)
        for pid in kernels:  # ipykernel also exits when its parent dies; this is sooner
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert child.exitcode == -signal.SIGKILL
    assert records.record_status(record) is None
    assert not records.exists(records.html_path(record))


def _alive(kernel) -> bool:
    from jupyter_client.utils import run_sync

    return bool(run_sync(kernel.km.is_alive)())


def test_a_warm_kernel_has_its_imports_done_and_leaves_no_trace_in_the_record(tmp_path):
    pool = notebook.KernelPool(runs=2, ahead=1)
    try:
        kernel = pool.take()
        assert kernel is not None
        kernel.manager()
        deadline = time.monotonic() + 30
        while not pool.warm:  # the next one starts once the taken one is warm
            assert time.monotonic() < deadline
            time.sleep(0.05)
        executed = notebook.run_notebook(FIXTURES / "preloaded.ipynb", tmp_path / "qb.ipynb",
                                         {"position": "rb"}, position="rb", cell_timeout=60,
                                         kernel=kernel)
        texts = [o["text"] for c in executed.cells for o in c.get("outputs", [])]
        assert texts == ["preloaded True\n", "names ['position', 'sys']\n"]
        # the imports ran silently: the record counts from 1, as with a cold kernel
        assert [c.execution_count for c in executed.cells if c.cell_type == "code"] == [1, 2,
                                                                                         3, 4]
        assert not _alive(kernel)  # each run's kernel stops with it
        (left,) = pool.warm
    finally:
        pool.close()
    assert not _alive(left) and pool.take() is None
