"""The notebook's figures and metrics table."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from recruit_reveal.data.loading import load_training_data
from recruit_reveal.reporting import figures


def test_tables_and_figures_do_not_touch_pyplot_state(trained_results, sample_csv):
    result = trained_results["qb"]
    data = load_training_data(sample_csv, "qb")
    before = plt.get_fignums()
    made = [
        figures.plot_class_balance(data),
        figures.plot_inputs_by_division(data),
        figures.plot_confusion_matrix(result),
        figures.plot_calibration(result),
        figures.plot_metrics_vs_baselines(result),
    ]
    assert all(isinstance(f, Figure) for f in made)
    assert plt.get_fignums() == before
    table = figures.metrics_table(result)
    assert table.loc["exact_accuracy", "model_mean"] == result.cv_metrics["exact_accuracy"]["mean"]
    assert {"rule_based_mean", "majority_mean", "bayes_ceiling"} <= set(table.columns)
    assert "recall FCS" in table.index


def test_permutation_importance_figure(trained_results, sample_csv):
    result = trained_results["wr"]
    data = load_training_data(sample_csv, "wr")
    assert isinstance(figures.plot_permutation_importance(result, data, n_repeats=1), Figure)
