"""What ``notebooks/explore.ipynb`` shows about a released model.

Error tables use **out-of-sample** predictions (:func:`out_of_sample`): the
release's pipeline is cloned and cross-validated on the folds and seed of its
metadata, so every row is predicted by a model that never saw it.  Partial
dependence and the athlete tables describe the released model itself.

``loaded`` is a :class:`~recruit_reveal.artifacts.registry.LoadedModel`
(position, version, pipeline, metadata).  Every function returns a DataFrame
or a matplotlib Figure (object API, no pyplot state); nothing prints.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.base import clone

from recruit_reveal.artifacts import registry
from recruit_reveal.data.loading import TrainingData, load_training_data
from recruit_reveal.errors import ModelNotFoundError
from recruit_reveal.modeling import explanations, metrics, probabilities
from recruit_reveal.modeling.cross_validation import cross_validate, stratified_folds
from recruit_reveal.modeling.levers import describe_option
from recruit_reveal.modeling.scoring import build_scorer

from .. import schema
from ..catalog import PositionSpec

# The calibration figures live in .reliability; the notebook reaches them from here.
from .reliability import COLORS as COLORS
from .reliability import calibration_table as calibration_table
from .reliability import division_reliability as division_reliability
from .reliability import level_colors
from .reliability import plot_division_reliability as plot_division_reliability
from .tables import position_spec, sample_inputs


def junior_inputs(spec: PositionSpec) -> list[str]:
    """The position's junior-season inputs: those preceding a senior stat, and the season
    totals they are rates of."""
    names = {c.name for c in spec.inputs if c.junior_of}
    names |= {c.total for c in spec.inputs if c.junior_of and c.total and spec.has(c.total)}
    return [c.name for c in spec.inputs if c.name in names]


#: The groupings of :func:`error_tables`, columns of :func:`athlete_errors`.
ERROR_GROUPS = ("state tier", "combine results missing", "junior season", "division")
#: The metrics :func:`cv_comparison` re-runs and compares with the metadata.
COMPARED_METRICS = ("exact_accuracy", "within_one_accuracy", "log_loss",
                    "expected_calibration_error")


def load_release(position: str, version: str, models_dir: str | os.PathLike[str]
                 ) -> registry.LoadedModel:
    """The release through the registry (sha256-verified); an error instead of a fallback.

    Exploring another version than the one asked for would answer the wrong question.
    """
    loaded = registry.load(position, version, models_dir)
    if loaded.fallback:
        raise ModelNotFoundError(f"asked for {position} {version} in {models_dir}, but only "
                                 f"{loaded.version} loads: {loaded.reason}")
    return loaded


def title(loaded: registry.LoadedModel) -> str:
    """``"WR 1.0.0"``: the prefix of every figure title."""
    return f"{loaded.position.upper()} {loaded.version}"


def typical_values(loaded: registry.LoadedModel) -> dict[str, float]:
    """The release's typical athlete, inputs without a typical value left out."""
    return {k: float(v) for k, v in loaded.metadata.typical_values.items() if v is not None}


def release_table(loaded: registry.LoadedModel) -> pd.DataFrame:
    """The release at a glance: estimator, training file and its CV figures."""
    meta = loaded.metadata
    fingerprint = meta.data_fingerprint
    return pd.Series({
        "loaded": f"{title(loaded)}: {loaded.reason}",
        "estimator": meta.estimator.name,
        "created": meta.created_at,
        "trained on": f"{fingerprint.file} ({fingerprint.rows} rows, "
                      f"sha256 {str(fingerprint.sha256)[:12]})",
        "CV exact (metadata)": meta.metrics.headline.exact_accuracy,
        "CV within-one (metadata)": meta.metrics.headline.within_one_accuracy,
        "CV folds, seed": (meta.metrics.cv_folds, meta.seed),
    }, name="value").to_frame()


def load_rows(loaded: registry.LoadedModel, csv_path: str | Path | None) -> TrainingData:
    """The position's valid rows of ``csv_path``, read with the release's column mapping.

    Invalid rows are left out rather than failing, so a file with a few bad
    rows can still be explored.  ``csv_path`` None means the training file was
    not found (the error names the file and digest the metadata records).
    """
    fingerprint = loaded.metadata.data_fingerprint
    if csv_path is None:
        raise FileNotFoundError(f"{fingerprint.file} (sha256 {str(fingerprint.sha256)[:12]}), "
                                "the training file of the release, was not found; set csv")
    return load_training_data(csv_path, position_spec(loaded).key,
                              columns=fingerprint.column_mapping or None,
                              invalid_rows="quarantine", max_invalid_fraction=1.0,
                              min_rows_per_division=0)


def rows_table(loaded: registry.LoadedModel, data: TrainingData) -> pd.DataFrame:
    """Rows per division, where they come from and whether it is the release's own file."""
    same = data.sha256 == loaded.metadata.data_fingerprint.sha256
    levels = list(position_spec(loaded).levels)
    counts = data.target.value_counts().reindex(levels, fill_value=0)
    table = pd.DataFrame([{**{d: int(n) for d, n in counts.items()}, "all": len(data.target),
                           "file": str(data.path),
                           "training file of the release": "yes" if same else
                           "NO (sha256 differs: the out-of-sample figures describe a "
                           "re-fit on this file)"}],
                         index=[f"{data.position} rows"])
    return table


@dataclass(frozen=True)
class OutOfSample:
    """Cross-validated predictions of every row (codes 0 = the lowest level .. the top);
    ``levels`` names the codes, lowest first."""

    target: np.ndarray
    proba: np.ndarray
    predicted: np.ndarray
    summary: dict[str, Any]
    source_rows: np.ndarray
    spec: PositionSpec

    @property
    def levels(self) -> tuple[str, ...]:
        return self.spec.levels


def out_of_sample(loaded: registry.LoadedModel, data: TrainingData) -> OutOfSample:
    """The release's pipeline, cloned and cross-validated on its metadata's folds and seed.

    On the release's own training file this reproduces the metadata's CV figures.
    """
    meta = loaded.metadata
    folds = stratified_folds(data.target, int(meta.metrics.cv_folds or 5),
                             int(meta.seed if meta.seed is not None else 42))
    summary, proba = cross_validate(clone(loaded.pipeline), data.frame, data.target, folds)
    predicted = probabilities.decide(proba, probabilities.decision_rule(loaded.pipeline))
    spec = position_spec(loaded)
    target = data.target.map(list(spec.levels).index).to_numpy()
    return OutOfSample(target, proba, np.asarray(predicted), summary,
                       np.asarray(data.source_rows), spec)


def cv_comparison(oos: OutOfSample, loaded: registry.LoadedModel) -> pd.DataFrame:
    """The CV metrics re-run here next to the ones the metadata records."""
    return pd.DataFrame({
        name: {"re-run here": oos.summary[name]["mean"],
               "metadata": loaded.metadata.metrics.mean(name)}
        for name in COMPARED_METRICS}).T.round(4)


def athlete_errors(data: TrainingData, oos: OutOfSample) -> pd.DataFrame:
    """One row per athlete: true and predicted division, ``off by`` and the error groups.

    ``off by`` is predicted minus true division (positive: rated too high).
    """
    frame, codes, spec = data.frame, oos.target, oos.spec
    junior = junior_inputs(spec)
    states = next((c.name for c in spec.inputs if c.kind == "state"), None)
    tier = (frame[states].map(spec.state_tier) if states
            else pd.Series(np.nan, index=frame.index))
    return pd.DataFrame({
        "division": pd.Categorical(data.target.to_numpy(), categories=oos.levels,
                                   ordered=True),
        "predicted": np.asarray(oos.levels, dtype=object)[oos.predicted],
        "off by": oos.predicted - codes,
        "P(true)": oos.proba[np.arange(len(codes)), codes],
        "confidence": oos.proba.max(axis=1),
        "state tier": tier.map(lambda t: "missing" if pd.isna(t) else f"tier {int(t)}")
                          .to_numpy(),
        "combine results missing": frame[list(spec.combine)].isna().sum(axis=1).to_numpy(),
        "junior season": np.where(frame[junior].isna().all(axis=1), "missing", "given"),
    }, index=pd.Index(oos.source_rows, name="row in file"))


def error_tables(errors: pd.DataFrame, oos: OutOfSample,
                 groups: Iterable[str] = ERROR_GROUPS) -> pd.DataFrame:
    """Out-of-sample accuracy, mean ``off by`` and log loss per group of every grouping.

    Indexed by (grouping, group); ``errors`` is :func:`athlete_errors` of the same rows.
    """
    parts = {}
    for by in groups:
        rows = {}
        for group, positions in errors.groupby(by, sort=True, observed=True).indices.items():
            t, p = oos.target[positions], oos.predicted[positions]
            rows[group] = {"rows": len(positions),
                           "exact": metrics.exact_accuracy(t, p),
                           "within one": metrics.within_one_accuracy(t, p),
                           "mean off by": float(np.mean(p - t)),
                           "log loss": metrics.log_loss(t, oos.proba[positions])}
        parts[by] = pd.DataFrame.from_dict(rows, orient="index")
    table = pd.concat(parts, names=["grouping", "group"])
    return table.astype({"rows": int}).round(3)


def largest_misses(errors: pd.DataFrame, *, min_off_by: int = 2, n: int = 10) -> pd.DataFrame:
    """Athletes rated at least ``min_off_by`` divisions off, most confident first."""
    misses = errors[errors["off by"].abs() >= min_off_by]
    return misses.sort_values("confidence", ascending=False).head(n)


def plot_error_groups(tables: pd.DataFrame, title: str = "") -> Figure:
    """Exact and within-one accuracy per group, one panel per grouping of :func:`error_tables`."""
    groupings = list(dict.fromkeys(tables.index.get_level_values("grouping")))
    fig = Figure(figsize=(3 * max(len(groupings), 1), 3.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, max(len(groupings), 1), sharey=True))
    for ax, by in zip(axes, groupings, strict=False):
        table = tables.xs(by, level="grouping")
        x = np.arange(len(table))
        ax.bar(x - 0.2, table["exact"], width=0.4, label="exact", color=COLORS[0])
        ax.bar(x + 0.2, table["within one"], width=0.4, label="within one", color=COLORS[2])
        ax.set_xticks(x, [f"{i}\n(n={n})" for i, n in zip(table.index, table["rows"],
                                                             strict=True)], fontsize=8)
        ax.set_title(f"by {by}", fontsize=10)
    axes[0].set_ylabel("out-of-sample accuracy")
    axes[0].set_ylim(0, 1)
    axes[0].legend(fontsize=8, loc="lower left")
    fig.suptitle(f"{title}: where the model is wrong" if title else "where the model is wrong")
    return fig


# ---------------------------------------------------------------------------
# Partial dependence
# ---------------------------------------------------------------------------

def dependence_inputs(loaded: registry.LoadedModel, frame: pd.DataFrame, *,
                      min_given: float = 0.2) -> list[str]:
    """Numeric inputs the release uses and that at least ``min_given`` of the rows give."""
    excluded = set(loaded.metadata.estimator.params.get("exclude_features") or [])
    return [c.name for c in position_spec(loaded).numeric
            if c.name not in excluded and frame[c.name].notna().mean() >= min_given]


def _sample(frame: pd.DataFrame, size: int, seed: int) -> pd.DataFrame:
    return frame.sample(min(len(frame), size), random_state=seed) if size else frame


def partial_dependence(loaded: registry.LoadedModel, frame: pd.DataFrame,
                       inputs: Iterable[str] | None = None, *, points: int = 15,
                       sample: int = 400, seed: int = 0) -> pd.DataFrame:
    """Mean P(division) of a sample of rows as one input is set to each grid value.

    Every sampled athlete gets the same value (also those with the input
    missing: the curve shows the effect of *recording* it at that value); the
    grid runs over the input's 5th to 95th percentile in ``frame``.  Long
    format: one row per (input, value), one column per division.  Scored
    through the release's fast path (:func:`~recruit_reveal.modeling.scoring.build_scorer`),
    one call per input.
    """
    spec = position_spec(loaded)
    position, levels = spec.key, list(spec.levels)
    inputs = dependence_inputs(loaded, frame) if inputs is None else list(inputs)
    scorer = build_scorer(loaded.pipeline, position, typical_values(loaded))
    rows = _sample(frame, sample, seed)
    names = probabilities.numeric_names(position)
    x = rows.reindex(columns=names).to_numpy(dtype=float, na_value=np.nan)
    state = rows["state"].to_numpy(dtype=object)
    parts = []
    for name in inputs:
        grid = np.unique(np.nanquantile(frame[name].to_numpy(dtype=float),
                                        np.linspace(0.05, 0.95, points)))
        stacked = np.tile(x, (len(grid), 1))
        stacked[:, names.index(name)] = np.repeat(grid, len(x))
        proba = probabilities.score_arrays(scorer, stacked, np.tile(state, len(grid)), position)
        means = proba.reshape(len(grid), len(x), len(levels)).mean(axis=1)
        parts.append(pd.DataFrame(means, columns=levels).assign(input=name, value=grid))
    columns = ["input", "value", *levels]
    return (pd.concat(parts, ignore_index=True)[columns] if parts
            else pd.DataFrame(columns=columns))


def tier_states(spec: PositionSpec) -> dict[str, str | None]:
    """One state of each recruiting tier of ``spec`` (the first in alphabetical order), and
    missing."""
    states: dict[str, str | None] = {}
    for tier in range(1, spec.n_state_tiers + 1):
        found = sorted(s for s in schema.US_STATES if spec.state_tier(s) == tier)
        if found:
            states[f"tier {tier}"] = found[0]
    states["missing"] = None
    return states


def state_dependence(loaded: registry.LoadedModel, frame: pd.DataFrame, *, sample: int = 400,
                     seed: int = 0) -> pd.DataFrame:
    """Mean P(division) of the sampled rows with every athlete put in one state per tier."""
    spec = position_spec(loaded)
    states = next((c.name for c in spec.inputs if c.kind == "state"), None)
    rows = _sample(frame, sample, seed)
    means = {}
    for label, state in (tier_states(spec) if states else {}).items():
        moved = rows.copy()
        moved[states] = np.nan if state is None else state
        means[label] = probabilities.predict_proba(loaded.pipeline, moved).mean(axis=0)
    table = pd.DataFrame.from_dict(means, orient="index", columns=list(spec.levels))
    table.index.name = "state tier"
    return table


def dependence_ranges(curves: pd.DataFrame) -> pd.DataFrame:
    """How far each input moves each P(division): max minus min along its curve.

    Sorted by the range of P(the top level), largest first.
    """
    levels = _levels_of(curves)
    grouped = curves.groupby("input", sort=False)[levels]
    ranges = grouped.max() - grouped.min()
    ranges.columns = [f"P({d}) range" for d in levels]
    return ranges.sort_values(f"P({levels[-1]}) range", ascending=False).round(3)


def _levels_of(curves: pd.DataFrame) -> list[str]:
    """The level columns of :func:`partial_dependence`'s table, lowest first."""
    return [c for c in curves.columns if c not in ("input", "value")]


def plot_partial_dependence(curves: pd.DataFrame, tiers: pd.DataFrame | None = None,
                            title: str = "", position: str | None = None) -> Figure:
    """One panel per input of :func:`partial_dependence`, plus stacked bars per state tier."""
    inputs = list(dict.fromkeys(curves["input"]))
    panels = len(inputs) + (tiers is not None)
    ncols = min(4, max(panels, 1))
    nrows = -(-max(panels, 1) // ncols)
    fig = Figure(figsize=(3.2 * ncols, 2.6 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    units = {c.name: c.unit for c in schema.columns_for(position)} if position else {}
    levels = _levels_of(curves)
    for ax, name in zip(axes, inputs, strict=False):
        curve = curves[curves["input"] == name]
        for color, division in zip(level_colors(len(levels)), levels, strict=True):
            ax.plot(curve["value"], curve[division], color=color, label=division)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(units.get(name, ""), fontsize=8)
        ax.set_ylim(0, 1)
    if tiers is not None:
        _plot_tier_bars(axes[len(inputs)], tiers)
    for extra in axes[panels:]:
        extra.set_visible(False)
    axes[0].legend(fontsize=7)
    suffix = "mean P(level) as one input changes"
    fig.suptitle(f"{title}: {suffix}" if title else suffix)
    return fig


def _plot_tier_bars(ax, tiers: pd.DataFrame) -> None:
    bottom = np.zeros(len(tiers))
    levels = list(tiers.columns)
    for color, division in zip(level_colors(len(levels)), levels, strict=True):
        ax.bar(tiers.index, tiers[division], bottom=bottom, color=color, label=division)
        bottom += tiers[division].to_numpy()
    ax.set_title("state tier", fontsize=9)
    ax.tick_params(axis="x", labelsize=7)


# ---------------------------------------------------------------------------
# One athlete
# ---------------------------------------------------------------------------

def sample_athlete(position: schema.PositionLike | registry.LoadedModel) -> dict[str, Any]:
    """The position's sample athlete (the API's example), inputs only: of a loaded model's
    own spec, or of a position (a key of the active catalog, a spec or its plain data)."""
    spec = (position_spec(position) if isinstance(position, registry.LoadedModel)
            else schema.spec_of(position))
    return sample_inputs(spec)


def score_athlete(loaded: registry.LoadedModel, values: Mapping[str, Any]) -> pd.Series:
    """The division the release predicts for ``values`` (by its decision rule) and P(each)."""
    spec = position_spec(loaded)
    frame = pd.DataFrame([dict(values)]).reindex(columns=spec.feature_names)
    proba = probabilities.predict_proba(loaded.pipeline, frame)
    decided = probabilities.decide(proba, probabilities.decision_rule(loaded.pipeline))
    return pd.Series({"division": spec.levels[int(decided[0])],
                      **{f"P({d})": round(float(p), 3)
                         for d, p in zip(spec.levels, proba[0], strict=True)}})


def compare_athlete(loaded: registry.LoadedModel, athlete: Mapping[str, Any],
                    changes: Mapping[str, Any]) -> pd.DataFrame:
    """The athlete's prediction as given and with ``changes`` applied on top."""
    return pd.DataFrame({"athlete": score_athlete(loaded, athlete),
                         "with changes": score_athlete(loaded, {**athlete, **changes})})


def what_if_options(loaded: registry.LoadedModel, athlete: Mapping[str, Any]
                    ) -> pd.DataFrame:
    """The model's what-if search (:func:`explanations.what_if`), as the API answers it.

    One row per input whose smallest single change reaches the next division,
    least effort first, with the change in words; at the top division, or when
    no single change gets there, one row holding the search's message.
    """
    found = explanations.what_if(loaded.pipeline, pd.DataFrame([dict(athlete)]),
                                 position_spec(loaded).key,
                                 typical_values=typical_values(loaded))
    if not found["options"]:
        return pd.DataFrame({"what it takes": [found["message"]]})
    table = pd.DataFrame(found["options"])
    table.insert(0, "what it takes", [describe_option(o) for o in found["options"]])
    return table
