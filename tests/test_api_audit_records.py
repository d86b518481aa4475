"""api.records: GET /models/{pos}/record serves the audit record of the served model, and only
when the record's stamp names the served artifact."""

from __future__ import annotations

import json
import shutil

from api_support import detail, settings
from fastapi.testclient import TestClient

from recruit_reveal.api.app import create_app
from recruit_reveal.release.records import RECORD_METADATA_KEY


def _copy(notebook_run, tmp_path):
    """A private copy of the notebook run."""
    models, runs = notebook_run
    shutil.copytree(models, tmp_path / "models", symlinks=True)
    shutil.copytree(runs, tmp_path / "runs")
    return tmp_path / "models", tmp_path / "runs"


def test_record_of_the_served_model_is_served(notebook_run):
    models, runs = notebook_run
    with TestClient(create_app(settings(), models_dir=models)) as c:
        record = c.get("/models/qb").json()["record"]
        assert record == {"notebook": str(runs / "v1.0.0" / "qb.ipynb"),
                          "html": str(runs / "v1.0.0" / "qb.html"),
                          "url": "/models/qb/record"}
        page = c.get(record["url"])
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.content == (runs / "v1.0.0" / "qb.html").read_bytes()
        # Shown as a document: none of its scripts run in the API's origin.
        assert page.headers["content-security-policy"].startswith("sandbox")
        # A position without a model: 503, as for predictions.
        assert c.get("/models/rb/record").status_code == 503


def test_a_model_without_a_record_answers_404_with_the_reason(exported_models_dir):
    with TestClient(create_app(settings(), models_dir=exported_models_dir)) as c:
        assert c.get("/models/qb").json()["record"] is None
        response = c.get("/models/qb/record")
        assert response.status_code == 404 and "direct engine" in detail(response)


def test_a_record_stamped_with_another_model_is_refused(notebook_run, tmp_path):
    # The session's run is read-only: a private copy whose metadata names the copied record.
    models, runs = _copy(notebook_run, tmp_path)
    meta_file = models / "recruit_reveal_qb_pipeline_v1.0.0.metadata.json"
    meta = json.loads(meta_file.read_text())
    record = runs / "v1.0.0" / "qb.ipynb"
    meta["audit_record"]["notebook"] = str(record)
    meta_file.write_text(json.dumps(meta, indent=2))

    nb = json.loads(record.read_text())
    nb["metadata"][RECORD_METADATA_KEY]["sha256"] = "0" * 64
    record.write_text(json.dumps(nb))
    with TestClient(create_app(settings(), models_dir=models)) as c:
        response = c.get("/models/qb/record")
        assert response.status_code == 404 and "another model" in detail(response)

        nb["metadata"][RECORD_METADATA_KEY]["status"] = "failed"
        record.write_text(json.dumps(nb))
        response = c.get("/models/qb/record")
        assert response.status_code == 404 and "failed run" in detail(response)

        record.unlink()
        response = c.get("/models/qb/record")
        assert response.status_code == 404 and "missing" in detail(response)


def test_a_record_path_relative_to_the_project_is_found_beside_the_models(notebook_run,
                                                                          tmp_path,
                                                                          monkeypatch):
    # `make train-all` records "runs/v1.0.0/qb.ipynb", relative to the project root; a
    # server started elsewhere finds it beside the models folder.
    models, runs = _copy(notebook_run, tmp_path / "project")
    meta_file = models / "recruit_reveal_qb_pipeline_v1.0.0.metadata.json"
    meta = json.loads(meta_file.read_text())
    meta["audit_record"]["notebook"] = "runs/v1.0.0/qb.ipynb"
    meta_file.write_text(json.dumps(meta, indent=2))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with TestClient(create_app(settings(), models_dir=models)) as c:
        assert c.get("/models/qb").json()["record"]["notebook"] == str(
            runs / "v1.0.0" / "qb.ipynb")
        page = c.get("/models/qb/record")
        assert page.status_code == 200
        assert page.content == (runs / "v1.0.0" / "qb.html").read_bytes()
