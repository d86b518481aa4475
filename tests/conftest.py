"""Shared fixtures: a small synthetic CSV, models trained on it, and an exported models/ folder.

Expensive fixtures are session-scoped and treated as read-only; tests that
change a models folder take ``models_dir``, a private copy.
"""

from __future__ import annotations

import os
import shutil

import pytest
from s3_support import bucket, s3_endpoint  # noqa: F401 - moto S3 fixtures, for any test

from recruit_reveal.schema import POSITIONS


@pytest.fixture(autouse=True)
def _default_catalog_unless_a_test_names_one():
    """Every test starts on the default catalog: ``--catalog`` and ``train(catalog=...)``
    make a catalog active for the whole process (CATALOG), which must not leak into the
    next test."""
    before = os.environ.pop("CATALOG", None)
    yield
    os.environ.pop("CATALOG", None)
    if before is not None:
        os.environ["CATALOG"] = before


SAMPLE_ROWS_PER_POSITION = 240
SAMPLE_SEED = 7


@pytest.fixture(scope="session")
def sample_csv(tmp_path_factory):
    """A small synthetic CSV holding all three positions (with its provenance sidecar)."""
    from recruit_reveal.data.synthetic import write_sample

    path = tmp_path_factory.mktemp("data") / "training.csv"
    return write_sample(path, rows_per_position=SAMPLE_ROWS_PER_POSITION, seed=SAMPLE_SEED)


@pytest.fixture(scope="session")
def trained_results(sample_csv):
    """One TrainingResult per position, trained on ``sample_csv`` with 3 folds."""
    from recruit_reveal.modeling.training import train_position

    return {pos: train_position(sample_csv, pos, seed=0, cv_folds=3) for pos in POSITIONS}


@pytest.fixture(scope="session")
def exported_models_dir(tmp_path_factory, trained_results):
    """A read-only models/ folder with version 1.0.0 of every position, promoted to latest."""
    from recruit_reveal.artifacts.writer import save_pipeline

    models = tmp_path_factory.mktemp("exported") / "models"
    for result in trained_results.values():
        save_pipeline(result, models, "1.0.0", changelog="fixture model")
    return models


@pytest.fixture
def models_dir(tmp_path, exported_models_dir):
    """A private, writable copy of ``exported_models_dir``."""
    target = tmp_path / "models"
    shutil.copytree(exported_models_dir, target, symlinks=True)
    return target


@pytest.fixture
def two_versions(models_dir, trained_results):
    """A private models folder with qb 1.0.0 (latest) and 1.1.0 (not promoted)."""
    from api_support import add_version

    add_version(models_dir, trained_results["qb"], "1.1.0", "second version for service tests")
    return models_dir


@pytest.fixture(scope="session")
def notebook_run(tmp_path_factory, sample_csv):
    """QB 1.0.0 trained by the notebook engine: (models folder, runs folder). Read-only."""
    from recruit_reveal.release import runner

    root = tmp_path_factory.mktemp("notebook_run")
    summary = runner.train(sample_csv, "qb", "1.0.0", models_dir=root / "models",
                           runs_dir=root / "runs", cv_folds=3)
    assert summary.ok, summary
    return root / "models", root / "runs"


@pytest.fixture(scope="session")
def messy_export(tmp_path_factory):
    """A generated 20,000-row recruiting export of 11 positions (see tests/messy_export.py).

    Read-only: UTF-8 with BOM, CRLF, other header names, zero heights in ~10% of rows.
    """
    from messy_export import write_messy_export

    return write_messy_export(tmp_path_factory.mktemp("messy") / "export.csv")
