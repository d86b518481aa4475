"""api.routers.invocations: MLflow's scoring protocol, as its clients speak it.

The client side of these tests is written from MLflow's protocol alone: plain httpx
against a real `recruit-reveal serve` (127.0.0.1, a free port), JSON or CSV in,
``{"predictions": [[...]]}`` or ``{"error_code", "message"}`` out.  Its answers are
compared with /predict/batch?explain=false's for the same athletes.  What needs the
app's settings (the batch limit, the rate limit) runs in-process.
"""

from __future__ import annotations

import json

import httpx
import pytest
from api_support import QB, SAMPLES, settings
from fastapi.testclient import TestClient
from test_api_serve import serving

from recruit_reveal.api.app import create_app
from recruit_reveal.api.mlflow_formats import csv_rows
from recruit_reveal.api.routers.invocations import MAX_IGNORED_CHARS, ignored_header

TOKEN = "an-admin-token"
ORIGIN = "https://scouting.example.com"

#: An intake form's QB: Title_Case names and columns that are not inputs.
FORM_QB = {
    "Player_Name": "Test QB", "name": "Test QB Player", "College": "State U",
    "High_School": "Central HS", "Profile_URL": "https://example.com/p/1",
    "Notes": "strong arm", "Division": "Unknown",
    "Height_Inches": 72, "Weight_Lbs": 200, "Forty_Yard_Dash": 4.7,
    "Senior_YPG": 250, "Senior_TDs": 20, "Senior_Comp_Pct": 65.0,
}
FORM_EXTRAS = ["Player_Name", "name", "College", "High_School", "Profile_URL", "Notes",
               "Division"]
#: The same athlete as /predict/batch is sent it.
CANONICAL_QB = {k: v for k, v in QB.items() if k != "name"}


@pytest.fixture(scope="module")
def url(exported_models_dir, tmp_path_factory):
    """`recruit-reveal serve` with an admin token and CORS on, as a deployment runs it."""
    log = tmp_path_factory.mktemp("invocations") / "server.log"
    with serving(exported_models_dir, log, ACCESS_LOG="0", ADMIN_TOKEN=TOKEN,
                 ALLOWED_ORIGINS=ORIGIN) as base:
        yield base


@pytest.fixture(scope="module")
def client(url):
    with httpx.Client(base_url=url, timeout=30) as c:
        yield c


def batch_probabilities(client, athletes):
    """/predict/batch?explain=false's probabilities, in the class order /models publishes."""
    answer = client.post("/predict/batch?explain=false", json=athletes)
    assert answer.status_code == 200, answer.text
    out = []
    for prediction in answer.json()["predictions"]:
        classes = client.get(f"/models/{prediction['position']}").json()["classes"]
        out.append([prediction["probabilities"][c] for c in classes])
    return out


def invoke(client, path, body=None, *, content=None, content_type="application/json",
           **headers):
    if body is not None:
        content = json.dumps(body)
    return client.post(path, content=content, headers={"Content-Type": content_type, **headers})


def error(answer, status):
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error_code", "message"}, body
    return body["error_code"], body["message"]


# --------------------------------------------------------------------------- formats

def _bodies(record):
    names = list(record)
    row = [record[n] for n in names]
    columns = {n: [record[n], record[n]] for n in names}
    return {
        "dataframe_records": ({"dataframe_records": [record, record]}, "application/json"),
        "dataframe_split": ({"dataframe_split": {"columns": names, "data": [row, row],
                                                 "index": [7, 3]}}, "application/json"),
        "instances records": ({"instances": [record, record]}, "application/json"),
        "instances columns": ({"instances": columns}, "application/json"),
        "inputs records": ({"inputs": [record, record], "params": {"x": 1}},
                           "application/json; charset=utf-8"),
        "inputs columns": ({"inputs": columns}, "application/json"),
        "csv": (",".join(names) + "\r\n" + "\r\n".join(",".join(map(str, row))
                                                       for _ in range(2)) + "\r\n",
                "text/csv; charset=utf-8"),
    }


def test_every_input_format_scores_as_predict_batch(client):
    expected = batch_probabilities(client, [CANONICAL_QB])[0]
    assert len(expected) == 4 and abs(sum(expected) - 1) < 1e-5
    record = {k: v for k, v in CANONICAL_QB.items() if k != "position"}
    for name, (body, content_type) in _bodies(record).items():
        if isinstance(body, str):
            answer = invoke(client, "/models/qb/invocations", content=body,
                            content_type=content_type)
        else:
            answer = invoke(client, "/models/qb/invocations", body, content_type=content_type)
        assert answer.status_code == 200, (name, answer.text)
        assert answer.headers["content-type"] == "application/json"
        assert answer.json() == {"predictions": [expected, expected]}, name


def test_an_intake_form_record_gets_the_four_probabilities(client):
    answer = invoke(client, "/models/qb/invocations", {"dataframe_records": [FORM_QB]},
                    Authorization="Bearer dapi0123456789abcdef")
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    assert predictions == batch_probabilities(client, [CANONICAL_QB])
    assert answer.headers["X-Ignored-Fields"].split(",") == FORM_EXTRAS


def test_a_form_record_with_two_spellings_and_season_totals_only(client):
    """The earlier backend's record: Title_Case, extra columns, one input under two
    spellings, passing yards and TD passes but no yards per game (the form never asks for
    games): four probabilities, integrated over the games played, as /predict answers."""
    record = {**{k: v for k, v in FORM_QB.items() if k != "Senior_YPG"},
              "height_inches": 72, "Senior_Yds": 3000, "Senior_TD_Passes": 20}
    record.pop("Senior_TDs")
    answer = invoke(client, "/models/qb/invocations", {"dataframe_records": [record]},
                    Authorization="Bearer dapi0123456789abcdef")
    assert answer.status_code == 200, answer.text
    (predictions,) = answer.json()["predictions"]
    assert len(predictions) == 4 and abs(sum(predictions) - 1) < 1e-5
    same = {k: v for k, v in CANONICAL_QB.items() if k not in ("senior_ypg",)}
    expected = client.post("/predict", json={**same, "senior_yds": 3000}).json()
    assert expected["integrated_inputs"] == ["senior_ypg", "games"]
    classes = client.get("/models/qb").json()["classes"]
    assert predictions == [expected["probabilities"][c] for c in classes]


def test_the_position_is_taken_from_the_path_in_any_case_or_must_match_it(client):
    record = {**FORM_QB, "Position": "QB"}
    expected = batch_probabilities(client, [CANONICAL_QB])
    for path in ("/models/qb/invocations", "/models/QB/invocations"):
        answer = invoke(client, path, {"dataframe_records": [record]})
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == expected
    code, message = error(invoke(client, "/models/rb/invocations",
                                 {"dataframe_records": [record]}), 400)
    assert code == "INVALID_PARAMETER_VALUE"
    assert message.startswith("dataframe_records[0].Position: 'QB' is not this endpoint's")


def test_invocations_scores_mixed_positions_in_input_order(client):
    records = [SAMPLES[1], SAMPLES[0], SAMPLES[2], SAMPLES[0]]
    answer = invoke(client, "/invocations", {"dataframe_records": records})
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == batch_probabilities(client, records)
    assert answer.headers["X-Ignored-Fields"] == "name"


# --------------------------------------------------------------------------- errors

def test_a_bad_value_is_named_with_its_row(client):
    records = [FORM_QB] * 3 + [{**FORM_QB, "Height_Inches": 500}]
    code, message = error(invoke(client, "/models/qb/invocations",
                                 {"dataframe_records": records}), 400)
    assert code == "INVALID_PARAMETER_VALUE"
    assert message.startswith("dataframe_records[3].height_inches: ")
    assert "500" in message
    split = {"dataframe_split": {"columns": ["height_inches", "weight_lbs", "senior_ypg"],
                                 "data": [[72, 200, 250], [72, "heavy", 250]]}}
    code, message = error(invoke(client, "/models/qb/invocations", split), 400)
    assert message.startswith("dataframe_split.data[1].weight_lbs: ")
    csv_body = "height_inches,weight_lbs\n72,200\n72,900\n"
    code, message = error(invoke(client, "/models/qb/invocations", content=csv_body,
                                 content_type="text/csv"), 400)
    assert code == "INVALID_PARAMETER_VALUE" and message.startswith("csv[1].weight_lbs: ")


def test_an_unknown_position_is_refused(client):
    code, message = error(invoke(client, "/models/te/invocations",
                                 {"dataframe_records": [FORM_QB]}), 404)
    assert code == "RESOURCE_DOES_NOT_EXIST" and "'te'" in message
    code, message = error(invoke(client, "/invocations",
                                 {"dataframe_records": [QB, {**QB, "position": "te"}]}), 400)
    assert code == "INVALID_PARAMETER_VALUE"
    assert message.startswith("dataframe_records[1].position: unknown position 'te'")
    code, message = error(invoke(client, "/invocations", {"dataframe_records": [FORM_QB]}),
                          400)
    assert message.startswith("dataframe_records[0].position: missing required field")


@pytest.mark.parametrize(("body", "starts"), [
    ('{"dataframe_records": [', "body: malformed JSON at line 1 column 24"),
    ("", "body: empty"),
    ('{"dataframe_records": []}', "body: no rows to score"),
    ('{"dataframe_split": {"columns": [], "data": []}}', "body: no rows to score"),
    ('[{"height_inches": 72}]', "body: expected a JSON object with exactly one of"),
    ('{"records": [{"height_inches": 72}]}', "records: unknown key"),
    ('{"instances": [], "inputs": []}', "body: expected exactly one of"),
    ('{"params": {}}', "body: expected exactly one of"),
    ('{"dataframe_records": {"height_inches": [72]}}', "dataframe_records: expected a list"),
    ('{"instances": [[72, 200, 250]]}', "instances[0]: expected an object"),
    ('{"inputs": {"height_inches": [72, 73], "weight_lbs": [200]}}',
     "inputs.weight_lbs: 1 values, but 'height_inches' has 2"),
    ('{"dataframe_split": {"columns": ["height_inches"], "data": [[72, 200]]}}',
     "dataframe_split.data[0]: expected a list of 1 values"),
    ('{"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}}',
     "dataframe_split.columns[1]: column 'a' is given twice"),
    ('{"dataframe_records": [{"height_inches": 72}], "params": 3}', "params: expected an object"),
])
def test_a_malformed_body_is_a_bad_request(client, body, starts):
    code, message = error(invoke(client, "/models/qb/invocations", content=body), 400)
    assert code == "BAD_REQUEST"
    assert message.startswith(starts), message


@pytest.mark.parametrize("content_type", [
    "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1",
    "application/json; format=pandas-split", "text/csv; charset=utf-16"])
def test_a_content_type_other_than_json_or_csv_is_refused(client, content_type):
    code, message = error(invoke(client, "/models/qb/invocations",
                                 {"dataframe_records": [FORM_QB]}, content_type=content_type),
                          415)
    assert message.startswith("Content-Type: ")


def test_other_routes_keep_their_error_shape(client):
    answer = client.post("/predict", json={**QB, "height_inches": 500})
    assert answer.status_code == 422
    assert set(answer.json()) == {"detail", "errors"}


# --------------------------------------------------------------------------- headers

def test_authorization_headers_are_accepted_and_ignored(client):
    body = {"dataframe_records": [FORM_QB]}
    plain = invoke(client, "/models/qb/invocations", body).json()
    for value in ("Bearer dapi0123456789abcdef", "Bearer not-the-admin-token",
                  f"Bearer {TOKEN}", "Basic dG9rZW46dG9rZW4=", "garbage"):
        answer = invoke(client, "/models/qb/invocations", body, Authorization=value)
        assert answer.status_code == 200, (value, answer.text)
        assert answer.json() == plain
    answer = invoke(client, "/invocations", {"dataframe_records": [QB]},
                    Authorization="Bearer dapi0123", Origin=ORIGIN)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    preflight = client.options("/models/qb/invocations", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})
    assert preflight.status_code == 200, preflight.text
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed


def test_ignored_fields_are_listed_once_each_in_a_bounded_header(client):
    many = {f"Extra_Column_{i:03d}": i for i in range(200)}
    records = [{**FORM_QB, "Größe": 1, "a,b": 2, **many}, FORM_QB]
    answer = invoke(client, "/models/qb/invocations", {"dataframe_records": records})
    assert answer.status_code == 200, answer.text
    header = answer.headers["X-Ignored-Fields"]
    assert len(header) <= MAX_IGNORED_CHARS
    names = header.split(",")
    assert names[:len(FORM_EXTRAS) + 2] == [*FORM_EXTRAS, "Gr%C3%B6%C3%9Fe", "a%2Cb"]
    assert len(names) == len(set(names))
    shown = len(names) - 1 - len(FORM_EXTRAS) - 2
    assert names[-1] == f"+{200 - shown} more"
    assert not invoke(client, "/models/qb/invocations", {"dataframe_records": [
        {k: v for k, v in CANONICAL_QB.items() if k != "position"}]}).headers.get(
        "X-Ignored-Fields")


def test_the_ignored_header_keeps_whole_names():
    assert ignored_header(["a", "b c", "d\r\ne"]) == "a,b c,d%0D%0Ae"
    names = [f"n{i}" * 50 for i in range(40)]
    header = ignored_header(names)
    kept = header.split(",")[:-1]
    assert kept == names[:len(kept)] and header.endswith(f",+{40 - len(kept)} more")


# --------------------------------------------------------------------------- limits

@pytest.fixture(scope="module")
def limited(exported_models_dir):
    app = create_app(settings(max_batch=3, rate_limits={"/models/{position}/invocations":
                                                        "2/minute"}),
                     models_dir=exported_models_dir)
    with TestClient(app) as c:
        yield c


def test_the_batch_limit_applies(limited):
    answer = invoke(limited, "/invocations", {"inputs": [QB] * 4})
    code, message = error(answer, 400)
    assert code == "BAD_REQUEST"
    assert message == "body: 4 rows is more than the limit of 3 per request (MAX_BATCH)"
    assert invoke(limited, "/invocations", {"inputs": [QB] * 3}).status_code == 200


def test_the_routes_can_be_limited_by_name(limited):
    body = {"dataframe_records": [FORM_QB]}
    statuses = [invoke(limited, p, body).status_code for p in
                ("/models/qb/invocations", "/models/rb/invocations", "/models/wr/invocations")]
    # One count for every path the template matches: the third request is over.
    assert statuses[:1] == [200] and statuses[2] == 429
    assert invoke(limited, "/invocations", {"dataframe_records": [QB]}).status_code == 200
    assert "/models/{position}/invocations" in limited.get("/health").json()[
        "rate_limit"]["routes"]


def test_openapi_documents_the_routes(limited):
    spec = limited.get("/openapi.json").json()
    for path in ("/invocations", "/models/qb/invocations", "/models/rb/invocations",
                 "/models/wr/invocations"):
        post = spec["paths"][path]["post"]
        content = post["requestBody"]["content"]
        # text/csv and the columnar forms are described: JSON Schema cannot state their rows.
        assert set(content) == {"application/json"}
        assert "text/csv" in post["requestBody"]["description"]
        assert "dataframe_split" in content["application/json"]["examples"]
        forms = content["application/json"]["schema"]["oneOf"]
        assert {f["title"] for f in forms} == {"dataframe_records", "instances", "inputs"}
        assert forms[0]["properties"]["dataframe_records"]["maxItems"] == 3
        assert {"200", "400", "415", "503"} <= set(post["responses"])
    qb = spec["paths"]["/models/qb/invocations"]["post"]["requestBody"]["content"]
    record = qb["application/json"]["schema"]["oneOf"][0]["properties"]["dataframe_records"]
    assert "position" not in record["items"]["required"]
    assert "height_inches" in record["items"]["required"]


def test_ignored_fields_are_logged_at_debug_level(limited, caplog):
    with caplog.at_level("DEBUG", logger="recruit_reveal.api.routers.invocations"):
        answer = invoke(limited, "/invocations",
                        {"inputs": [{**SAMPLES[2], "College": "x"}]})
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Ignored-Fields"] == "name,College"
    assert [r.getMessage() for r in caplog.records] == [
        "/invocations: ignored fields (not inputs): name, College"]


def test_csv_cells_are_read_as_pandas_reads_them():
    body = ("\ufeffposition,height_inches,state,forty_yard_dash,senior_ypg\r\n"
            "qb,6-2,tx,NA,250\r\n\r\n"
            "qb, 74.5 ,,4.6,1_000\r\n").encode()
    rows = csv_rows(body)
    assert [r.where for r in rows] == ["csv[0].", "csv[1]."]
    assert [r.record for r in rows] == [
        {"position": "qb", "height_inches": "6-2", "state": "tx", "forty_yard_dash": None,
         "senior_ypg": 250},
        {"position": "qb", "height_inches": 74.5, "state": None, "forty_yard_dash": 4.6,
         "senior_ypg": "1_000"}]
