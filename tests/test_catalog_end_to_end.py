"""A team's catalog end to end, as a user runs it: TE and LB on a five-level ladder.

generate-data draws the catalog's sample, ``train --position all`` trains its five
positions on the notebook engine, and a server started WITHOUT the catalog (no CATALOG,
no code) serves every position through each protocol with the right classes in the right
order, from the specs the models carry; what-if and monitor run for TE.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from api_support import serve_process

from recruit_reveal.catalog import load_catalog

FIXTURE = Path(__file__).parent / "fixtures" / "catalog_five_levels.toml"
LEVELS = ["D3", "D2", "FCS", "G5", "Power 4"]
CATALOG = load_catalog(FIXTURE)


def _cli(*args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("CATALOG", "MODEL_DIR")}
    command = Path(sys.executable).with_name("recruit-reveal")
    done = subprocess.run([str(command), *args], env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode in ok, f"{args}: exit {done.returncode}\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr
    return done


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("team")
    _cli("generate-data", "--catalog", str(FIXTURE), "--out", str(root / "team.csv"),
         "--rows", "400")
    _cli("train", "--catalog", str(FIXTURE), "--csv", str(root / "team.csv"),
         "--position", "all", "--models-dir", str(root / "models"),
         "--runs-dir", str(root / "runs"), "--cv-folds", "3", "--jobs", "2")
    return root


def test_generate_data_draws_every_catalog_position_on_its_ladder(trained):
    import pandas as pd

    frame = pd.read_csv(trained / "team.csv")
    assert sorted(frame["position"].unique()) == sorted(CATALOG.keys)
    assert set(frame["division"]) <= set(LEVELS)
    assert frame.loc[frame["position"] == "te", "stars"].between(1, 5).all()


def test_train_all_trains_five_positions_with_records_and_embedded_specs(trained):
    import json

    for key, spec in CATALOG.positions.items():
        doc = json.loads((trained / "models" /
                          f"recruit_reveal_{key}_pipeline_v1.0.0.metadata.json").read_text())
        assert doc["classes"] == LEVELS
        assert doc["catalog"]["digest"] == spec.digest
        assert (trained / "runs" / "v1.0.0" / f"{key}.ipynb").exists()
    shown = _cli("models", "show", "te", "--models-dir", str(trained / "models")).stdout
    assert CATALOG.position("te").digest[:12] in shown


@pytest.fixture(scope="module")
def server(trained, tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("server")
    with serve_process(trained / "models", log_dir / "serve.log", ACCESS_LOG="0",
                       PREDICTION_LOG=str(trained / "log"),
                       PREDICTION_LOG_FLUSH_SECONDS="0.5") as (_, url):
        yield url


def test_served_without_the_catalog_each_position_has_its_own_classes(server):
    for key, spec in CATALOG.positions.items():
        detail = httpx.get(f"{server}/models/{key}").json()
        assert detail["classes"] == LEVELS
        assert detail["catalog"]["digest"] == spec.digest
        answer = httpx.post(f"{server}/predict", json={"position": key, **spec.example})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert list(body["probabilities"]) == LEVELS
        assert body["predicted_division"] in LEVELS
        assert sum(body["probabilities"].values()) == pytest.approx(1, abs=1e-5)


def test_batch_mixes_positions_and_requests_are_validated_from_the_spec(server):
    te, lb = CATALOG.position("te").example, CATALOG.position("lb").example
    batch = httpx.post(f"{server}/predict/batch", json=[
        {"position": "TE", **te}, {"position": "lb", **lb}]).json()
    assert [p["position"] for p in batch["predictions"]] == ["te", "lb"]
    refused = httpx.post(f"{server}/predict", json={"position": "te", **te, "stars": 9})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "stars"
    unknown = httpx.post(f"{server}/predict", json={"position": "k", **te})
    assert unknown.status_code == 422 and "te" in unknown.text


def test_what_if_for_te(server):
    te = CATALOG.position("te").example
    answer = httpx.post(f"{server}/what-if", json={"base_data": {"position": "te", **te},
                                                    "modifications": {"stars": 5}})
    assert answer.status_code == 200, answer.text
    results = answer.json()["what_if_results"]
    assert list(results["probability_changes"]) == LEVELS


def test_mlflow_protocol_for_te(server):
    te = CATALOG.position("te").example
    columns = list(te)
    answer = httpx.post(f"{server}/models/te/invocations", json={"dataframe_split": {
        "columns": columns, "data": [[te[c] for c in columns]] * 2}})
    assert answer.status_code == 200, answer.text
    rows = answer.json()["predictions"]
    assert len(rows) == 2 and all(len(r) == len(LEVELS) for r in rows)
    spec = httpx.get(f"{server}/openapi.json").json()
    assert "/models/te/invocations" in spec["paths"]
    assert "/models/{position}/invocations" not in spec["paths"]


def test_open_inference_protocol_for_te(server):
    client = triton.InferenceServerClient(server.removeprefix("http://"))
    metadata = client.get_model_metadata("te")
    assert [i["name"] for i in metadata["inputs"]] == CATALOG.position("te").feature_names
    assert metadata["outputs"][0]["shape"] == [-1, len(LEVELS)]
    te = CATALOG.position("te").example
    tensors = []
    for item in CATALOG.position("te").inputs:
        if item.kind == "state":
            tensor = triton.InferInput(item.name, [1], "BYTES")
            tensor.set_data_from_numpy(np.array([b"TX"], dtype=object))
        else:
            tensor = triton.InferInput(item.name, [1], "FP64")
            tensor.set_data_from_numpy(np.array([te.get(item.name, np.nan)], dtype=np.float64))
        tensors.append(tensor)
    result = client.infer("te", tensors)
    assert result.as_numpy("probabilities").shape == (1, len(LEVELS))


def test_monitor_runs_for_te(trained, server):
    te = CATALOG.position("te").example
    for stars in (1, 2, 3, 4, 5):
        assert httpx.post(f"{server}/predict", json={"position": "te", **te,
                                                     "stars": stars}).status_code == 200
    import time

    time.sleep(1.5)  # the log flushes every 0.5 s
    done = _cli("monitor", "--catalog", str(FIXTURE), "--position", "te",
                "--log", str(trained / "log"), "--models-dir", str(trained / "models"),
                "--runs-dir", str(trained / "runs"), ok=(0, 3))
    assert "records" in done.stdout
    assert list((trained / "runs" / "monitor").rglob("te*.ipynb"))
