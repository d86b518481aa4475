"""release.records: audit records are never overwritten, failed ones are kept aside, unreadable ones count as failed.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from recruit_reveal.errors import (
    ArtifactExistsError,
)
from recruit_reveal.release import contract, engines, notebook, records

FIXTURES = Path(__file__).parent / "fixtures"


def fake_record(path: Path, status: str) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"{status} run")])
    nb.metadata[records.RECORD_METADATA_KEY] = {"status": status}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    path.with_suffix(".html").write_text(f"<p>{status}</p>", encoding="utf-8")


def test_successful_record_is_never_overwritten(tmp_path):
    record = tmp_path / "qb.ipynb"
    fake_record(record, "succeeded")
    before = record.read_bytes()

    with pytest.raises(ArtifactExistsError, match="never overwritten"):
        notebook.run_notebook(FIXTURES / "ok.ipynb", record, {"position": "qb"}, position="qb")

    assert record.read_bytes() == before


def test_rerun_keeps_the_failed_record_under_another_name(tmp_path):
    record = tmp_path / "qb.ipynb"
    fake_record(record, "failed")

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


def put_record(store, name: str, status: str) -> None:
    """A finished record of ``status`` (and its HTML) in a runs store."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"{status} run")])
    nb.metadata[records.RECORD_METADATA_KEY] = {"status": status}
    store.write(name, nbformat.writes(nb).encode("utf-8"))
    store.write(name.removesuffix(".ipynb") + ".html", f"<p>{status}</p>".encode())


def test_records_in_an_object_store_are_kept_like_local_ones(bucket):
    from recruit_reveal.storage.locations import open_store

    runs = f"{bucket}/team/runs"
    store = open_store(runs)
    record = records.record_path(runs, "1.0.0", "qb")
    assert record == f"{runs}/v1.0.0/qb.ipynb"
    assert records.html_path(record) == f"{runs}/v1.0.0/qb.html"
    assert records.record_status(record) is None and records.prepare_record_slot(record) is None

    put_record(store, "v1.0.0/qb.ipynb", "succeeded")
    assert records.record_status(record) == "succeeded"
    with pytest.raises(ArtifactExistsError, match=f"{record} already exists"):
        records.prepare_record_slot(record)
    assert records.exists(record)

    put_record(store, "v1.0.1/rb.ipynb", "failed")
    failed = records.record_path(runs, "1.0.1", "rb")
    kept = records.prepare_record_slot(failed)
    assert isinstance(kept, str) and kept.startswith(f"{runs}/v1.0.1/rb.failed-")
    assert records.record_status(failed) is None and records.record_status(kept) == "failed"
    folder = open_store(f"{runs}/v1.0.1")
    assert sorted(folder.names()) == sorted([kept.rsplit("/", 1)[1],
                                             kept.rsplit("/", 1)[1][:-6] + ".html"])
    assert folder.read(kept.rsplit("/", 1)[1][:-6] + ".html") == b"<p>failed</p>"


@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_successful_record_names_the_model_it_made(where, tmp_path, request):
    runs = tmp_path / "runs" if where == "local" else f"{request.getfixturevalue('bucket')}/runs"
    engine = engines.NotebookEngine(runs_dir=runs, template=FIXTURES / "result.ipynb",
                                    cell_timeout=60)
    engine.run(contract.NotebookParams(position="rb", version="4.0.0"))

    stamp = records.read_record_stamp(runs, records.record_name("4.0.0", "rb"))
    assert stamp is not None and stamp["status"] == "succeeded" and stamp["error"] is None
    assert (stamp["position"], stamp["version"], stamp["artifact"]) == ("rb", "4.0.0",
                                                                         "model.pkl")
    assert stamp["sha256"] == "ab" * 32 and stamp["skops_sha256"] is None
    assert records.read_record_stamp(runs, records.record_name("4.0.0", "qb")) is None
    # the HTML copy sits beside the record, local or in the bucket
    assert records.exists(records.html_path(engine.record("4.0.0", "rb")))


def test_a_failed_or_unreadable_record_names_no_model(tmp_path):
    fake_record(tmp_path / "v1.0.0" / "wr.ipynb", "failed")
    assert records.read_record_stamp(tmp_path, "v1.0.0/wr.ipynb") == {"status": "failed"}
    (tmp_path / "v1.0.0" / "qb.ipynb").write_text("{ not json", encoding="utf-8")
    assert records.read_record_stamp(tmp_path, "v1.0.0/qb.ipynb") is None
