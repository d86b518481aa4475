"""release.runner: the pre-flight rules of ``train`` and the straight flow from runs to the summary.

The end-to-end runs of the real template are in tests/test_cli.py and tests/test_notebook.py.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from test_release_records import fake_record

from recruit_reveal.errors import (
    ArtifactExistsError,
    DataValidationError,
    RecruitRevealError,
)
from recruit_reveal.release import runner

FIXTURES = Path(__file__).parent / "fixtures"


def test_the_runner_takes_results_from_the_runs_not_from_models(sample_csv, tmp_path,
                                                                monkeypatch):
    from recruit_reveal.artifacts import registry
    from recruit_reveal.artifacts.layout import artifact_path

    def no_reading_back(*args, **kwargs):
        raise AssertionError("the runner read the exported metadata back")

    monkeypatch.setattr(registry, "describe", no_reading_back)
    # Not the default runs_dir: "runs" under the working directory is the repository's own.
    summary = runner.train(sample_csv, "qb", "2.0.0", engine="direct",
                           models_dir=tmp_path / "models", runs_dir=tmp_path / "runs",
                           cv_folds=3)

    assert summary.ok and summary.promoted
    (run,) = summary.runs
    pkl = artifact_path(tmp_path / "models", "qb", "2.0.0")
    assert run.artifact == pkl.with_suffix(".skops") and run.pickle == pkl  # skops is served
    assert run.sha256 == hashlib.sha256(pkl.read_bytes()).hexdigest()
    assert run.exact_accuracy is not None and 0 < run.exact_accuracy < 1
    stem = "recruit_reveal_qb_pipeline"
    assert {p.name for p in (tmp_path / "models").iterdir() if not p.name.startswith(".")} == {
        f"{stem}_v2.0.0.pkl", f"{stem}_v2.0.0.skops", f"{stem}_v2.0.0.metadata.json",
        f"{stem}_latest.pkl",
        f"{stem}_latest.metadata.json", "CHANGELOG_qb.md", "releases.json"}


def test_train_refuses_an_existing_version_before_training(models_dir, sample_csv, tmp_path):
    with pytest.raises(ArtifactExistsError, match="1.0.0 already exists for qb, rb, wr"):
        runner.train(sample_csv, "all", "1.0.0", models_dir=models_dir,
                     runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_train_refuses_a_successful_record_before_training(tmp_path, sample_csv):
    fake_record(tmp_path / "runs" / "v3.0.0" / "wr.ipynb", "succeeded")
    with pytest.raises(ArtifactExistsError, match="wr.ipynb"):
        runner.train(sample_csv, "all", "3.0.0", models_dir=tmp_path / "models",
                     runs_dir=tmp_path / "runs")
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


@pytest.mark.parametrize("kwargs, error, match", [
    ({"positions": "te"}, DataValidationError, "unknown position 'te'"),
    ({"engine": "spark"}, RecruitRevealError, "unknown engine"),
    ({"jobs": 0}, RecruitRevealError, "at least 1"),
    ({"csv": "missing.csv"}, DataValidationError, "missing.csv"),
])
def test_train_rejects_bad_requests(tmp_path, sample_csv, kwargs, error, match):
    args = {"csv": sample_csv, "positions": "qb", **kwargs}
    with pytest.raises(error, match=match):
        runner.train(args.pop("csv"), args.pop("positions"), "1.0.0",
                     models_dir=tmp_path / "m", runs_dir=tmp_path / "r", **args)


def test_all_means_every_position_of_the_catalog_in_use():
    from recruit_reveal.catalog import default_catalog, load_catalog

    five = load_catalog(FIXTURES / "catalog_five_levels.toml")
    assert runner._positions("all", default_catalog()) == ["qb", "rb", "wr"]
    assert runner._positions("all", five) == ["qb", "rb", "wr", "te", "lb"]
    assert runner._positions(["LB", "all"], five) == ["lb", "qb", "rb", "wr", "te"]
    with pytest.raises(DataValidationError, match="one of qb, rb, wr, te, lb"):
        runner._positions("k", five)


def test_train_all_with_a_catalog_runs_every_position_of_it(sample_csv, tmp_path, monkeypatch):
    from recruit_reveal.release import engines

    five = FIXTURES / "catalog_five_levels.toml"
    monkeypatch.setenv("CATALOG", "")  # restored after the test: train activates the file
    seen = []

    def fake_train(settings):
        seen.append((settings.position, settings.catalog,
                     settings.catalog_in_use.position(settings.position).levels[-1]))
        raise RecruitRevealError("not trained: the test only follows the parameters")

    monkeypatch.setattr(engines, "train_one", fake_train)
    summary = runner.train(sample_csv, "all", "1.0.0", engine="direct", catalog=five,
                           models_dir=tmp_path / "models", runs_dir=tmp_path / "runs")
    assert [run.position for run in summary.runs] == ["qb", "rb", "wr", "te", "lb"]
    assert seen == [(p, str(five.resolve()), "Power 4") for p in ("qb", "rb", "wr", "te", "lb")]
    assert not summary.ok and not summary.promoted
