"""api.schemas: /openapi.json is the truth.

Schemathesis runs in-process against the ASGI app over every operation, with
every check: whatever the schema calls valid is accepted, everything else is
a 4xx, and every answer matches its declared model and status.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import hypothesis
import pytest
import schemathesis
from api_support import AUTH, QB, TOKEN, settings
from fastapi.testclient import TestClient
from schemathesis.config import SchemathesisConfig

from recruit_reveal.api.app import create_app
from recruit_reveal.api.parsing import parse_athlete
from recruit_reveal.api.payloads import VERSION_PATTERN, request_model
from recruit_reveal.artifacts import layout
from recruit_reveal.data.columns import column_name
from recruit_reveal.data.production import rate_of
from recruit_reveal.errors import VersionError
from recruit_reveal.schema import POSITIONS, column, columns_for, parse_height

#: A small MAX_BATCH, so the batch limit (422 above it, the schema's maxItems) is fuzzed
#: at its boundary too.
BATCH_LIMIT = 4

#: A fixed seed for reproducible runs; schemathesis' expected statuses of invalid requests
#: (a request the schema calls invalid must not get 413: that is for oversized bodies).
CONFIG = {"seed": 20260101, "checks": {"negative_data_rejection": {"expected-statuses": [
    "400", "401", "403", "404", "405", "406", "409", "415", "422", "428", "429"]}},
    # An Open Inference Protocol request is a list of tensors whose rules across tensors (one
    # row count for all, shape times data, the position's required columns and ranges, which
    # depend on the URL) JSON Schema cannot state: a schema-valid request may break them and
    # is answered 400 naming the input.  tests/test_api_inference_v2.py checks that requests
    # keeping them are accepted.
    "operations": [{"include-path-regex": "^/v2/models/.*/infer$", "checks": {
        "positive_data_acceptance": {"expected-statuses": [
            "2xx", "400", "404", "409", "429", "5xx"]}}}]}


def _app(models_dir):
    return create_app(settings(admin_token=TOKEN, max_batch=BATCH_LIMIT), models_dir=models_dir)


# The schema is read at collection time from an app without models (the OpenAPI does not
# depend on them); the cases are sent to the same app serving the trained fixture models.
# (schemathesis.pytest.from_fixture would do this lazily, but breaks on pytest 9.)
schema = schemathesis.openapi.from_asgi("/openapi.json", _app("models-not-needed-here"),
                                        config=SchemathesisConfig.from_dict(CONFIG))


@pytest.fixture(scope="module")
def served_app(exported_models_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("schemathesis") / "models"
    shutil.copytree(exported_models_dir, folder)  # the switch endpoint is exercised too
    return _app(folder)


def _names(body: object) -> Iterator[str]:
    """Every field name of a body, at any depth (and MLflow's dataframe_split columns)."""
    if isinstance(body, dict):
        for key, value in body.items():
            yield str(key)
            if key == "columns" and isinstance(value, list):
                yield from (str(v) for v in value)
            yield from _names(value)
    elif isinstance(body, list):
        for value in body:
            yield from _names(value)


def _undeclared_input_name(name: str) -> bool:
    """A name the schema leaves undeclared that the column-matching rule reads as an input
    ("vert", "Standing Broad Jump")."""
    inputs = {c.name for pos in POSITIONS for c in columns_for(pos)}
    return name not in inputs and any(column_name(name, pos) in inputs
                                      for pos in (None, *POSITIONS))


def filter_body(context, body) -> bool:
    # The schema declares each input under its canonical name only, on purpose
    # (api.payloads.documented_athlete: "this input under any of its names" is more than a
    # fuzzer can generate from), so an extra field is "anything" to it; the service reads an
    # extra field that is another spelling of an input as that input, with its rules
    # (tests/test_api_parsing.py).  Such bodies are outside what the schema describes.
    return not any(_undeclared_input_name(name) for name in _names(body))


@schema.hooks.apply(filter_body)
@schema.parametrize()
@hypothesis.settings(max_examples=100, deadline=None, derandomize=True, database=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
def test_every_operation_conforms_to_the_schema(case, served_app):
    case.call_and_validate(headers=AUTH, app=served_app)


def test_the_fuzzer_skips_only_bodies_naming_an_input_by_another_spelling():
    assert filter_body(None, {"position": "qb", "height_inches": 72, "name": "x", "": 1})
    assert filter_body(None, {"dataframe_split": {"columns": ["weight_lbs"], "data": [[200]]}})
    for other in ({"vert": 30}, {"athletes": [{"Standing Broad Jump": {}}]},
                  {"dataframe_split": {"columns": ["Height"], "data": [[72]]}}):
        assert not filter_body(None, other), other


# --------------------------------------------------------------------------- the schema itself

def test_version_pattern_is_the_registry_rule():
    pattern = re.compile(VERSION_PATTERN)
    for text in ("0.0.0", "1.0.0", "10.20.30", "999999999.0.1", "1.0", "01.0.0", "v1.0.0",
                 "1.0.0-rc1", "latest", "", "1.0.0\n", "1.0.0/../x", "1000000000.0.0", "١.0.0"):
        try:
            layout.parse_version(text)
            valid = True
        except VersionError:
            valid = False
        assert bool(pattern.fullmatch(text)) == valid, text


def test_request_models_come_from_the_data_contract():
    for pos in POSITIONS:
        doc = request_model(pos).model_json_schema()
        cols = columns_for(pos)
        rate = rate_of(pos)
        assert rate is not None
        assert set(doc["properties"]) == {"position", "athlete_ref", *(c.name for c in cols)}
        # The per-game rate is derived from a total and games, or integrated over.
        assert doc["required"] == ["position", *(c.name for c in cols if c.required
                                                 and c.name != rate.rate)]
        assert rate.rate in doc["properties"]
        assert sorted(doc["properties"]["position"]["enum"], key=str.lower)[0].lower() == pos
        for col in cols:
            if col.kind == "state" or col.name == "height_inches":
                continue
            prop = doc["properties"][col.name]
            required = col.required and col.name != rate.rate
            number = prop if required else prop["anyOf"][0]
            assert number["type"] == ("integer" if col.kind == "int" else "number")
            assert (number["minimum"], number["maximum"]) == (col.low, col.high)


@hypothesis.given(data=hypothesis.strategies.data())
@hypothesis.settings(max_examples=200, deadline=None, derandomize=True, database=None)
def test_every_height_text_the_schema_allows_is_read_within_the_range(data):
    col = column("qb", "height_inches")
    prop = request_model("qb").model_json_schema()["properties"]["height_inches"]
    pattern = next(c["pattern"] for c in prop["anyOf"] if c["type"] == "string")
    text = data.draw(hypothesis.strategies.from_regex(pattern, fullmatch=True))
    assert col.low <= parse_height(text) <= col.high
    assert parse_athlete({**QB, "height_inches": text}).values["height_inches"] == \
        parse_height(text)


def test_openapi_docs(exported_models_dir):
    with TestClient(create_app(settings(), models_dir=exported_models_dir)) as client:
        assert client.get("/docs").status_code == 200
        spec = client.get("/openapi.json").json()
    for path in ("/predict", "/predict/batch", "/predict/{version}", "/models",
                 "/models/{position}", "/models/{position}/versions",
                 "/models/{position}/switch", "/health", "/health/ready", "/health/live"):
        assert path in spec["paths"], path
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    names = {s["title"] for s in body["schema"]["oneOf"]}
    assert names == {"QbAthlete", "RbAthlete", "WrAthlete"}
    switch = spec["paths"]["/models/{position}/switch"]["post"]
    version = next(p for p in switch["parameters"] if p["name"] == "version")
    assert version["required"] is True and version["schema"]["pattern"] == VERSION_PATTERN
    assert {"401", "403", "404", "409", "422"} <= set(switch["responses"])
    batch = spec["paths"]["/predict/batch"]["post"]["requestBody"]["content"]
    assert batch["application/json"]["schema"]["oneOf"][0]["maxItems"] == 10_000
