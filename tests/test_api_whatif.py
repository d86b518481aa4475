"""POST /what-if, the target search of /predict, the scorer in /health, and RATE_LIMIT."""

from __future__ import annotations

import pytest
from api_support import QB, SAMPLES, add_version, detail, settings
from fastapi.testclient import TestClient

from recruit_reveal.api.app import create_app
from recruit_reveal.modeling import scoring
from recruit_reveal.schema import DIVISIONS


@pytest.fixture(scope="module")
def client(exported_models_dir):
    with TestClient(create_app(settings(), models_dir=exported_models_dir)) as c:
        yield c


def _what_if(client, base, modifications, name=None):
    return client.post("/what-if", json={"base_data": base, "modifications": modifications,
                                         "scenario_name": name})


# --------------------------------------------------------------------------- /what-if

@pytest.mark.parametrize("athlete", SAMPLES, ids=[s["position"] for s in SAMPLES])
def test_what_if_answers_the_sample_athletes(client, athlete):
    mods = {"forty_yard_dash": 4.45, "weight_lbs": athlete["weight_lbs"] + 15, "shuttle": 4.2}
    response = _what_if(client, athlete, mods, "faster and heavier")
    assert response.status_code == 200, response.text
    body = response.json()
    modified = client.post("/predict", json={**athlete, **mods}).json()
    base = client.post("/predict", json=athlete).json()
    # The body is the modified athlete's prediction ...
    for field in ("predicted_division", "probability", "confidence_score", "probabilities",
                  "imputation_flags", "model_version"):
        assert body[field] == modified[field], field
    assert body["scenario_name"] == "faster and heavier"
    # ... and what_if_results compares it with the base athlete.
    wi = body["what_if_results"]
    assert wi["scenario_name"] == "faster and heavier"
    assert (wi["base_division"], wi["modified_division"]) == (base["predicted_division"],
                                                              modified["predicted_division"])
    assert (wi["base_confidence"], wi["modified_confidence"]) == (base["confidence_score"],
                                                                  modified["confidence_score"])
    assert wi["base_probabilities"] == base["probabilities"]
    assert wi["division_change"] == (DIVISIONS.index(wi["modified_division"])
                                     - DIVISIONS.index(wi["base_division"]))
    assert wi["confidence_change"] == pytest.approx(
        modified["confidence_score"] - base["confidence_score"], abs=1e-6)
    assert [c["field"] for c in wi["changes"]] == list(mods)
    assert wi["changes"][0] == {"field": "forty_yard_dash",
                                "base": athlete["forty_yard_dash"], "modified": 4.45}
    assert wi["changes"][2]["base"] is None  # the shuttle was not recorded
    assert wi["message"].startswith("40-yard dash")


def test_what_if_accepts_spellings_nulls_and_no_change(client):
    body = _what_if(client, QB, {"Forty_Yard_Dash": 4.5, "height": "6-3", "state": "tx"}).json()
    assert [c["field"] for c in body["what_if_results"]["changes"]] == [
        "forty_yard_dash", "height_inches", "state"]
    assert body["what_if_results"]["changes"][1]["modified"] == 75.0
    assert body["what_if_results"]["changes"][2]["modified"] == "TX"
    removed = _what_if(client, QB, {"forty_yard_dash": None}).json()
    assert removed["imputation_flags"]["forty_yard_dash"] is True
    same = _what_if(client, QB, {}).json()["what_if_results"]
    assert same["division_change"] == 0 and same["changes"] == []
    assert same["scenario_name"] is None


@pytest.mark.parametrize("modifications, field, words", [
    ({"speed": 4.4}, "modifications.speed", "unknown field for a qb athlete"),
    ({"senior_rec": 40}, "modifications.senior_rec", "unknown field"),  # a WR input
    ({"forty_yard_dash": 9}, "modifications.forty_yard_dash", "less than or equal to 6.5"),
    ({"senior_tds": 2.5}, "modifications.senior_tds", "integer"),
    ({"state": "XX"}, "modifications.state", "unknown US state code"),
    ({"height_inches": None}, "modifications.height_inches", "valid number"),
    ({"position": "rb"}, "modifications.position", "cannot be modified"),
    ({"name": "x"}, "modifications.name", "unknown field"),
    ({"height": 70, "height_inches": 71}, "modifications.height_inches", "given twice"),
    ({"weight_lbs": "200"}, "modifications.weight_lbs", "expected a number"),
])
def test_a_bad_modification_is_a_422_naming_it(client, modifications, field, words):
    response = _what_if(client, QB, modifications)
    assert response.status_code == 422, response.text
    assert detail(response).startswith(field) and words in detail(response)
    assert response.json()["errors"][0]["field"] == field


@pytest.mark.parametrize("body, field", [
    ([QB], "body"),
    ({"modifications": {}}, "base_data"),
    ({"base_data": QB}, "modifications"),
    ({"base_data": QB, "modifications": []}, "modifications"),
    ({"base_data": {"position": "qb"}, "modifications": {}}, "base_data.height_inches"),
    ({"base_data": QB, "modifications": {}, "scenario_name": 7}, "scenario_name"),
    ({"base_data": QB, "modifications": {}, "scenario_name": "x" * 201}, "scenario_name"),
])
def test_a_bad_what_if_body_is_a_422_naming_the_field(client, body, field):
    response = client.post("/what-if", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


def test_what_if_for_a_position_without_a_model_is_503(models_dir):
    for path in models_dir.glob("recruit_reveal_rb_*"):
        path.unlink()
    with TestClient(create_app(settings(), models_dir=models_dir)) as c:
        response = _what_if(c, SAMPLES[1], {"senior_ypg": 150})
        assert response.status_code == 503 and "'rb'" in detail(response)


# --------------------------------------------------------------------------- target search

@pytest.mark.parametrize("athlete", SAMPLES, ids=[s["position"] for s in SAMPLES])
def test_target_search_gives_changes_that_reach_the_division(client, athlete):
    target, minimum = "Power 5", 0.5
    response = client.post("/predict", json=athlete,
                           params={"target_division": target, "min_probability": minimum})
    assert response.status_code == 200, response.text
    body = response.json()
    search = body["target_search"]
    assert list(body)[-1] == "target_search"
    assert search["target_division"] == target and search["min_probability"] == minimum
    assert search["current_probability"] == pytest.approx(body["probabilities"][target], abs=1e-6)
    assert search["reached"] == (search["current_probability"] >= minimum)
    assert [o["effort"] for o in search["options"]] == sorted(o["effort"] for o in search["options"])
    assert search["best"] == (search["options"][0] if search["options"] else None)
    assert set(o["input"] for o in search["options"]).isdisjoint(search["unreachable"])
    for option in search["options"]:
        # Each change, made through /what-if, really reaches the target.
        change = _what_if(client, athlete, {option["input"]: option["suggested"]}).json()
        assert change["probabilities"][target] == pytest.approx(option["new_probability"],
                                                                abs=1e-6)
        assert option["new_probability"] >= minimum
    # Without the parameters, /predict is unchanged.
    assert "target_search" not in client.post("/predict", json=athlete).json()


def test_target_search_of_a_division_already_reached(client):
    search = client.post("/predict?target_division=D3&min_probability=0.9",
                         json=QB).json()["target_search"]
    # Every athlete is at D3 or higher: probability 1.
    assert search["reached"] is True and search["current_probability"] == pytest.approx(1)
    assert search["options"] == [] and search["best"] is None
    assert search["message"].startswith("Already at D3 or higher")


@pytest.mark.parametrize("query, field", [
    ("target_division=P5", "target_division"),
    ("target_division=FCS&min_probability=0", "min_probability"),
    ("target_division=FCS&min_probability=1.5", "min_probability"),
    ("target_division=FCS&min_probability=half", "min_probability"),
])
def test_target_search_parameters_are_checked(client, query, field):
    response = client.post(f"/predict?{query}", json=QB)
    assert response.status_code == 422
    assert detail(response).startswith(field)


def test_openapi_declares_what_if_and_the_target_search(client):
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/what-if"]["post"]
    branches = operation["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert [b["title"] for b in branches] == ["QbWhatIf", "RbWhatIf", "WrWhatIf"]
    mods = branches[0]["properties"]["modifications"]
    assert mods["additionalProperties"] is False and "position" not in mods["properties"]
    assert {"422", "503"} <= set(operation["responses"])
    params = {p["name"]: p for p in spec["paths"]["/predict"]["post"]["parameters"]}
    assert set(params) == {"target_division", "min_probability"}
    assert "429" not in spec["paths"]["/predict"]["post"]["responses"]  # no RATE_LIMIT here


# --------------------------------------------------------------------------- the scorer in /health

def test_health_says_every_position_scores_on_the_fast_path(client):
    for pos, entry in client.get("/health").json()["models"].items():
        assert entry["scoring"] == "fast", pos
        assert entry["scoring_reason"].startswith("matches the pipeline on")


def test_unsupported_or_tampered_models_fall_back_to_the_pipeline_in_health(
        models_dir, sample_csv, monkeypatch):
    from threadpoolctl import threadpool_limits

    from recruit_reveal.modeling.training import train_position

    with threadpool_limits(1):
        hgb = train_position(sample_csv, "rb", seed=0, cv_folds=2, estimator="hgb",
                             params={"max_iter": 20}, bayes=False)
    add_version(models_dir, hgb, "1.1.0", "hgb: no fast path")
    real = scoring.compile_pipeline

    def tampered(pipeline, position):  # the WR fast path's arithmetic has drifted
        fast = real(pipeline, position)
        if position == "wr":
            fast.model.intercept[:] += 0.01
        return fast

    monkeypatch.setattr(scoring, "compile_pipeline", tampered)
    app = create_app(settings(), models_dir=models_dir, versions={"rb": "1.1.0"})
    with TestClient(app) as c:
        models = c.get("/health").json()["models"]
        assert models["qb"]["scoring"] == "fast"
        assert models["rb"]["scoring"] == "pipeline"
        assert "no fast path" in models["rb"]["scoring_reason"]
        assert "HistGradientBoosting" in models["rb"]["scoring_reason"]
        assert models["wr"]["scoring"] == "pipeline"
        assert "differs from the pipeline" in models["wr"]["scoring_reason"]
        for athlete in SAMPLES:  # still served, through the pipeline
            assert c.post("/predict", json=athlete).status_code == 200
            assert _what_if(c, athlete, {"forty_yard_dash": 4.4}).status_code == 200
        assert c.post("/predict/batch?explain=false", json=SAMPLES).status_code == 200


def test_no_model_has_no_scoring(tmp_path):
    with TestClient(create_app(settings(), models_dir=tmp_path / "none")) as c:
        for entry in c.get("/health").json()["models"].values():
            assert entry["scoring"] is None and entry["scoring_reason"] is None


# --------------------------------------------------------------------------- RATE_LIMIT

def test_rate_limit_answers_429_with_retry_after(exported_models_dir):
    app = create_app(settings(rate_limit="3/minute"), models_dir=exported_models_dir)
    with TestClient(app) as c:
        codes = [c.post("/predict", json=QB).status_code for _ in range(3)]
        assert codes == [200, 200, 200]
        for _ in range(2):
            over = c.post("/what-if", json={"base_data": QB, "modifications": {}})
            assert over.status_code == 429
            assert 1 <= int(over.headers["Retry-After"]) <= 60
            assert detail(over).startswith("rate limit: more than 3 per 1 minute")
        assert c.get("/models").status_code == 429
        # Health probes are never limited; another address has its own count.
        assert all(c.get(p).status_code == 200 for p in ("/health/live", "/health/ready",
                                                         "/health", "/") for _ in range(5))
        with TestClient(app, client=("10.0.0.2", 1234)) as other:
            assert other.post("/predict", json=QB).status_code == 200
        spec = c.get("/openapi.json")
        assert spec.status_code == 429  # /openapi.json counts too
    with TestClient(create_app(settings(rate_limit="3/minute"),
                               models_dir=exported_models_dir)) as c:
        operation = c.get("/openapi.json").json()["paths"]["/predict"]["post"]
        assert "Retry-After" in operation["responses"]["429"]["headers"]


def test_rate_limit_is_off_by_default(client):
    for _ in range(20):
        assert client.get("/models").status_code == 200


@pytest.mark.parametrize("value", ["lots", "100/fortnight", "0/x"])
def test_a_bad_rate_limit_names_the_variable(value):
    from recruit_reveal.errors import RecruitRevealError
    from recruit_reveal.settings import load_settings

    with pytest.raises(RecruitRevealError, match="RATE_LIMIT"):
        load_settings({"RATE_LIMIT": value})


def test_access_log_setting_reaches_uvicorn_and_the_cli(monkeypatch):
    import recruit_reveal.api.app as service
    from recruit_reveal.cli import main
    from recruit_reveal.settings import load_settings

    assert service.uvicorn_options(load_settings({}))["access_log"] is True
    assert service.uvicorn_options(load_settings({"ACCESS_LOG": "0"}))["access_log"] is False
    calls = []
    monkeypatch.setattr(service, "run", lambda host, port, **kw: calls.append(kw))
    assert main(["serve", "--no-access-log"]) == 0
    assert calls[-1]["access_log"] is False



def test_what_if_says_what_it_integrated_over(client):
    base = {k: v for k, v in QB.items() if k != "senior_ypg"}
    response = _what_if(client, base, {"senior_ypg": 250})
    assert response.status_code == 200, response.text
    assert response.json()["integrated_inputs"] == []
    response = _what_if(client, QB, {"senior_ypg": None, "senior_yds": 2500})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["integrated_inputs"] == ["senior_ypg", "games"]
    assert "games played" in body["integrated_over"]


# --------------------------------------------------------------------------- unusual inputs

def test_what_if_lists_the_unusual_inputs_of_both_athletes(client):
    slow = {**QB, "forty_yard_dash": 6.4}
    body = _what_if(client, slow, {"height_inches": 60}).json()
    assert [u["input"] for u in body["unusual_inputs"]] == ["height_inches",
                                                              "forty_yard_dash"]
    assert body["unusual_inputs"] == client.post(
        "/predict", json={**slow, "height_inches": 60}).json()["unusual_inputs"]
    comparison = body["what_if_results"]
    assert comparison["base_unusual_inputs"] == client.post(
        "/predict", json=slow).json()["unusual_inputs"]
    assert [u["input"] for u in comparison["base_unusual_inputs"]] == ["forty_yard_dash"]
    assert " Base athlete: forty_yard_dash 6.4 is outside" in comparison["message"]
    assert f" Modified athlete: {body['extrapolation_warning']}" in comparison["message"]


def test_a_what_if_back_into_the_training_range_lists_none_for_the_modified(client):
    body = _what_if(client, {**QB, "forty_yard_dash": 6.4}, {"forty_yard_dash": 4.7}).json()
    assert body["unusual_inputs"] == [] and body["extrapolation_warning"] is None
    assert [u["input"] for u in body["what_if_results"]["base_unusual_inputs"]] == \
        ["forty_yard_dash"]
    assert "Modified athlete" not in body["what_if_results"]["message"]


def test_typical_what_if_lists_no_unusual_input(client):
    body = _what_if(client, QB, {"forty_yard_dash": 4.6}).json()
    assert body["unusual_inputs"] == [] and body["what_if_results"]["base_unusual_inputs"] == []
    assert "extrapolates" not in body["what_if_results"]["message"]
