"""The log scanner: bounded samples, mixed files split per (position, version), no log."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from recruit_reveal.monitoring import logscan
from recruit_reveal.monitoring.training_profile import ReleaseReference


def test_the_reservoir_keeps_a_bounded_uniform_sample():
    reservoir = logscan._Reservoir(1000, np.random.default_rng(0))
    for start in range(0, 100_000, 7_000):
        reservoir.add(np.arange(start, min(start + 7_000, 100_000), dtype="float64"))
    assert len(reservoir.values) == 1000 and len(set(reservoir.values)) == 1000
    assert 40_000 < reservoir.values.mean() < 60_000


def test_pair_masks_split_a_mixed_table():
    table = pa.table({"position": ["qb", "rb", "qb", "qb"], "version": ["1", "1", "2", "1"]})
    masks = dict(logscan._pair_masks(table))
    assert {k: v.to_pylist() for k, v in masks.items()} == {
        ("qb", "1"): [True, False, False, True], ("qb", "2"): [False, False, True, False],
        ("rb", "1"): [False, True, False, False]}


def test_a_log_without_records_summarizes_to_nothing(tmp_path):
    summary = logscan.scan_log(tmp_path / "empty", ["qb"],
                               lambda p, v: ReleaseReference(p, v))
    assert summary.streams == {} and summary.traffic.empty and summary.keyed_records.empty


def test_the_extent_counts_records_since_a_date_and_names_the_newest(tmp_path):
    from monitoring_support import write_log

    times = pa.array([f"2026-03-0{d}T12:00:00Z" for d in (1, 2, 2, 3)]).cast(
        pa.timestamp("ms", tz="UTC"))
    write_log(tmp_path / "log", pa.table({"time": times, "position": ["qb", "qb", "rb", "qb"]}))
    assert logscan.log_extent(tmp_path / "log", "qb") == logscan.LogExtent(3, "2026-03-03")
    assert logscan.log_extent(tmp_path / "log", "qb", "2026-03-02") == logscan.LogExtent(
        2, "2026-03-03")
    assert logscan.log_extent(tmp_path / "log", "qb", "2027-01-01") == logscan.LogExtent(
        0, "2026-03-03")
    assert logscan.log_extent(tmp_path / "log", "wr") == logscan.LogExtent(0, None)


def test_probability_columns_keep_the_log_names_of_the_default_ladder():
    from recruit_reveal.catalog import default_catalog
    from recruit_reveal.catalog.spec import probability_columns

    assert default_catalog().ladder.probability_columns() == ("p_d3", "p_d2", "p_fcs", "p_p5")
    assert probability_columns(["D3", "G5", "Power 4"]) == ("p_d3", "p_g5", "p_p4")
    # Two levels with one short tag: every level gets its full tag instead.
    assert probability_columns(["Power 5", "Pac 5"]) == ("p_power_5", "p_pac_5")


