"""``runs/index.html``: every release and every run on one static page.

:func:`collect` reads the release history of the models folder, each released
version's metadata and the audit records in the runs folder into the page's
rows (:class:`~.index_page.RunsIndex`); :func:`~.index_page.render` turns them
into one HTML page (inline CSS, no script, relative links only to
files that exist, so it works opened from the disk or a copied folder);
:func:`write_index` publishes it with the runs folder's atomic writer, which
also serves ``s3://`` folders.  The runner rewrites the page after every
training run (:func:`refresh_index`) and ``recruit-reveal runs index`` on
demand.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..artifacts import layout
from ..catalog import active_catalog
from ..errors import RecruitRevealError, VersionError
from ..storage.base import Store
from ..storage.locations import Location, open_store
from .diff import MetricChange
from .index_page import (
    METRICS,
    Link,
    PositionRow,
    RecordRow,
    ReleaseRow,
    RunRow,
    RunsIndex,
    render,
)
from .records import read_record_stamp

if TYPE_CHECKING:
    from ..artifacts.metadata import ModelMetadata

logger = logging.getLogger(__name__)

INDEX_NAME = "index.html"
#: Where ``recruit-reveal monitor`` keeps its records in the runs folder.
MONITOR_FOLDER = "monitor"


def collect(runs_dir: Location, models_dir: str | os.PathLike[str],
            *, now: _dt.datetime | None = None) -> RunsIndex:
    """What the page shows, read from ``models_dir`` and ``runs_dir``; never writes."""
    from ..artifacts.registry import history

    runs = open_store(runs_dir)
    folders = {version: _files(runs, f"v{version}") for version in _version_folders(runs)}
    history_error = None
    try:
        state = history(models_dir)
        entries = state.history
    except RecruitRevealError as exc:
        entries, history_error = [], str(exc)
    metadata = _MetadataCache(models_dir)
    by_id = {entry.id: entry for entry in entries}
    rows: list[ReleaseRow] = []
    for i, entry in enumerate(entries):
        # Changes are against what was served before: the release this one replaced,
        # or, for entries that do not name it (older manifests), the entry before.
        before = by_id.get(entry.previous) if entry.previous is not None else None
        if before is None and entry.previous is None and i > 0:
            before = entries[i - 1]
        rows.append(ReleaseRow(
            id=entry.id, when=entry.when, by=entry.by, how=entry.how, action=entry.action,
            reason=entry.reason, previous=entry.previous, restores=entry.restores,
            current=i == len(entries) - 1,
            positions=[_position_row(pos, entry.versions[pos],
                                     before.versions.get(pos) if before else None,
                                     metadata, folders)
                       for pos in _ordered(entry.versions)]))
    released: dict[str, set[int]] = {}
    for entry in entries:
        for version in entry.versions.values():
            released.setdefault(version, set()).add(entry.id)
    run_rows = [RunRow(version=version, records=_records(runs, version, files),
                       releases=sorted(released.get(version, ())))
                for version, files in sorted(folders.items(), key=lambda kv: _key(kv[0]),
                                             reverse=True)]
    stamp = (now or _dt.datetime.now(_dt.timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    return RunsIndex(models=str(models_dir), runs=runs.display(), written_at=stamp,
                     releases=rows[::-1], runs_rows=run_rows, history_error=history_error,
                     monitoring=_monitoring_links(runs))


def _monitoring_links(runs: Store) -> list[Link]:
    """The HTML records of ``recruit-reveal monitor`` (``monitor/{date}/{position}.html``),
    each labelled with the verdict kept beside it (``{position}.verdict.json``)."""
    folder = runs.child(MONITOR_FOLDER)
    links = []
    for day in sorted(folder.folders(), reverse=True):
        names = sorted(folder.child(day).names())
        for name in names:
            if name.endswith(".html"):
                stem = name.removesuffix(".html")
                verdict = _monitor_verdict(folder.child(day), f"{stem}.verdict.json")
                links.append(Link(f"{day} {stem}: {verdict}", f"{MONITOR_FOLDER}/{day}/{name}"))
    return links


def _monitor_verdict(folder: Store, name: str) -> str:
    """"OK", "ALERT (drifted qb 1.0.0: weight_lbs)" or "verdict unknown" (an older record)."""
    try:
        verdict = json.loads(folder.read(name))
    except (FileNotFoundError, ValueError):
        return "verdict unknown"
    if not verdict.get("alert"):
        return "OK"
    why = [f"drifted {k}: {', '.join(v)}" for k, v in (verdict.get("drifted") or {}).items()]
    why += [f"live accuracy below CV: {k}" for k in verdict.get("accuracy_alerts") or []]
    return f"ALERT ({'; '.join(why)})" if why else "ALERT"


def write_index(runs_dir: str | os.PathLike[str], models_dir: str | os.PathLike[str]) -> str:
    """Rewrite ``runs_dir/index.html``; returns where it went (a path or URL)."""
    store = open_store(runs_dir)
    store.write(INDEX_NAME, render(collect(store, models_dir)).encode())
    return store.display(INDEX_NAME)


def refresh_index(runs_dir: str | os.PathLike[str], models_dir: str | os.PathLike[str],
                  *, create: bool = True) -> None:
    """:func:`write_index` for the runner: a failure is logged, never raised.

    ``create=False`` only refreshes a page that exists, so a run that keeps
    no records (the direct engine) does not start a runs folder of its own.
    """
    try:
        if create or open_store(runs_dir).exists(INDEX_NAME):
            logger.info("runs index: %s", write_index(runs_dir, models_dir))
    except Exception as exc:  # the models are trained and released: a page must not undo that
        logger.error("could not rewrite %s in %s: %s: %s", INDEX_NAME, runs_dir,
                     type(exc).__name__, exc)


class _MetadataCache:
    """Each version's metadata read once, or the reason it could not be."""

    def __init__(self, models_dir: str | os.PathLike[str]):
        self.models_dir = models_dir
        self.seen: dict[tuple[str, str], ModelMetadata | str] = {}

    def get(self, position: str, version: str) -> ModelMetadata | str:
        from ..artifacts.registry import describe

        key = (position, version)
        if key not in self.seen:
            try:
                self.seen[key] = describe(position, version, models_dir=self.models_dir)
            except RecruitRevealError as exc:
                self.seen[key] = str(exc)
        return self.seen[key]


def _position_row(position: str, version: str, before: str | None, metadata: _MetadataCache,
                  folders: dict[str, set[str]]) -> PositionRow:
    row = PositionRow(position=position, version=version, changed=before != version,
                      links=_record_links(version, position, folders.get(version, set())))
    meta = metadata.get(position, version)
    if isinstance(meta, str):
        row.error = meta
        return row
    # An unchanged model has no change to show; the row says it is unchanged.
    old = metadata.get(position, before) if before and before != version else None
    previous = old.metrics if old is not None and not isinstance(old, str) else None
    for name, _, higher in METRICS:
        row.metrics.append(MetricChange(
            name, previous.mean(name) if previous is not None else None, meta.metrics.mean(name),
            previous.std(name) if previous is not None else None, meta.metrics.std(name), higher))
    data = meta.data_fingerprint
    # A CSV shows its file's sha256; a table, which has none, the digest of its rows.
    row.data_file, row.data_sha256 = data.file, data.sha256 or data.content_digest
    row.data_source = data.source.spec if data.source else None
    if old is not None and not isinstance(old, str) and data.content_digest \
            and old.data_fingerprint.content_digest:
        row.data_changed = data.content_digest != old.data_fingerprint.content_digest
    row.rows, row.rows_rejected = data.rows, data.rows_rejected
    row.changelog = meta.changelog
    row.next_class = _next_class(meta.backtest)
    return row


def _next_class(backtest: dict[str, Any] | None) -> str | None:
    """"next class (grad_year 2024-2026): log loss 0.832 ± 0.086; CV agrees"."""
    if not backtest or not backtest.get("classes"):
        return None
    years = [c["year"] for c in backtest["classes"]]
    loss = backtest["log_loss"]
    flatters = (backtest.get("comparison") or {}).get("cv_flatters")
    return (f"next class ({backtest.get('class_year')} {years[0]}-{years[-1]}): log loss "
            f"{loss['mean']:.3f} ± {loss['std']:.3f}; "
            + ("shuffled CV flatters the model" if flatters else "shuffled CV agrees"))


def _record_links(version: str, position: str, files: set[str]) -> list[Link]:
    from ..data import rejected_file_name

    wanted = ((f"{position}.html", "record"), (rejected_file_name(position), "rejected rows"))
    return [Link(label, _href(version, name)) for name, label in wanted if name in files]


def _records(runs: Store, version: str, files: set[str]) -> list[RecordRow]:
    """Every record of a version folder: the current one per position, then failed attempts."""
    out: list[RecordRow] = []
    # Sorted newest first, then (stably) by position: earlier attempts stay newest first.
    for name in sorted(sorted(files, reverse=True), key=_record_order):
        stem = name.removesuffix(".ipynb")
        position, _, attempt = stem.partition(".")
        if stem == name or attempt and not attempt.startswith("failed-"):
            continue
        html = f"{stem}.html"
        links = [Link("record", _href(version, html if html in files else name))]
        if not attempt:
            from ..data import rejected_file_name

            if rejected_file_name(position) in files:
                links.append(Link("rejected rows", _href(version, rejected_file_name(position))))
        out.append(RecordRow(position=position,
                             attempt=attempt.replace("failed-", "earlier attempt ") or "this run",
                             status=_record_status(runs, f"v{version}/{name}"),
                             links=tuple(links)))
    return out


def _record_order(name: str) -> tuple[tuple[int, str], bool]:
    """Positions in their usual order, each with this run's record before the earlier attempts."""
    position, _, rest = name.partition(".")
    return _position_order(position), rest != "ipynb"


def _record_status(runs: Store, name: str) -> str:
    """The stamped outcome; "unfinished" without one, "unreadable" when the store fails.

    Unlike :func:`.records.record_status`, which counts both as failed, the page
    tells a run that never finished (or a record that does not parse) from one
    that failed, and one it could not read at all.
    """
    try:
        stamp = read_record_stamp(runs, name)
    except OSError:
        return "unreadable"
    status = (stamp or {}).get("status")
    return status if status in ("succeeded", "failed") else "unfinished"


def _href(version: str, name: str) -> str:
    return quote(f"v{version}/{name}")


def _version_folders(runs: Store) -> list[str]:
    """Versions with a ``v{X.Y.Z}`` folder in the runs folder (other names are ignored)."""
    versions = []
    for name in runs.folders():
        try:
            layout.parse_version(name[1:] if name.startswith("v") else "-")
        except VersionError:
            continue
        versions.append(name[1:])
    return versions


def _files(runs: Store, folder: str) -> set[str]:
    return set(runs.child(folder).names())


def _key(version: str) -> tuple[int, int, int]:
    return layout.parse_version(version)


def _position_order(position: str) -> tuple[int, str]:
    """The catalog's order; a position it does not name (a model trained with another
    catalog) after its positions, alphabetically: the rows come from the models found."""
    keys = active_catalog().keys
    return (keys.index(position) if position in keys else len(keys), position)


def _ordered(versions: dict[str, str]) -> list[str]:
    return sorted(versions, key=_position_order)
