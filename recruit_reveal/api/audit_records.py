"""The audit record behind a served model: the executed notebook that produced it.

A model's metadata names its record (``audit_record.notebook``, a path or URL);
the record's notebook metadata names the model it made (the sha256 of its
files, stamped when the run finished).  The record is served only when that
link matches the artifact being served, so a record can never be shown for a
model it did not produce.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import RecordNotFoundError
from ..release.records import html_path, read_record_stamp
from ..storage.locations import is_relative, open_parent, open_store
from .store import ServedModel

#: The record is a document from the runs folder, not part of the API: the browser
#: runs none of its scripts and loads nothing from elsewhere (figures are inline).
RECORD_HEADERS = {
    "Content-Security-Policy": "sandbox; default-src 'none'; img-src data:; "
                               "style-src 'unsafe-inline'; font-src data:",
    "X-Content-Type-Options": "nosniff",
}


def record_links(served: ServedModel, models_dir: Path | str) -> dict[str, Any] | None:
    """Where the served model's record is (notebook, HTML copy and the API path), or None."""
    notebook = served.metadata.audit_record.notebook if served.metadata.audit_record else None
    if not notebook:
        return None
    notebook = _locate(notebook, models_dir)
    return {"notebook": notebook, "html": str(html_path(notebook)),
            "url": f"/models/{served.position}/record"}


def _locate(notebook: str, models_dir: Path | str) -> str:
    """The record's location: the runner writes it relative to the directory training ran
    in, usually the project root that also holds the models folder, so a relative path is
    looked up there and then beside the models folder (the stamp check makes either safe)."""
    if not is_relative(notebook):
        return notebook
    here = Path(notebook).absolute()
    if here.exists():
        return str(here)
    beside = open_store(models_dir).absolute().parent()
    return str(beside.location(notebook) if beside.exists(notebook) else here)


def _not_found(served: ServedModel, why: str) -> RecordNotFoundError:
    return RecordNotFoundError(f"no record for {served.position} {served.version}: {why}")


def served_record_html(served: ServedModel, models_dir: Path | str) -> bytes:
    """The HTML record of ``served`` after checking that it made this very artifact.

    RecordNotFoundError naming the reason otherwise: no record (trained by the direct engine or
    interactively), a record missing or unfinished, or one stamped with another
    artifact's sha256.
    """
    links = record_links(served, models_dir)
    if links is None:
        raise _not_found(served, "its metadata names no audit record (a model trained with "
                                 "the direct engine or interactively has none)")
    store, name = open_parent(links["notebook"])
    stamp = read_record_stamp(store, name)
    if stamp is None:
        raise _not_found(served, f"the record {links['notebook']} is missing or unfinished")
    if stamp.get("status") != "succeeded":
        raise _not_found(served, f"the record {links['notebook']} is of a failed run")
    artifact = served.metadata.artifact
    if stamp.get("sha256") != artifact.sha256:
        raise _not_found(served, f"the record {links['notebook']} was made with another model "
                                 f"(sha256 {str(stamp.get('sha256'))[:12]}…, served "
                                 f"{artifact.file} is {artifact.sha256[:12]}…)")
    skops = served.metadata.artifact_skops
    if skops is not None and stamp.get("skops_sha256") not in (None, skops.sha256):
        raise _not_found(served, f"the record {links['notebook']} names another skops file "
                                 f"than the served {skops.file}")
    html_store, html_name = open_parent(links["html"])
    try:
        return html_store.read(html_name)
    except FileNotFoundError:
        raise _not_found(served, f"the HTML copy {links['html']} is missing") from None
