"""api.parsing and api.errors: every bad request is a 4xx whose detail names the field."""

from __future__ import annotations

import json

import pytest
from api_support import QB, SAMPLES, TOKEN, detail, settings
from fastapi.testclient import TestClient

from recruit_reveal.api.app import create_app
from recruit_reveal.api.parsing import parse_athlete
from recruit_reveal.api.payloads import casings
from recruit_reveal.settings import MAX_BATCH


@pytest.fixture(scope="module")
def client(exported_models_dir):
    app = create_app(settings(admin_token=TOKEN), models_dir=exported_models_dir)
    with TestClient(app) as c:
        yield c


BAD_ATHLETES = [
    ("unknown position", {**QB, "position": "te"}, "position"),
    ("missing position", {k: v for k, v in QB.items() if k != "position"}, "position"),
    ("position not a string", {**QB, "position": 3}, "position"),
    ("empty position", {**QB, "position": ""}, "position"),
    ("missing required", {k: v for k, v in QB.items() if k != "height_inches"},
     "height_inches"),
    ("required null", {**QB, "weight_lbs": None}, "weight_lbs"),
    ("wrong type", {**QB, "forty_yard_dash": "fast"}, "forty_yard_dash"),
    ("number as text", {**QB, "senior_tds": "20"}, "senior_tds"),
    ("boolean", {**QB, "senior_tds": True}, "senior_tds"),
    ("fractional count", {**QB, "senior_tds": 20.5}, "senior_tds"),
    ("list value", {**QB, "weight_lbs": [200]}, "weight_lbs"),
    ("out of range high", {**QB, "height_inches": 190}, "height_inches"),
    ("out of range low", {**QB, "forty_yard_dash": 3.1}, "forty_yard_dash"),
    ("alias out of range", {**{k: v for k, v in QB.items() if k != "weight_lbs"},
                            "weight": 90}, "weight_lbs"),
    ("bad height text", {**QB, "height_inches": "tall"}, "height_inches"),
    ("height text out of range", {**QB, "height_inches": "7-6"}, "height_inches"),
    ("unknown state", {**QB, "state": "ZZ"}, "state"),
    ("given twice, different values", {**QB, "height": 73}, "height_inches"),
]


@pytest.mark.parametrize("case,athlete,field", BAD_ATHLETES, ids=[c[0] for c in BAD_ATHLETES])
def test_bad_athlete_is_422_naming_the_field(client, case, athlete, field):
    response = client.post("/predict", json=athlete)
    assert response.status_code == 422, response.text
    assert detail(response).startswith(field)
    assert any(e["field"] == field for e in response.json()["errors"])


def test_alias_errors_say_how_the_field_was_sent(client):
    response = client.post("/predict", json={**{k: v for k, v in QB.items()
                                                if k != "weight_lbs"}, "weight": 90})
    problem = response.json()["errors"][0]
    assert problem == {"field": "weight_lbs", "given_as": "weight",
                       "message": problem["message"], "expected": "pounds between 120 and 350"}


@pytest.mark.parametrize("spelling", [c for p in ("qb", "rb", "wr") for c in casings(p)])
def test_every_documented_position_spelling_is_accepted(spelling):
    sample = next(s for s in SAMPLES if s["position"] == spelling.lower())
    assert parse_athlete({**sample, "position": spelling}).position == spelling.lower()


@pytest.mark.parametrize("height,inches", [("6-2", 74), ("6'2", 74), ("6'2\"", 74),
                                           ("6' 2\"", 74), ("6 ft 2 in", 74), ("5-0", 60),
                                           ("7-0", 84), ("6-11.5", 83.5), (74, 74)])
def test_height_text(height, inches):
    assert parse_athlete({**QB, "height_inches": height}).values["height_inches"] == inches


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_rejected(client, literal):
    body = json.dumps({**QB, "forty_yard_dash": 0}).replace('"forty_yard_dash": 0',
                                                           f'"forty_yard_dash": {literal}')
    response = client.post("/predict", content=body,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert detail(response).startswith("forty_yard_dash")
    assert "finite" in detail(response)


@pytest.mark.parametrize("body,status", [
    (b'{"position": "qb", "height_inches": 72', 400),
    (b"not json at all", 400),
    (b"\xff\xfe\x00", 400),
    (b"", 422),
    (b"[1, 2]", 422),
    (b'"qb"', 422),
    (b"[" * 100_000 + b"]" * 100_000, 400),
])
def test_malformed_bodies(client, body, status):
    response = client.post("/predict", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    assert "body" in detail(response) or "JSON" in detail(response)


def test_batch_bad_input(client):
    empty = client.post("/predict/batch", json=[])
    assert empty.status_code == 422 and detail(empty).startswith("athletes")
    assert client.post("/predict/batch", json={"athletes": []}).status_code == 422
    not_list = client.post("/predict/batch", json={"players": [QB]})
    assert not_list.status_code == 422 and "athletes" in detail(not_list)
    oversized = client.post("/predict/batch", json=[{"position": "qb"}] * (MAX_BATCH + 1))
    assert oversized.status_code == 422  # the schema's maxItems: a validation error
    assert str(MAX_BATCH) in detail(oversized)
    bad = client.post("/predict/batch", json=[QB, {**QB, "height_inches": 300}, "x"])
    assert bad.status_code == 422
    fields = [e["field"] for e in bad.json()["errors"]]
    assert fields == ["athletes[1].height_inches", "athletes[2]"]
    empty_position = client.post("/predict/batch", json=[QB, {**QB, "position": ""}])
    assert empty_position.status_code == 422
    assert detail(empty_position).startswith("athletes[1].position")


def test_batch_explain_must_be_a_boolean(client):
    response = client.post("/predict/batch?explain=perhaps", json=[QB])
    assert response.status_code == 422 and detail(response).startswith("explain")


FORM_EXTRAS = {"Player_Name": "Someone", "College": "Somewhere U", "High_School": "Central",
               "Profile_URL": "https://example.com/p/1", "Notes": "good arm",
               "Division": "Unknown"}


def test_a_form_record_reads_as_its_canonical_twin():
    form = {"Position": "QB", "Height_Inches": 72, "height_inches": 72.0, "Weight_Lbs": 200,
            "Forty_Yard_Dash": 4.7, "Senior_YPG": 250, "Senior_TD_Passes": 20,
            "Senior_Comp_Pct": 65.0, **FORM_EXTRAS}
    athlete, twin = parse_athlete(form), parse_athlete(QB)
    assert athlete.position == "qb" and athlete.values == twin.values
    assert athlete.ignored == list(FORM_EXTRAS)
    rb = parse_athlete({"position": "rb", "Height_Inches": 70, "Weight_Lbs": 190,
                        "Senior_YPG": 120, "Senior_Avg": 5.2, "Senior_rec_yds": 300})
    assert (rb.values["senior_ypg"], rb.values["senior_ypc"], rb.values["senior_rec_yds"]) == (
        120, 5.2, 300)
    wr = parse_athlete({"position": "wr", "Height_Inches": 71, "Weight_Lbs": 180,
                        "Senior_YPG": 85, "senior_avg": 15.5, "Senior_rec_td": 9})
    assert (wr.values["senior_rec_ypg"], wr.values["senior_avg"], wr.values["senior_tds"]) == (
        85, 15.5, 9)


def test_two_spellings_with_different_values_name_both(client):
    response = client.post("/predict", json={**QB, "Height_Inches": 73})
    assert response.status_code == 422, response.text
    assert detail(response) == ("height_inches: given twice with different values: "
                                "'height_inches'=72, 'Height_Inches'=73")
    position = client.post("/predict", json={**QB, "Position": "wr"})
    assert position.status_code == 422
    assert detail(position).startswith("position: given twice with different values")
    batch = client.post("/predict/batch", json=[QB, {**QB, "Weight_Lbs": "210"}])
    assert [e["field"] for e in batch.json()["errors"]] == ["athletes[1].weight_lbs"]


def test_an_ignored_field_given_twice_is_ignored_twice_and_an_input_twice_is_refused():
    from recruit_reveal.api.http_errors import ApiError

    athlete = parse_athlete({**QB, "Foo": 1, "foo": 2, "": 3, "\f": 4})
    assert athlete.ignored == ["name", "Foo", "foo", "", "\f"]  # in the order sent
    with pytest.raises(ApiError, match="given twice"):
        parse_athlete({**QB, "Height_Inches": 73})
