"""Request ids and the log format (recruit_reveal.api.request_ids): X-Request-ID accepted,
replaced or made and echoed, carried into log records, and LOG_FORMAT=json lines."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re

import httpx
import pytest
from api_support import QB, SAMPLES, settings
from fastapi.testclient import TestClient
from test_api_serve import serving

from recruit_reveal.api import request_ids
from recruit_reveal.api.app import create_app, uvicorn_options
from recruit_reveal.errors import RecruitRevealError
from recruit_reveal.settings import load_settings

HEX_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def client(exported_models_dir):
    with TestClient(create_app(settings(log_format="json"), models_dir=exported_models_dir)) as c:
        yield c


@pytest.mark.parametrize("given", ["abc-123", "0f8fad5b-d9cb-469f-a165-70867728950e",
                                   "trace.1:span_2", "x" * request_ids.MAX_LENGTH])
def test_a_safe_request_id_is_echoed(client, given):
    answer = client.get("/health/live", headers={"X-Request-ID": given})
    assert answer.headers["X-Request-ID"] == given


@pytest.mark.parametrize("given", ["", "has space", "quote\"", "x" * (request_ids.MAX_LENGTH + 1),
                                   "new\\nline", "é"])
def test_an_unsafe_request_id_is_replaced(client, given):
    answer = client.get("/health/live", headers={"X-Request-ID": given.encode("utf-8")})
    assert HEX_ID.fullmatch(answer.headers["X-Request-ID"])


def test_an_id_is_made_for_every_answer_even_errors(client):
    ids = [client.get("/health/live").headers["X-Request-ID"],
           client.get("/no/such/route").headers["X-Request-ID"],
           client.post("/predict", json={"position": "qb"}).headers["X-Request-ID"]]
    assert all(HEX_ID.fullmatch(i) for i in ids) and len(set(ids)) == 3


def test_the_access_line_carries_the_id_route_status_and_model(client, caplog):
    caplog.set_level(logging.INFO, logger=request_ids.ACCESS_LOGGER)
    client.post("/predict", json=QB, headers={"X-Request-ID": "req-1"})
    client.get("/models/wr", headers={"X-Request-ID": "req-2"})
    client.post("/predict/batch", json=SAMPLES, headers={"X-Request-ID": "req-3"})
    lines = {r.request_id: r for r in caplog.records if r.name == request_ids.ACCESS_LOGGER}
    one, listing, batch = lines["req-1"], lines["req-2"], lines["req-3"]
    assert (one.route, one.status, one.position, one.version) == ("/predict", 200, "qb", "1.0.0")
    assert one.duration_ms > 0 and one.getMessage() == '"POST /predict" 200'
    assert (listing.route, listing.status) == ("/models/{position}", 200)
    assert not hasattr(listing, "position")
    assert batch.position == "qb,rb,wr" and batch.version == "1.0.0,1.0.0,1.0.0"


def test_no_access_line_from_the_app_in_text_mode(exported_models_dir, caplog):
    caplog.set_level(logging.INFO, logger=request_ids.ACCESS_LOGGER)
    with TestClient(create_app(settings(), models_dir=exported_models_dir)) as c:
        c.get("/health/live")
    assert not [r for r in caplog.records if r.name == request_ids.ACCESS_LOGGER]


def test_records_made_during_a_request_carry_its_id():
    request_ids.install_record_factory()
    seen: list[tuple[str | None, str | None]] = []

    async def app(scope, receive, send):
        record = logging.getLogger("test").makeRecord("test", logging.INFO, "f", 1, "m", (),
                                                      None)
        seen.append((request_ids.current_request_id(), getattr(record, "request_id", None)))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b""}

    middleware = request_ids.RequestIdMiddleware(app)
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"x-request-id",
                                                                          b"abc")]}
    asyncio.run(middleware(scope, receive, send))
    assert seen == [("abc", "abc")]
    assert (b"x-request-id", b"abc") in sent[0]["headers"]
    assert request_ids.current_request_id() is None  # reset after the request


def test_the_json_handler_writes_one_object_per_record():
    handler = request_ids.stderr_handler("json")
    stream = io.StringIO()
    handler.setStream(stream)
    logger = logging.getLogger("recruit_reveal.test_json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("hello %s", "there", extra={"request_id": "r-9", "status": 503})
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    line = json.loads(stream.getvalue())
    assert line["message"] == "hello there" and line["level"] == "WARNING"
    assert line["logger"] == "recruit_reveal.test_json" and line["time"].startswith("20")
    assert (line["request_id"], line["status"]) == ("r-9", 503)


def test_log_format_setting_and_uvicorn_options():
    assert load_settings({}).log_format == "text"
    json_settings = load_settings({"LOG_FORMAT": " JSON "})
    assert json_settings.log_format == "json"
    with pytest.raises(RecruitRevealError, match="LOG_FORMAT"):
        load_settings({"LOG_FORMAT": "xml"})
    options = uvicorn_options(json_settings)
    assert options["access_log"] is False  # the service writes its own, with the id
    assert options["log_config"]["formatters"]["app"]["()"].startswith("pythonjsonlogger")
    text = uvicorn_options(load_settings({}))
    assert text["access_log"] is True and "()" not in text["log_config"]["formatters"]["app"]


def test_serve_two_workers_log_json_with_request_ids(exported_models_dir, tmp_path):
    log = tmp_path / "server.log"
    with serving(exported_models_dir, log, "--workers", "2", LOG_FORMAT="json") as url:
        with httpx.Client(base_url=url, timeout=30) as c:
            for i in range(6):
                answer = c.post("/predict", json=QB, headers={"X-Request-ID": f"json-{i}"})
                assert answer.status_code == 200 and answer.headers["X-Request-ID"] == f"json-{i}"
            made = httpx.get(f"{url}/health/live", timeout=10).headers["X-Request-ID"]
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    access = {line["request_id"]: line for line in lines
              if line["logger"] == request_ids.ACCESS_LOGGER}
    assert {f"json-{i}" for i in range(6)} | {made} <= set(access)
    first = access["json-0"]
    assert (first["route"], first["status"], first["position"], first["version"]) \
        == ("/predict", 200, "qb", "1.0.0")
    assert first["duration_ms"] > 0
    assert any("Recruit Reveal" in line["message"] for line in lines)  # the workers' banner
