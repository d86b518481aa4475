"""The prediction log's one record format: written by a real server, read by monitoring."""

from __future__ import annotations

import httpx
import pyarrow.parquet as pq
import pytest
from api_support import SAMPLES, serve_process

from recruit_reveal.artifacts import record_format
from recruit_reveal.catalog import default_catalog
from recruit_reveal.monitoring import logscan
from recruit_reveal.monitoring.training_profile import ReleaseReference


def test_the_schema_is_built_from_the_specs_inputs_and_ladders():
    from monitoring_support import FIVE_LEVELS

    spec = next(iter(FIVE_LEVELS.positions.values()))
    schema = record_format.arrow_schema((spec,))
    names = schema.names
    assert names[:len(record_format.RECORD_COLUMNS)] == list(record_format.RECORD_COLUMNS)
    for name in spec.feature_names:
        assert record_format.input_column(name) in names
    for column in spec.ladder.probability_columns():
        assert not schema.field(column).nullable  # every row of this file has it
    # The default ladder's columns are always there, null for this spec's rows.
    for column in default_catalog().ladder.probability_columns():
        assert column in names
    assert names[-1] == record_format.PREDICTED
    assert all(n.startswith(record_format.PROBABILITY_PREFIX)
               for n in record_format.probability_columns((spec,)))


@pytest.fixture(scope="module")
def served_log(exported_models_dir, tmp_path_factory):
    """Records a real `recruit-reveal serve` wrote for a batch of the sample athletes, and
    the answers it gave (the server has stopped, so every record is flushed)."""
    folder = tmp_path_factory.mktemp("record_format")
    log = folder / "log"
    with serve_process(exported_models_dir, folder / "server.log", ACCESS_LOG="0",
                       PREDICTION_LOG=str(log), PREDICTION_LOG_FLUSH_SECONDS="0.2") as (_, url):
        athletes = [{**a, "athlete_ref": f"ref-{i}"} for i, a in enumerate(SAMPLES)]
        answer = httpx.post(f"{url}/predict/batch?explain=false", json=athletes,
                            headers={"X-Request-ID": "round-trip"}, timeout=30)
        assert answer.status_code == 200, answer.text
    return log, answer.json()["predictions"]


def test_records_written_through_the_api_read_back_with_the_monitoring_reader(served_log):
    log, answers = served_log
    files = list((log / record_format.FOLDER).rglob("*.parquet"))
    assert files, "the server wrote no prediction file"
    assert pq.read_schema(files[0]).equals(record_format.arrow_schema())
    positions = sorted({a["position"] for a in answers})
    assert logscan.log_positions(log) == positions

    summary = logscan.scan_log(log, None, lambda p, v: ReleaseReference(p, v),
                               outcome_request_ids=["round-trip"])
    assert sorted(p for p, _ in summary.streams) == positions
    assert int(summary.traffic["records"].sum()) == len(answers)
    keyed = summary.keyed_records.sort_values("athlete_ref").reset_index(drop=True)
    assert list(keyed["athlete_ref"]) == [f"ref-{i}" for i in range(len(SAMPLES))]
    levels = default_catalog().ladder.levels
    columns = default_catalog().ladder.probability_columns()
    for row, answer in zip(keyed.to_dict("records"), answers, strict=True):
        assert (row["position"], row["version"]) == (answer["position"], "1.0.0")
        assert row["predicted"] == answer["predicted_division"]
        assert [row[c] for c in columns] == [answer["probabilities"][lv] for lv in levels]
        assert row["request_id"] == "round-trip"
