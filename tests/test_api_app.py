"""api.app and api.middleware: the factory and its settings, lifespan loading, the startup
banner, version selection from the environment, CORS, body limits, one real uvicorn server."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
from api_support import QB, SAMPLES, detail, settings
from fastapi.testclient import TestClient

from recruit_reveal.api.app import create_app
from recruit_reveal.errors import RecruitRevealError, VersionError


def test_create_app_takes_settings_a_models_folder_or_overrides(exported_models_dir, tmp_path):
    app = create_app(settings(admin_token="t"), models_dir=exported_models_dir,
                     versions={"qb": "1.0.0"}, max_batch=7)
    assert app.state.settings.admin_token == "t" and app.state.settings.max_batch == 7
    assert app.state.settings.versions == {"qb": "1.0.0", "rb": "latest", "wr": "latest"}
    assert app.state.store.models_dir == exported_models_dir
    # The earlier form: the models folder as the first argument.
    assert create_app(tmp_path).state.settings.model_dir == tmp_path
    with pytest.raises(TypeError):
        create_app(tmp_path, models_dir=tmp_path)
    with pytest.raises(VersionError, match="argument MODEL_VERSION_RB"):
        create_app(settings(), versions={"rb": "v1"})
    with pytest.raises(RecruitRevealError, match="argument PORT"):
        create_app(settings(), port=0)


def test_package_and_factory_entry_points(monkeypatch, tmp_path):
    import recruit_reveal

    for name in ("MODEL_VERSION", "MODEL_VERSION_QB", "MODEL_VERSION_RB", "MODEL_VERSION_WR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MODEL_DIR", str(tmp_path))
    assert recruit_reveal.create_app is create_app
    assert create_app().state.settings.model_dir == tmp_path  # uvicorn --factory
    monkeypatch.setenv("MODEL_VERSION", "../x")
    with pytest.raises(VersionError, match="environment variable MODEL_VERSION"):
        create_app()


def test_models_load_in_lifespan_not_in_create_app(models_dir):
    app = create_app(settings(), models_dir=models_dir)
    assert app.state.store.get("qb").reason == "not loaded yet"
    with TestClient(app) as c:
        assert c.get("/health").json()["models_loaded"] == 3


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


# --------------------------------------------------------------------------- middleware

def test_cors_allows_configured_origins(exported_models_dir):
    app = create_app(settings(allowed_origins=("https://app.example",)),
                     models_dir=exported_models_dir)
    with TestClient(app) as c:
        ok = c.options("/predict", headers={"Origin": "https://app.example",
                                            "Access-Control-Request-Method": "POST"})
        assert ok.headers.get("access-control-allow-origin") == "https://app.example"
        other = c.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_body_too_large_by_content_length(exported_models_dir):
    app = create_app(settings(max_body_bytes=1000), models_dir=exported_models_dir)
    with TestClient(app) as c:
        response = c.post("/predict", json={**QB, "padding": "x" * 2000})
        assert response.status_code == 413
        assert "1000 bytes" in detail(response)
        assert c.post("/predict", json=QB).status_code == 200


def test_body_too_large_when_streamed(exported_models_dir):
    app = create_app(settings(max_body_bytes=1000), models_dir=exported_models_dir)

    def chunks():  # no Content-Length: the size is only known while reading
        yield b'{"position": "qb", "padding": "'
        for _ in range(20):
            yield b"x" * 100
        yield b'"}'

    with TestClient(app) as c:
        response = c.post("/predict", content=chunks(),
                          headers={"Content-Type": "application/json"})
        assert response.status_code == 413, response.text


# --------------------------------------------------------------------------- real server

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_uvicorn_server_over_http(exported_models_dir):
    import uvicorn

    port = _free_port()
    app = create_app(settings(), models_dir=exported_models_dir)
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
            big = http.post("/predict", content=b"x" * (settings().max_body_bytes + 1),
                            headers={"Content-Type": "application/json"})
            assert big.status_code == 413
    finally:
        server.should_exit = True
        thread.join(timeout=15)
    assert not thread.is_alive()
