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
