"""The next-class backtest with each option, on the drifting sample and the stationary one.

The drifting sample is the default football with a level mix that moves by class year
(``tests/fixtures/catalog_drifting.toml``: the generator's ``year_priors``).  For each seed
and position: shuffled 5-fold CV, then the rolling-origin backtest of the last three
classes (:mod:`recruit_reveal.modeling.backtest`) with no option, recency weighting
(half-lives of 1 and 2 years), prior-shift correction by EM, and both; the Bayes ceiling
per class comes from the generator's exact posterior.  Medians over the seeds.  The
stationary sample (the default catalog) must show CV and the backtest agreeing.

A real export is never bundled or downloaded: set ``RECRUIT_REVEAL_BACKTEST_DATA`` to
``path.csv:position`` (read with the loader under the active catalog, ``CATALOG``) and the
section adds the same table for it.
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Any

from recruit_reveal.catalog import Catalog, default_catalog, load_catalog
from recruit_reveal.data import posterior, synthetic
from recruit_reveal.modeling import backtest as bt
from recruit_reveal.modeling.cross_validation import cross_validate, stratified_folds
from recruit_reveal.modeling.estimators import DEFAULT_ESTIMATOR, build_pipeline

from ._common import Goal, Section, table

REAL_ENV = "RECRUIT_REVEAL_BACKTEST_DATA"

DRIFTING = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "catalog_drifting.toml"
OPTIONS: dict[str, dict[str, Any]] = {
    "none": {},
    "recency, half-life 2": {"half_life": 2.0},
    "recency, half-life 1": {"half_life": 1.0},
    "prior shift (EM)": {"prior_shift": "em"},
    "recency 2 + prior shift": {"half_life": 2.0, "prior_shift": "em"},
}
SEEDS, SMOKE_SEEDS = (1, 2, 3, 4, 5), (1,)
ROWS, SMOKE_ROWS = 2000, 800


def _one(catalog: Catalog, position: str, rows: int, seed: int) -> dict[str, Any]:
    spec = catalog.position(position)
    frame = synthetic.generate(position, rows, seed, catalog)
    target = frame["division"]
    inputs = frame.drop(columns=["name", "position", "division"])
    pipeline = build_pipeline(spec.to_dict(), DEFAULT_ESTIMATOR, {}, 42)
    cv, _ = cross_validate(pipeline, inputs, target,
                           stratified_folds(target, 5, 42, spec.ladder), ladder=spec.ladder)
    out: dict[str, Any] = {"cv": cv["log_loss"]["mean"]}
    for name, options in OPTIONS.items():
        record = bt.backtest(pipeline, inputs, target, spec,
                             posterior=lambda r: posterior.true_proba(r, position, catalog),
                             **options)
        assert record is not None
        out[name] = record["log_loss"]["mean"]
        if name == "none":
            out["ceiling"] = statistics.fmean(c["bayes_log_loss"] for c in record["classes"])
            out["flatters"] = bt.compare_with_cv(record, cv)["cv_flatters"]
    return out


def real_export(value: str | None) -> str:
    """The backtest with each option on a real export (``path.csv:position``)."""
    if not value:
        return f"No real export given (set {REAL_ENV}=path.csv:position to add one)."
    from recruit_reveal.data.loading import load_training_data
    from recruit_reveal.schema import spec_of

    path, _, position = value.rpartition(":")
    data = load_training_data(path, position)
    spec = spec_of(position)
    pipeline = build_pipeline(position, DEFAULT_ESTIMATOR, {}, 42)
    cv, _ = cross_validate(pipeline, data.frame, data.target,
                           stratified_folds(data.target, 5, 42, spec.ladder), ladder=spec.ladder)
    cells = [f"{cv['log_loss']['mean']:.3f} ± {cv['log_loss']['std']:.3f}"]
    for options in OPTIONS.values():
        record = bt.backtest(pipeline, data.frame, data.target, spec, **options)
        if record is None:
            return f"{Path(path).name}: no backtest (fewer than three classes of the class year)."
        cells.append(f"{record['log_loss']['mean']:.3f}")
    return (f"Real export {Path(path).name} ({position}, {len(data.frame):,} rows):\n\n"
            + table(["shuffled CV", *OPTIONS], [cells]))


def _medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ["cv", "ceiling", *OPTIONS]
    return {**{k: statistics.median(r[k] for r in runs) for k in keys},
            "flatters": sum(bool(r["flatters"]) for r in runs)}


def run(smoke: bool) -> Section:
    seeds, rows = (SMOKE_SEEDS, SMOKE_ROWS) if smoke else (SEEDS, ROWS)
    positions = ("qb",) if smoke else ("qb", "rb", "wr")
    drifting = load_catalog(DRIFTING)
    results = {(kind, pos): _medians([_one(cat, pos, rows, s) for s in seeds])
               for kind, cat in (("drifting", drifting), ("stationary", default_catalog()))
               for pos in positions}
    headers = ["sample", "position", "shuffled CV", *OPTIONS, "Bayes ceiling",
               "CV flatters (seeds)"]
    body = [[kind, pos, f"{m['cv']:.3f}", *(f"{m[o]:.3f}" for o in OPTIONS),
             f"{m['ceiling']:.3f}", f"{m['flatters']} of {len(seeds)}"]
            for (kind, pos), m in results.items()]
    drift = [m for (kind, _), m in results.items() if kind == "drifting"]
    still = [m for (kind, _), m in results.items() if kind == "stationary"]
    best = {p: min((o for o in OPTIONS if o != "none"), key=lambda o, m=m: m[o])
            for (kind, p), m in results.items() if kind == "drifting"}
    gains = [m["none"] - min(m[o] for o in OPTIONS if o != "none") for m in drift]
    goals = (
        Goal("drifting sample: an option beats the unweighted next-class log loss",
             "in every position (medians)", ", ".join(f"{g:+.3f}" for g in gains),
             None if smoke else all(g > 0 for g in gains),
             "best: " + "; ".join(f"{p} {o}" for p, o in best.items())),
        Goal("drifting sample: the backtest detects the drift", "CV flatters in most seeds",
             ", ".join(str(m["flatters"]) for m in drift),
             None if smoke else all(m["flatters"] > len(seeds) / 2 for m in drift)),
        Goal("stationary sample: CV and backtest agree", "CV flatters in at most one seed",
             ", ".join(str(m["flatters"]) for m in still),
             None if smoke else all(m["flatters"] <= 1 for m in still)),
    )
    markdown = (f"## Next-class backtest (`python -m bench.backtest`)\n\n"
                f"Median next-class log loss (last three classes) over seeds {list(seeds)}, "
                f"{rows} rows per position; lower is better.\n\n" + table(headers, body)
                + "\n\n" + real_export(os.environ.get(REAL_ENV)))
    return Section(markdown=markdown, goals=goals)


if __name__ == "__main__":
    print(run(smoke=False).markdown)
