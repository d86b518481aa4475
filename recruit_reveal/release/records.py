"""Audit records: the executed notebooks kept in ``runs/v{version}/{position}.ipynb``.

A record's life: :func:`prepare_record_slot` makes room for it (refusing to
replace a successful record, moving a failed one aside), papermill writes it
cell by cell, and :func:`finish_record` stamps the outcome into its metadata
and writes the HTML copy beside it.  Records are immutable once successful.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..artifacts.storage import atomic_write
from ..errors import ArtifactExistsError
from .contract import display_path

logger = logging.getLogger(__name__)
_NBCONVERT_LOG = logging.getLogger(f"{__name__}.nbconvert")
_NBCONVERT_LOG.setLevel(logging.ERROR)

#: The key of the outcome in a record's notebook metadata.
RECORD_METADATA_KEY = "recruit_reveal"


def record_path(runs_dir: str | os.PathLike[str], version: str, position: str) -> Path:
    """Where a run's audit record goes: ``runs/v{version}/{position}.ipynb``."""
    return Path(runs_dir) / f"v{version}" / f"{position}.ipynb"


def record_status(record: str | os.PathLike[str]) -> str | None:
    """``"succeeded"``, ``"failed"`` or None (no record); unreadable or unfinished is failed."""
    import nbformat

    record = Path(record)
    if not record.exists():
        return None
    try:
        nb = nbformat.read(record, as_version=4)
    except Exception:
        return "failed"
    status = nb.metadata.get(RECORD_METADATA_KEY, {}).get("status")
    return "succeeded" if status == "succeeded" else "failed"


def prepare_record_slot(record: str | os.PathLike[str]) -> Path | None:
    """Make room for a new record at ``record``.

    Refuses (:class:`ArtifactExistsError`) when a successful record is there;
    moves a failed one (and its HTML) aside to ``{stem}.failed-{UTC time}``
    and returns its new path.
    """
    record = Path(record)
    status = record_status(record)
    if status is None:
        return None
    if status == "succeeded":
        raise ArtifactExistsError(
            f"audit record {display_path(record)} already exists for a successful run; "
            "records are never overwritten (choose another --version)")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    kept = record.with_name(f"{record.stem}.failed-{stamp}.ipynb")
    record.rename(kept)
    html = record.with_suffix(".html")
    if html.exists():
        html.rename(kept.with_suffix(".html"))
    logger.info("kept the earlier failed record as %s", display_path(kept))
    return kept


def finish_record(record: Path, status: str, message: str | None, *, banner: bool = False,
                  nb: Any = None) -> None:
    """Stamp the outcome into the record and write the HTML copy beside it.

    ``nb`` is the executed notebook when the caller has it; otherwise the
    record is read back from disk (after a failure papermill only saved it).
    """
    import nbformat

    if nb is None:
        if not record.exists():
            return
        nb = nbformat.read(record, as_version=4)
    nb.metadata[RECORD_METADATA_KEY] = {
        "status": status,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "error": message,
    }
    if banner:
        # papermill adds its error banner only for exceptions raised inside a
        # cell; a timeout or a dead kernel would otherwise leave a record that
        # looks complete.
        cell = nbformat.v4.new_markdown_cell(
            f'<span style="color:red; font-size:1.5em">Execution stopped: {message}</span>')
        cell.metadata["tags"] = ["papermill-error-cell-tag"]
        nb.cells.insert(0, cell)
        nb.metadata.setdefault("papermill", {})["exception"] = True
    text = nbformat.writes(nb)
    atomic_write(record, text if text.endswith("\n") else text + "\n")  # as nbformat.write
    atomic_write(record.with_suffix(".html"), to_html(nb))


def to_html(nb: Any) -> str:
    """The record as a standalone HTML page (figures embedded)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter()
    # The lab template ignores the figures' alt text and warns about each image.
    exporter.log = _NBCONVERT_LOG
    body, _ = exporter.from_notebook_node(nb)
    return str(body)


def last_started_cell(record: Path) -> int | None:
    """The index of the last cell papermill started in ``record`` (None when unknown)."""
    import nbformat

    try:
        nb = nbformat.read(record, as_version=4)
    except Exception:
        return None
    started = [i for i, cell in enumerate(nb.cells)
               if cell.get("metadata", {}).get("papermill", {}).get("start_time")]
    return started[-1] if started else None


def describe_cell(record: Path, index: int | None, source: str | None) -> str:
    """'cell 7 `result = training.train_position(`' (1-based, as papermill ran it)."""
    if source is None and index is not None:
        import nbformat

        try:
            source = nbformat.read(record, as_version=4).cells[index].source
        except Exception:
            source = None
    label = f"cell {index + 1}" if index is not None else "a cell"
    first = first_code_line(source or "")
    return f"{label} `{first[:80]}`" if first else label


def first_code_line(source: str) -> str:
    """The first line of a cell that is neither blank nor a comment."""
    return next((line.strip() for line in source.splitlines()
                 if line.strip() and not line.strip().startswith("#")), "")


def first_lines(text: str, n: int = 6) -> str:
    lines = str(text).strip().splitlines()
    return "\n".join(lines[:n]) + (f"\n  ... ({len(lines) - n} more lines)" if len(lines) > n
                                   else "")
