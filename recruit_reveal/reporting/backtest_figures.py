"""The next-class backtest in the training notebook: a table per class and a plot.

Both read ``TrainingResult.backtest`` (:mod:`recruit_reveal.modeling.backtest`); the
table's caption is the verdict beside shuffled CV, so the record says plainly when
shuffled CV flatters the model and whether the class year is one of its inputs.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from recruit_reveal.modeling.summaries import metric_mean, metric_std


def backtest_verdict(result: Any) -> str:
    """One paragraph: the comparison with shuffled CV and the class year's role."""
    record = result.backtest
    if record is None:
        year = result.spec.class_year
        return ("No backtest by class year: " + (
            "the position has no class-year input." if year is None else
            f"the training rows do not hold three classes of {year}."))
    used = ("is one of the model's inputs" if record.get("class_year_in_model")
            else "orders the backtest only and is not one of the model's inputs")
    trial = record.get("class_year_verdict")
    return (f"{record['comparison']['verdict']}. The class year ({record['class_year']}) {used}"
            + (f"; {trial}." if trial else "."))


def backtest_table(result: Any) -> pd.DataFrame | pd.io.formats.style.Styler:
    """One row per backtested class (trained on the classes before it), then the mean;
    the verdict as the caption.  An empty table with the reason when there is none."""
    record = result.backtest
    if record is None:
        return pd.DataFrame({"backtest": [backtest_verdict(result)]})
    rows = [{"class": c["year"], "train rows": c["train_rows"], "rows": c["rows"],
             "log loss": c["log_loss"], "exact": c["exact_accuracy"],
             "Bayes log loss": c.get("bayes_log_loss", float("nan")),
             "Bayes exact": c.get("bayes_exact_accuracy", float("nan"))}
            for c in record["classes"]]
    rows.append({"class": "mean", "log loss": record["log_loss"]["mean"],
                 "exact": record["exact_accuracy"]["mean"]})
    rows.append({"class": "shuffled CV", "log loss": metric_mean(result.cv_metrics, "log_loss"),
                 "exact": metric_mean(result.cv_metrics, "exact_accuracy")})
    table = pd.DataFrame(rows).set_index("class")
    return table.style.format(precision=3, na_rep="-").set_caption(backtest_verdict(result))


def plot_backtest(result: Any) -> Figure:
    """Log loss per backtested class, the Bayes ceiling per class when known, and the
    shuffled CV mean with its fold spread as a band (without a backtest: the reason)."""
    record = result.backtest
    if record is None:
        fig = Figure(figsize=(6, 1.2), layout="constrained")
        fig.text(0.5, 0.5, backtest_verdict(result), ha="center", va="center", wrap=True)
        fig.suptitle(f"{result.position.upper()}: no next-class backtest")
        return fig
    years = [str(c["year"]) for c in record["classes"]]
    fig = Figure(figsize=(6, 3.5), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(years, [c["log_loss"] for c in record["classes"]], "o-", color="#4477aa",
            label="model, trained on earlier classes")
    if all("bayes_log_loss" in c for c in record["classes"]):
        ax.plot(years, [c["bayes_log_loss"] for c in record["classes"]], "s--",
                color="#228833", label="Bayes ceiling")
    mean = metric_mean(result.cv_metrics, "log_loss")
    std = metric_std(result.cv_metrics, "log_loss")
    ax.axhspan(mean - std, mean + std, color="#ee6677", alpha=0.2, label="shuffled CV ± fold std")
    ax.axhline(mean, color="#ee6677")
    ax.set_xlabel(f"class ({record['class_year']})")
    ax.set_ylabel("log loss (lower is better)")
    ax.set_title(f"{result.position.upper()}: next-class backtest")
    ax.legend(fontsize="small")
    return fig
