"""PSI, K-S and the Benjamini-Hochberg verdict on known distributions."""

from __future__ import annotations

import numpy as np
import pytest

from recruit_reveal.monitoring import drift

rng = np.random.default_rng(0)
TRAINING = rng.normal(0, 1, 20_000)
QUANTILES = np.percentile(TRAINING, np.arange(101))


def _psi(values):
    edges = drift.decile_edges(QUANTILES)
    return drift.psi(drift.expected_shares(QUANTILES, edges), drift.bin_counts(values, edges))


def test_expected_shares_are_the_deciles_for_a_continuous_input():
    shares = drift.expected_shares(QUANTILES, drift.decile_edges(QUANTILES))
    assert shares == pytest.approx([0.1] * 10)


def test_psi_is_small_for_the_same_distribution_and_large_for_a_shift():
    assert _psi(np.random.default_rng(1).normal(0, 1, 5000)) < 0.02
    assert _psi(np.random.default_rng(1).normal(1, 1, 5000)) > 0.5
    assert drift.psi_band(0.05) == "stable"
    assert drift.psi_band(0.15) == "moderate"
    assert drift.psi_band(0.25) == "large"


def test_ks_accepts_the_same_distribution_and_rejects_a_shift():
    same = drift.ks_test(QUANTILES, np.random.default_rng(2).normal(0, 1, 3000))[1]
    shifted = drift.ks_test(QUANTILES, np.random.default_rng(2).normal(0.3, 1, 3000))[1]
    assert same > 0.01 and shifted < 1e-6


def test_a_discrete_input_is_not_rejected_for_being_discrete():
    games = np.random.default_rng(3).choice([8, 9, 10, 11, 12], p=[.1, .2, .4, .2, .1],
                                            size=5000)
    quantiles = np.percentile(games, np.arange(101))
    live = np.random.default_rng(4).choice([8, 9, 10, 11, 12], p=[.1, .2, .4, .2, .1],
                                           size=5000)
    assert drift.ks_test(quantiles, live)[1] > 0.001
    edges = drift.decile_edges(quantiles)
    assert drift.psi(drift.expected_shares(quantiles, edges), drift.bin_counts(live, edges)) < 0.05


def test_drifted_needs_both_a_large_psi_and_a_corrected_p_below_alpha():
    def result(name, psi, p, n=1000):
        return drift.InputDrift(name, n, 0.0, 0.0, psi, drift.psi_band(psi), "K-S", 0.1, p)

    out = drift.correct([result("a", 0.5, 1e-9), result("b", 0.5, 0.2), result("c", 0.05, 1e-9),
                         result("d", 0.5, 1e-9, n=10)])
    assert [r.drifted for r in out] == [True, False, False, False]
    assert out[0].p_corrected >= out[0].p_value


def _input(**kw):
    base = dict(input="weight_lbs", values=400, missing_share=0.0, training_missing_share=0.0,
                psi=0.05, band="stable", test="K-S", statistic=0.1, p_value=0.5)
    return drift.InputDrift(**{**base, **kw})


def test_the_verdict_tells_noise_at_this_sample_size_from_drift():
    assert _input(psi=0.3, band="large", drifted=True).verdict == "drifted"
    # a large PSI the corrected test does not confirm: noise of a small sample, not drift
    assert _input(psi=0.3, band="large", p_corrected=0.4).verdict == "noisy at this sample size"
    assert _input(values=20, psi=0.3, band="large").verdict.startswith("too few values")
    assert _input(psi=0.15, band="moderate").verdict == "moderate"
    assert _input().verdict == "stable"


def test_the_row_rounds_p_values_and_shares_to_what_matters():
    row = _input(p_value=0.9441124, p_corrected=0.00002, psi=0.123456,
                 missing_share=0.0125).as_row()
    assert (row["p"], row["p (BH)"], row["PSI"]) == ("0.94", "< 0.001", 0.123)
    assert row["missing (live)"] == "1.2%" and row["verdict"] == "stable"
    assert "drifted" not in row and "band" not in row
    assert drift.p_text(float("nan")) == "-"


def test_bin_labels_name_every_bin_of_the_edges():
    assert drift.bin_labels(np.array([60.0, 70.5])) == ("<= 60", "60 to 70.5", "> 70.5")
    assert drift.bin_labels(np.array([])) == ("all",)
