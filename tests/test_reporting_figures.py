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


def test_a_five_level_te_and_an_lb_without_production_get_their_figures():
    from pathlib import Path
    from types import SimpleNamespace

    import numpy as np
    import pandas as pd

    from recruit_reveal.catalog import default_catalog, load_catalog
    from recruit_reveal.reporting import figures

    five = load_catalog(Path(__file__).with_name("fixtures") / "catalog_five_levels.toml")
    te, lb = five.position("te"), five.position("lb")
    assert figures.key_inputs(te) == ["height_inches", "weight_lbs", "forty_yard_dash",
                                      "senior_rec_ypg", "stars"]
    assert figures.key_inputs(lb) == ["height_inches", "weight_lbs", "forty_yard_dash", "stars"]
    assert figures.key_inputs(default_catalog().position("qb")) == [
        "height_inches", "weight_lbs", "forty_yard_dash", "vertical_jump", "senior_ypg",
        "senior_tds"]  # the earlier system's six, as before
    rng = np.random.default_rng(0)
    levels = list(lb.levels)
    frame = pd.DataFrame({c: rng.uniform(c.low or 0, c.high or 1, 50) if c.kind != "state"
                          else "TX" for c in lb.inputs}).rename(columns=lambda c: c.name)
    data = SimpleNamespace(frame=frame, target=pd.Series(rng.choice(levels, 50)),
                           position="lb", spec=lb)  # the data carries its spec
    fig = figures.plot_class_balance(data)
    assert [t.get_text() for t in fig.get_axes()[0].get_xticklabels()] == levels
    fig = figures.plot_inputs_by_division(data)
    assert [ax.get_title().split(" (")[0] for ax in fig.get_axes()] == figures.key_inputs(lb)
    assert len(fig.get_axes()[0].get_xticklabels()) == 5
