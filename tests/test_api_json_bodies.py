"""api.json_bodies: one reading of JSON bodies for every JSON route, its errors spoken to the
client: a number too long to parse refused by the field's name, 415 for a body declared as
anything but JSON on every JSON route, and each message saying "got" once."""

from __future__ import annotations

import json

import pytest
from api_support import QB, detail, settings
from fastapi.testclient import TestClient

from recruit_reveal.api.app import create_app
from recruit_reveal.api.http_errors import ApiError
from recruit_reveal.api.json_bodies import TooLongNumber, loads, require_json

LONG = "9" * 5000


@pytest.fixture(scope="module")
def client(exported_models_dir):
    with TestClient(create_app(settings(), models_dir=exported_models_dir)) as c:
        yield c


def test_a_too_long_integer_becomes_a_marker_and_a_short_one_an_int():
    doc = loads(f'{{"a": {LONG}, "b": -12, "c": [1.5]}}'.encode())
    assert isinstance(doc["a"], TooLongNumber) and str(doc["a"]) == "a 5,000-digit number"
    assert doc["b"] == -12 and doc["c"] == [1.5]


@pytest.mark.parametrize("body, words", [
    (b'{"a": 1', "malformed JSON at line 1 column 8"),
    (b'{"a": "\xff"}', "malformed JSON: the body is not UTF-8 text"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deep"),
])
def test_a_body_that_is_not_json_is_400_saying_where(body, words):
    with pytest.raises(ApiError) as info:
        loads(body, "body: ")
    assert info.value.status == 400 and str(info.value).startswith("body: ")
    assert words in str(info.value)


@pytest.mark.parametrize("content_type", [None, "", "application/json",
                                          "application/json; charset=utf-8",
                                          "application/vnd.api+json"])
def test_json_or_no_content_type_is_accepted(content_type):
    require_json(content_type)


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain",
                                          "text/csv", "multipart/form-data; boundary=x"])
def test_any_other_declared_type_is_415(content_type):
    with pytest.raises(ApiError) as info:
        require_json(content_type)
    assert info.value.status == 415 and "is not JSON" in str(info.value)


@pytest.mark.parametrize("route, body", [
    ("/predict", None), ("/predict/batch", "list"), ("/what-if", None)])
def test_a_5000_digit_number_is_refused_naming_the_field(client, route, body):
    athlete = json.dumps({**QB, "senior_tds": 0}).replace('"senior_tds": 0',
                                                          f'"senior_tds": {LONG}')
    text = f"[{athlete}]" if body == "list" else athlete
    if route == "/what-if":
        text = f'{{"base_data": {athlete}, "modifications": {{"forty_yard_dash": 4.6}}}}'
    response = client.post(route, content=text, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    message = detail(response)
    assert "senior_tds" in message and "5,000-digit number" in message
    assert "set_int_max_str_digits" not in message and "4300" not in message


def test_invocations_refuses_a_too_long_number_naming_the_field(client):
    athlete = json.dumps({**QB, "senior_tds": 0}).replace('"senior_tds": 0',
                                                          f'"senior_tds": {LONG}')
    body = f'{{"dataframe_records": [{athlete}]}}'
    response = client.post("/models/qb/invocations", content=body,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert "senior_tds" in message and "5,000-digit number" in message


def test_text_for_a_number_says_got_once(client):
    response = client.post("/predict", json={**QB, "weight_lbs": "200"})
    assert response.status_code == 422
    message = detail(response)
    assert message.count("got") == 1 and "got text '200'" in message


@pytest.mark.parametrize("route", ["/predict", "/predict/batch", "/what-if",
                                   "/models/qb/invocations", "/invocations",
                                   "/v2/models/qb/infer"])
def test_every_json_route_answers_415_to_a_form(client, route):
    response = client.post(route, data={"position": "qb", "height_inches": "74"})
    assert response.status_code == 415, response.text
    assert "x-www-form-urlencoded" in response.text
