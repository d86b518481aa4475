"""Fold metrics summarized as mean ± std, and how a summary is read."""

from __future__ import annotations

import numpy as np
import pytest

from recruit_reveal.modeling.metrics import fold_metrics
from recruit_reveal.modeling.summaries import metric_mean, metric_std, summarize_folds


def test_summarize_folds_means_stds_and_summed_confusion():
    a = fold_metrics([0, 1, 2, 3], np.eye(4))
    b = fold_metrics([0, 1, 2, 3], np.eye(4)[[1, 1, 2, 3]])
    summary = summarize_folds([a, b])
    assert summary["exact_accuracy"] == {"mean": pytest.approx(0.875), "std": pytest.approx(0.125)}
    assert summary["recall_per_division"]["D3"]["mean"] == pytest.approx(0.5)
    assert summary["confusion_matrix"][0] == [1, 1, 0, 0]
    assert np.sum(summary["confusion_matrix"]) == 8


def test_metric_mean_and_std_read_a_summary():
    summary = summarize_folds([fold_metrics([0, 1, 2, 3], np.eye(4)),
                               fold_metrics([0, 1, 2, 3], np.eye(4)[[1, 1, 2, 3]])])
    assert metric_mean(summary, "exact_accuracy") == summary["exact_accuracy"]["mean"]
    assert metric_std(summary, "exact_accuracy") == summary["exact_accuracy"]["std"]
    assert metric_mean(summary["recall_per_division"], "D3") == pytest.approx(0.5)
