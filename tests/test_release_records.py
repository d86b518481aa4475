"""release.records: audit records are never overwritten, failed ones are kept aside, unreadable ones count as failed.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from recruit_reveal.errors import (
    ArtifactExistsError,
)
from recruit_reveal.release import notebook, records

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
