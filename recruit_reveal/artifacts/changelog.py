"""Each position's changelog, ``CHANGELOG_{pos}.md``: one entry per export, appended.

:func:`changelog_entry` builds an export's entry from its metadata (aggregates only),
:func:`append_changelog` appends it (a rewrite published whole, conditional on what was
read, so concurrent writers on object storage do not lose entries), and
:func:`note_promotion` records that a training run promoted a version afterwards.  The
export itself is :mod:`.writer`'s.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import ArtifactLockError
from ..storage.base import PreconditionFailed, Store
from ..storage.locations import Location, open_store
from .layout import changelog_name
from .metadata import ModelMetadata

#: Conditional rewrites of a changelog that may lose to other writers (object storage).
MAX_CHANGELOG_ATTEMPTS = 20


def changelog_entry(metadata: ModelMetadata, *, promoted: bool, replaced: bool = False) -> str:
    """Markdown entry for one export, built from its metadata (aggregates only)."""
    fp = metadata.data_fingerprint
    divs = ", ".join(f"{d} {fp.rows_per_division[d]}" for d in metadata.classes
                     if d in fp.rows_per_division) or "n/a"
    head, metrics = metadata.metrics.headline, metadata.metrics

    def vs_ceiling(name: str) -> str:
        value, best = getattr(head, name), metrics.ceiling(name)
        if value is None or best is None:
            return _metric(value) + " (Bayes ceiling unknown)"
        side = "below it" if value <= best else "above it: CV noise"
        return f"{value:.3f} (Bayes ceiling {best:.3f}; {abs(best - value):.3f} {side})"

    text = (metadata.changelog or "").strip() or "(no changelog text)"
    lines = [
        f"## {metadata.model_version} ({metadata.created_at})",
        "",
        f"- Data: {fp.file or 'n/a'}, sha256 {fp.sha256 or 'n/a'}, "
        f"{fp.rows if fp.rows is not None else 'n/a'} rows ({divs})",
        f"- CV exact accuracy: {vs_ceiling('exact_accuracy')}",
        f"- CV within-one accuracy: {vs_ceiling('within_one_accuracy')}",
        f"- Estimator: {metadata.estimator.name}, seed {metadata.seed}, "
        f"{metrics.cv_folds} folds",
        f"- Served file: {metadata.served.file} ({metadata.served.format}), "
        f"sha256 {metadata.served.sha256}",
        *([f"- Pickle copy (for the earlier system): {metadata.artifact.file}, "
           f"sha256 {metadata.artifact.sha256}"] if metadata.artifact_skops else []),
        "- Promoted to latest: " + ("yes" if promoted else
                                    "not by this export (a training run promotes every "
                                    "position together once all succeeded, and says so below)")
        + ("; re-exported with force=True, replacing the earlier files of this version"
           if replaced else ""),
        "",
        text,
        "",
    ]
    return "\n".join(lines) + "\n"


def _metric(value: Any) -> str:
    """``0.637``, or ``n/a`` for a metric that is missing or not finite."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return "n/a"
    return f"{value:.3f}"


def append_changelog(store: Store, position: str, entry: str) -> str:
    """Append ``entry``: a rewrite published whole, conditional on what was read."""
    name = changelog_name(position)
    for _ in range(MAX_CHANGELOG_ATTEMPTS):
        found = store.read_tagged(name)
        old = (found[0].decode("utf-8") if found else
               f"# Changelog: {position} pipeline\n\nOne entry per export, oldest first.\n\n")
        if not old.endswith("\n"):
            old += "\n"
        try:
            store.swap(name, (old + entry).encode("utf-8"), found[1] if found else None)
        except PreconditionFailed:
            continue  # another export of this position appended first (object storage)
        return store.display(name)
    raise ArtifactLockError(f"{store.display(name)} kept changing; the entry for this export "
                            f"was not added (the metadata holds the same facts)")


def note_promotion(models_dir: Location, position: str, version: str, release: Any) -> str:
    """Append that ``version`` became latest in ``release`` (a training run's export said
    "not by this export" until then)."""
    return append_changelog(open_store(models_dir), position, (
        f"- {version} promoted to latest in release {release.id} at {release.when}: every "
        "position of the training run succeeded\n\n"))
