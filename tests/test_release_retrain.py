"""release.retrain: a version trained again from its record reads the same pinned rows and
reproduces its predictions; changed data is refused, naming the change, unless allowed."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from recruit_reveal.artifacts.registry import describe, load
from recruit_reveal.cli import main
from recruit_reveal.data import load_training_data
from recruit_reveal.release.diff import diff_versions


def _args(tmp_path):
    return ["--models-dir", str(tmp_path / "models"), "--runs-dir", str(tmp_path / "runs")]


def _train(tmp_path, spec, version):
    return main(["-q", "train", "--data", spec, "--position", "qb", "--version", version,
                 "--engine", "direct", "--cv-folds", "2", *_args(tmp_path)])


def _proba(tmp_path, version, frame):
    return load("qb", version, models_dir=tmp_path / "models").pipeline.predict_proba(frame)


def test_retrain_of_a_delta_release_reads_its_version_after_an_append(tmp_path, sample_csv):
    from deltalake import write_deltalake

    frame = pd.read_csv(sample_csv)
    table = str(tmp_path / "delta")
    write_deltalake(table, frame)
    assert _train(tmp_path, table, "1.0.0") == 0  # unpinned: reads version 0, records it
    write_deltalake(table, frame[frame["position"] == "qb"].head(1).reset_index(drop=True),
                    mode="append")

    assert main(["-q", "retrain", "qb", "1.0.0", "--version", "1.0.1", *_args(tmp_path)]) == 0
    first, again = (describe("qb", v, models_dir=tmp_path / "models") for v in ("1.0.0", "1.0.1"))
    assert again.data_fingerprint.source.spec == f"delta:{table}@0"
    assert again.data_fingerprint.content_digest == first.data_fingerprint.content_digest
    rows = load_training_data(sample_csv, "qb").frame
    assert np.array_equal(_proba(tmp_path, "1.0.0", rows), _proba(tmp_path, "1.0.1", rows))

    assert _train(tmp_path, table, "1.1.0") == 0  # no pin: the new version, recorded
    newer = describe("qb", "1.1.0", models_dir=tmp_path / "models").data_fingerprint
    assert newer.source.version == "1" and newer.rows == first.data_fingerprint.rows + 1
    assert newer.content_digest != first.data_fingerprint.content_digest

    # models diff reads the recorded, pinned source for its training rows, and says when the
    # data differs.
    same = diff_versions("qb", "1.0.0", "1.0.1", tmp_path / "models")
    assert same.agreement[0].rows == "training rows" and same.agreement[0].share_same == 1.0
    assert f"delta:{table}@0" in same.agreement[0].source
    assert same.agreement[0].max_probability_change == 0.0 and not same.notes
    moved = diff_versions("qb", "1.0.0", "1.1.0", tmp_path / "models")
    assert any("trained on different data" in note for note in moved.notes)

    # The runs index names each release's source, and flags the one whose rows changed.
    from recruit_reveal.release.index import collect, render

    page = render(collect(tmp_path / "runs", tmp_path / "models"))
    assert f"delta:{table}@0" in page and f"delta:{table}@1" in page
    assert page.count("(data changed)") == 1


def test_retrain_refuses_a_csv_rewritten_in_place_then_records_the_change(tmp_path, sample_csv,
                                                                         capsys):
    csv = tmp_path / "training.csv"
    shutil.copy(sample_csv, csv)
    assert _train(tmp_path, str(csv), "1.0.0") == 0
    lines = csv.read_text().splitlines(keepends=True)
    qb_row = next(i for i, line in enumerate(lines) if ",qb," in line)
    csv.write_text("".join(lines[:qb_row] + lines[qb_row + 1:]))
    capsys.readouterr()

    code = main(["-q", "retrain", "qb", "1.0.0", *_args(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "the data changed since v1.0.0" in err[-1] and "rows then" in err[-1]
    assert sorted(p.name for p in (tmp_path / "models").glob("*_v*.pkl")) == [
        "recruit_reveal_qb_pipeline_v1.0.0.pkl"]

    assert main(["-q", "retrain", "qb", "1.0.0", "--allow-changed-data", *_args(tmp_path)]) == 0
    meta = describe("qb", "1.0.1", models_dir=tmp_path / "models")
    assert meta.changelog.startswith("retrain of v1.0.0 on changed data")
    assert meta.data_fingerprint.rows == describe(
        "qb", "1.0.0", models_dir=tmp_path / "models").data_fingerprint.rows - 1


def test_retrain_refuses_a_version_without_a_recorded_source(models_dir, capsys):
    # The shared fixture models were exported from a TrainingResult of the CSV, with a source;
    # strip it as an export from before sources would lack it.
    import json

    path = models_dir / "recruit_reveal_qb_pipeline_v1.0.0.metadata.json"
    doc = json.loads(path.read_text())
    doc["data_fingerprint"].pop("source", None)
    doc["data_fingerprint"].pop("content_digest", None)
    path.write_text(json.dumps(doc))
    code = main(["retrain", "qb", "1.0.0", "--models-dir", str(models_dir)])
    assert code == 2 and "records no data source" in capsys.readouterr().err


@pytest.fixture(autouse=True)
def _no_leftover_secrets(monkeypatch):
    monkeypatch.delenv("RECRUIT_REVEAL_SOURCE_SECRETS", raising=False)
