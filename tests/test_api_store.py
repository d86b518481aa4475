"""api.store: following the models folder's release (promote, rollback, pinned positions,
a release that cannot be served) and the app's poller that applies it."""

from __future__ import annotations

import hashlib
import json
import pickle
import time
from dataclasses import replace

from api_support import QB, SAMPLES, add_version, broken_pipeline, settings
from fastapi.testclient import TestClient
from legacy_models import Trap, strip_skops

from recruit_reveal.api.app import create_app
from recruit_reveal.api.store import ModelStore, ServedModel
from recruit_reveal.artifacts import layout, manifest, migration, registry
from recruit_reveal.schema import POSITIONS

FOLLOW_ALL = {pos: "latest" for pos in POSITIONS}


def served_versions(store: ModelStore) -> dict[str, str | None]:
    return {pos: model.version for pos, model in store.snapshot().items()}


def test_store_follows_promote_and_rollback_made_elsewhere(two_versions):
    store = ModelStore(two_versions, FOLLOW_ALL)
    store.load_all()
    first = store.release.release
    assert served_versions(store) == {"qb": "1.0.0", "rb": "1.0.0", "wr": "1.0.0"}
    assert store.follow() is False  # nothing changed: nothing reloaded
    untouched = store.get("rb")

    registry.promote("qb", "1.1.0", two_versions, how="cli", by="ana", reason="retrained")
    assert store.follow() is True
    qb = store.get("qb")
    assert isinstance(qb, ServedModel) and qb.version == "1.1.0" and qb.requested == "latest"
    assert "through cli by ana: retrained" in qb.reason
    assert store.get("rb") is untouched  # unchanged positions keep their loaded model
    promoted = store.release.release
    assert promoted is not None and first is not None and promoted.id > first.id
    assert promoted.versions["qb"] == "1.1.0" and store.release.problem is None
    assert store.follow() is False

    registry.rollback(two_versions, how="cli", by="ana")
    assert store.follow() is True
    assert served_versions(store)["qb"] == "1.0.0"
    assert store.release.release.action == "rollback"


def test_pinned_positions_do_not_follow(two_versions):
    store = ModelStore(two_versions, {**FOLLOW_ALL, "qb": "1.0.0"})
    store.load_all()
    assert store.release.following == ("rb", "wr")
    registry.promote("qb", "1.1.0", two_versions, how="cli")
    assert store.follow() is True
    assert served_versions(store)["qb"] == "1.0.0"
    assert store.release.release.versions["qb"] == "1.1.0"


def test_a_release_that_cannot_be_served_keeps_the_served_model(two_versions,
                                                                trained_results):
    add_version(two_versions, replace(trained_results["qb"], pipeline=broken_pipeline()),
                "1.2.0", "broken on purpose")
    store = ModelStore(two_versions, FOLLOW_ALL)
    store.load_all()
    # Written without the registry's check, as a careless script or another host might.
    bad = manifest.promote(two_versions, "qb", "1.2.0", how="cli", by="script")
    assert store.follow() is True
    assert served_versions(store)["qb"] == "1.0.0"
    assert store.release.release.id == bad.id
    assert "qb 1.2.0" in store.release.problem and "test prediction" in store.release.problem
    assert store.follow() is False  # not retried until the release changes

    registry.promote("qb", "1.1.0", two_versions, how="cli")
    assert store.follow() is True
    assert served_versions(store)["qb"] == "1.1.0" and store.release.problem is None


def test_the_app_serves_a_new_release_within_a_poll(two_versions):
    app = create_app(settings(release_poll_seconds=0.1), models_dir=two_versions)
    with TestClient(app) as c:
        before = c.get("/health").json()["release"]
        assert before["versions"] == {"qb": "1.0.0", "rb": "1.0.0", "wr": "1.0.0"}
        assert before["following"] == list(POSITIONS)
        made = registry.promote("qb", "1.1.0", two_versions, how="cli", by="ana")
        assert made.version == "1.1.0"
        deadline = time.monotonic() + 10
        while c.post("/predict", json=QB).json()["model_version"] != "1.1.0":
            assert time.monotonic() < deadline, "the promote was not followed in 10 s"
            time.sleep(0.05)
        after = c.get("/health").json()["release"]
        assert after["id"] > before["id"] and after["how"] == "cli" and after["by"] == "ana"
        assert after["versions"]["qb"] == "1.1.0" and after["problem"] is None
        batch = c.post("/predict/batch", json=SAMPLES).json()
        assert batch["model_versions"] == {"qb": "1.1.0", "rb": "1.0.0", "wr": "1.0.0"}


def test_polling_can_be_turned_off(two_versions):
    app = create_app(settings(release_poll_seconds=0), models_dir=two_versions)
    with TestClient(app) as c:
        registry.promote("qb", "1.1.0", two_versions, how="cli")
        time.sleep(0.5)
        assert c.post("/predict", json=QB).json()["model_version"] == "1.0.0"


def test_a_broken_manifest_does_not_stop_the_service_and_its_repair_is_followed(two_versions):
    manifest_file = two_versions / manifest.MANIFEST
    registry.promote("qb", "1.1.0", two_versions, how="cli")  # the folder now has a manifest
    good = manifest_file.read_bytes()
    manifest_file.write_text("{not json")
    store = ModelStore(two_versions, FOLLOW_ALL)
    store.load_all()
    assert "cannot read the release" in store.release.problem
    assert "releases.json" in store.release.problem
    # The registry still serves what the earlier system's latest files name.
    assert served_versions(store) == {"qb": "1.1.0", "rb": "1.0.0", "wr": "1.0.0"}

    manifest_file.write_bytes(good)
    assert store.follow() is True
    assert store.release.problem is None and store.release.release.versions["qb"] == "1.1.0"
    assert served_versions(store) == {"qb": "1.1.0", "rb": "1.0.0", "wr": "1.0.0"}




def test_a_crafted_pickle_is_refused_and_a_migration_is_followed(models_dir, tmp_path):
    """Every skops file deleted, artifact_skops dropped, a crafted pickle with its sha256
    fixed in the metadata: nothing is unpickled by default; a migration is served."""
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
    store = ModelStore(models_dir, FOLLOW_ALL)
    store.load_all()
    assert served_versions(store) == {"qb": None, "rb": None, "wr": None}
    assert "models migrate qb 1.0.0 --trust-pickle" in store.get("qb").reason
    assert not marker.exists()

    migration.migrate(models_dir, "rb", "1.0.0", trust_pickle=True, reason="trusted")
    assert store.follow() is True  # the migration rewrote the manifest: re-read
    rb = store.get("rb")
    assert isinstance(rb, ServedModel) and rb.version == "1.0.0" and rb.format == "skops"
    assert served_versions(store)["qb"] is None
    assert not marker.exists()
