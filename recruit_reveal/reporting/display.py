"""Display helpers for the training notebook: small tables and figure rendering.

These only shape what the notebook shows; every number comes from
:mod:`recruit_reveal.data.loading`, :mod:`recruit_reveal.modeling.training` or
:mod:`recruit_reveal.artifacts.writer`.  Functions return pandas DataFrames (which
notebooks render as tables) except :func:`show`, which displays a figure.
"""

from __future__ import annotations

import dataclasses
import io
import platform
import sys
from importlib import metadata
from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

from .tables import format_metric, position_spec, sample_inputs


def configure_display() -> None:
    """Show table cells in full: sha256 digests and paths must not be cut to 50 characters."""
    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.max_rows", 200)


def show(figure) -> None:
    """Display a matplotlib Figure as a PNG, whatever the notebook's matplotlib backend.

    The evaluate helpers build Figures without pyplot, so nothing else would
    render them; the PNG also lands in the audit record and its HTML copy.
    """
    from IPython.display import Image, display

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    display(Image(data=buffer.getvalue(), format="png", alt=_figure_title(figure)))


def _figure_title(figure) -> str:
    """The figure's title, as the image's alternative text in the HTML record."""
    suptitle = getattr(figure, "_suptitle", None)
    titles = [suptitle.get_text()] if suptitle is not None else []
    titles += [ax.get_title() for ax in figure.get_axes()]
    return next((t for t in titles if t), "figure")


def settings_table(settings) -> pd.DataFrame:
    """The run's resolved settings (a ``release.contract.NotebookParams``), one row each."""
    rows = [(name, "" if value is None else str(value))
            for name, value in dataclasses.asdict(settings).items()]
    return pd.DataFrame(rows, columns=["setting", "value"]).set_index("setting")


def catalog_table(settings) -> pd.DataFrame:
    """The catalog a run trains with (a ``release.contract.NotebookParams``): its file, its
    digest, the position's ladder and inputs and the digest of its spec.  The run's result
    records the same digests, so a model can be traced to the football it learned."""
    catalog = settings.catalog_in_use
    spec = catalog.position(settings.position)
    rows = [("catalog", f"{catalog.name} ({catalog.source})"),
            ("catalog digest", catalog.digest),
            ("position", f"{spec.key} ({spec.label})"),
            ("ladder", " < ".join(spec.levels)),
            ("inputs", ", ".join(spec.feature_names)),
            ("production stat", spec.production or "none"),
            ("spec digest", spec.digest)]
    return pd.DataFrame(rows, columns=["item", "value"]).set_index("item")


def environment() -> pd.DataFrame:
    """Interpreter and library versions of the kernel: the record shows what trained the model."""
    from pathlib import Path

    rows = [("python", f"{platform.python_version()} ({sys.executable})"),
            ("environment", sys.prefix),
            ("recruit_reveal package", str(Path(__file__).resolve().parents[1]))]
    for name in ("recruit-reveal", "scikit-learn", "pandas", "numpy", "papermill"):
        try:
            rows.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            rows.append((name, "not installed"))
    return pd.DataFrame(rows, columns=["item", "value"]).set_index("item")


def validation_report(data) -> pd.DataFrame:
    """What validation found in a ``data.TrainingData``: file, checksum, rows, findings."""
    counts = data.rows_per_division
    rows: list[tuple[str, Any]] = [
        ("file", str(data.path)),
        ("sha256", data.sha256),
        ("position", data.position),
        ("rows used", len(data.frame)),
    ]
    rows += [(f"rows {division}", counts.get(division, 0))
             for division in position_spec(data).levels]
    missing = data.frame.isna().mean()
    rows.append(("columns", len(data.frame.columns)))
    rows.append(("columns with missing values",
                 ", ".join(f"{c} {share:.0%}" for c, share in missing.items() if share > 0)
                 or "none"))
    rows.append(("unknown columns (ignored)", ", ".join(data.unknown_columns) or "none"))
    rows.append(("warnings", len(data.warnings)))
    rows += data.report_rows()
    return pd.DataFrame(rows, columns=["check", "result"]).set_index("check")


def rejected_rows(data, written: str | None) -> Styler:
    """The rows set aside by ``invalid_rows="quarantine"``, counted per column and rule.

    ``written`` is where the rows themselves went (every column as in the file,
    plus the problems), or None when the policy sets nothing aside.
    """
    table = pd.DataFrame(
        [{"column": g.column or "-", "rule": g.rule, "rows": g.count,
          "first rows": ", ".join(map(str, g.rows)), "examples": ", ".join(g.examples)}
         for g in data.problem_groups],
        columns=["column", "rule", "rows", "first rows", "examples"])
    caption = (f"{len(data.rejected):,} row(s) set aside, kept in {written}" if written
               else "No rows set aside: invalid rows fail the run (invalid_rows = \"fail\").")
    # A fixed id keeps the HTML of a record the same from run to run.
    return table.style.set_uuid("rejected-rows").set_caption(caption).hide(axis="index")


def warnings_table(data) -> pd.DataFrame:
    """Every recoverable finding of validation, with row and column (empty when clean)."""
    return pd.DataFrame(
        [{"row": p.row, "column": p.column, "message": p.message, "expected": p.expected}
         for p in data.warnings],
        columns=["row", "column", "message", "expected"])


def fit_summary(result) -> pd.DataFrame:
    """The final model: estimator, parameters, inputs and where the time went."""
    rows: list[tuple[str, Any]] = [
        ("estimator", result.estimator),
        ("parameters", ", ".join(f"{k}={v}" for k, v in sorted(result.params.items()))),
        ("seed", result.seed),
        ("CV folds", result.cv_folds),
        ("rows", result.data_fingerprint.get("rows")),
        ("raw inputs", ", ".join(result.features)),
    ]
    rows += [(f"time: {step}", f"{seconds:.2f}s") for step, seconds in result.timings.items()]
    rows += [("training warning", message) for message in result.validation_warnings]
    return pd.DataFrame(rows, columns=["item", "value"]).set_index("item")


def export_table(exported, audit_record: str | None = None) -> pd.DataFrame:
    """Where an ``export.ExportedModel`` went: the file served (skops) with its sha256, and
    the pickle copy kept for the earlier system."""
    skops = getattr(exported, "skops_path", None)
    rows: list[tuple[str, Any]] = [
        ("position", exported.position),
        ("version", exported.version),
        ("served file", str(skops or exported.pkl_path)),
        ("sha256", getattr(exported, "skops_sha256", None) or exported.sha256),
        ("pickle copy", str(exported.pkl_path) if skops else "-"),
        ("pickle sha256", exported.sha256),
        ("pickle size (bytes)", exported.size),
        ("metadata", str(exported.metadata_path)),
        ("changelog", str(getattr(exported, "changelog_path", None) or "-")),
        ("promoted to latest", "yes" if exported.promoted else
         "not by this export (a training run promotes every position together once all "
         "succeeded)"),
        ("audit record", audit_record or "- (interactive run, no record)"),
    ]
    return pd.DataFrame(rows, columns=["item", "value"]).set_index("item")


def run_summary(outcome) -> pd.DataFrame:
    """One row per run (a ``release.contract.PositionResult``): the figures quoted everywhere,
    the file served and its record."""
    row = {
        "position": outcome.position,
        "version": outcome.version,
        "rows": outcome.rows,
        "exact": format_metric(outcome.exact_accuracy),
        "within-one": format_metric(outcome.within_one_accuracy),
        "rule-based exact": format_metric(outcome.rule_based_exact_accuracy),
        "ceiling exact": format_metric(outcome.ceiling_exact_accuracy),
        # The file a server loads (skops; the pickle only where it is the sole one).
        "served file": outcome.skops or outcome.artifact,
        "sha256": outcome.skops_sha256 or outcome.sha256,
        "pickle copy sha256": outcome.sha256 if outcome.skops else "-",
        # A training run exports unpromoted and promotes every position together after.
        "promoted at export": "yes" if outcome.promoted else "no",
        "record": outcome.record or "-",
    }
    return pd.DataFrame([row]).set_index("position")


def sample_athlete(result) -> pd.DataFrame:
    """What the trained model says about the sample athlete of this position.

    The same prediction, what-if and narrative the API returns, through the
    same code (:mod:`recruit_reveal.modeling.explanations`), so the record shows what a
    client would see from this model.
    """
    from recruit_reveal.modeling import explanations

    spec = position_spec(result)
    frame = pd.DataFrame([sample_inputs(spec)])
    explanation = explanations.explain_frame(result.pipeline, frame, result.position,
                                         result.typical_values)[0]
    story = explanations.narrative(result.position, explanation)
    rows = [("input", ", ".join(f"{k}={v}" for k, v in frame.iloc[0].items())),
            ("predicted division", explanation["division"])]
    rows += [(f"P({d})", f"{p:.3f}") for d, p in zip(spec.levels, explanation["probabilities"],
                                                      strict=True)]
    rows += [("notes", story["notes"])]
    rows += [("goal", goal) for goal in story["goals"]]
    rows += [("switch", switch) for switch in story["switches"]]
    return pd.DataFrame(rows, columns=["", "value"]).set_index("")
