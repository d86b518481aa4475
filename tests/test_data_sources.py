"""data.sources: the sample read from CSV, Parquet, Delta and SQL, local and on S3 (moto's
server), and from a real PostgreSQL server the tests start; the same rows give the same
content digest and the same model; every bad source is one line and exit code 2."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import uuid

import numpy as np
import pandas as pd
import pytest
from postgres_support import PASSWORD, running_postgres

from recruit_reveal import schema
from recruit_reveal.cli import main
from recruit_reveal.data import load_training_data, sources
from recruit_reveal.errors import DataValidationError
from recruit_reveal.release import runner


@pytest.fixture(scope="module")
def sample_frame(sample_csv):
    """The sample as pandas reads it with types: numbers as numbers, as a warehouse holds them."""
    return pd.read_csv(sample_csv)


@pytest.fixture(scope="module")
def digests(sample_csv):
    """Each position's content digest and validated frame, read from the CSV."""
    return {pos: load_training_data(sample_csv, pos) for pos in schema.POSITIONS}


@pytest.fixture(scope="module")
def local_sources(tmp_path_factory, sample_frame):
    """The sample as a Parquet file, a hive-partitioned Parquet dataset, a Delta table and
    an SQLite table: specs by name."""
    from deltalake import write_deltalake

    folder = tmp_path_factory.mktemp("sources")
    sample_frame.to_parquet(folder / "sample.parquet")
    sample_frame.to_parquet(folder / "dataset", partition_cols=["position"])
    write_deltalake(str(folder / "delta"), sample_frame)
    with sqlite3.connect(folder / "sample.db") as conn:
        sample_frame.to_sql("athletes", conn, index=False)
    return {"parquet file": str(folder / "sample.parquet"),
            "parquet dataset": str(folder / "dataset"),
            "delta pinned": f"{folder / 'delta'}@0",
            "sqlite table": f"sqlite:///{folder / 'sample.db'}#table=athletes",
            "sqlite query": f"sqlite:///{folder / 'sample.db'}#query=" + "SELECT%20*%20FROM%20athletes"}


@pytest.fixture(scope="module")
def postgres(tmp_path_factory, sample_frame):
    """A real PostgreSQL server holding the sample as the table ``athletes``; its URL."""
    import sqlalchemy as sa

    with running_postgres(tmp_path_factory.mktemp("pg")) as url:
        engine = sa.create_engine(url)
        # A primary key gives the table its order (a table read is ordered by it).
        sample_frame.to_sql("athletes", engine, index=True, index_label="id")
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE athletes ADD PRIMARY KEY (id)"))
        engine.dispose()
        yield url


def test_parse_names_the_kind_strips_credentials_and_keeps_pins(tmp_path, monkeypatch):
    monkeypatch.delenv(sources.SECRETS_ENV, raising=False)
    (tmp_path / "t" / "_delta_log").mkdir(parents=True)
    assert sources.parse(str(tmp_path / "t")).kind == "delta"
    assert sources.parse(f"{tmp_path / 't'}@2026-01-01T00:00:00Z").pin == "2026-01-01T00:00:00Z"
    assert sources.parse("s3://b/x.parquet").kind == "parquet"
    assert sources.parse("s3://b/x.csv").spec == "csv:s3://b/x.csv"
    sql = sources.parse("postgresql://me:pw123@db:5432/rr?sslmode=require&password=pw123",
                        table="qb")
    assert (sql.kind, sql.table) == ("sql", "qb")
    assert "pw123" not in sql.spec and "me@" not in sql.spec and "sslmode=require" in sql.spec
    # The full URL is kept aside for this process and its kernels only, by the stripped one.
    assert "pw123" in json.loads(os.environ[sources.SECRETS_ENV])[sql.uri]
    assert sources.parse(sql.spec) == sql  # the recorded spec reads the same source again
    with pytest.raises(DataValidationError, match="pins a Delta table version"):
        sources.parse(f"csv:{tmp_path / 'x.csv'}@3")
    with pytest.raises(DataValidationError, match="--table NAME or --query"):
        sources.parse("sqlite:///x.db")


@pytest.mark.parametrize("name", ["parquet file", "parquet dataset", "delta pinned",
                                  "sqlite table", "sqlite query"])
def test_every_local_kind_gives_the_csv_rows_and_digest(local_sources, digests, name):
    for pos in schema.POSITIONS:
        data = load_training_data(local_sources[name], pos)
        expected = digests[pos]
        assert data.content_digest == expected.content_digest
        pd.testing.assert_frame_equal(data.frame, expected.frame)
        assert data.source["rows_read"] == expected.row_counts.data_rows
    assert data.source["kind"] == name.split()[0].replace("sqlite", "sql")


def test_s3_parquet_dataset_and_delta_on_moto_give_the_csv_digest(bucket, sample_frame,
                                                                  sample_csv, digests):
    import fsspec
    from deltalake import write_deltalake

    fs = fsspec.filesystem("s3")
    fs.put(str(sample_csv), f"{bucket}/sample.csv")
    with fs.open(f"{bucket}/dataset/part-0.parquet", "wb") as out:
        sample_frame.to_parquet(out)
    write_deltalake(f"{bucket}/delta", sample_frame, storage_options={
        **sources.delta_storage_options(), "AWS_S3_ALLOW_UNSAFE_RENAME": "true"})
    for spec in (f"{bucket}/sample.csv", f"{bucket}/dataset", f"{bucket}/delta@0"):
        data = load_training_data(spec, "qb")
        assert data.content_digest == digests["qb"].content_digest, spec
    assert sources.prepare(f"{bucket}/delta").pin == "0"  # unpinned: pinned to the current


def test_postgres_table_and_query_give_the_csv_digest_without_the_password(postgres, digests,
                                                                           caplog):
    for spec in (f"{postgres}#table=athletes",
                 f"{postgres}#query=SELECT%20*%20FROM%20athletes%20WHERE%20position%20%3D%20'wr'%20ORDER%20BY%20name"):
        data = load_training_data(spec, "wr")
        assert data.content_digest == digests["wr"].content_digest
        assert PASSWORD not in json.dumps(data.validation_summary())
    assert PASSWORD not in caplog.text


def _same_predictions(models_a, models_b, position, version_a, version_b, frame):
    from recruit_reveal.artifacts.registry import load

    a = load(position, version_a, models_dir=models_a).pipeline.predict_proba(frame)
    b = load(position, version_b, models_dir=models_b).pipeline.predict_proba(frame)
    return np.array_equal(a, b)


def test_the_sample_trains_to_the_same_model_from_every_source(tmp_path, sample_csv,
                                                              local_sources, postgres, digests):
    from recruit_reveal.artifacts.registry import describe

    models = tmp_path / "models"
    specs = {"1.0.0": str(sample_csv), "1.0.1": local_sources["parquet dataset"],
             "1.0.2": local_sources["delta pinned"], "1.0.3": f"{postgres}#table=athletes"}
    for version, spec in specs.items():
        summary = runner.train(spec, "qb", version, engine="direct", models_dir=models,
                               runs_dir=tmp_path / "runs", cv_folds=2)
        assert summary.ok, summary.report()
    metas = {v: describe("qb", v, models_dir=models) for v in specs}
    assert {m.data_fingerprint.content_digest for m in metas.values()} == {
        digests["qb"].content_digest}
    assert [m.data_fingerprint.source.kind for m in metas.values()] == [
        "csv", "parquet", "delta", "sql"]
    assert PASSWORD not in (models / "recruit_reveal_qb_pipeline_v1.0.3.metadata.json").read_text()
    frame = digests["qb"].frame
    for version in list(specs)[1:]:
        assert _same_predictions(models, models, "qb", "1.0.0", version, frame), version


def _title_case_tables(frame: pd.DataFrame, folder) -> dict[str, str]:
    """One Delta table per position, Title_Case names that differ by table, no position
    column: the warehouse layout of the earlier backend."""
    from deltalake import write_deltalake

    names = {"qb": {"name": "Player_Name", "grad_year": "Grad_year"},
             "rb": {"name": "Name", "grad_year": "Grad_Year"},
             "wr": {"name": "Name", "grad_year": "Grad_Year", "forty_yard_dash": "Fourty"}}
    specs = {}
    for pos, renamed in names.items():
        rows = frame[frame["position"] == pos].drop(columns=["position"]).reset_index(drop=True)
        titled = {c: renamed.get(c, c.title()) for c in rows.columns}  # height_inches: Height_Inches
        rows = rows.rename(columns=titled)
        write_deltalake(str(folder / pos), rows)
        specs[pos] = str(folder / pos)
    return specs


def test_three_per_position_delta_tables_with_their_own_column_names(tmp_path, sample_frame,
                                                                     digests):
    from recruit_reveal.artifacts.registry import describe

    specs = _title_case_tables(sample_frame, tmp_path)
    mapping = tmp_path / "wr.json"
    mapping.write_text(json.dumps({"Fourty": "forty_yard_dash"}))
    data = ["--data", f"qb={specs['qb']}", "--data", f"rb={specs['rb']}",
            "--data", f"wr={specs['wr']}"]
    code = main(["-q", "train", *data, "--columns", f"wr={mapping}", "--position", "all",
                 "--version", "1.0.0", "--engine", "direct", "--cv-folds", "2",
                 "--models-dir", str(tmp_path / "models"), "--runs-dir", str(tmp_path / "runs")])
    assert code == 0
    for pos in schema.POSITIONS:
        meta = describe(pos, "1.0.0", models_dir=tmp_path / "models")
        assert meta.data_fingerprint.content_digest == digests[pos].content_digest
        assert meta.data_fingerprint.source.spec == f"delta:{specs[pos]}@0"
    assert describe("wr", "1.0.0", models_dir=tmp_path / "models").data_fingerprint \
        .column_mapping["Fourty"] == "forty_yard_dash"


@pytest.fixture(scope="module")
def bad_sources(tmp_path_factory, sample_frame, local_sources, postgres):
    folder = tmp_path_factory.mktemp("bad")
    wrong = sample_frame.copy()
    wrong["height_inches"] = pd.Timestamp("2024-01-01")
    wrong.to_parquet(folder / "wrong.parquet")
    closed = postgres.rsplit(":", 1)[0].replace("127.0.0.1", "127.0.0.1:9") + "/postgres"
    return {
        "missing file": ([str(folder / "nothing.parquet")], "file or folder not found"),
        "missing table": ([f"{postgres}#table=nope"], "no table 'nope'"),
        "missing delta version": ([local_sources["delta pinned"][:-2] + "@99"],
                                  "version @99 does not exist"),
        "sql error": ([postgres, "--query", "SELECT * FROM athletes WHERE"],
                      "the database says"),
        "empty result": ([postgres, "--query", "SELECT * FROM athletes WHERE 1 = 0"],
                         "holds no rows"),
        "wrong column type": ([str(folder / "wrong.parquet")], "holds timestamp"),
        "unreachable host": ([closed, "--table", "athletes"], "cannot connect"),
    }


@pytest.mark.parametrize("case", ["missing file", "missing table", "missing delta version",
                                  "sql error", "empty result", "wrong column type",
                                  "unreachable host"])
def test_a_bad_source_is_one_line_and_exit_2_and_nothing_written(tmp_path, bad_sources, case,
                                                                 capsys):
    args, message = bad_sources[case]
    code = main(["-q", "train", "--data", *args, "--position", "qb", "--engine", "direct",
                 "--models-dir", str(tmp_path / "models"), "--runs-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and message in err[0] and err[0].startswith("recruit-reveal: error:")
    assert PASSWORD not in err[0]
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


def test_an_unreachable_bucket_is_one_line_and_exit_2(tmp_path, s3_endpoint, capsys):
    missing = f"s3://rr-missing-{uuid.uuid4().hex[:8]}"
    for spec in (f"{missing}/x.parquet", f"{missing}/table@0", f"{missing}/x.csv"):
        code = main(["-q", "train", "--data", spec, "--position", "qb", "--engine", "direct",
                     "--models-dir", str(tmp_path / "models")])
        # moto's own request log (werkzeug) shares stderr; our lines are the others.
        err = [line for line in capsys.readouterr().err.strip().splitlines()
               if "HTTP/1.1" not in line]
        assert code == 2 and len(err) == 1 and missing in err[0], (spec, err)
    assert not (tmp_path / "models").exists()
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_the_notebook_engine_reads_a_password_protected_database_recording_no_password(
        tmp_path, postgres, digests, monkeypatch):
    # The kernel gets the password through the environment, never through its parameters.
    monkeypatch.delenv(sources.SECRETS_ENV, raising=False)
    summary = runner.train(f"{postgres}#table=athletes", "rb", "1.0.0", engine="notebook",
                           models_dir=tmp_path / "models", runs_dir=tmp_path / "runs",
                           cv_folds=2)
    assert summary.ok, summary.report()
    record = (tmp_path / "runs" / "v1.0.0" / "rb.ipynb").read_text()
    assert "127.0.0.1" in record and PASSWORD not in record
    assert digests["rb"].content_digest in record  # the reading table shows the digest
    for path in (tmp_path / "models").iterdir():
        assert PASSWORD not in path.read_text(errors="replace"), path


def test_a_delta_timestamp_pin_reads_the_version_current_then(tmp_path, sample_frame, digests):
    import datetime as dt
    import time

    from deltalake import write_deltalake

    table = str(tmp_path / "delta")
    write_deltalake(table, sample_frame)
    time.sleep(0.3)
    between = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    time.sleep(0.3)
    write_deltalake(table, sample_frame.head(3), mode="append")
    data = load_training_data(f"{table}@{between}", "qb")
    assert data.source["version"] == "0" and data.source["spec"] == f"delta:{table}@0"
    assert data.content_digest == digests["qb"].content_digest
    assert load_training_data(table, "qb").source["version"] == "1"  # unpinned: the current
    with pytest.raises(DataValidationError, match="version @7 does not exist"):
        load_training_data(f"{table}@7", "qb")


def test_typed_numbers_are_validated_and_quarantined_as_the_csv_text_is(tmp_path, sample_frame):
    # Numbers kept as numbers (data.source_cells) must meet the same rules as a CSV's text.
    frame = sample_frame.copy()
    qb = frame.index[frame["position"] == "qb"]
    frame.loc[qb[3], "height_inches"] = 0.0          # out of range
    frame.loc[qb[5], "weight_lbs"] = float("nan")    # missing, required
    frame.loc[qb[8], "games"] = 10.5                 # not a whole number
    frame.to_csv(tmp_path / "bad.csv", index=False)
    frame.to_parquet(tmp_path / "bad.parquet")
    read = {kind: load_training_data(tmp_path / f"bad.{kind}", "qb", invalid_rows="quarantine")
            for kind in ("csv", "parquet")}
    csv, parquet = read["csv"], read["parquet"]
    assert parquet.content_digest == csv.content_digest
    assert list(parquet.rejected["row"]) == list(csv.rejected["row"]) == [
        int(qb[i]) + 2 for i in (3, 5, 8)]
    assert [(g.column, g.rule, g.count) for g in parquet.problem_groups] == [
        (g.column, g.rule, g.count) for g in csv.problem_groups]
    with pytest.raises(DataValidationError) as failed:
        load_training_data(tmp_path / "bad.parquet", "qb")
    assert {p.rule for p in failed.value.problems} == {
        "outside the plausible range", "missing value", "not a whole number"}
