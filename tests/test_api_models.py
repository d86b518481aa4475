"""api.routers.models, api.listings and api.store: listings from the typed metadata,
the admin hot switch (auth, bad versions, under load), models that cannot predict."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from api_support import AUTH, QB, SAMPLES, TOKEN, add_version, broken_pipeline, detail, settings
from fastapi.testclient import TestClient

from recruit_reveal.api.app import create_app
from recruit_reveal.artifacts import registry
from recruit_reveal.schema import DIVISIONS, POSITIONS


def test_models_listing(two_versions):
    app = create_app(settings(), models_dir=two_versions)
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
            assert set(v) == {"version", "created_at", "served", "metrics", "training_rows",
                              "estimator"}
            assert v["training_rows"] > 0 and v["estimator"]

        detail_ = c.get("/models/QB").json()
        assert detail_["version"] == "1.0.0"
        assert detail_["available_versions"] == ["1.0.0", "1.1.0"]
        assert detail_["input_schema"]["required"] == ["height_inches", "weight_lbs",
                                                       "senior_ypg"]
        assert detail_["metrics"]["exact_accuracy"] == qb["metrics"]["exact_accuracy"]
        assert detail_["classes"] == list(DIVISIONS)
        assert detail_["data_fingerprint"]["rows"] == qb["versions"][0]["training_rows"]
        assert "versions" not in detail_

        versions = c.get("/models/qb/versions").json()
        assert versions["served_version"] == "1.0.0" and versions["total_versions"] == 2
        assert c.get("/models/te").status_code == 404
        assert c.get("/models/te/versions").status_code == 404


def test_listing_answers_the_metadata_as_stored(two_versions):
    import json

    from recruit_reveal.artifacts import layout

    stored = json.loads(layout.metadata_path(two_versions, "qb", "1.1.0").read_text())
    with TestClient(create_app(settings(), models_dir=two_versions)) as c:
        detail_ = c.get("/models/qb").json()
        entry = c.get("/models/qb/versions").json()["versions"][1]
    served = json.loads(layout.metadata_path(two_versions, "qb", "1.0.0").read_text())
    assert detail_["data_fingerprint"] == served["data_fingerprint"]
    assert detail_["input_schema"] == served["input_schema"]
    # as stored, to the 6 places every answer quotes
    assert entry["metrics"] == {name: round(stored["metrics"]["cv"][name]["mean"], 6)
                                for name in ("exact_accuracy", "within_one_accuracy",
                                             "macro_f1", "log_loss")}
    assert entry["created_at"] == stored["created_at"]


def test_unreadable_version_is_listed_with_its_error(two_versions):
    from recruit_reveal.artifacts import layout

    layout.metadata_path(two_versions, "qb", "1.1.0").write_text("{not json")
    with TestClient(create_app(settings(), models_dir=two_versions)) as c:
        entry = c.get("/models/qb/versions").json()["versions"][1]
    assert set(entry) == {"version", "error"} and entry["version"] == "1.1.0"


# --------------------------------------------------------------------------- switching

@pytest.fixture
def broken_version(two_versions, trained_results):
    """qb 1.2.0 is a model that loads but cannot predict."""
    from dataclasses import replace

    add_version(two_versions, replace(trained_results["qb"], pipeline=broken_pipeline()),
                "1.2.0", "broken on purpose")
    return two_versions


def test_model_that_cannot_predict_is_never_served(broken_version):
    app = create_app(settings(admin_token=TOKEN), models_dir=broken_version,
                     versions={"qb": "1.2.0"})
    with TestClient(app) as c:
        qb = c.get("/health").json()["models"]["qb"]
        assert qb["version"] == "1.0.0" and qb["requested"] == "1.2.0"
        assert "1.2.0" in qb["reason"] and "test prediction" in qb["reason"]
        response = c.post("/models/qb/switch?version=1.2.0", headers=AUTH)
        assert response.status_code == 409 and "test prediction" in detail(response)
        assert c.post("/predict/1.2.0", json=QB).status_code == 409
        assert c.post("/predict", json=QB).json()["model_version"] == "1.0.0"


def test_switch_auth(two_versions):
    with TestClient(create_app(settings(), models_dir=two_versions)) as c:
        disabled = c.post("/models/qb/switch?version=1.1.0", headers=AUTH)
        assert disabled.status_code == 403 and "ADMIN_TOKEN" in detail(disabled)
    with TestClient(create_app(settings(admin_token=TOKEN), models_dir=two_versions)) as c:
        assert c.post("/models/qb/switch?version=1.1.0").status_code == 401
        wrong = c.post("/models/qb/switch?version=1.1.0",
                       headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        basic = c.post("/models/qb/switch?version=1.1.0",
                       headers={"Authorization": f"Basic {TOKEN}"})
        assert basic.status_code == 401
        assert c.get("/health").json()["models"]["qb"]["version"] == "1.0.0"


def test_switch_and_bad_versions_keep_the_served_model(two_versions):
    with TestClient(create_app(settings(admin_token=TOKEN), models_dir=two_versions)) as c:
        for version, status in [("9.9.9", 404), ("../x", 422), ("1.0", 422), ("", 422),
                                ("latest", 422)]:
            response = c.post(f"/models/qb/switch?version={version}", headers=AUTH)
            assert response.status_code == status, (version, response.text)
            assert "version" in detail(response)
        missing = c.post("/models/qb/switch", headers=AUTH)
        assert missing.status_code == 422 and detail(missing).startswith("version")
        assert c.post("/models/te/switch?version=1.0.0", headers=AUTH).status_code == 404
        assert c.get("/health").json()["models"]["qb"]["version"] == "1.0.0"

        ok = c.post("/models/qb/switch", headers=AUTH,
                    params={"version": "1.1.0", "reason": "better calibrated", "by": "ana"})
        assert ok.status_code == 200
        release = ok.json()["release"]
        assert ok.json() == {"position": "qb", "previous_version": "1.0.0", "version": "1.1.0",
                             "reason": f"release {release}: promote through api by ana: "
                                       "better calibrated", "release": release}
        # The switch is a promote in the models folder, recorded as made through the API.
        entry = registry.history(two_versions).current
        assert (entry.id, entry.how, entry.by, entry.reason, entry.versions["qb"]) == (
            release, "api", "ana", "better calibrated", "1.1.0")
        assert registry.load("qb", models_dir=two_versions).version == "1.1.0"
        assert c.post("/predict", json=QB).json()["model_version"] == "1.1.0"
        assert c.get("/health").json()["models"]["qb"]["version"] == "1.1.0"
        assert c.get("/models").json()["available_models"]["qb"]["version"] == "1.1.0"
        # Other positions are untouched.
        assert c.post("/predict", json=SAMPLES[1]).json()["model_version"] == "1.0.0"


def test_predictions_keep_succeeding_while_versions_switch(two_versions):
    app = create_app(settings(admin_token=TOKEN), models_dir=two_versions)
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
                           headers=AUTH)
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


@pytest.mark.parametrize("path", ["/models", "/models/qb", "/models/qb/versions"])
def test_a_stalled_models_folder_read_does_not_stall_other_requests(models_dir, monkeypatch,
                                                                   path):
    # The listing's read of the models folder hangs until released: if it ran on the
    # event loop, /health and /predict would wait for it too.
    app = create_app(settings(), models_dir=models_dir)
    reading, release = threading.Event(), threading.Event()
    real = registry.list_versions

    def stalled(*args, **kwargs):
        reading.set()
        release.wait(30)
        return real(*args, **kwargs)

    with TestClient(app) as c, ThreadPoolExecutor(3) as pool:
        monkeypatch.setattr(registry, "list_versions", stalled)
        try:
            slow = pool.submit(c.get, path)
            assert reading.wait(10), "the listing never read the models folder"
            health = pool.submit(c.get, "/health").result(timeout=10)
            predicted = pool.submit(c.post, "/predict", json=QB).result(timeout=10)
            assert health.status_code == 200 and predicted.status_code == 200
            assert not slow.done()
        finally:
            release.set()
        assert slow.result(timeout=30).status_code == 200
