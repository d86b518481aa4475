"""release.contract: the notebook-run parameters, version resolution and project-relative paths.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from recruit_reveal.catalog import CATALOG_ENV, default_catalog, load_catalog
from recruit_reveal.errors import (
    NotebookExecutionError,
    VersionError,
)
from recruit_reveal.release import contract

POSITIONS = default_catalog().keys

FIXTURES = Path(__file__).parent / "fixtures"
FIVE_LEVELS = FIXTURES / "catalog_five_levels.toml"
ROOT = Path(__file__).resolve().parents[1]


def test_the_packaged_template_is_the_notebook_people_open():
    """The engine runs the package's copy; notebooks/ holds the same bytes for Jupyter."""
    assert contract.TEMPLATE.is_relative_to(Path(contract.__file__).resolve().parent)
    assert contract.TEMPLATE.read_bytes() == \
        (ROOT / "notebooks" / "train_position.ipynb").read_bytes(), (
        "notebooks/train_position.ipynb and recruit_reveal/release/templates/"
        "train_position.ipynb differ: copy the one you edited over the other")


def test_params_resolve_and_read_back_from_a_namespace(tmp_path):
    namespace = {**dataclasses.asdict(contract.NotebookParams()), "position": "WR",
                 "models_dir": str(tmp_path), "version": "v1.2.3", "unrelated": 1}
    params = contract.NotebookParams.from_namespace(namespace).resolve()
    assert params.position == "wr" and params.version == "1.2.3"
    assert params.models_dir == str(tmp_path) and Path(params.csv_path).is_absolute()
    assert contract.NotebookParams.from_namespace(dataclasses.asdict(params)) == params
    with pytest.raises(NotebookExecutionError, match="cv_folds"):
        contract.NotebookParams.from_namespace({"position": "qb"})


def test_resolve_version_checks_explicit_versions(tmp_path):
    assert contract.resolve_version(tmp_path, ["qb"], "2.3.4") == "2.3.4"
    assert contract.resolve_version(tmp_path, ["qb"], "v2.3.4") == "2.3.4"
    for bad in ("latest", "1.0", "../1.0.0", "1.0.0/../..", "/abs/1.0.0"):
        with pytest.raises(VersionError):
            contract.resolve_version(tmp_path, ["qb"], bad)


def test_resolve_version_takes_the_highest_next_version(models_dir, trained_results):
    from recruit_reveal.artifacts.writer import save_pipeline

    assert contract.resolve_version(models_dir, POSITIONS) == "1.0.1"
    save_pipeline(trained_results["rb"], models_dir, "1.0.4", promote=False)
    # One version for the whole release: the highest next one among the positions.
    assert contract.resolve_version(models_dir, POSITIONS) == "1.0.5"
    assert contract.resolve_version(models_dir, ["qb"]) == "1.0.1"


def test_project_path_resolves_from_the_project_root(tmp_path, monkeypatch):
    root = Path(contract.__file__).resolve().parents[2]
    monkeypatch.chdir(root / "notebooks")  # where Jupyter runs the template
    assert contract.project_path("scratch/models") == root / "scratch" / "models"
    monkeypatch.chdir(tmp_path)
    assert contract.project_path("scratch/models") == tmp_path / "scratch" / "models"
    assert contract.project_path("/x/y") == Path("/x/y")


def test_an_object_store_runs_dir_stays_a_url_and_holds_the_rejected_rows(tmp_path):
    params = contract.NotebookParams(position="rb", version="1.2.3", models_dir=str(tmp_path),
                                     runs_dir="s3://bucket/team/runs/",
                                     invalid_rows="quarantine").resolve()
    assert params.runs_dir == "s3://bucket/team/runs/"
    assert params.rejected_rows_file == "s3://bucket/team/runs/v1.2.3/rb.rejected.csv"
    local = dataclasses.replace(params, runs_dir=str(tmp_path / "runs"))
    assert local.rejected_rows_file == str(tmp_path / "runs" / "v1.2.3" / "rb.rejected.csv")


def test_a_catalog_parameter_makes_the_run_use_that_catalog(tmp_path, monkeypatch):
    monkeypatch.setenv(CATALOG_ENV, "")  # empty: the default; restored after the test
    with pytest.raises(Exception, match="unknown position 'te'"):
        contract.NotebookParams(position="te", models_dir=str(tmp_path)).resolve()
    params = contract.NotebookParams(position="TE", catalog=str(FIVE_LEVELS),
                                     models_dir=str(tmp_path)).resolve()
    assert params.position == "te" and params.catalog == str(FIVE_LEVELS.resolve())
    # What the later steps of the run read by key (data, training) is this catalog.
    import os

    assert os.environ[CATALOG_ENV] == params.catalog
    assert params.catalog_in_use.position("te").levels[-1] == "Power 4"


def test_the_run_records_the_catalog_and_the_spec_digest():
    five = load_catalog(FIVE_LEVELS)
    stamp = contract.catalog_stamp(five, "te")
    assert stamp == {"catalog": str(FIVE_LEVELS), "catalog_digest": five.digest,
                     "spec_digest": five.position("te").digest}
    default = contract.catalog_stamp(default_catalog(), "qb")
    assert default["catalog"] == "default"
    # The football decides the digests, not the file: the TE spec differs from QB's, and
    # the five-level QB (another ladder) from the default QB.
    assert default["catalog_digest"] != stamp["catalog_digest"]
    assert default["spec_digest"] != contract.catalog_stamp(five, "qb")["spec_digest"]
