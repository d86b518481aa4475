"""What changed between two versions of a position's model: metrics, settings, data, predictions.

:func:`diff_versions` compares version ``a`` (the older, usually) with ``b``:

- every CV metric of the metadata, with its delta and whether the delta is
  beyond fold noise: ``|delta| > pooled fold std = sqrt((std_a² + std_b²) / 2)``,
  the fold-to-fold std (ddof 0) recorded with each mean
  (:func:`recruit_reveal.modeling.summaries.beyond_fold_noise`, as ``runs/index.html``);
- the estimator, its parameters, seed and folds, the data fingerprint (file,
  sha256, rows, rejected, column mapping) and the derived features, side by side;
- prediction agreement (share of identical predicted divisions, largest
  probability change) on the training rows, on the position's sample athlete
  (the ``example`` of its spec, the one the API documents) and
  on the reference athletes (:mod:`recruit_reveal.modeling.reference`).

Models are loaded only through :func:`recruit_reveal.artifacts.registry.load`
(verified); the training rows through :func:`recruit_reveal.data.load_training_data`.
:func:`since_previous_release` is the notebook's entry point and never raises
for a problem the user can fix: the training run must not fail over a report;
:func:`version_changes` is the table the notebook shows of it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ModelNotFoundError, RecruitRevealError, ReleaseError
from ..modeling.summaries import NOISE_RULE, beyond_fold_noise, pooled_fold_std
from ..reporting.tables import format_metric, format_table, position_spec
from ..schema import check_position
from .agreement import Agreement, compare, reference_athletes, sample_athletes, training_rows

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

#: Metrics where a smaller value is the better one.
LOWER_IS_BETTER = frozenset({"log_loss", "expected_calibration_error"})
_CHANGES_ONLY = ("columns", "features")  # long lists: the text report shows changes only


@dataclass(frozen=True)
class MetricChange:
    """One CV metric of both versions: means, fold stds, delta and the noise verdict."""

    name: str
    a: float | None
    b: float | None
    a_std: float | None
    b_std: float | None
    #: True when a higher value is better (accuracies), False for log loss and ECE.
    higher_is_better: bool = True

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a

    @property
    def noise(self) -> float | None:
        return pooled_fold_std(self.a_std, self.b_std)

    @property
    def beyond_noise(self) -> bool | None:
        return beyond_fold_noise(self.delta, self.a_std, self.b_std)

    @property
    def verdict(self) -> str:
        if self.beyond_noise is None:
            return "-"
        if not self.beyond_noise:
            return "within noise"
        assert self.delta is not None
        return "better" if (self.delta > 0) == self.higher_is_better else "worse"


@dataclass(frozen=True)
class FieldChange:
    """One setting, fingerprint entry or feature of both versions (None: absent)."""

    section: str
    name: str
    a: Any
    b: Any

    @property
    def changed(self) -> bool:
        return _key(self.a) != _key(self.b)


@dataclass(frozen=True)
class VersionDiff:
    """Everything :func:`diff_versions` found; :meth:`to_dict` for JSON, :meth:`report` for text."""

    position: str
    a: str
    b: str
    metrics: list[MetricChange]
    fields: list[FieldChange]
    agreement: list[Agreement]
    #: Why a comparison is missing (no training rows found, say).
    notes: list[str] = field(default_factory=list)

    def changed(self, section: str | None = None) -> list[FieldChange]:
        return [f for f in self.fields if f.changed and section in (None, f.section)]

    def to_dict(self) -> dict[str, Any]:
        metrics = [{**dataclasses.asdict(m), "delta": m.delta, "noise": m.noise,
                    "beyond_noise": m.beyond_noise, "verdict": m.verdict} for m in self.metrics]
        return {
            "position": self.position, "a": self.a, "b": self.b, "noise_rule": NOISE_RULE,
            "metrics": metrics,
            "fields": [{**dataclasses.asdict(f), "changed": f.changed} for f in self.fields],
            "agreement": [{**dataclasses.asdict(g), "share_same": g.share_same}
                          for g in self.agreement],
            "notes": list(self.notes),
        }

    def report(self) -> str:
        """A readable text report: metrics, what changed, prediction agreement."""
        lines = [f"{self.position.upper()} {self.a} -> {self.b}", "",
                 f"Metrics (CV mean ± fold std; beyond noise: {NOISE_RULE}):"]
        lines.append(format_table(["metric", self.a, self.b, "delta", "verdict"], [
            [m.name, format_metric(_summary(m.a, m.a_std)), format_metric(_summary(m.b, m.b_std)),
             _signed(m.delta), m.verdict] for m in self.metrics]))
        rows = []
        for section in dict.fromkeys(f.section for f in self.fields):
            entries = [f for f in self.fields if f.section == section]
            shown = [f for f in entries if f.changed or section not in _CHANGES_ONLY]
            rows += [[section, f.name, _text(f.a), _text(f.b), "*" if f.changed else ""]
                     for f in shown]
            if len(shown) < len(entries):
                rows.append([section, f"({len(entries) - len(shown)} unchanged)", "", "", ""])
        lines += ["", "Settings, data and features (* = changed):",
                  format_table(["section", "item", self.a, self.b, ""], rows)]
        if self.agreement:
            lines += ["", "Prediction agreement:", format_table(
                ["rows", "count", "same division", "largest P change", "at", "mean P change",
                 "moves"],
                [[g.rows, g.count, f"{g.share_same:.1%}", f"{g.max_probability_change:.3f}",
                  g.max_change_at, f"{g.mean_probability_change:.3f}",
                  _moves(g.transitions)]
                 for g in self.agreement])]
            lines += [f"  {g.rows}: {g.source}" for g in self.agreement]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


@dataclass(frozen=True)
class ReleaseChanges:
    """What the template shows: the diff with the previous release, or why there is none."""

    position: str
    version: str
    previous: str | None
    diff: VersionDiff | None
    problem: str | None = None

    def headline(self) -> str:
        if self.previous is None:
            return (f"This is the first release of the {self.position.upper()} model: "
                    "there is no earlier version to compare with.")
        if self.diff is None:
            return (f"Could not compare {self.version} with the previous release "
                    f"{self.previous}: {self.problem}")
        return f"Changes from {self.previous} (the previous release) to {self.version}."


# ---------------------------------------------------------------------------


def diff_versions(position: str, a: str, b: str, models_dir: str | os.PathLike | None = None, *,
                  csv: str | os.PathLike | None = None, columns: Any = None) -> VersionDiff:
    """Compare versions ``a`` and ``b`` of ``position`` (each X.Y.Z or ``latest``).

    The training rows are those of ``csv`` when given (read with ``columns``,
    or else the column mapping the metadata recorded); otherwise the file the
    metadata names, when it is found (the working directory, ``data/``, the
    project root) with the sha256 the metadata recorded, ``b``'s first.
    Raises :class:`ModelNotFoundError` for an unknown version and the
    registry's errors for a model that does not verify.
    """
    pos = check_position(position)
    # Both versions are checked before either is loaded: a typo fails fast.
    a, b = _resolve(pos, a, models_dir), _resolve(pos, b, models_dir)
    loaded_a, loaded_b = _load(pos, a, models_dir), _load(pos, b, models_dir)
    meta_a, meta_b = loaded_a.metadata, loaded_b.metadata
    # The newer version's football: its inputs, example athlete and ladder.
    spec = position_spec(loaded_b)
    notes: list[str] = _data_notes(meta_a, meta_b)
    agreement = []
    pipes = (loaded_a.pipeline, loaded_b.pipeline, spec.levels)
    rows = training_rows(spec.key, meta_a, meta_b, csv, columns, notes)
    if rows is not None:
        data, source = rows
        ids = [f"row {r}" for r in data.source_rows]
        agreement.append(compare("training rows", source, data.frame, ids, *pipes))
    sample_frame, names = sample_athletes(spec)
    agreement.append(compare("sample athlete", "the position's example (the API's example)",
                             sample_frame, names, *pipes))
    agreement.append(compare(
        "reference athletes", f"modeling.reference, built from {meta_a.model_version}'s "
        "typical values", reference_athletes(spec.key, meta_a.typical_values), None, *pipes))
    return VersionDiff(position=pos, a=meta_a.model_version, b=meta_b.model_version,
                       metrics=_metrics(meta_a, meta_b), fields=_fields(meta_a, meta_b),
                       agreement=agreement, notes=notes)


def _data_notes(meta_a: Any, meta_b: Any) -> list[str]:
    """A note when the two versions trained on different rows, by their content digests
    (the same rows need no note: the data rows of the table show them unchanged)."""
    da, db = meta_a.data_fingerprint.content_digest, meta_b.data_fingerprint.content_digest
    if not da or not db or da == db:
        return []
    return [f"{meta_a.model_version} and {meta_b.model_version} trained on different data "
            f"(content digest {da[:12]} against {db[:12]})"]


def previous_release(position: str, version: str,
                     models_dir: str | os.PathLike | None = None) -> str | None:
    """The version ``version`` replaces: the newest release entry with another version of
    ``position`` (the current release, unless this export was promoted), else the highest
    earlier version in the folder, else None (a first release)."""
    from recruit_reveal.artifacts import registry
    from recruit_reveal.artifacts.layout import parse_version

    pos = check_position(position)
    existing = registry.list_versions(pos, models_dir)
    try:
        history = registry.history(models_dir).history
    except ReleaseError:
        history = []  # a broken manifest: the folder's versions still say what came before
    for entry in reversed(history):
        found = entry.versions.get(pos)
        if found is not None and found != version and found in existing:
            return found
    earlier = [v for v in existing if parse_version(v) < parse_version(version)]
    return earlier[-1] if earlier else None


def since_previous_release(models_dir: str | os.PathLike, position: str, version: str, *,
                           csv: str | os.PathLike | None = None,
                           columns: Any = None) -> ReleaseChanges:
    """The template's section: :func:`diff_versions` against :func:`previous_release`."""
    pos = check_position(position)
    previous: str | None = None
    try:
        previous = previous_release(pos, version, models_dir)
        if previous is None:
            return ReleaseChanges(pos, version, None, None)
        diff = diff_versions(pos, previous, version, models_dir, csv=csv, columns=columns)
    except RecruitRevealError as exc:
        return ReleaseChanges(pos, version, previous, None, str(exc) or type(exc).__name__)
    return ReleaseChanges(pos, version, previous, diff)


def version_changes(changes: ReleaseChanges) -> Styler:
    """What the template shows of ``changes``: one table, captioned.

    The CV metrics with their delta and noise verdict, the settings, data and
    features side by side (long lists only where they changed), and the
    prediction agreement per set of rows; the caption says which versions and
    how a delta is judged.  A first release is a one-line table saying so.
    """
    import pandas as pd

    diff = changes.diff
    caption = changes.headline()
    if diff is None:
        table = pd.DataFrame([{"": caption}])
        return table.style.set_uuid("version-changes").hide(axis="index")
    old, new = diff.a, diff.b
    rows: list[dict[str, Any]] = [
        {"section": "metric", "item": m.name, old: format_metric(_summary(m.a, m.a_std)),
         new: format_metric(_summary(m.b, m.b_std)),
         "change": "-" if m.delta is None else f"{m.delta:+.3f} ({m.verdict})"}
        for m in diff.metrics]
    rows += [{"section": f.section, "item": f.name, old: _cell(f.a), new: _cell(f.b),
              "change": "changed" if f.changed else ""}
             for f in diff.fields if f.changed or f.section in ("estimator", "data")]
    rows += [{"section": "predictions", "item": f"{g.rows} ({g.count})", old: "", new: "",
              "change": f"same division {g.share_same:.1%}; largest P change "
                        f"{g.max_probability_change:.3f} ({g.max_change_at})"}
             for g in diff.agreement]
    unchanged = sum(not f.changed for f in diff.fields if f.section in _CHANGES_ONLY)
    caption += (f" A metric's delta is beyond noise when {NOISE_RULE}. Prediction rows: "
                + "; ".join(f"{g.rows}: {g.source}" for g in diff.agreement) + "."
                + (f" {unchanged} column mappings and features unchanged (not shown)."
                   if unchanged else "")
                + "".join(f" Note: {note}." for note in diff.notes))
    table = pd.DataFrame(rows, columns=["section", "item", old, new, "change"])
    return table.style.set_uuid("version-changes").set_caption(caption).hide(axis="index")


# ---------------------------------------------------------------------------


def _resolve(position: str, version: str, models_dir: str | os.PathLike | None) -> str:
    """``version`` as X.Y.Z (``latest`` resolved), known to have files in the folder."""
    from recruit_reveal.artifacts import registry

    if version == registry.LATEST:
        latest = registry.latest_version(position, models_dir)
        if latest is None:
            raise ModelNotFoundError(f"{position} has no valid latest version in "
                                     f"{registry.resolve_models_dir(models_dir)}")
        version = latest
    registry.resolve_version(version)  # a VersionError for anything but X.Y.Z
    versions = registry.list_versions(position, models_dir)
    if version not in versions:
        raise ModelNotFoundError(
            f"no {position} version {version} in {registry.resolve_models_dir(models_dir)} "
            f"(versions: {', '.join(versions) or 'none'})")
    return version


def _load(position: str, version: str, models_dir: str | os.PathLike | None) -> Any:
    from recruit_reveal.artifacts import registry

    loaded = registry.load(position, version, models_dir)
    if loaded.version != version:  # the registry fell back to another version
        raise ModelNotFoundError(f"{position} {version} cannot be loaded: {loaded.reason}")
    return loaded


def _metrics(meta_a: Any, meta_b: Any) -> list[MetricChange]:
    from recruit_reveal.artifacts.metadata import Summary
    from recruit_reveal.modeling.summaries import METRIC_NAMES

    cv_a, cv_b = meta_a.metrics.cv, meta_b.metrics.cv
    names = [n for n in METRIC_NAMES if n in cv_a or n in cv_b]
    names += sorted((set(cv_a) | set(cv_b)) - set(names))
    out = []
    for name in names:
        va, vb = cv_a.get(name), cv_b.get(name)
        pairs: list[tuple[str, Any, Any]]
        if isinstance(va, Summary) or isinstance(vb, Summary):
            pairs = [(name, va, vb)]
        elif isinstance(va, dict) or isinstance(vb, dict):
            da = va if isinstance(va, dict) else {}
            db = vb if isinstance(vb, dict) else {}
            keys = [k for k in dict.fromkeys([*_levels(meta_a, meta_b), *da, *db])
                    if k in da or k in db]
            pairs = [(f"{name} {k}", da.get(k), db.get(k)) for k in keys]
        else:
            continue  # the confusion matrix: counts, not a summary with a fold std
        for label, sa, sb in pairs:
            out.append(MetricChange(
                label, _finite(getattr(sa, "mean", None)), _finite(getattr(sb, "mean", None)),
                _finite(getattr(sa, "std", None)), _finite(getattr(sb, "std", None)),
                higher_is_better=name not in LOWER_IS_BETTER))
    return out + _next_class(meta_a.backtest or {}, meta_b.backtest or {})


def _next_class(a: dict[str, Any], b: dict[str, Any]) -> list[MetricChange]:
    """The next-class backtest's figures beside the CV ones (std: over the classes)."""
    out = []
    for name in ("exact_accuracy", "log_loss") if a or b else ():
        sa, sb = a.get(name) or {}, b.get(name) or {}
        out.append(MetricChange(f"next class {name}", _finite(sa.get("mean")),
                                _finite(sb.get("mean")), _finite(sa.get("std")),
                                _finite(sb.get("std")), name not in LOWER_IS_BETTER))
    return out


def _levels(meta_a: Any, meta_b: Any) -> list[str]:
    """The levels of both versions' ladders, lowest first (the same ladder, usually); a
    version exported before ``classes`` was recorded: its position's in the catalog."""
    levels = list(dict.fromkeys([*meta_a.classes, *meta_b.classes]))
    return levels or list(position_spec(meta_b).levels)


def _fields(meta_a: Any, meta_b: Any) -> list[FieldChange]:
    out = [FieldChange("estimator", "estimator", meta_a.estimator.name, meta_b.estimator.name)]
    params_a, params_b = meta_a.estimator.params, meta_b.estimator.params
    out += [FieldChange("estimator", k, params_a.get(k), params_b.get(k))
            for k in sorted(set(params_a) | set(params_b))]
    out += [FieldChange("estimator", "seed", meta_a.seed, meta_b.seed),
            FieldChange("estimator", "cv_folds", meta_a.metrics.cv_folds,
                        meta_b.metrics.cv_folds),
            FieldChange("estimator", "scikit-learn", meta_a.sklearn_version,
                        meta_b.sklearn_version)]
    fa, fb = meta_a.data_fingerprint, meta_b.data_fingerprint
    out.append(FieldChange("data", "source", fa.source.spec if fa.source else None,
                           fb.source.spec if fb.source else None))
    for name in ("file", "sha256", "content_digest", "rows", "rows_in_file", "rows_rejected",
                 "rows_skipped", "invalid_rows"):
        out.append(FieldChange("data", name, getattr(fa, name), getattr(fb, name)))
    out += [FieldChange("data", f"rows {d}", fa.rows_per_division.get(d),
                        fb.rows_per_division.get(d)) for d in _levels(meta_a, meta_b)]
    out += [FieldChange("columns", header, fa.column_mapping.get(header),
                        fb.column_mapping.get(header))
            for header in sorted(set(fa.column_mapping) | set(fb.column_mapping))]
    features = dict.fromkeys([*meta_a.features, *meta_b.features])
    out += [FieldChange("features", name, name in meta_a.features, name in meta_b.features)
            for name in features]
    return out


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _summary(mean: float | None, std: float | None) -> dict[str, float | None]:
    return {"mean": mean, "std": std}


def _cell(value: Any) -> str:
    """A value for the template's table, whole."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3f}"


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _text(value: Any, width: int = 44) -> str:
    """A value for the text table, cut at ``width`` (the JSON keeps it whole)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = value if isinstance(value, str) else _key(value)
    return text if len(text) <= width else text[:width - 3] + "..."


def _moves(transitions: dict[str, int], shown: int = 3) -> str:
    items = list(transitions.items())
    text = ", ".join(f"{k} {n}" for k, n in items[:shown])
    return (text + f", +{len(items) - shown} more" if len(items) > shown else text) or "-"
