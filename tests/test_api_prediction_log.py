"""api.prediction_log: the records every scoring route makes, their files, retention, a sink
that is down, and real `recruit-reveal serve` processes writing to a folder and to moto's S3
(stopped with SIGTERM mid-traffic)."""

from __future__ import annotations

import datetime as dt
import io
import os
import signal
import threading
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest
from api_support import QB, SAMPLES, serve_process, settings
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from recruit_reveal.api.app import create_app
from recruit_reveal.api.parsing import parse_athlete
from recruit_reveal.api.prediction_log import PredictionLog, prune
from recruit_reveal.api.predictions import Scored
from recruit_reveal.api.store import ModelStore
from recruit_reveal.artifacts.record_format import arrow_schema, input_columns, probability_columns
from recruit_reveal.schema import DIVISIONS, feature_names
from recruit_reveal.storage.local import LocalStore
from recruit_reveal.storage.locations import open_store

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
ds = pytest.importorskip("pyarrow.dataset")


def read_local(folder: Path):
    """Every record under ``folder``/predictions, with the hive partition column ``date``."""
    return ds.dataset(str(folder / "predictions"), format="parquet",
                      partitioning="hive").to_table()


def read_store(location) -> tuple[list[str], object]:
    """(file names, all records) of the log at ``location`` (any store)."""
    folder = open_store(location).child("predictions")
    names, tables = [], []
    for partition in folder.folders():
        for name in folder.child(partition).names():
            names.append(f"{partition}/{name}")
            tables.append(pq.read_table(io.BytesIO(folder.child(partition).read(name))))
    return names, (pa.concat_tables(tables) if tables else arrow_schema().empty_table())


def dropped_total() -> float:
    return REGISTRY.get_sample_value("recruit_reveal_prediction_log_dropped_total") or 0.0


# --------------------------------------------------------------------------- through the app

@pytest.fixture
def logged(exported_models_dir, tmp_path):
    """A TestClient whose app logs to tmp_path/log; the records are read after it stops."""
    folder = tmp_path / "log"
    app = create_app(settings(prediction_log=str(folder), prediction_log_flush_seconds=0.2),
                     models_dir=exported_models_dir)
    return app, folder


def test_records_match_the_answers_of_every_predict_route(logged):
    app, folder = logged
    named = {**QB, "name": "Jordan Quarterback", "player_name": "J. Q.", "athlete_ref": "crm-17",
             "height_inches": "6-2", "state": "tx"}
    with TestClient(app) as client:
        one = client.post("/predict", json=named, headers={"X-Request-ID": "one"}).json()
        # Names are listed by field name only; athlete_ref is not an ignored field.
        assert one["ignored_fields"] == ["name", "player_name"]
        batch = client.post("/predict/batch", json=SAMPLES, headers={"X-Request-ID": "batch"})
        fast = client.post("/predict/batch?explain=false",
                           json={"athletes": [*SAMPLES, named]}, headers={"X-Request-ID": "fast"})
        version = client.post("/predict/1.0.0", json=QB, headers={"X-Request-ID": "version"})
        release = client.get("/health").json()["release"]["id"]
        unlabelled = client.post("/predict", json=QB)
        assert {r.status_code for r in (batch, fast, version, unlabelled)} == {200}
    table = read_local(folder)
    assert table.num_rows == 1 + 3 + 4 + 1 + 1
    assert arrow_schema().equals(pq.read_schema(next(folder.rglob("*.parquet"))))
    assert not [c for c in table.column_names if "name" in c]
    rows = table.to_pylist()
    for row in rows:  # no name anywhere, in any text column
        assert not any(isinstance(v, str) and ("Jordan" in v or "J. Q." in v) for v in row.values())
    by_id: dict[str, list[dict]] = {}
    for row in rows:
        by_id.setdefault(row["request_id"], []).append(row)
    answers = {"one": [one], "batch": batch.json()["predictions"],
               "fast": fast.json()["predictions"], "version": [version.json()]}
    routes = {"one": "/predict", "batch": "/predict/batch", "fast": "/predict/batch",
              "version": "/predict/{version}"}
    for rid, bodies in answers.items():
        records = sorted(by_id.pop(rid), key=lambda r: (r["position"], r["athlete_ref"] or ""))
        bodies = sorted(bodies, key=lambda b: b["position"])
        assert len(records) == len(bodies), rid
        for record, body in zip(records, bodies, strict=True):
            assert record["route"] == routes[rid]
            assert (record["position"], record["version"]) == (body["position"], "1.0.0")
            assert [record[p] for p in probability_columns()] == \
                [body["probabilities"][d] for d in DIVISIONS]
            assert record["predicted"] == body["predicted_division"]
            assert record["release_id"] == release
            assert record["integrated_inputs"] == [] and record["unusual_inputs"] == []
            assert record["time"].tzinfo is not None
    (generated,) = by_id.values()  # no X-Request-ID: one was made
    assert len(generated) == 1 and len(next(iter(by_id))) == 32
    mine = [r for r in rows if r["athlete_ref"] == "crm-17"]
    assert len(mine) == 2
    for record in mine:  # the inputs as received, canonical: 6-2 is 74 inches, tx is TX
        assert record["in_height_inches"] == 74.0 and record["in_state"] == "TX"
        for col in feature_names("qb"):
            if col not in ("height_inches", "state"):
                assert record[f"in_{col}"] == QB.get(col), col
        assert all(record[f"in_{c}"] is None for c in input_columns()
                   if c not in feature_names("qb"))


def test_mlflow_and_v2_records_name_their_route_template(logged):
    app, folder = logged
    with TestClient(app) as client:
        assert client.post("/models/qb/invocations", headers={"X-Request-ID": "m"},
                           json={"dataframe_records": [QB]}).status_code == 200
        inputs = [{"name": name, "datatype": "FP64", "shape": [1], "data": [QB[name]]}
                  for name in ("height_inches", "weight_lbs", "forty_yard_dash")]
        answer = client.post("/v2/models/qb/infer", headers={"X-Request-ID": "v"},
                             json={"inputs": inputs})
        assert answer.status_code == 200, answer.text
    routes = {r["request_id"]: r["route"] for r in read_local(folder).to_pylist()}
    # /openapi.json lists MLflow's route once per position, each with its own body schema
    assert routes["m"] == "/models/qb/invocations"
    assert routes["v"] == "/v2/models/{position}/infer"


def test_what_if_makes_two_records_base_then_modified(logged):
    app, folder = logged
    with TestClient(app) as client:
        answer = client.post("/what-if", headers={"X-Request-ID": "w"}, json={
            "base_data": {**QB, "athlete_ref": "r9"},
            "modifications": {"forty_yard_dash": 4.4}}).json()
    records = sorted(read_local(folder).to_pylist(), key=lambda r: -r["in_forty_yard_dash"])
    assert [r["in_forty_yard_dash"] for r in records] == [QB["forty_yard_dash"], 4.4]
    assert {(r["request_id"], r["route"], r["athlete_ref"]) for r in records} == \
        {("w", "/what-if", "r9")}
    base, modified = records
    results = answer["what_if_results"]
    assert [base[p] for p in probability_columns()] == \
        [results["base_probabilities"][d] for d in DIVISIONS]
    assert [modified[p] for p in probability_columns()] == \
        [answer["probabilities"][d] for d in DIVISIONS]
    assert (base["predicted"], modified["predicted"]) == (results["base_division"],
                                                          results["modified_division"])


def test_athlete_ref_is_bounded_and_never_a_modification(logged):
    app, _ = logged
    with TestClient(app) as client:
        long = client.post("/predict", json={**QB, "athlete_ref": "x" * 129})
        assert long.status_code == 422 and long.json()["errors"][0]["field"] == "athlete_ref"
        assert client.post("/predict", json={**QB, "athlete_ref": 5}).status_code == 422
        mod = client.post("/what-if", json={"base_data": QB,
                                             "modifications": {"athlete_ref": "y"}})
        assert mod.status_code == 422
    assert parse_athlete({**QB, "Athlete_Ref": "z"}).ref == "z"
    assert "athlete_ref" not in parse_athlete({**QB, "athlete_ref": "z"}).values


def test_without_prediction_log_nothing_is_recorded_and_no_thread_runs(exported_models_dir):
    before = {t.name for t in threading.enumerate()}
    with TestClient(create_app(settings(), models_dir=exported_models_dir)) as client:
        assert client.app.state.prediction_log is None
        assert client.post("/predict", json=QB).status_code == 200
        assert "prediction-log" not in {t.name for t in threading.enumerate()} - before


# --------------------------------------------------------------------------- the writer

@pytest.fixture(scope="module")
def served(exported_models_dir):
    store = ModelStore(exported_models_dir, {})
    store.load_all()
    return store


def scored(store: ModelStore, n: int = 2, ref: str | None = None) -> Scored:
    athletes = [parse_athlete({**QB, "athlete_ref": ref}) for _ in range(n)]
    proba = np.tile([0.1, 0.2, 0.3, 0.4], (n, 1))
    return Scored(store.require("qb"), athletes, proba, ["Power 5"] * n)


def test_records_are_partitioned_by_their_utc_date(served, tmp_path):
    times = iter([dt.datetime(2030, 1, 1, 23, 59, 59, tzinfo=dt.timezone.utc).timestamp(),
                  dt.datetime(2030, 1, 2, 0, 0, 1, tzinfo=dt.timezone.utc).timestamp()])
    log = PredictionLog(tmp_path, served, clock=lambda: next(times))
    log.start()
    log.record(scored(served, 2), request_id="a", route="/predict/batch")
    log.record(scored(served, 3), request_id="b", route="/predict/batch",
               integrated=[["senior_yds"], [], []], unusual=[[], ["forty_yard_dash"], []])
    log.close()
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.parquet"))
    assert [f.split("/")[1] for f in files] == ["date=2030-01-01", "date=2030-01-02"]
    pid = os.getpid()
    assert all(f.split("/")[2].startswith("part-") and f"-{pid}-" in f for f in files)
    table = read_local(tmp_path)
    assert sorted(map(str, table.column("date").to_pylist())) == ["2030-01-01"] * 2 + \
        ["2030-01-02"] * 3
    b = [r for r in table.to_pylist() if r["request_id"] == "b"]
    assert [r["integrated_inputs"] for r in b] == [["senior_yds"], [], []]
    assert [r["unusual_inputs"] for r in b] == [[], ["forty_yard_dash"], []]
    assert log.written == 5 and log.dropped == 0
    with pytest.raises(ValueError, match="2 for 3 athletes"):
        log.record(scored(served, 3), request_id="c", route="/x", unusual=[[], []])


def test_retention_deletes_old_partitions_only(served, tmp_path):
    sink = LocalStore(tmp_path)
    for date in ("2030-01-01", "2030-01-07", "2030-01-08", "2030-01-10"):
        sink.create(f"predictions/date={date}/part-x.parquet", b"old")
    sink.create("predictions/notes/readme.txt", b"not a partition")
    gone = prune(sink, 2, today=dt.date(2030, 1, 10))
    assert gone == ["date=2030-01-01", "date=2030-01-07"]
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert left == ["predictions/date=2030-01-08/part-x.parquet",
                    "predictions/date=2030-01-10/part-x.parquet", "predictions/notes/readme.txt"]
    # The writer applies PREDICTION_LOG_DAYS itself.
    old = (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=40)).isoformat()
    sink.create(f"predictions/date={old}/part-y.parquet", b"old")
    log = PredictionLog(sink, served, days=30)
    log.start()
    log.record(scored(served), request_id="a", route="/predict")
    log.close()
    assert not list((tmp_path / "predictions" / f"date={old}").iterdir())
    assert (tmp_path / "predictions/date=2030-01-10/part-x.parquet").exists()


class FlakyStore(LocalStore):
    """A folder whose writes fail while ``down`` is set."""

    down = True

    def create(self, name: str, data: bytes) -> None:
        if self.down:
            raise ConnectionError("the sink is down")
        super().create(name, data)


def test_a_sink_down_fills_the_buffer_then_drops_and_counts_then_recovers(served, tmp_path,
                                                                          caplog):
    sink = FlakyStore(tmp_path)
    log = PredictionLog(sink, served, flush_seconds=0.05, buffer_rows=5)
    log.start()
    before = dropped_total()
    start = time.perf_counter()
    for i in range(5):  # 10 rows: 4 held, then each further call of 2 needs 6 > 5
        log.record(scored(served, 2), request_id=f"r{i}", route="/predict/batch")
    assert time.perf_counter() - start < 0.5  # never waits on the sink
    time.sleep(0.3)  # several failed attempts
    assert (log.written, log.dropped) == (0, 6) and dropped_total() - before == 6
    # Rate-limited: one warning for both drops.
    assert caplog.text.count("record(s) dropped (the buffer is full") == 1
    assert "cannot write" in caplog.text
    sink.down = False
    log.close(timeout=5)
    records = read_local(tmp_path)
    assert sorted(records.column("request_id").to_pylist()) == ["r0", "r0", "r1", "r1"]
    assert log.written == 4 and dropped_total() - before == 6


def test_a_close_that_cannot_write_counts_what_is_lost(served, tmp_path, caplog):
    log = PredictionLog(FlakyStore(tmp_path), served, flush_seconds=0.05)
    log.start()
    log.record(scored(served, 3), request_id="r", route="/predict/batch")
    before = dropped_total()
    start = time.perf_counter()
    log.close(timeout=0.5)
    assert time.perf_counter() - start < 3
    assert log.dropped == 3 and dropped_total() - before == 3
    assert "3 accepted record(s) could not be written before shutdown" in caplog.text
    log.record(scored(served, 1), request_id="late", route="/predict")
    assert log.dropped == 4


# --------------------------------------------------------------------------- real servers

def _send(url: str, ids: list[str], answered: dict[str, int], stop: threading.Event) -> None:
    """POST /predict with each id as X-Request-ID until done, ``stop`` or the server is gone."""
    with httpx.Client(base_url=url, timeout=30) as client:
        for rid in ids:
            if stop.is_set():
                return
            try:
                answered[rid] = client.post("/predict", json=QB,
                                            headers={"X-Request-ID": rid}).status_code
            except httpx.HTTPError:
                return


def test_two_workers_record_600_predictions_with_their_request_ids(exported_models_dir,
                                                                   tmp_path):
    folder = tmp_path / "log"
    ids = [uuid.uuid4().hex for _ in range(600)]
    answered: dict[str, int] = {}
    with serve_process(exported_models_dir, tmp_path / "server.log", "--workers", "2",
                       ACCESS_LOG="0", PREDICTION_LOG=str(folder),
                       PREDICTION_LOG_FLUSH_SECONDS="0.5") as (_, url):
        threads = [threading.Thread(target=_send, args=(url, ids[k::4], answered,
                                                         threading.Event())) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
    assert list(answered.values()) == [200] * 600
    table = read_local(folder)
    assert table.num_rows == 600
    assert sorted(table.column("request_id").to_pylist()) == sorted(ids)
    assert set(table.column("route").to_pylist()) == {"/predict"}


def test_sigterm_mid_traffic_on_s3_keeps_every_answered_record(exported_models_dir, bucket,
                                                              tmp_path):
    location = f"{bucket}/monitoring"
    ids = [uuid.uuid4().hex for _ in range(2000)]
    answered: dict[str, int] = {}
    stop = threading.Event()
    with serve_process(exported_models_dir, tmp_path / "server.log", "--workers", "2",
                       ACCESS_LOG="0", PREDICTION_LOG=location,
                       PREDICTION_LOG_FLUSH_SECONDS="1") as (proc, url):
        threads = [threading.Thread(target=_send, args=(url, ids[k::4], answered, stop))
                   for k in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 120
        while len(answered) < 150 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)  # mid-traffic: the senders are still sending
        assert proc.wait(timeout=60) == 0, (tmp_path / "server.log").read_text()[-3000:]
        stop.set()
        for t in threads:
            t.join(timeout=60)
    ok = {rid for rid, status in answered.items() if status == 200}
    assert len(ok) >= 150 and len(ok) < len(ids)
    names, table = read_store(location)
    recorded = table.column("request_id").to_pylist()
    assert ok <= set(recorded), f"{len(ok - set(recorded))} answered requests have no record"
    assert len(recorded) == len(set(recorded))  # once each
    assert all(n.startswith("date=") and n.endswith(".parquet") for n in names)


def test_a_sink_that_is_down_never_slows_predictions_and_drops_are_counted(
        exported_models_dir, s3_endpoint, tmp_path):
    log = tmp_path / "server.log"
    missing = f"s3://rr-missing-{uuid.uuid4().hex[:10]}/log"
    with serve_process(exported_models_dir, log, ACCESS_LOG="0", PREDICTION_LOG=missing,
                       PREDICTION_LOG_BUFFER="20", PREDICTION_LOG_FLUSH_SECONDS="0.2") as (_, url), \
            httpx.Client(base_url=url, timeout=30) as client:
        client.post("/predict", json=QB)
        times = []
        for _ in range(60):
            start = time.perf_counter()
            assert client.post("/predict", json=QB).status_code == 200
            times.append(time.perf_counter() - start)
    assert sorted(times)[len(times) // 2] < 0.25 and max(times) < 2, times
    text = log.read_text()
    assert "cannot write" in text and "record(s) dropped (the buffer is full" in text
    assert "20 accepted record(s) could not be written before shutdown" in text


def test_the_protocol_routes_are_logged_with_what_was_integrated_and_unusual(logged):
    """/invocations and /v2 score through the plain path and are recorded like /predict,
    with the inputs integrated over and those outside the training range."""
    app, folder = logged
    no_rate = {k: v for k, v in QB.items() if k not in ("senior_ypg", "name")}
    tall = {**QB, "height_inches": 60}
    with TestClient(app) as client:
        mlflow = client.post("/models/qb/invocations", headers={"X-Request-ID": "m"},
                             json={"dataframe_records": [no_rate, tall]})
        assert mlflow.status_code == 200, mlflow.text
        v2 = client.post("/v2/models/qb/infer", headers={"X-Request-ID": "v"}, json={
            "inputs": [{"name": "height_inches", "datatype": "FP64", "shape": [1], "data": [72]},
                       {"name": "weight_lbs", "datatype": "FP64", "shape": [1], "data": [200]},
                       {"name": "senior_ypg", "datatype": "FP64", "shape": [1], "data": [250]}]})
        assert v2.status_code == 200, v2.text
    rows = read_local(folder).to_pylist()
    by_id = {rid: [r for r in rows if r["request_id"] == rid] for rid in ("m", "v")}
    assert [r["route"] for r in by_id["m"]] == ["/models/qb/invocations"] * 2
    first, second = sorted(by_id["m"], key=lambda r: r["in_height_inches"], reverse=True)
    assert "senior_ypg" in first["integrated_inputs"] and first["unusual_inputs"] == []
    assert second["unusual_inputs"] == ["height_inches"] and second["integrated_inputs"] == []
    assert [first[p] for p in probability_columns()] == pytest.approx(
        mlflow.json()["predictions"][0], abs=1e-6)
    (record,) = by_id["v"]
    assert record["route"] == "/v2/models/{position}/infer" and record["position"] == "qb"
