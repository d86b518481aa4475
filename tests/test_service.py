"""The prediction service: contract of every endpoint, version selection, hot switch
under load, auth, every bad-input case, and one real uvicorn server over HTTP."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from recruit_reveal import schema
from recruit_reveal.api.app import MAX_BATCH, ServiceConfig, create_app
from recruit_reveal.schema import DIVISIONS, POSITIONS, feature_names

TOKEN = "test-admin-token"

SAMPLES = list(schema.SAMPLE_ATHLETES)  # DESIGN.md's three athletes
QB = SAMPLES[0]

PREDICTION_FIELDS = {
    "predicted_division", "predicted_tier", "confidence_score", "probability", "probabilities",
    "position", "model_version", "notes", "goals", "switches", "calendar_advice",
    "imputation_flags", "data_completeness_warning", "what_if_results", "top_factors",
}


def _config(**overrides) -> ServiceConfig:
    # An empty environment, so the developer's MODEL_VERSION etc. cannot leak in.
    return ServiceConfig(**{**ServiceConfig.from_env({}).__dict__, **overrides})


@pytest.fixture(scope="module")
def client(exported_models_dir):
    app = create_app(exported_models_dir, config=_config(admin_token=TOKEN))
    with TestClient(app) as c:
        yield c


@pytest.fixture
def two_versions(models_dir, trained_results):
    """A private models folder with qb 1.0.0 (latest) and 1.1.0 (not promoted)."""
    from recruit_reveal.artifacts.export import save_pipeline

    save_pipeline(trained_results["qb"], models_dir, "1.1.0", promote=False,
                  changelog="second version for service tests")
    return models_dir


def _detail(response) -> str:
    body = response.json()
    assert set(body) >= {"detail", "errors"}
    return body["detail"]


# --------------------------------------------------------------------------- contract

def test_root_and_health(client):
    root = client.get("/").json()
    assert root["status"] == "healthy" and root["service"] == "recruit-reveal"
    assert root["version"]
    health = client.get("/health").json()
    assert health["status"] == "healthy"
    assert health["models_loaded"] == 3
    assert health["available_positions"] == list(POSITIONS)
    for pos in POSITIONS:
        entry = health["models"][pos]
        assert entry["loaded"] and entry["version"] == "1.0.0"
        assert entry["requested"] == "latest" and "1.0.0" in entry["reason"]
    assert client.get("/health/live").json() == {"status": "alive"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True


@pytest.mark.parametrize("athlete", SAMPLES, ids=[s["position"] for s in SAMPLES])
def test_predict_sample_athletes(client, athlete):
    response = client.post("/predict", json=athlete)
    assert response.status_code == 200, response.text
    body = response.json()
    assert PREDICTION_FIELDS <= set(body)
    assert body["position"] == athlete["position"]
    assert body["model_version"] == "1.0.0"
    assert body["predicted_division"] in DIVISIONS
    assert body["predicted_tier"].endswith(body["predicted_division"])
    assert 0 <= body["probability"] <= 1 and 0 <= body["confidence_score"] <= 1
    assert list(body["probabilities"]) == list(DIVISIONS)
    assert sum(body["probabilities"].values()) == pytest.approx(1, abs=1e-4)
    assert body["probability"] == body["probabilities"][body["predicted_division"]]
    assert isinstance(body["goals"], list) and all(isinstance(g, str) for g in body["goals"])
    assert isinstance(body["switches"], list) and isinstance(body["calendar_advice"], str)
    assert body["notes"].startswith(f"The {athlete['position'].upper()} model predicts "
                                    f"{body['predicted_division']}")
    assert set(body["imputation_flags"]) == set(feature_names(athlete["position"]))
    assert body["imputation_flags"]["height_inches"] is False
    assert body["imputation_flags"]["shuttle"] is True
    assert "shuttle" in body["data_completeness_warning"]
    wi = body["what_if_results"]
    assert wi["current_division"] == body["predicted_division"]
    assert wi["at_top"] == (body["predicted_division"] == "Power 5")
    for factor in body["top_factors"]:
        assert factor["input"] in feature_names(athlete["position"])
    assert body["ignored_fields"] == []


def test_predict_text_comes_from_the_athletes_what_if(client):
    body = client.post("/predict", json=QB).json()
    best = body["what_if_results"]["best"]
    if best is None:
        assert body["what_if_results"]["message"] in body["notes"]
    else:
        assert f"{best['suggested']:g}" in body["goals"][0]
        assert f"{best['suggested']:g}" in body["switches"][0]
    # A slower version of the same athlete gets different advice.
    slower = client.post("/predict", json={**QB, "forty_yard_dash": 5.6}).json()
    assert slower["notes"] != body["notes"]


def test_predict_accepts_aliases_any_case_and_ignores_names(client):
    athlete = {"Position": "QB", "height": 72, "WEIGHT": 200, "Forty_Yard_Dash": 4.7,
               "senior_ypg": 250, "senior_tds": 20, "senior_comp_pct": 65.0,
               "Player_Name": "Someone", "name": "Someone", "favourite_colour": "blue"}
    response = client.post("/predict", json=athlete)
    assert response.status_code == 200, response.text
    body = response.json()
    reference = client.post("/predict", json=QB).json()
    assert body["probabilities"] == reference["probabilities"]
    assert body["ignored_fields"] == ["favourite_colour"]
    assert "Someone" not in response.text


def test_predict_height_in_feet_and_inches(client):
    a = client.post("/predict", json={**QB, "height_inches": "6-0"}).json()
    b = client.post("/predict", json=QB).json()
    assert a["probabilities"] == b["probabilities"]


def test_batch_mixed_positions_in_input_order(client):
    athletes = [SAMPLES[2], SAMPLES[0], SAMPLES[1], SAMPLES[0]]
    response = client.post("/predict/batch", json=athletes)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 4 and body["model_versions"] == {p: "1.0.0" for p in POSITIONS}
    assert [p["position"] for p in body["predictions"]] == ["wr", "qb", "rb", "qb"]
    for athlete, prediction in zip(athletes, body["predictions"], strict=True):
        single = client.post("/predict", json=athlete).json()
        assert prediction["predicted_division"] == single["predicted_division"]
        for d in DIVISIONS:
            assert prediction["probabilities"][d] == pytest.approx(single["probabilities"][d],
                                                                   abs=1e-6)
        assert PREDICTION_FIELDS <= set(prediction)
    wrapped = client.post("/predict/batch", json={"athletes": athletes}).json()
    assert [p["probabilities"] for p in wrapped["predictions"]] == \
        [p["probabilities"] for p in body["predictions"]]


def test_batch_without_explanations(client):
    body = client.post("/predict/batch?explain=false", json=SAMPLES).json()
    assert body["count"] == 3
    for p in body["predictions"]:
        assert p["predicted_division"] in DIVISIONS
        assert "what_if_results" not in p and "goals" not in p


class CountingPipeline:
    """Wraps a served pipeline and counts predict_proba calls."""

    def __init__(self, pipeline):
        self.pipeline = pipeline
        self.classes_ = getattr(pipeline, "classes_", None)
        self.calls = 0

    def predict_proba(self, frame):
        self.calls += 1
        return self.pipeline.predict_proba(frame)


def test_batch_calls_each_model_once_per_position(exported_models_dir):
    from dataclasses import replace

    app = create_app(exported_models_dir, config=_config())
    with TestClient(app) as c:
        store = app.state.store
        counters = {}
        for pos in POSITIONS:
            counters[pos] = CountingPipeline(store.get(pos).pipeline)
            store._served = {**store._served, pos: replace(store.get(pos),
                                                           pipeline=counters[pos])}
        athletes = [SAMPLES[i % 3] for i in range(30)] + [SAMPLES[0]] * 20
        for explain in ("false", "true"):
            for counter in counters.values():
                counter.calls = 0
            response = c.post(f"/predict/batch?explain={explain}", json=athletes)
            assert response.status_code == 200
            assert {p: k.calls for p, k in counters.items()} == {"qb": 1, "rb": 1, "wr": 1}
        for counter in counters.values():
            counter.calls = 0
        c.post("/predict", json=QB)
        assert counters["qb"].calls == 1  # prediction, what-if and factors together


def test_predict_explicit_version(two_versions):
    app = create_app(two_versions, config=_config())
    with TestClient(app) as c:
        assert c.post("/predict/1.1.0", json=QB).json()["model_version"] == "1.1.0"
        assert c.post("/predict/1.0.0", json=QB).json()["model_version"] == "1.0.0"
        # The served default did not change.
        assert c.post("/predict", json=QB).json()["model_version"] == "1.0.0"
        missing = c.post("/predict/1.2.0", json=QB)
        assert missing.status_code == 404 and "1.2.0" in _detail(missing)
        rb_only_has_one = c.post("/predict/1.1.0", json=SAMPLES[1])
        assert rb_only_has_one.status_code == 404 and "rb" in _detail(rb_only_has_one)


def test_models_listing(two_versions):
    app = create_app(two_versions, config=_config())
    with TestClient(app) as c:
        body = c.get("/models").json()
        assert set(body["available_models"]) == set(POSITIONS)
        assert body["total_models"] == 3 and body["total_versions"] == 4
        qb = body["available_models"]["qb"]
        assert qb["loaded"] is True and qb["version"] == "1.0.0"
        assert [v["version"] for v in qb["versions"]] == ["1.0.0", "1.1.0"]
        assert [v["served"] for v in qb["versions"]] == [True, False]
        for v in qb["versions"]:
            assert v["created_at"] and 0 < v["metrics"]["exact_accuracy"] <= 1
            assert 0 < v["metrics"]["within_one_accuracy"] <= 1

        detail = c.get("/models/QB").json()
        assert detail["version"] == "1.0.0" and detail["available_versions"] == ["1.0.0", "1.1.0"]
        assert detail["input_schema"]["required"] == ["height_inches", "weight_lbs", "senior_ypg"]
        assert detail["metrics"]["exact_accuracy"] == qb["metrics"]["exact_accuracy"]

        versions = c.get("/models/qb/versions").json()
        assert versions["served_version"] == "1.0.0" and versions["total_versions"] == 2
        assert c.get("/models/te").status_code == 404
        assert c.get("/models/te/versions").status_code == 404


def test_openapi_docs(client):
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    for path in ("/predict", "/predict/batch", "/predict/{version}", "/models",
                 "/models/{position}", "/models/{position}/versions",
                 "/models/{position}/switch", "/health", "/health/ready", "/health/live"):
        assert path in spec["paths"], path
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    names = {s["title"] for s in body["schema"]["oneOf"]}
    assert names == {"QbAthlete", "RbAthlete", "WrAthlete"}


def test_cors_allows_configured_origins(exported_models_dir):
    app = create_app(exported_models_dir,
                     config=_config(allowed_origins=("https://app.example",)))
    with TestClient(app) as c:
        ok = c.options("/predict", headers={"Origin": "https://app.example",
                                            "Access-Control-Request-Method": "POST"})
        assert ok.headers.get("access-control-allow-origin") == "https://app.example"
        other = c.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


# --------------------------------------------------------------------------- bad input

BAD_ATHLETES = [
    ("unknown position", {**QB, "position": "te"}, "position"),
    ("missing position", {k: v for k, v in QB.items() if k != "position"}, "position"),
    ("position not a string", {**QB, "position": 3}, "position"),
    ("missing required", {k: v for k, v in QB.items() if k != "senior_ypg"}, "senior_ypg"),
    ("required null", {**QB, "weight_lbs": None}, "weight_lbs"),
    ("wrong type", {**QB, "forty_yard_dash": "fast"}, "forty_yard_dash"),
    ("boolean", {**QB, "senior_tds": True}, "senior_tds"),
    ("fractional count", {**QB, "senior_tds": 20.5}, "senior_tds"),
    ("list value", {**QB, "weight_lbs": [200]}, "weight_lbs"),
    ("out of range high", {**QB, "height_inches": 190}, "height_inches"),
    ("out of range low", {**QB, "forty_yard_dash": 3.1}, "forty_yard_dash"),
    ("alias out of range", {**{k: v for k, v in QB.items() if k != "weight_lbs"},
                            "weight": 90}, "weight_lbs"),
    ("bad height text", {**QB, "height_inches": "tall"}, "height_inches"),
    ("unknown state", {**QB, "state": "ZZ"}, "state"),
    ("given twice", {**QB, "height": 72}, "height_inches"),
]


@pytest.mark.parametrize("case,athlete,field", BAD_ATHLETES, ids=[c[0] for c in BAD_ATHLETES])
def test_bad_athlete_is_422_naming_the_field(client, case, athlete, field):
    response = client.post("/predict", json=athlete)
    assert response.status_code == 422, response.text
    assert _detail(response).startswith(field)
    assert any(e["field"] == field for e in response.json()["errors"])


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_rejected(client, literal):
    body = json.dumps({**QB, "forty_yard_dash": 0}).replace('"forty_yard_dash": 0',
                                                           f'"forty_yard_dash": {literal}')
    response = client.post("/predict", content=body,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert _detail(response).startswith("forty_yard_dash")
    assert "finite" in _detail(response)


@pytest.mark.parametrize("body,status", [
    (b'{"position": "qb", "height_inches": 72', 400),
    (b"not json at all", 400),
    (b"\xff\xfe\x00", 400),
    (b"", 422),
    (b"[1, 2]", 422),
    (b'"qb"', 422),
    (b"[" * 100_000 + b"]" * 100_000, 400),
    (b'{"position": "qb", "senior_tds": ' + b"9" * 5000 + b"}", 400),
])
def test_malformed_bodies(client, body, status):
    response = client.post("/predict", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    assert "body" in _detail(response) or "JSON" in _detail(response)


def test_body_too_large_by_content_length(exported_models_dir):
    app = create_app(exported_models_dir, config=_config(max_body_bytes=1000))
    with TestClient(app) as c:
        response = c.post("/predict", json={**QB, "padding": "x" * 2000})
        assert response.status_code == 413
        assert "1000 bytes" in _detail(response)
        assert c.post("/predict", json=QB).status_code == 200


def test_body_too_large_when_streamed(exported_models_dir):
    app = create_app(exported_models_dir, config=_config(max_body_bytes=1000))

    def chunks():  # no Content-Length: the size is only known while reading
        yield b'{"position": "qb", "padding": "'
        for _ in range(20):
            yield b"x" * 100
        yield b'"}'

    with TestClient(app) as c:
        response = c.post("/predict", content=chunks(),
                          headers={"Content-Type": "application/json"})
        assert response.status_code == 413, response.text


def test_batch_bad_input(client):
    empty = client.post("/predict/batch", json=[])
    assert empty.status_code == 422 and _detail(empty).startswith("athletes")
    assert client.post("/predict/batch", json={"athletes": []}).status_code == 422
    not_list = client.post("/predict/batch", json={"players": [QB]})
    assert not_list.status_code == 422 and "athletes" in _detail(not_list)
    oversized = client.post("/predict/batch", json=[{"position": "qb"}] * (MAX_BATCH + 1))
    assert oversized.status_code == 413
    assert str(MAX_BATCH) in _detail(oversized)
    bad = client.post("/predict/batch", json=[QB, {**QB, "height_inches": 300}, "x"])
    assert bad.status_code == 422
    fields = [e["field"] for e in bad.json()["errors"]]
    assert fields == ["athletes[1].height_inches", "athletes[2]"]


# Raw "../" segments are resolved by the HTTP client before sending; the encoded
# forms below reach the server, which decodes them into the path parameter.
@pytest.mark.parametrize("version", ["1.0", "v1.0.0", "1.0.0-rc1", "latest", "%2e%2e",
                                     "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "1.0.0%2F..%2F..",
                                     "%2Fetc%2Fpasswd", "01.0.0", "1.0.0%00"])
def test_malformed_versions_are_rejected_before_any_file(client, version):
    response = client.post(f"/predict/{version}", json=QB)
    assert response.status_code == 422, response.text
    assert _detail(response).startswith("version")
    assert client.get("/health").json()["status"] == "healthy"


def test_unknown_version_is_404(client):
    response = client.post("/predict/7.7.7", json=QB)
    assert response.status_code == 404 and "7.7.7" in _detail(response)


# --------------------------------------------------------------------------- version selection

def test_model_version_pinned(two_versions, monkeypatch):
    from recruit_reveal.artifacts.registry import promote

    promote("qb", "1.1.0", models_dir=two_versions)  # latest is now 1.1.0
    monkeypatch.setenv("MODEL_DIR", str(two_versions))
    monkeypatch.setenv("MODEL_VERSION", "1.0.0")
    with TestClient(create_app()) as c:
        health = c.get("/health").json()
        assert {p: m["version"] for p, m in health["models"].items()} == \
            {"qb": "1.0.0", "rb": "1.0.0", "wr": "1.0.0"}
        assert c.post("/predict", json=QB).json()["model_version"] == "1.0.0"
    monkeypatch.setenv("MODEL_VERSION", "latest")
    monkeypatch.setenv("MODEL_VERSION_QB", "1.1.0")
    with TestClient(create_app()) as c:
        assert c.get("/health").json()["models"]["qb"]["version"] == "1.1.0"


def test_missing_version_falls_back_to_latest_with_reason(models_dir, monkeypatch):
    monkeypatch.setenv("MODEL_VERSION", "9.9.9")
    with TestClient(create_app(models_dir)) as c:
        health = c.get("/health").json()
        assert health["status"] == "healthy"
        qb = health["models"]["qb"]
        assert qb["version"] == "1.0.0" and qb["requested"] == "9.9.9"
        assert "9.9.9" in qb["reason"] and "latest" in qb["reason"]
        assert c.post("/predict", json=QB).status_code == 200


def test_no_models_is_degraded_and_503(tmp_path):
    app = create_app(tmp_path / "nothing-here", config=_config())
    with TestClient(app) as c:
        health = c.get("/health").json()
        assert health["status"] == "degraded"
        assert health["models_loaded"] == 0 and health["available_positions"] == []
        assert all(not m["loaded"] and m["reason"] for m in health["models"].values())
        for athlete in SAMPLES:
            response = c.post("/predict", json=athlete)
            assert response.status_code == 503
            assert athlete["position"] in _detail(response)
        assert c.post("/predict/batch", json=SAMPLES).status_code == 503
        assert c.get("/health/ready").status_code == 503
        assert c.get("/health/live").status_code == 200
        assert c.get("/models").json()["total_models"] == 0


def test_one_position_missing_is_degraded(models_dir):
    for path in models_dir.glob("recruit_reveal_rb_*"):
        path.unlink()
    with TestClient(create_app(models_dir, config=_config())) as c:
        health = c.get("/health").json()
        assert health["status"] == "degraded" and health["available_positions"] == ["qb", "wr"]
        assert c.get("/health/ready").status_code == 200
        assert c.post("/predict", json=SAMPLES[0]).status_code == 200
        unavailable = c.post("/predict", json=SAMPLES[1])
        assert unavailable.status_code == 503 and "'rb'" in _detail(unavailable)


def test_startup_banner_names_version_and_reason(models_dir, caplog, monkeypatch):
    monkeypatch.setenv("MODEL_VERSION_WR", "9.9.9")
    for path in models_dir.glob("recruit_reveal_rb_*"):
        path.unlink()
    with caplog.at_level("INFO", logger="recruit_reveal.api.app"):
        with TestClient(create_app(models_dir)):
            pass
    banner = [r.getMessage() for r in caplog.records if r.name == "recruit_reveal.api.app"]
    assert any(m.startswith("  qb: version 1.0.0 (requested latest)") for m in banner)
    assert any(m.startswith("  rb: UNAVAILABLE") for m in banner)
    wr = next(m for m in banner if m.startswith("  wr:"))
    assert "version 1.0.0 (requested 9.9.9)" in wr and "9.9.9" in wr.split(" - ", 1)[1]


@pytest.mark.parametrize("env,name", [({"MODEL_VERSION": "../x"}, "MODEL_VERSION"),
                                      ({"MODEL_VERSION_RB": "v1"}, "MODEL_VERSION_RB"),
                                      ({"PORT": "eighty"}, "PORT")])
def test_bad_configuration_fails_fast_naming_the_variable(env, name):
    from recruit_reveal.errors import RecruitRevealError

    with pytest.raises(RecruitRevealError, match=name):
        ServiceConfig.from_env(env)


def test_configuration_from_environment():
    config = ServiceConfig.from_env({
        "MODEL_DIR": "/srv/models", "MODEL_VERSION": "1.0.0", "MODEL_VERSION_WR": "1.2.3",
        "HOST": "0.0.0.0", "PORT": "9000", "ALLOWED_ORIGINS": "https://a.example, http://b:3000",
        "ADMIN_TOKEN": "t"})
    assert str(config.models_dir) == "/srv/models"
    assert config.versions == {"qb": "1.0.0", "rb": "1.0.0", "wr": "1.2.3"}
    assert (config.host, config.port, config.admin_token) == ("0.0.0.0", 9000, "t")
    assert config.allowed_origins == ("https://a.example", "http://b:3000")
    defaults = ServiceConfig.from_env({})
    assert defaults.versions == {"qb": "latest", "rb": "latest", "wr": "latest"}
    assert (defaults.port, defaults.admin_token, defaults.allowed_origins) == (8000, None, ())


def test_models_load_in_lifespan_not_in_create_app(models_dir):
    app = create_app(models_dir, config=_config())
    assert app.state.store.get("qb").reason == "not loaded yet"
    with TestClient(app) as c:
        assert c.get("/health").json()["models_loaded"] == 3


class BrokenPipeline:
    """Verifies and unpickles like a model, then fails on use (like stale feature code)."""

    classes_ = list(DIVISIONS)

    def predict_proba(self, frame):
        raise ValueError("X has 37 features, but the model expects 31")


@pytest.fixture
def broken_version(two_versions, trained_results):
    """qb 1.2.0 is a model that loads but cannot predict."""
    from dataclasses import replace

    from recruit_reveal.artifacts.export import save_pipeline

    save_pipeline(replace(trained_results["qb"], pipeline=BrokenPipeline()), two_versions,
                  "1.2.0", promote=False, changelog="broken on purpose")
    return two_versions


def test_model_that_cannot_predict_is_never_served(broken_version):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    config = _config(admin_token=TOKEN, versions={"qb": "1.2.0"})
    with TestClient(create_app(broken_version, config=config)) as c:
        qb = c.get("/health").json()["models"]["qb"]
        assert qb["version"] == "1.0.0" and qb["requested"] == "1.2.0"
        assert "1.2.0" in qb["reason"] and "test prediction" in qb["reason"]
        response = c.post("/models/qb/switch?version=1.2.0", headers=auth)
        assert response.status_code == 409 and "test prediction" in _detail(response)
        assert c.post("/predict/1.2.0", json=QB).status_code == 409
        assert c.post("/predict", json=QB).json()["model_version"] == "1.0.0"


# --------------------------------------------------------------------------- switching

def test_switch_auth(two_versions):
    with TestClient(create_app(two_versions, config=_config())) as c:
        disabled = c.post("/models/qb/switch?version=1.1.0",
                          headers={"Authorization": f"Bearer {TOKEN}"})
        assert disabled.status_code == 403 and "ADMIN_TOKEN" in _detail(disabled)
    with TestClient(create_app(two_versions, config=_config(admin_token=TOKEN))) as c:
        assert c.post("/models/qb/switch?version=1.1.0").status_code == 401
        wrong = c.post("/models/qb/switch?version=1.1.0",
                       headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        basic = c.post("/models/qb/switch?version=1.1.0",
                       headers={"Authorization": f"Basic {TOKEN}"})
        assert basic.status_code == 401
        assert c.get("/health").json()["models"]["qb"]["version"] == "1.0.0"


def test_switch_and_bad_versions_keep_the_served_model(two_versions):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(create_app(two_versions, config=_config(admin_token=TOKEN))) as c:
        for version, status in [("9.9.9", 404), ("../x", 422), ("1.0", 422), ("", 422)]:
            response = c.post(f"/models/qb/switch?version={version}", headers=auth)
            assert response.status_code == status, (version, response.text)
            assert "version" in _detail(response)
        assert c.post("/models/qb/switch", headers=auth).status_code == 422
        assert c.post("/models/te/switch?version=1.0.0", headers=auth).status_code == 404
        assert c.get("/health").json()["models"]["qb"]["version"] == "1.0.0"

        ok = c.post("/models/qb/switch?version=1.1.0", headers=auth)
        assert ok.status_code == 200
        assert ok.json() == {"position": "qb", "previous_version": "1.0.0", "version": "1.1.0",
                             "reason": "switched to 1.1.0 by an admin request"}
        assert c.post("/predict", json=QB).json()["model_version"] == "1.1.0"
        assert c.get("/health").json()["models"]["qb"]["version"] == "1.1.0"
        assert c.get("/models").json()["available_models"]["qb"]["version"] == "1.1.0"
        # Other positions are untouched.
        assert c.post("/predict", json=SAMPLES[1]).json()["model_version"] == "1.0.0"


def test_predictions_keep_succeeding_while_versions_switch(two_versions):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    app = create_app(two_versions, config=_config(admin_token=TOKEN))
    failures: list[str] = []
    seen: set[str] = set()
    switches = 0
    stop = threading.Event()

    with TestClient(app) as c:
        def hammer():
            while not stop.is_set():
                r = c.post("/predict", json=QB)
                if r.status_code != 200:
                    failures.append(r.text)
                else:
                    seen.add(r.json()["model_version"])

        def switcher():
            nonlocal switches
            for i in range(12):
                r = c.post(f"/models/qb/switch?version={('1.1.0', '1.0.0')[i % 2]}",
                           headers=auth)
                if r.status_code != 200:
                    failures.append(f"switch: {r.text}")
                switches += 1
            stop.set()

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        switch_thread = threading.Thread(target=switcher)
        switch_thread.start()
        switch_thread.join(timeout=120)
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert not switch_thread.is_alive() and switches == 12
    assert failures == []
    assert seen == {"1.0.0", "1.1.0"}


# --------------------------------------------------------------------------- real server

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_uvicorn_server_over_http(exported_models_dir):
    import uvicorn

    port = _free_port()
    app = create_app(exported_models_dir, config=_config())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
            assert thread.is_alive(), "uvicorn exited during startup"
            time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            assert http.get("/health").json()["status"] == "healthy"
            response = http.post("/predict", json=SAMPLES[2])
            assert response.status_code == 200
            assert response.json()["position"] == "wr"
            assert http.post("/predict", content=b"{oops",
                             headers={"Content-Type": "application/json"}).status_code == 400
            big = http.post("/predict", content=b"x" * (ServiceConfig().max_body_bytes + 1),
                            headers={"Content-Type": "application/json"})
            assert big.status_code == 413
    finally:
        server.should_exit = True
        thread.join(timeout=15)
    assert not thread.is_alive()
