"""Audit records: the executed notebooks kept in ``runs/v{version}/{position}.ipynb``.

The runs folder is a local path or an object-store URL (``s3://bucket/prefix``),
opened with :func:`~recruit_reveal.storage.locations.open_store`.  A record's
life: :func:`prepare_record_slot` makes room for it (refusing to replace a
successful record, moving a failed one aside), papermill writes it into a
staging file as code cells start, and :func:`finish_record` stamps the outcome (and,
for a successful run, which model it made) into its metadata and publishes it
with an HTML copy beside it.  On a local disk the staging file is the record
itself, as papermill has always written it; in an object store it is a
private temp file, and the record appears in one PUT, create-only when the
run succeeded.  Records are immutable once successful.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import ArtifactExistsError, NotebookExecutionError
from ..storage.base import Store
from ..storage.locations import Location, open_parent, open_store
from .contract import join_location

logger = logging.getLogger(__name__)
_NBCONVERT_LOG = logging.getLogger(f"{__name__}.nbconvert")
_NBCONVERT_LOG.setLevel(logging.ERROR)

#: The key of the outcome in a record's notebook metadata.
RECORD_METADATA_KEY = "recruit_reveal"


def record_name(version: str, position: str) -> str:
    """A record's name inside the runs folder: ``v{version}/{position}.ipynb``."""
    return f"v{version}/{position}.ipynb"


def record_path(runs_dir: str | os.PathLike[str], version: str, position: str) -> Path | str:
    """Where a run's audit record goes: ``runs/v{version}/{position}.ipynb`` (a URL in a store)."""
    return join_location(runs_dir, *record_name(version, position).split("/"))


def html_path(record: str | os.PathLike[str]) -> Path | str:
    """The HTML copy beside ``record``."""
    store, name = open_parent(record)
    return store.location(_html_name(name))


def _html_name(name: str) -> str:
    return str(PurePosixPath(name).with_suffix(".html"))


def _stamp_of(data: bytes) -> dict[str, Any] | None:
    """The outcome stamped into a record's bytes, or None (not a finished record).

    Plain JSON rather than nbformat: a status check needs no notebook validation.
    """
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    stamp = meta.get(RECORD_METADATA_KEY) if isinstance(meta, dict) else None
    return dict(stamp) if isinstance(stamp, dict) else None


def read_record_stamp(runs: Location, name: str) -> dict[str, Any] | None:
    """The outcome stamped into the record ``name`` of the runs folder ``runs``, or None.

    ``runs`` is a local folder, a URL or a store; ``name`` is e.g.
    ``record_name("1.0.0", position)``.  None when the record does not exist or
    carries no stamp (unreadable, or its run was killed).  A successful run's
    stamp names the model it made: ``status`` ("succeeded" or "failed"),
    ``finished_at``, ``error``, and for a successful training run
    ``position``, ``version``, ``artifact`` (the pkl's file name), ``sha256``
    (of the pkl) and ``skops_sha256`` (None for a model without a skops file),
    so a reader can check that a record belongs to the artifact it serves, and the
    ``catalog`` it trained with, its ``catalog_digest`` and the position's ``spec_digest``
    (None in records made before catalogs).
    """
    try:
        data = open_store(runs).read(name)
    except (FileNotFoundError, IsADirectoryError):
        return None
    return _stamp_of(data)


def record_status(record: str | os.PathLike[str]) -> str | None:
    """``"succeeded"``, ``"failed"`` or None (no record); unreadable or unfinished is failed."""
    store, name = open_parent(record)
    try:
        data = store.read(name)
    except FileNotFoundError:
        return None
    except OSError:
        return "failed"
    stamp = _stamp_of(data) or {}
    return "succeeded" if stamp.get("status") == "succeeded" else "failed"


def exists(location: str | os.PathLike[str]) -> bool:
    """Whether a record (or any file of a runs folder) is there, local or in a store."""
    store, name = open_parent(location)
    return store.exists(name)


def prepare_record_slot(record: str | os.PathLike[str]) -> Path | str | None:
    """Make room for a new record at ``record``.

    Refuses (:class:`ArtifactExistsError`) when a successful record is there;
    moves a failed one (and its HTML) aside to ``{stem}.failed-{UTC time}``
    and returns its new location.
    """
    status = record_status(record)
    if status is None:
        return None
    store, name = open_parent(record)
    if status == "succeeded":
        raise ArtifactExistsError(
            f"audit record {store.shown(name)} already exists for a successful run; "
            "records are never overwritten (choose another --version)")
    kept = _failed_name(name)
    store.rename(name, kept)
    html = _html_name(name)
    if store.exists(html):
        store.rename(html, _html_name(kept))
    logger.info("kept the earlier failed record as %s", store.shown(kept))
    return store.location(kept)


def _failed_name(name: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{name.removesuffix('.ipynb')}.failed-{stamp}.ipynb"


@contextlib.contextmanager
def staging(record: str | os.PathLike[str]) -> Iterator[Path]:
    """The local file papermill executes into for ``record``.

    On the local disk that is the record itself (its folder created), so an
    interrupted run leaves its partial record in place, as it always has; for
    an object store a private temp file, so nothing is visible in the store
    before :func:`finish_record` publishes the finished record.
    """
    store, name = open_parent(record)
    with store.staging(name) as path:
        yield path


def finish_record(record: str | os.PathLike[str], status: str, message: str | None, *,
                  banner: bool = False, nb: Any = None,
                  staged: str | os.PathLike[str] | None = None) -> Path | str | None:
    """Stamp the outcome into the record and publish it with the HTML copy beside it.

    ``nb`` is the executed notebook when the caller has it; otherwise it is
    read back from ``staged`` (the file papermill wrote; the record itself by
    default), since after a failure papermill only saved it.  Returns where
    the record was published (None when there was nothing to publish).
    """
    import nbformat

    staged = Path(record if staged is None else staged)
    if nb is None:
        if not staged.exists():
            return None
        nb = nbformat.read(staged, as_version=4)
    stamp: dict[str, Any] = {
        "status": status,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "error": message,
    }
    if status == "succeeded":
        stamp.update(model_link(nb))
    nb.metadata[RECORD_METADATA_KEY] = stamp
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
    data = (text if text.endswith("\n") else text + "\n").encode("utf-8")  # as nbformat.write
    return _publish(record, data, to_html(nb).encode("utf-8"), succeeded=status == "succeeded",
                    staged=staged)


def model_link(nb: Any) -> dict[str, Any]:
    """What a successful run's record says about its model: the run result it displayed."""
    from .contract import PositionResult

    try:
        result = PositionResult.from_notebook(nb)
    except NotebookExecutionError:  # a notebook that trains nothing (a fixture, say)
        return {}
    return {"position": result.position, "version": result.version,
            "artifact": str(result.artifact).replace("\\", "/").rsplit("/", 1)[-1],
            "sha256": result.sha256, "skops_sha256": result.skops_sha256,
            "catalog": result.catalog, "catalog_digest": result.catalog_digest,
            "spec_digest": result.spec_digest}


def _publish(record: str | os.PathLike[str], data: bytes, html: bytes, *,
             succeeded: bool, staged: Path) -> Path | str:
    store, name = open_parent(record)
    if store.location(name) == staged:
        # papermill wrote the record itself (the local disk): this run's own partial
        # record is replaced by the finished one.
        store.write(name, data)
    else:
        name = _create_record(store, name, data, succeeded=succeeded)
    store.write(_html_name(name), html)
    return store.location(name)


def _create_record(store: Store, name: str, data: bytes, *, succeeded: bool) -> str:
    """The notebook first: its create-only write decides whose record this is, so a run
    can never replace the HTML of a record it does not own.  Returns the name used."""
    try:
        store.create(name, data)
    except FileExistsError:
        if succeeded:
            raise ArtifactExistsError(
                f"audit record {store.display(name)} appeared during the run; records are "
                "never overwritten") from None
        name = _failed_name(name)
        store.create(name, data)
    return name


#: nbconvert's lab template without its CDN scripts (templates/record).
RECORD_TEMPLATES = Path(__file__).with_name("templates")


def to_html(nb: Any) -> str:
    """The record as a standalone HTML page: figures embedded, nothing loaded from elsewhere."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="record",
                            extra_template_basedirs=[str(RECORD_TEMPLATES)])
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
