"""api.routers.health: liveness, readiness, and healthy/degraded per position."""

from __future__ import annotations

import pytest
from api_support import SAMPLES, TOKEN, detail, settings
from fastapi.testclient import TestClient

from recruit_reveal.api.app import create_app
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
