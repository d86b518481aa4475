"""The ``recruit-reveal models`` actions: list, show, promote, roll back, history, diff, migrate.

:mod:`recruit_reveal.cli.commands` dispatches here through
:data:`ACTIONS`; errors the user can fix propagate to it as
:class:`~recruit_reveal.errors.RecruitRevealError`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..artifacts.layout import ordered_positions
from ..errors import RecruitRevealError
from .parser import EXIT_FAILED, EXIT_OK


class UsageError(RecruitRevealError):
    """Arguments that do not go together (exit code 2, as every problem to fix first)."""

if TYPE_CHECKING:
    from ..artifacts.metadata import ModelMetadata


def _list(args: argparse.Namespace) -> int:
    from recruit_reveal.artifacts.registry import history, list_models, resolve_models_dir
    from recruit_reveal.reporting.tables import format_metric, format_table

    rows = list_models(args.models_dir)
    folder = resolve_models_dir(args.models_dir)
    current = history(args.models_dir).current
    if not rows:
        print(f"No models in {folder}. Train some with: "
              "recruit-reveal train --csv data/training.csv --position all")
        return EXIT_OK
    table = [[
        r["position"], r["version"], "*" if r["is_latest"] else "",
        (r["created_at"] or "-")[:19], format_metric(r["exact_accuracy"]),
        format_metric(r["within_one_accuracy"]), format_metric(r["ceiling_exact_accuracy"]),
        r["rows"] if r["rows"] is not None else "-", r["sha256"] or "-",
        "ok" if r["valid"] else f"INVALID: {r['problem']}",
    ] for r in rows]
    print(f"Models in {folder} (* = in the current release"
          + (f", {_release_line(current)})" if current else "; no release yet)") + ":")
    print(format_table(["position", "version", "latest", "created (UTC)", "exact",
                        "within-one", "ceiling", "rows", "sha256", "check"], table))
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    from recruit_reveal.artifacts.registry import describe

    meta = describe(args.position, args.version, models_dir=args.models_dir)
    if args.json:
        print(json.dumps(meta.model_dump(mode="json"), indent=2, sort_keys=True))
        return EXIT_OK
    print(_render_metadata(meta))
    return EXIT_OK


def _render_metadata(meta: ModelMetadata) -> str:
    from recruit_reveal.reporting.tables import format_metric, format_table

    served, fingerprint, estimator = meta.served, meta.data_fingerprint, meta.estimator
    record = meta.audit_record.notebook if meta.audit_record else None
    lines = [
        f"{meta.position.upper()} model v{meta.model_version}",
        f"  created       {meta.created_at}",
        f"  served file   {served.file} ({served.format}, {served.size} bytes)",
        f"  sha256        {served.sha256}",
        *([f"  pickle copy   {meta.artifact.file} (sha256 {meta.artifact.sha256})"]
          if meta.artifact_skops else []),
        f"  data          {fingerprint.file} ({fingerprint.rows} rows, "
        f"sha256 {str(fingerprint.sha256)[:12]})",
        f"  per division  {fingerprint.rows_per_division}",
        f"  catalog       {_catalog_line(meta)}",
        *_source_lines(fingerprint),
        f"  estimator     {estimator.name} {estimator.params}",
        f"  seed          {meta.seed}",
        f"  audit record  {record or '-'}",
        f"  changelog     {meta.changelog or '-'}",
        f"  libraries     {meta.library_versions}",
        f"  git commit    {meta.git_commit or '-'}",
    ]
    metrics = meta.metrics
    columns: dict[str, dict[str, Any]] = {"model (CV)": dict(metrics.cv)}
    for name, values in metrics.baselines.items():
        columns[name] = dict(values)
    if metrics.bayes_ceiling:
        columns["bayes ceiling"] = dict(metrics.bayes_ceiling)
    if meta.backtest:
        columns["next class"] = {m: meta.backtest.get(m) for m in ("exact_accuracy", "log_loss")}
    names = ("exact_accuracy", "within_one_accuracy", "macro_f1", "quadratic_weighted_kappa",
             "log_loss", "expected_calibration_error")
    rows = [[name] + [format_metric(col.get(name)) for col in columns.values()] for name in names
            if any(name in col for col in columns.values())]
    if rows:
        lines += ["", format_table(["metric", *columns], rows)]
    return "\n".join(lines + _backtest_lines(meta.backtest))


def _backtest_lines(backtest: dict[str, Any] | None) -> list[str]:
    """The next-class backtest per class and its verdict beside shuffled CV."""
    from recruit_reveal.reporting.tables import format_metric

    if not backtest:
        return []
    per_class = ", ".join(f"{c['year']} {format_metric(c['log_loss'])}"
                          for c in backtest.get("classes", []))
    return ["", f"next class (backtest by {backtest.get('class_year')}, log loss): {per_class}",
            str(backtest.get("comparison", {}).get("verdict", ""))]


def _catalog_line(meta: ModelMetadata) -> str:
    """The football the version was trained on: catalog, classes, the spec's digest."""
    spec = meta.position_spec()
    name = meta.catalog.name if meta.catalog else "default (exported before the catalog)"
    return f"{name}: {' < '.join(spec.levels)} (spec digest {spec.digest[:12]})"


def _source_lines(fingerprint: Any) -> list[str]:
    """Where the rows came from and their content digest (versions exported before: none)."""
    source = fingerprint.source
    if source is None:
        return []
    pinned = f", version {source.version}" if source.version is not None else ""
    return [f"  source        {source.spec} ({source.kind}{pinned}, {source.rows_read} rows read)",
            f"  content       {fingerprint.content_digest}"]


def _promote(args: argparse.Namespace) -> int:
    from recruit_reveal.artifacts.registry import promote, resolve_models_dir

    loaded = promote(args.position, args.version, models_dir=args.models_dir, how="cli",
                     reason=args.reason, by=args.by)
    print(f"{args.position}: {loaded.reason} in {resolve_models_dir(args.models_dir)}")
    return EXIT_OK


def _rollback(args: argparse.Namespace) -> int:
    from recruit_reveal.artifacts.registry import resolve_models_dir, rollback

    made = rollback(args.models_dir, how="cli", reason=args.reason, by=args.by)
    print(f"rolled back in {resolve_models_dir(args.models_dir)}: now {_release_line(made)}")
    return EXIT_OK


def _release_line(release: Any) -> str:
    versions = ", ".join(f"{pos} {v}" for pos, v in sorted(release.versions.items()))
    return f"release {release.id}: {versions}"


def _history(args: argparse.Namespace) -> int:
    from recruit_reveal.artifacts.registry import history, resolve_models_dir
    from recruit_reveal.reporting.tables import format_table

    state = history(args.models_dir)
    entries = state.history
    migrated = list(state.manifest.migrations) if state.manifest else []
    if args.json:
        print(json.dumps({"current": state.current.id if state.current else None,
                          "releases": [r.model_dump(mode="json") for r in entries],
                          "migrations": [m.model_dump(mode="json") for m in migrated]},
                         indent=2))
        return EXIT_OK
    folder = resolve_models_dir(args.models_dir)
    if migrated:
        print(f"Migrated from pickle to skops in {folder} (models migrate), oldest first:")
        print(format_table(["when (UTC)", "by", "position", "version", "reason"],
                           [[m.when, m.by, m.position, m.version, m.reason]
                            for m in migrated]) + "\n")
    if not entries:
        print(f"No releases in {folder} yet.")
        return EXIT_OK
    current = entries[-1].id
    positions = ordered_positions({pos for r in entries for pos in r.versions})
    table = [["*" if r.id == current else "", r.id, r.when, r.by, r.how,
              r.action + (f" of {r.restores}" if r.restores is not None else ""),
              *[r.versions.get(pos, "-") for pos in positions], r.reason or "-"]
             for r in entries]
    print(f"Releases in {folder}, oldest first (* = current):")
    print(format_table(["", "id", "when (UTC)", "by", "how", "action", *positions, "reason"],
                       table))
    return EXIT_OK


def _diff(args: argparse.Namespace) -> int:
    from recruit_reveal.release.diff import diff_versions

    found = diff_versions(args.position, args.a, args.b, args.models_dir, csv=args.csv)
    print(json.dumps(found.to_dict(), indent=2) if args.json else found.report())
    return EXIT_OK


def _check_rows(position: str, doc: ModelMetadata) -> Any:
    """The reference athletes and the sample athletes, as one input frame."""
    import pandas as pd

    from recruit_reveal.artifacts.migration import sample_rows
    from recruit_reveal.release.agreement import reference_athletes

    sample = sample_rows(position, doc)
    reference = reference_athletes(position, dict(doc.typical_values))
    return pd.concat([sample, reference.reindex(columns=sample.columns)], ignore_index=True)


def _migrate(args: argparse.Namespace) -> int:
    from recruit_reveal.artifacts import migration

    if args.all == bool(args.position):
        raise UsageError("models migrate: give POSITION VERSION, or --all (not both)")
    if args.position and not args.version:
        raise UsageError("models migrate: give the VERSION to migrate (X.Y.Z)")
    if args.all:
        results = migration.migrate_all(args.models_dir, trust_pickle=args.trust_pickle,
                                        reason=args.reason, by=args.by, rows=_check_rows)
    else:
        results = [migration.migrate(args.models_dir, args.position, args.version,
                                     trust_pickle=args.trust_pickle, reason=args.reason,
                                     by=args.by, rows=_check_rows)]
    for result in results:
        print(result.message if isinstance(result, migration.Migrated)
              else f"FAILED: {result}")
    if args.all and not results:
        print("No pickle-only versions: nothing to migrate.")
    return EXIT_FAILED if any(isinstance(r, Exception) for r in results) else EXIT_OK


#: ``models ACTION`` -> its handler, which returns the exit code.
ACTIONS: dict[str, Callable[[argparse.Namespace], int]] = {
    "list": _list, "show": _show, "promote": _promote,
    "rollback": _rollback, "history": _history, "diff": _diff, "migrate": _migrate,
}
