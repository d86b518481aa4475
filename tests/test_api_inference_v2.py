"""api.routers.inference_v2: the Open Inference Protocol, spoken by tritonclient to a real
`recruit-reveal serve` on 127.0.0.1, and its edge cases in-process.

The probabilities must be those /predict/batch?explain=false gives for the same rows.
"""

from __future__ import annotations

import json
import re
import struct

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from api_support import SAMPLES, settings
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from test_api_serve import serving
from tritonclient.utils import InferenceServerException

from recruit_reveal.api.app import create_app
from recruit_reveal.schema import DIVISIONS, US_STATES, columns_for, feature_names

QB_ROWS = [
    {"height_inches": 72, "weight_lbs": 200, "forty_yard_dash": 4.7, "senior_ypg": 250,
     "senior_tds": 20, "senior_comp_pct": 65.0, "state": "TX"},
    {"height_inches": 75.5, "weight_lbs": 221, "senior_ypg": 310.5, "state": "oh"},
    {"height_inches": 70, "weight_lbs": 185, "forty_yard_dash": 4.9, "senior_ypg": 120,
     "grad_year": 2025, "vertical_jump": 30},
]


def triton_inputs(rows: list[dict], position: str = "qb", binary: bool = False):
    """One InferInput per column of ``position``: FP64 (NaN: missing) and BYTES for state."""
    inputs = []
    for col in columns_for(position):
        values = [row.get(col.name) for row in rows]
        if col.kind == "state":
            array = np.array([(v or "").encode() for v in values], dtype=np.object_)
            tensor = triton.InferInput(col.name, [len(rows)], "BYTES")
        else:
            array = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
            tensor = triton.InferInput(col.name, [len(rows)], "FP64")
        tensor.set_data_from_numpy(array, binary_data=binary)
        inputs.append(tensor)
    return inputs


def text(value) -> str:
    """A BYTES element as tritonclient gives it: bytes from binary data, str from JSON."""
    return value.decode() if isinstance(value, bytes) else value


def batch_probabilities(url: str, rows: list[dict], position: str = "qb") -> np.ndarray:
    answer = httpx.post(f"{url}/predict/batch", params={"explain": "false"}, timeout=30,
                        json=[{"position": position, **r} for r in rows])
    assert answer.status_code == 200, answer.text
    return np.array([[p["probabilities"][d] for d in DIVISIONS]
                     for p in answer.json()["predictions"]])


@pytest.fixture(scope="module")
def server(exported_models_dir, tmp_path_factory):
    log = tmp_path_factory.mktemp("v2") / "server.log"
    with serving(exported_models_dir, log, ACCESS_LOG="0") as url:
        yield url


@pytest.fixture(scope="module")
def client(server):
    with triton.InferenceServerClient(server.removeprefix("http://"), network_timeout=30) as c:
        yield c


def test_health_and_server_metadata(client):
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("qb") and client.is_model_ready("wr")
    assert not client.is_model_ready("te")
    meta = client.get_server_metadata()
    assert meta["name"] == "recruit-reveal" and "binary_tensor_data" in meta["extensions"]


def test_model_metadata_lists_the_real_inputs(client):
    meta = client.get_model_metadata("rb")
    assert meta["name"] == "rb" and meta["platform"] == "sklearn" and meta["versions"]
    assert [i["name"] for i in meta["inputs"]] == feature_names("rb")
    types = {i["name"]: (i["datatype"], i["shape"]) for i in meta["inputs"]}
    assert types["state"] == ("BYTES", [-1]) and types["senior_ypc"] == ("FP64", [-1])
    assert {o["name"]: o["shape"] for o in meta["outputs"]} == {
        "probabilities": [-1, 4], "division": [-1]}


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_infer_equals_predict_batch(client, server, binary):
    outputs = [triton.InferRequestedOutput("probabilities", binary_data=binary),
               triton.InferRequestedOutput("division", binary_data=binary)]
    result = client.infer("qb", triton_inputs(QB_ROWS, binary=binary), outputs=outputs,
                          request_id="req-7")
    proba = result.as_numpy("probabilities")
    assert proba.shape == (3, 4) and proba.dtype == np.float64
    expected = batch_probabilities(server, QB_ROWS)
    assert np.allclose(proba, expected, atol=1e-6, rtol=0)
    labels = [text(d) for d in result.as_numpy("division")]
    batch = httpx.post(f"{server}/predict/batch?explain=false", timeout=30,
                       json=[{"position": "qb", **r} for r in QB_ROWS]).json()
    assert labels == [p["predicted_division"] for p in batch["predictions"]]
    response = result.get_response()
    assert response["id"] == "req-7" and response["model_name"] == "qb"
    assert response["model_version"] == batch["model_versions"]["qb"]


def test_infer_with_default_outputs_and_only_the_required_columns(client, server):
    rows = [{k: v for k, v in SAMPLES[2].items() if k not in ("position", "name")}]
    inputs = []
    for name in ("height_inches", "weight_lbs", "senior_rec_ypg"):
        tensor = triton.InferInput(name, [1, 1], "FP64")
        tensor.set_data_from_numpy(np.array([[rows[0][name]]], dtype=np.float64))
        inputs.append(tensor)
    result = client.infer("wr", inputs)  # no outputs asked: every output, in binary
    only_required = [{k: rows[0][k] for k in ("height_inches", "weight_lbs", "senior_rec_ypg")}]
    assert np.allclose(result.as_numpy("probabilities"),
                       batch_probabilities(server, only_required, "wr"), atol=1e-6, rtol=0)
    assert result.as_numpy("division").shape == (1,)


def test_requested_outputs_subset(client):
    result = client.infer("qb", triton_inputs(QB_ROWS),
                          outputs=[triton.InferRequestedOutput("division", binary_data=False)])
    assert [o["name"] for o in result.get_response()["outputs"]] == ["division"]
    assert result.as_numpy("probabilities") is None


def test_pinned_version(client, server):
    version = client.get_model_metadata("qb")["versions"][0]
    result = client.infer("qb", triton_inputs(QB_ROWS[:1]), model_version=version,
                          outputs=[triton.InferRequestedOutput("probabilities", binary_data=False)])
    assert result.get_response()["model_version"] == version
    assert client.is_model_ready("qb", model_version=version)
    assert client.get_model_metadata("qb", model_version=version)["name"] == "qb"
    with pytest.raises(InferenceServerException, match="9.9.9") as info:
        client.infer("qb", triton_inputs(QB_ROWS[:1]), model_version="9.9.9")
    assert info.value.status() == "404"
    assert not client.is_model_ready("qb", model_version="9.9.9")


def test_errors_name_the_model_and_the_input(client):
    with pytest.raises(InferenceServerException, match="'te'") as info:
        client.infer("te", triton_inputs(QB_ROWS))
    assert info.value.status() == "404"
    rows = [dict(QB_ROWS[0]), {**QB_ROWS[1], "weight_lbs": 900}]
    with pytest.raises(InferenceServerException, match="weight_lbs.*row 1") as info:
        client.infer("qb", triton_inputs(rows))
    assert info.value.status() == "400"
    with pytest.raises(InferenceServerException, match="height_inches.*missing required"):
        client.infer("qb", [i for i in triton_inputs(QB_ROWS) if i.name() != "height_inches"])


# --------------------------------------------------------------------------- in-process edges

@pytest.fixture(scope="module")
def app_client(exported_models_dir):
    with TestClient(create_app(settings(max_batch=5), models_dir=exported_models_dir)) as c:
        yield c


def _column(name, data, datatype="FP64", shape=None):
    return {"name": name, "datatype": datatype, "shape": shape or [len(data)], "data": data}


def _qb(n=1, **extra):
    return [_column("height_inches", [72] * n), _column("weight_lbs", [200] * n),
            _column("senior_ypg", [250] * n), *extra.values()]


def _error(response, status=400) -> str:
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"}
    return response.json()["error"]


def test_null_and_nan_are_missing_and_extra_columns_are_reported(app_client):
    body = {"inputs": _qb(2, a=_column("forty_yard_dash", [None, 4.6]),
                          b=_column("State", ["", "tx"], "BYTES"),
                          c=_column("College", ["x", "y"], "BYTES"))}
    answer = app_client.post("/v2/models/qb/infer", json=body)
    assert answer.status_code == 200, answer.text
    out = answer.json()
    assert out["parameters"] == {"ignored_inputs": "College"}
    proba = np.array(out["outputs"][0]["data"]).reshape(out["outputs"][0]["shape"])
    batch = app_client.post("/predict/batch?explain=false", json=[
        {"position": "qb", "height_inches": 72, "weight_lbs": 200, "senior_ypg": 250},
        {"position": "qb", "height_inches": 72, "weight_lbs": 200, "senior_ypg": 250,
         "forty_yard_dash": 4.6, "state": "TX"}]).json()["predictions"]
    assert np.allclose(proba, [[p["probabilities"][d] for d in DIVISIONS] for p in batch],
                       atol=1e-6, rtol=0)
    nan = app_client.post("/v2/models/qb/infer", content=b'{"inputs": [' + b", ".join(
        f'{{"name": "{c["name"]}", "datatype": "FP64", "shape": [1], "data": [{c["data"][0]}]}}'
        .encode() for c in _qb()) + b', {"name": "shuttle", "datatype": "FP64", "shape": [1], '
        b'"data": [NaN]}]}')
    assert nan.status_code == 200, nan.text
    assert np.allclose(nan.json()["outputs"][0]["data"], proba[0], atol=1e-9)


@pytest.mark.parametrize(("inputs", "message"), [
    (_qb(2)[:2] + [_column("senior_ypg", [250])], "'senior_ypg': 1 rows, but input "
                                                  "'height_inches' has 2"),
    (_qb() + [_column("senior_ypg", [250])], "'senior_ypg' given twice"),
    ([_column("height_inches", [72], shape=[1, 2])] + _qb()[1:], "shape \\[1, 2\\]"),
    ([_column("height_inches", [72, 73], shape=[1])] + _qb()[1:], "2 values for shape"),
    ([_column("height_inches", ["72"])] + _qb()[1:], "FP64 data must be numbers"),
    ([_column("height_inches", [True])] + _qb()[1:], "FP64 data must be numbers"),
    ([_column("height_inches", [72], "BOOL")] + _qb()[1:], "datatype: Input should be"),
    ([_column("grad_year", [2025.5], "INT64")] + _qb(), "INT64 data must be integers"),
    (_qb(6), "6 rows is more than the limit of 5"),
    ([_column("state", ["ZZ"], "BYTES")] + _qb(), "'state', row 0: unknown US state"),
    ([_column("position", ["rb"], "BYTES")] + _qb(), "'position': the position is the model"),
])
def test_bad_inputs_are_400_naming_the_input(app_client, inputs, message):
    text = _error(app_client.post("/v2/models/qb/infer", json={"inputs": inputs}))
    assert re.search(message, text), text


@pytest.mark.parametrize("shape", [[0], [0, 1], [1, 1, 1]])
def test_a_shape_error_is_in_plain_words(app_client, shape):
    inputs = [_column("height_inches", [72], shape=shape)] + _qb()[1:]
    text = _error(app_client.post("/v2/models/qb/infer", json={"inputs": inputs}))
    assert text.startswith(f"input 'height_inches': shape {json.dumps(shape)} is not [n] or "
                           "[n, 1], where n is the number of rows (at least 1)"), text
    assert "greater than or equal" not in text and "Input should" not in text


def test_bad_requests_and_unknown_routes_answer_the_protocol_shape(app_client):
    assert "malformed JSON" in _error(app_client.post("/v2/models/qb/infer", content=b"{"))
    assert "inputs" in _error(app_client.post("/v2/models/qb/infer", json={"inputs": []}))
    assert "outputs.0.name" in _error(app_client.post(
        "/v2/models/qb/infer", json={"inputs": _qb(), "outputs": [{"name": "logits"}]}))
    assert "'Qx'" in _error(app_client.get("/v2/models/Qx"), 404)
    assert "1.2" in _error(app_client.get("/v2/models/qb/versions/1.2/ready"))
    assert "not found" in _error(app_client.get("/v2/models/qb/versions/9.9.9"), 404).lower()
    _error(app_client.get("/v2/nothing/here"), 404)
    # the service's own routes keep their shape
    assert "detail" in app_client.post("/predict", json={}).json()


def test_binary_inputs_and_outputs_in_process(app_client):
    rows = [72.0, 75.0]
    blob = np.array(rows, dtype="<f8").tobytes()
    states = b"".join(struct.pack("<I", len(s)) + s for s in (b"TX", b""))
    inputs = [{"name": "height_inches", "datatype": "FP64", "shape": [2],
               "parameters": {"binary_data_size": len(blob)}},
              {"name": "state", "datatype": "BYTES", "shape": [2],
               "parameters": {"binary_data_size": len(states)}},
              _column("weight_lbs", [200, 210]), _column("senior_ypg", [250, 260])]
    header = json.dumps({"inputs": inputs, "parameters": {"binary_data_output": True}}).encode()
    answer = app_client.post("/v2/models/qb/infer", content=header + blob + states,
                             headers={"Inference-Header-Content-Length": str(len(header))})
    assert answer.status_code == 200, answer.text
    length = int(answer.headers["Inference-Header-Content-Length"])
    result = triton.InferResult.from_response_body(answer.content, header_length=length)
    json_rows = app_client.post("/v2/models/qb/infer", json={"inputs": [
        _column("height_inches", rows), _column("state", ["TX", None], "BYTES"),
        *inputs[2:]]}).json()
    assert np.allclose(result.as_numpy("probabilities").ravel(),
                       json_rows["outputs"][0]["data"], atol=1e-12)
    assert [d.decode() for d in result.as_numpy("division")] == json_rows["outputs"][1]["data"]
    short = app_client.post("/v2/models/qb/infer", content=header + blob,
                            headers={"Inference-Header-Content-Length": str(len(header))})
    assert "'state'" in _error(short)


def test_health_not_ready_and_openapi(exported_models_dir, tmp_path):
    with TestClient(create_app(settings(), models_dir=tmp_path / "empty")) as c:
        assert c.get("/v2/health/live").status_code == 200
        assert c.get("/v2/health/ready").status_code == 400
        assert c.get("/v2/models/qb/ready").status_code == 400
        assert "no model available" in _error(
            c.post("/v2/models/qb/infer", json={"inputs": _qb()}), 503)
        paths = c.get("/openapi.json").json()["paths"]
    for path in ("/v2", "/v2/health/live", "/v2/health/ready", "/v2/models/{position}",
                 "/v2/models/{position}/ready", "/v2/models/{position}/infer",
                 "/v2/models/{position}/versions/{version}/infer"):
        assert path in paths, path


def _rows(position: str):
    """Strategy: 1-5 athletes of ``position`` within the data contract's ranges, each optional
    column given or missing (null)."""
    def value(col):
        if col.kind == "state":
            return st.sampled_from(sorted(US_STATES))
        if col.kind == "int":
            return st.integers(int(col.low), int(col.high))
        return st.floats(col.low, col.high, allow_nan=False)

    row = st.fixed_dictionaries({c.name: value(c) if c.required else st.none() | value(c)
                                 for c in columns_for(position)})
    return st.lists(row, min_size=1, max_size=5)


@pytest.mark.parametrize("position", ["qb", "rb", "wr"])
def test_every_request_keeping_the_rules_across_tensors_is_accepted(app_client, position):
    """What the schema cannot say (one row count, the position's required columns and ranges)
    held: the answer is 200 and the probabilities are /predict/batch's."""
    @given(rows=_rows(position))
    @hypothesis_settings(max_examples=25, deadline=None, derandomize=True, database=None)
    def check(rows):
        datatype = {c.name: "BYTES" if c.kind == "state" else "FP64" for c in columns_for(position)}
        inputs = [_column(name, [r[name] for r in rows], datatype[name]) for name in rows[0]]
        answer = app_client.post(f"/v2/models/{position}/infer", json={"inputs": inputs})
        assert answer.status_code == 200, answer.text
        batch = app_client.post("/predict/batch?explain=false", json=[
            {"position": position, **r} for r in rows]).json()["predictions"]
        assert np.allclose(answer.json()["outputs"][0]["data"],
                           [p["probabilities"][d] for p in batch for d in DIVISIONS],
                           atol=1e-6, rtol=0)

    check()
