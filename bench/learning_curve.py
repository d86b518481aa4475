"""Quality against training-set size: does more data close the gap to the ceiling?

Per position and size, fresh samples are drawn from the generator (seeds
1000..1004, one per run), each trained with 5-fold CV; figures are medians
over the runs.  The Bayes ceiling is the exact posterior's score on the same
rows, so every ratio is measured side by side.  The figure goes to
docs/learning-curve.png.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from recruit_reveal.data.synthetic import generate
from recruit_reveal.modeling.training import train_position
from recruit_reveal.schema import POSITIONS

from ._common import Section, table

SIZES = (500, 2_000, 10_000)
SMOKE_SIZES = (200,)
REPEATS = 5
SEED_BASE = 1000
FIGURE = Path(__file__).resolve().parents[1] / "docs" / "learning-curve.png"

_SERIES = {  # label -> how to read the figure from a TrainingResult
    "model": lambda r, m: r.cv_metrics[m]["mean"],
    "Bayes ceiling": lambda r, m: r.bayes_ceiling[m],
    "rule-based": lambda r, m: r.baselines["rule_based"][m]["mean"],
    "majority": lambda r, m: r.baselines["majority"][m]["mean"],
}
_METRICS = ("exact_accuracy", "within_one_accuracy", "log_loss")


def measure(position: str, n: int, repeats: int, workdir: Path) -> dict[str, dict[str, float]]:
    """Median of each series and metric over ``repeats`` fresh samples of ``n`` rows."""
    values: dict[str, dict[str, list[float]]] = {s: {m: [] for m in _METRICS} for s in _SERIES}
    for k in range(repeats):
        csv = workdir / f"{position}_{n}_{k}.csv"
        generate(position, n, SEED_BASE + k).to_csv(csv, index=False)
        result = train_position(csv, position, seed=k, cv_folds=5, bayes=True)
        for series, read in _SERIES.items():
            for metric in _METRICS:
                values[series][metric].append(read(result, metric))
    return {s: {m: statistics.median(v) for m, v in ms.items()} for s, ms in values.items()}


def _figure(results: dict[str, dict[int, dict]], path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 3.8), layout="constrained")
    axes = fig.subplots(1, len(results), sharey=True)
    for ax, (position, by_size) in zip(axes, results.items(), strict=True):
        sizes = sorted(by_size)
        for series, style in (("model", "o-"), ("Bayes ceiling", "k--"),
                              ("rule-based", "s:"), ("majority", "x:")):
            ax.plot(sizes, [by_size[n][series]["exact_accuracy"] for n in sizes], style,
                    label=series)
        ax.set_xscale("log")
        ax.set_title(position.upper())
        ax.set_xlabel("training rows")
    axes[0].set_ylabel("CV exact accuracy")
    axes[0].legend(loc="center right")  # the empty band between model and baselines
    fig.savefig(path, dpi=110)


def run(smoke: bool = False) -> Section:
    sizes = SMOKE_SIZES if smoke else SIZES
    repeats = 1 if smoke else REPEATS
    results: dict[str, dict[int, dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for position in POSITIONS:
            results[position] = {n: measure(position, n, repeats, Path(tmp)) for n in sizes}

    rows = []
    for position, by_size in results.items():
        for n, r in by_size.items():
            model, ceiling = r["model"], r["Bayes ceiling"]
            rows.append([
                position.upper(), f"{n:,}",
                f"{model['exact_accuracy']:.3f}", f"{ceiling['exact_accuracy']:.3f}",
                f"{model['exact_accuracy'] / ceiling['exact_accuracy']:.1%}",
                f"{model['within_one_accuracy']:.3f}", f"{ceiling['within_one_accuracy']:.3f}",
                f"{model['log_loss']:.3f}", f"{ceiling['log_loss']:.3f}",
                f"{r['rule-based']['exact_accuracy']:.3f}", f"{r['majority']['exact_accuracy']:.3f}",
            ])
    lines = [
        "## Quality by training-set size",
        "",
        f"5-fold CV of the default model on fresh generator samples (seeds {SEED_BASE}.."
        f"{SEED_BASE + repeats - 1}); median of {repeats} samples per cell.  The ceiling is "
        "the exact Bayes posterior on the same rows.",
        "",
        table(["position", "rows", "exact", "ceiling exact", "exact / ceiling", "within-one",
               "ceiling within-one", "log loss", "ceiling log loss", "rule-based exact",
               "majority exact"], rows),
        "",
    ]
    if not smoke:
        _figure(results, FIGURE)
        lines += [f"![CV exact accuracy against training rows]({FIGURE.name})", ""]
    lines.append("Reproduce: `python -m bench.learning_curve`")
    return Section("\n".join(lines))


if __name__ == "__main__":
    print(run().markdown)
