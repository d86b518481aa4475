"""The next-class backtest in the training notebook: its table, verdict and plot."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from recruit_reveal.data.loading import load_training_data
from recruit_reveal.modeling.training import train_position
from recruit_reveal.reporting import backtest_figures

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def result():
    return train_position(ROOT / "data" / "training.csv", "rb")


def test_the_table_has_a_row_per_class_the_mean_and_shuffled_cv(result):
    styler = backtest_figures.backtest_table(result)
    table = styler.data
    assert list(table.index) == [2024, 2025, 2026, "mean", "shuffled CV"]
    assert table.loc[2026, "rows"] == result.backtest["classes"][-1]["rows"]
    assert table.loc["mean", "log loss"] == pytest.approx(result.backtest["log_loss"]["mean"])
    html = styler.to_html()
    assert "agree" in html and "not one of the model's inputs" in html


def test_the_plot_shows_the_classes_the_ceiling_and_the_cv_band(result):
    fig = backtest_figures.plot_backtest(result)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["model, trained on earlier classes", "Bayes ceiling", "shuffled CV ± fold std"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2024", "2025", "2026"]


def test_without_a_class_year_the_record_says_why():
    data = load_training_data(ROOT / "data" / "training.csv", "wr")
    data = dataclasses.replace(data, frame=data.frame.drop(columns="grad_year"))
    bare = train_position(data, "wr", bayes=False)
    assert bare.backtest is None
    assert backtest_figures.plot_backtest(bare)._suptitle.get_text() == "WR: no next-class backtest"
    text = backtest_figures.backtest_table(bare).iloc[0, 0]
    assert text == ("No backtest by class year: the training rows do not hold three classes "
                    "of grad_year.")
