"""api.routers.health: liveness, readiness, and healthy/degraded per position."""

from __future__ import annotations

import hashlib
import json
import pickle

import pytest
from api_support import SAMPLES, TOKEN, detail, settings
from fastapi.testclient import TestClient
from legacy_models import Trap, strip_skops

from recruit_reveal.api.app import create_app
from recruit_reveal.artifacts import layout
from recruit_reveal.schema import POSITIONS


@pytest.fixture(scope="module")
def client(exported_models_dir):
    app = create_app(settings(admin_token=TOKEN), models_dir=exported_models_dir)
    with TestClient(app) as c:
        yield c


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
        assert entry["format"] == "skops"
    assert health["pickle_loading"] is False
    assert client.get("/health/live").json() == {"status": "alive"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True


def test_no_models_is_degraded_and_503(tmp_path):
    app = create_app(settings(), models_dir=tmp_path / "nothing-here")
    with TestClient(app) as c:
        health = c.get("/health").json()
        assert health["status"] == "degraded"
        assert health["models_loaded"] == 0 and health["available_positions"] == []
        assert all(not m["loaded"] and m["reason"] for m in health["models"].values())
        assert all(m["version"] is None for m in health["models"].values())
        for athlete in SAMPLES:
            response = c.post("/predict", json=athlete)
            assert response.status_code == 503
            assert athlete["position"] in detail(response)
        assert c.post("/predict/batch", json=SAMPLES).status_code == 503
        not_ready = c.get("/health/ready")
        assert not_ready.status_code == 503 and not_ready.json()["ready"] is False
        assert not_ready.json()["status"] == "degraded"
        assert c.get("/health/live").status_code == 200
        assert c.get("/models").json()["total_models"] == 0


def test_one_position_missing_is_degraded(models_dir):
    for path in models_dir.glob("recruit_reveal_rb_*"):
        path.unlink()
    with TestClient(create_app(settings(), models_dir=models_dir)) as c:
        health = c.get("/health").json()
        assert health["status"] == "degraded" and health["available_positions"] == ["qb", "wr"]
        assert c.get("/health/ready").status_code == 200
        assert c.post("/predict", json=SAMPLES[0]).status_code == 200
        unavailable = c.post("/predict", json=SAMPLES[1])
        assert unavailable.status_code == 503 and "'rb'" in detail(unavailable)




def test_a_crafted_pickle_in_a_folder_stripped_of_skops_is_never_served(models_dir, tmp_path):
    marker = tmp_path / "ran"
    strip_skops(models_dir)
    crafted = pickle.dumps(Trap(str(marker)))
    pkl = layout.artifact_path(models_dir, "qb", "1.0.0")
    pkl.unlink()
    pkl.write_bytes(crafted)
    meta = layout.metadata_path(models_dir, "qb", "1.0.0")
    doc = json.loads(meta.read_text())
    doc["artifact"].update(sha256=hashlib.sha256(crafted).hexdigest(), size=len(crafted))
    meta.write_text(json.dumps(doc))
    with TestClient(create_app(settings(), models_dir=models_dir)) as c:
        health = c.get("/health").json()
        assert health["status"] == "degraded" and health["models_loaded"] == 0
        assert health["pickle_loading"] is False
        for pos in POSITIONS:
            entry = health["models"][pos]
            assert not entry["loaded"] and entry["format"] is None
            assert f"models migrate {pos} 1.0.0 --trust-pickle" in entry["reason"]
        assert c.post("/predict", json=SAMPLES[0]).status_code == 503
    assert not marker.exists()


def test_allow_pickle_serves_a_pickle_only_folder_and_health_says_so(models_dir, monkeypatch):
    strip_skops(models_dir)
    monkeypatch.setenv("ALLOW_PICKLE", "1")
    with TestClient(create_app(settings(), models_dir=models_dir)) as c:
        health = c.get("/health").json()
        assert health["status"] == "healthy" and health["pickle_loading"] is True
        for pos in POSITIONS:
            entry = health["models"][pos]
            assert entry["format"] == "pickle" and "ALLOW_PICKLE=1" in entry["reason"]
        assert c.post("/predict", json=SAMPLES[0]).status_code == 200
        spec = c.get("/openapi.json").json()["components"]["schemas"]
        assert "pickle_loading" in spec["HealthResponse"]["properties"]
        assert "format" in spec["PositionHealth"]["properties"]
