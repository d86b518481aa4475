"""api.routers.predict and api.predictions: the three sample athletes, text, aliases,
batches, one model call per position, and explicit versions."""

from __future__ import annotations

import pytest
from api_support import PREDICTION_FIELDS, QB, SAMPLES, TOKEN, detail, settings
from fastapi.testclient import TestClient

from recruit_reveal.api.app import create_app
from recruit_reveal.schema import DIVISIONS, POSITIONS, feature_names


@pytest.fixture(scope="module")
def client(exported_models_dir):
    app = create_app(settings(admin_token=TOKEN), models_dir=exported_models_dir)
    with TestClient(app) as c:
        yield c


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
    assert body["ignored_fields"] == ["name"]  # listed by name, its value never kept


def test_prediction_fields_in_order(client):
    body = client.post("/predict", json=QB).json()
    assert list(body) == [
        "position", "model_version", "predicted_division", "predicted_tier", "probability",
        "confidence_score", "probabilities", "expected_division_index", "imputation_flags",
        "unusual_inputs", "extrapolation_warning", "data_completeness_warning",
        "ignored_fields", "integrated_inputs", "integrated_over", "notes", "goals", "switches",
        "calendar_advice", "what_if_results", "top_factors"]


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
    assert body["ignored_fields"] == ["Player_Name", "name", "favourite_colour"]
    assert "Someone" not in response.text


def test_predict_height_in_feet_and_inches(client):
    a = client.post("/predict", json={**QB, "height_inches": "6-0"}).json()
    b = client.post("/predict", json=QB).json()
    assert a["probabilities"] == b["probabilities"]


def test_empty_state_means_missing(client):
    a = client.post("/predict", json={**QB, "state": ""})
    assert a.status_code == 200, a.text
    assert a.json()["imputation_flags"]["state"] is True
    assert a.json()["probabilities"] == client.post("/predict", json=QB).json()["probabilities"]
    tx = client.post("/predict", json={**QB, "state": "tx"}).json()
    assert tx["probabilities"] == client.post("/predict", json={**QB, "state": "TX"}).json()[
        "probabilities"]


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


class CountingScorer:
    """Wraps a served model's scorer (the fast path) and counts its calls."""

    def __init__(self, scorer):
        self.scorer = scorer
        self.decision = scorer.decision
        self.calls = 0

    def predict_arrays(self, x, state):
        self.calls += 1
        return self.scorer.predict_arrays(x, state)


def test_batch_calls_each_model_once_per_position(exported_models_dir):
    from dataclasses import replace

    app = create_app(settings(), models_dir=exported_models_dir)
    with TestClient(app) as c:
        store = app.state.store
        counters = {}
        for pos in POSITIONS:
            assert store.get(pos).scorer.mode == "fast"
            counters[pos] = CountingScorer(store.get(pos).scorer)
            store._serving = replace(store._serving, models={
                **store.snapshot(), pos: replace(store.get(pos), scorer=counters[pos])})
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
        c.post("/predict?target_division=Power 5&min_probability=0.6", json=QB)
        assert counters["qb"].calls == 2  # the target search reads the same candidates
        c.post("/what-if", json={"base_data": QB, "modifications": {"forty_yard_dash": 4.5}})
        assert counters["qb"].calls == 3  # base and modified athlete together


# --------------------------------------------------------------------------- explicit versions

def test_predict_explicit_version(two_versions):
    app = create_app(settings(), models_dir=two_versions)
    with TestClient(app) as c:
        assert c.post("/predict/1.1.0", json=QB).json()["model_version"] == "1.1.0"
        assert c.post("/predict/1.0.0", json=QB).json()["model_version"] == "1.0.0"
        # The served default did not change.
        assert c.post("/predict", json=QB).json()["model_version"] == "1.0.0"
        missing = c.post("/predict/1.2.0", json=QB)
        assert missing.status_code == 404 and "1.2.0" in detail(missing)
        rb_only_has_one = c.post("/predict/1.1.0", json=SAMPLES[1])
        assert rb_only_has_one.status_code == 404 and "rb" in detail(rb_only_has_one)


# Raw "../" segments are resolved by the HTTP client before sending; the encoded
# forms below reach the server, which decodes them into the path parameter.
@pytest.mark.parametrize("version", ["1.0", "v1.0.0", "1.0.0-rc1", "latest", "%2e%2e",
                                     "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "1.0.0%2F..%2F..",
                                     "%2Fetc%2Fpasswd", "01.0.0", "1.0.0%00", "0"])
def test_malformed_versions_are_rejected_before_any_file(client, version):
    response = client.post(f"/predict/{version}", json=QB)
    assert response.status_code == 422, response.text
    assert detail(response).startswith("version")
    assert response.json()["errors"][0]["field"] == "version"
    assert client.get("/health").json()["status"] == "healthy"


def test_unknown_version_is_404(client):
    response = client.post("/predict/7.7.7", json=QB)
    assert response.status_code == 404 and "7.7.7" in detail(response)


def test_a_form_record_gets_its_canonical_twins_prediction(client):
    form = {"Position": "QB", "Height_Inches": 72, "height_inches": 72, "Weight_Lbs": 200.0,
            "Forty_Yard_Dash": 4.7, "Senior_YPG": 250, "Senior_TD_Passes": 20,
            "Senior_Comp_Pct": 65.0, "Player_Name": "Someone", "College": "Somewhere U",
            "High_School": "Central", "Profile_URL": "https://example.com/p/1",
            "Notes": "good arm", "Division": "Unknown"}
    response = client.post("/predict", json=form)
    assert response.status_code == 200, response.text
    body = response.json()
    twin = client.post("/predict", json={k: v for k, v in QB.items() if k != "name"}).json()
    assert body["probabilities"] == twin["probabilities"]
    assert body["imputation_flags"] == twin["imputation_flags"]
    assert body["ignored_fields"] == ["Player_Name", "College", "High_School", "Profile_URL",
                                      "Notes", "Division"]
    assert "Someone" not in response.text and "Central" not in response.text


def _without(athlete: dict, *names: str) -> dict:
    return {k: v for k, v in athlete.items() if k not in names}


def test_a_season_total_with_games_gives_the_rate(client):
    given = client.post("/predict", json={**QB, "senior_yds": 3000, "games": 12}).json()
    derived = client.post("/predict", json={**_without(QB, "senior_ypg"), "senior_yds": 3000,
                                            "games": 12}).json()
    assert derived["probabilities"] == given["probabilities"]
    assert derived["integrated_inputs"] == [] and derived["integrated_over"] is None
    assert derived["imputation_flags"]["senior_ypg"] is False


@pytest.mark.parametrize("athlete", SAMPLES, ids=lambda a: a["position"])
def test_unknown_production_is_integrated_over_and_said(client, athlete):
    pos = athlete["position"]
    rate, total = {"qb": ("senior_ypg", "senior_yds"), "rb": ("senior_ypg", "senior_yds"),
                   "wr": ("senior_rec_ypg", "senior_rec_yds")}[pos]
    complete = client.post("/predict", json=athlete).json()
    assert complete["integrated_inputs"] == [] and complete["integrated_over"] is None
    total_only = client.post("/predict", json={**_without(athlete, rate), total: 900}).json()
    assert total_only["integrated_inputs"] == [rate, "games"]
    assert f"training distribution for {pos}" in total_only["integrated_over"]
    measurables = {k: v for k, v in athlete.items() if k in ("position", "height_inches",
                                                             "weight_lbs", "forty_yard_dash")}
    nothing = client.post("/predict", json=measurables).json()
    assert rate in nothing["integrated_inputs"] and "games" in nothing["integrated_inputs"]
    assert "measurables-only model" in nothing["integrated_over"]
    for body in (total_only, nothing):
        assert body["probabilities"] != complete["probabilities"]
        assert abs(sum(body["probabilities"].values()) - 1) < 1e-5
    batch = client.post("/predict/batch?explain=false", json=[athlete, measurables]).json()
    assert [p["integrated_inputs"] for p in batch["predictions"]] == \
        [[], nothing["integrated_inputs"]]


def test_an_implausible_total_over_games_is_integrated_over_not_refused(client):
    body = client.post("/predict", json={**_without(QB, "senior_ypg"), "senior_yds": 7000,
                                         "games": 7}).json()
    assert body["integrated_inputs"] == ["senior_ypg", "games"]
    assert "the games given (7) make senior_yds / games outside" in body["integrated_over"]


# --------------------------------------------------------------------------- unusual inputs

#: A 5'0" QB with a 6.4 s forty: both allowed by the data contract, neither seen in training.
SMALL_SLOW_QB = {**QB, "height_inches": 60, "forty_yard_dash": 6.4}


def _training_range(models_dir, position: str, name: str) -> tuple[float, float]:
    from recruit_reveal.artifacts.metadata import ModelMetadata

    path = models_dir / f"recruit_reveal_{position}_pipeline_v1.0.0.metadata.json"
    low, high = ModelMetadata.from_json_bytes(path.read_bytes(), source=path).input_ranges()[name]
    return round(low, 6), round(high, 6)


def _expected_unusual(models_dir, athlete, names):
    return [{"input": n, "value": athlete[n],
             **dict(zip(("low", "high"), _training_range(models_dir, athlete["position"], n),
                        strict=True))} for n in names]


def test_inputs_outside_the_training_range_are_listed_and_noted(client, exported_models_dir):
    body = client.post("/predict", json=SMALL_SLOW_QB).json()
    expected = _expected_unusual(exported_models_dir, SMALL_SLOW_QB,
                                 ["height_inches", "forty_yard_dash"])
    assert body["unusual_inputs"] == expected
    low, high = expected[0]["low"], expected[0]["high"]
    assert low > 60 and expected[1]["high"] < 6.4
    warning = body["extrapolation_warning"]
    assert warning.startswith(f"height_inches 60 ({low:.4g}\u2013{high:.4g}), forty_yard_dash 6.4 (")
    assert warning.endswith("are outside the range of the training data: the prediction "
                            "extrapolates.")
    assert body["notes"].endswith(warning)


def test_one_unusual_input_is_named_with_its_range(client, exported_models_dir):
    body = client.post("/predict", json={**QB, "height_inches": 60}).json()
    low, high = _training_range(exported_models_dir, "qb", "height_inches")
    assert [u["input"] for u in body["unusual_inputs"]] == ["height_inches"]
    assert body["extrapolation_warning"] == (
        f"height_inches 60 is outside the range of the training data ({low:.4g}\u2013{high:.4g}): "
        f"the prediction extrapolates.")


@pytest.mark.parametrize("athlete", SAMPLES, ids=[s["position"] for s in SAMPLES])
def test_a_typical_athlete_lists_no_unusual_input(client, athlete):
    body = client.post("/predict", json=athlete).json()
    assert body["unusual_inputs"] == [] and body["extrapolation_warning"] is None
    assert "extrapolates" not in body["notes"]


def test_a_missing_input_is_not_unusual(client):
    athlete = {k: v for k, v in SMALL_SLOW_QB.items() if k != "forty_yard_dash"}
    body = client.post("/predict", json=athlete).json()
    assert [u["input"] for u in body["unusual_inputs"]] == ["height_inches"]


@pytest.mark.parametrize("explain", ["true", "false"])
def test_batch_lists_unusual_inputs_per_row(client, exported_models_dir, explain):
    wr = {**SAMPLES[2], "weight_lbs": 340}
    rows = [QB, SMALL_SLOW_QB, SAMPLES[1], wr]
    body = client.post(f"/predict/batch?explain={explain}", json=rows).json()
    got = [p["unusual_inputs"] for p in body["predictions"]]
    assert got == [[], _expected_unusual(exported_models_dir, SMALL_SLOW_QB,
                                         ["height_inches", "forty_yard_dash"]),
                   [], _expected_unusual(exported_models_dir, wr, ["weight_lbs"])]
    warnings = [p["extrapolation_warning"] for p in body["predictions"]]
    assert warnings[0] is None and warnings[2] is None
    assert all("the prediction extrapolates" in w for w in (warnings[1], warnings[3]))


def test_unusual_and_integrated_inputs_are_counted_per_input(client):
    from prometheus_client import REGISTRY

    def count(name: str, position: str, input_name: str) -> float:
        return REGISTRY.get_sample_value(f"recruit_reveal_{name}_total",
                                         {"position": position, "input": input_name}) or 0.0

    before = {k: count("unusual_inputs", "qb", k) for k in ("height_inches", "forty_yard_dash")}
    integrated = count("integrated_inputs", "qb", "senior_ypg")
    client.post("/predict/batch?explain=false",
                json=[SMALL_SLOW_QB, QB, {**QB, "height_inches": 60}, SAMPLES[1]])
    client.post("/predict", json={k: v for k, v in QB.items() if k != "senior_ypg"})
    assert count("unusual_inputs", "qb", "height_inches") == before["height_inches"] + 2
    assert count("unusual_inputs", "qb", "forty_yard_dash") == before["forty_yard_dash"] + 1
    assert count("integrated_inputs", "qb", "senior_ypg") == integrated + 1


def test_a_version_exported_without_a_profile_flags_nothing(models_dir, trained_results):
    import dataclasses

    from api_support import add_version

    bare = dataclasses.replace(trained_results["qb"], input_profile={}, division_mix={})
    add_version(models_dir, bare, "1.1.0", "exported without a training profile")
    with TestClient(create_app(settings(), models_dir=models_dir)) as c:
        old = c.post("/predict/1.1.0", json=SMALL_SLOW_QB).json()
        assert old["model_version"] == "1.1.0"
        assert old["unusual_inputs"] == [] and old["extrapolation_warning"] is None
        assert "extrapolates" not in old["notes"]
        assert len(c.post("/predict", json=SMALL_SLOW_QB).json()["unusual_inputs"]) == 2
