"""A monitoring report on synthetic streams: drift named on the shifted input, no false
alarms on unshifted streams, and live accuracy equal to the figure computed from the log."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from monitoring_support import (
    FIVE_LEVELS,
    athletes,
    profiled_models,
    records,
    stream,
    write_log,
    write_release,
)

from recruit_reveal.modeling.metrics import exact_accuracy, within_one_accuracy
from recruit_reveal.monitoring import monitor_report, outcomes
from recruit_reveal.monitoring.training_profile import division_mix


@pytest.fixture(scope="module")
def profiled(tmp_path_factory, exported_models_dir, sample_csv):
    return profiled_models(tmp_path_factory.mktemp("profiled") / "models", exported_models_dir,
                           sample_csv)


def _report(tmp_path, table, models, **kwargs):
    log = tmp_path / "log"
    write_log(log, table)
    return monitor_report.build_report(log, models, **kwargs)


def test_a_stream_shifted_in_one_input_is_flagged_on_that_input(tmp_path, profiled,
                                                                trained_results):
    table, _ = stream(trained_results["qb"].pipeline, "qb", 400, seed=11,
                      shift={"height_inches": 4.0})
    report = _report(tmp_path, table, profiled, position="qb")
    (qb,) = report.streams
    assert qb.drifted == ["height_inches"]
    assert report.verdict()["alert"] is True
    assert report.verdict()["drifted"] == {"qb 1.0.0": ["height_inches"]}


def test_unshifted_streams_raise_at_most_one_false_alarm_in_twenty(tmp_path, profiled,
                                                                   trained_results):
    alarms = 0
    for seed in range(20):
        table, _ = stream(trained_results["rb"].pipeline, "rb", 300, seed=100 + seed)
        report = _report(tmp_path / str(seed), table, profiled, position="rb")
        alarms += bool(report.verdict()["drifted"])
    assert alarms <= 1


def test_traffic_mix_and_rates_come_from_every_record(tmp_path, profiled, trained_results):
    qb, _ = stream(trained_results["qb"].pipeline, "qb", 200, seed=3, days=2)
    wr, _ = stream(trained_results["wr"].pipeline, "wr", 150, seed=4, days=2)
    report = _report(tmp_path, pa.concat_tables([qb, wr]), profiled)
    assert report.traffic_per_day().to_numpy().sum() == 350
    by_position = {s.position: s for s in report.streams}
    assert by_position["wr"].records == 150
    assert by_position["qb"].rates["unusual-input rate"] == pytest.approx(
        len(range(0, 200, 11)) / 200)
    mix = by_position["qb"].division_mix.set_index("division")["live share"]
    live = qb["predicted"].to_pandas().value_counts(normalize=True)
    assert mix.to_dict() == pytest.approx({d: live.get(d, 0.0) for d in mix.index})
    since = _report(tmp_path / "since", pa.concat_tables([qb, wr]), profiled, since="2026-03-02")
    assert since.verdict()["records"] < 350


def test_live_accuracy_equals_the_figure_computed_directly_from_the_log(tmp_path, profiled,
                                                                        trained_results):
    table, truth = stream(trained_results["qb"].pipeline, "qb", 300, seed=21)
    log = tmp_path / "log"
    write_log(log, table)
    records = table.to_pandas()
    half = records.iloc[::2]
    csv = tmp_path / "outcomes.csv"
    keyed = pd.DataFrame({"athlete_ref": half["athlete_ref"], "division": truth.iloc[::2]})
    keyed.loc[keyed.index[:10], "athlete_ref"] = None  # some outcomes keyed by request id
    keyed["request_id"] = half["request_id"].where(keyed["athlete_ref"].isna(), None)
    keyed.to_csv(csv, index=False)
    outcomes.add_outcomes(csv, log)

    joined = records.merge(pd.DataFrame({"request_id": half["request_id"],
                                         "division": truth.iloc[::2]}), on="request_id")
    report = monitor_report.build_report(log, profiled, position="qb")
    (qb,) = report.streams
    assert qb.accuracy is not None and qb.accuracy.outcomes == len(half) == 150
    assert qb.accuracy.exact == pytest.approx(exact_accuracy(joined["division"],
                                                             joined["predicted"]))
    assert qb.accuracy.within_one == pytest.approx(within_one_accuracy(joined["division"],
                                                                       joined["predicted"]))
    low, high = qb.accuracy.exact_ci
    assert low < qb.accuracy.exact < high
    assert report.verdict()["live_exact"] == {"qb 1.0.0": qb.accuracy.exact}


def test_a_te_model_of_the_five_level_catalog_is_monitored(tmp_path, monkeypatch):
    # Levels and inputs come from the metadata (its spec); the catalog is only needed for
    # the file names (artifacts.layout checks the position key against it).
    monkeypatch.setenv("CATALOG", FIVE_LEVELS.source)
    spec = FIVE_LEVELS.position("te")
    rng = np.random.default_rng(5)
    training, target = athletes(spec, 3000, rng)
    write_release(tmp_path / "models", spec, training, target)
    live, _ = athletes(spec, 600, rng)
    live["stars"] = np.clip(live["stars"] + 2, 1, 5)  # the recruiting service got generous
    proba = rng.dirichlet(np.ones(len(spec.levels)), size=len(live))
    table = records("te", live, proba, spec.levels, seed=7, all_inputs=spec.feature_names)
    report = _report(tmp_path, table, tmp_path / "models", position="te")
    (te,) = report.streams
    assert te.reference_source == "metadata"
    assert {d.input for d in te.drift} == set(spec.feature_names)  # stars, state included
    assert "stars" in te.drifted
    assert list(te.division_mix["division"]) == list(spec.levels)
    assert te.division_mix["live share"].sum() == pytest.approx(1.0)
    assert te.division_mix.set_index("division")["training share"].to_dict() == pytest.approx(
        division_mix(target, spec.levels))
    everything = _report(tmp_path / "all", table, tmp_path / "models")  # "all": the log's
    assert [s.position for s in everything.streams] == ["te"]


def test_a_stream_whose_level_mix_moved_is_flagged_and_an_unmoved_one_is_not(
        tmp_path, profiled, trained_results):
    from pathlib import Path

    from recruit_reveal.catalog import load_catalog

    drifting = load_catalog(Path(__file__).resolve().parent / "fixtures"
                            / "catalog_drifting.toml")
    # The drifting catalog's last class: far more top-level athletes than the training rows.
    moved, _ = stream(trained_results["qb"].pipeline, "qb", 8000, seed=21, catalog=drifting,
                      class_year=2026.0)
    report = _report(tmp_path / "moved", moved, profiled, position="qb")
    (qb,) = report.streams
    assert qb.mix_shifted == ["predicted"], ([m.line() for m in qb.level_mix], qb.division_mix, qb.records)
    assert report.verdict()["level_mix_shifts"] == {"qb 1.0.0": ["predicted"]}
    assert report.verdict()["alert"] is True
    steady, _ = stream(trained_results["qb"].pipeline, "qb", 500, seed=22)
    quiet = _report(tmp_path / "steady", steady, profiled, position="qb")
    assert quiet.streams[0].mix_shifted == [] and quiet.verdict()["level_mix_shifts"] == {}
