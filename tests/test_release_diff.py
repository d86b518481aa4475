"""release.diff: metrics with the noise rule, settings and data side by side, prediction
agreement, the previous release, and the template's entry point that never fails a run."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from recruit_reveal.artifacts import registry
from recruit_reveal.artifacts.layout import skops_path
from recruit_reveal.artifacts.writer import save_pipeline
from recruit_reveal.data import load_training_data
from recruit_reveal.errors import DataValidationError, ModelNotFoundError, VersionError
from recruit_reveal.modeling import probabilities
from recruit_reveal.modeling.training import train_position
from recruit_reveal.release import diff
from recruit_reveal.release.diff import MetricChange


@pytest.fixture(scope="module")
def two_qb_versions(tmp_path_factory, exported_models_dir, sample_csv):
    """qb 1.0.0 (current release, C=0.05, seed 0) and 1.0.1 (C=0.3, seed 1, not promoted)."""
    models = tmp_path_factory.mktemp("diff") / "models"
    shutil.copytree(exported_models_dir, models, symlinks=True)
    other = train_position(sample_csv, "qb", seed=1, cv_folds=3, params={"C": 0.3})
    save_pipeline(other, models, "1.0.1", promote=False, changelog="C=0.3")
    return models


def test_a_delta_counts_only_beyond_the_pooled_fold_std():
    noise = math.sqrt((0.02 ** 2 + 0.04 ** 2) / 2)  # 0.0316
    beyond = MetricChange("exact_accuracy", 0.60, 0.64, 0.02, 0.04)
    within = MetricChange("exact_accuracy", 0.60, 0.63, 0.02, 0.04)
    assert beyond.noise == pytest.approx(noise) and beyond.beyond_noise is True
    assert beyond.verdict == "better"
    assert within.beyond_noise is False and within.verdict == "within noise"
    # For log loss a rise is the worse direction.
    assert MetricChange("log_loss", 0.80, 0.90, 0.01, 0.01,
                        higher_is_better=False).verdict == "worse"
    unknown = MetricChange("macro_f1", 0.5, None, 0.01, None)
    assert unknown.delta is None and unknown.beyond_noise is None and unknown.verdict == "-"


def test_metrics_are_the_metadata_s_with_deltas_and_the_noise_verdict(two_qb_versions):
    found = diff.diff_versions("qb", "1.0.0", "1.0.1", two_qb_versions)
    old = registry.describe("qb", "1.0.0", two_qb_versions).metrics
    new = registry.describe("qb", "1.0.1", two_qb_versions).metrics
    by_name = {m.name: m for m in found.metrics}
    assert len(by_name) == len(found.metrics)  # each metric once
    assert "confusion_matrix" not in by_name  # counts, not a summary with a fold std
    for name in ("exact_accuracy", "within_one_accuracy", "log_loss",
                 "expected_calibration_error"):
        m = by_name[name]
        assert m.delta == pytest.approx(new.mean(name) - old.mean(name))
        pooled = math.sqrt((old.std(name) ** 2 + new.std(name) ** 2) / 2)
        assert m.beyond_noise == (abs(m.delta) > pooled)
    assert {f"recall_per_division {d}" for d in ("D3", "D2", "FCS", "Power 5")} <= set(by_name)
    assert by_name["log_loss"].higher_is_better is False
    # The next-class backtest beside the CV figures (its std is over the classes).
    back_a = registry.describe("qb", "1.0.0", two_qb_versions).backtest
    back_b = registry.describe("qb", "1.0.1", two_qb_versions).backtest
    nxt = by_name["next class log_loss"]
    assert nxt.a == back_a["log_loss"]["mean"] and nxt.b == back_b["log_loss"]["mean"]
    assert nxt.b_std == back_b["log_loss"]["std"] and nxt.higher_is_better is False
    assert by_name["next class exact_accuracy"].higher_is_better is True


def test_settings_data_and_features_side_by_side_show_what_changed(two_qb_versions):
    found = diff.diff_versions("qb", "1.0.0", "1.0.1", two_qb_versions)
    changed = {(f.section, f.name): (f.a, f.b) for f in found.changed()}
    assert changed[("estimator", "C")] == (0.05, 0.3)
    assert changed[("estimator", "seed")] == (0, 1)
    # Same CSV, same features: nothing else differs.
    assert set(changed) == {("estimator", "C"), ("estimator", "seed")}
    fields = {(f.section, f.name): f for f in found.fields}
    assert fields[("data", "sha256")].a == fields[("data", "sha256")].b is not None
    assert fields[("data", "rows")].a == 240
    assert any(f.section == "features" for f in found.fields)


def test_agreement_on_the_training_rows_is_what_both_models_predict(two_qb_versions,
                                                                    sample_csv):
    found = diff.diff_versions("qb", "1.0.0", "1.0.1", two_qb_versions, csv=sample_csv)
    rows = {g.rows: g for g in found.agreement}
    training = rows["training rows"]
    data = load_training_data(sample_csv, "qb")
    a = registry.load("qb", "1.0.0", two_qb_versions).pipeline
    b = registry.load("qb", "1.0.1", two_qb_versions).pipeline
    pa = probabilities.predict_proba(a, data.frame)
    pb = probabilities.predict_proba(b, data.frame)
    same = np.argmax(pa, axis=1) == np.argmax(pb, axis=1)
    assert training.count == len(data.frame) == 240
    assert training.same_division == int(same.sum())
    assert training.max_probability_change == pytest.approx(np.abs(pb - pa).max())
    assert sum(training.transitions.values()) == int((~same).sum())
    assert "1.0.0 and 1.0.1's training data" in training.source
    assert rows["sample athlete"].count == 1 and rows["reference athletes"].count > 100
    assert json.loads(json.dumps(found.to_dict()))["agreement"][0]["share_same"] == \
        pytest.approx(training.share_same)


def test_a_version_against_itself_changes_nothing(two_qb_versions, sample_csv):
    found = diff.diff_versions("qb", "1.0.0", "latest", two_qb_versions, csv=sample_csv)
    assert found.b == "1.0.0" and found.changed() == []
    assert all(m.delta == 0 and m.verdict == "within noise" for m in found.metrics)
    assert all(g.share_same == 1.0 and g.max_probability_change == 0.0
               for g in found.agreement)


def test_the_training_file_is_found_only_unchanged(two_qb_versions, sample_csv, tmp_path,
                                                   monkeypatch):
    monkeypatch.chdir(sample_csv.parent)  # the metadata keeps the file's name only
    found = diff.diff_versions("qb", "1.0.0", "1.0.1", two_qb_versions)
    assert found.agreement[0].rows == "training rows" and found.notes == []

    monkeypatch.chdir(tmp_path)
    (tmp_path / "training.csv").write_bytes(sample_csv.read_bytes().replace(b"\n", b"\r\n"))
    found = diff.diff_versions("qb", "1.0.0", "1.0.1", two_qb_versions)
    # The rewritten file here is passed over; the recorded source, unchanged, is read.
    assert found.agreement[0].rows == "training rows"
    assert found.agreement[0].source.startswith(f"csv:{sample_csv} (content digest")

    # Neither a file with the recorded sha256 nor the recorded source: not compared, said so.
    from recruit_reveal.artifacts.registry import describe
    from recruit_reveal.release.agreement import training_rows

    metas = [describe("qb", v, models_dir=two_qb_versions) for v in ("1.0.0", "1.0.1")]
    gone = [m.model_copy(update={"data_fingerprint": m.data_fingerprint.model_copy(update={
        "source": m.data_fingerprint.source.model_copy(update={
            "spec": f"csv:{tmp_path / 'moved.csv'}"})})}) for m in metas]
    notes: list[str] = []
    assert training_rows("qb", *gone, None, None, notes) is None
    assert "training.csv not found with the recorded sha256 (give --csv)" in notes[0]


def test_unknown_versions_and_positions_are_the_project_s_errors(two_qb_versions):
    with pytest.raises(ModelNotFoundError, match=r"no qb version 9\.9\.9 .*1\.0\.0, 1\.0\.1"):
        diff.diff_versions("qb", "1.0.0", "9.9.9", two_qb_versions)
    with pytest.raises(VersionError):
        diff.diff_versions("qb", "1.0", "1.0.1", two_qb_versions)
    with pytest.raises(DataValidationError, match="unknown position 'te'"):
        diff.diff_versions("te", "1.0.0", "1.0.1", two_qb_versions)


def test_the_report_is_a_readable_table(two_qb_versions, sample_csv):
    text = diff.diff_versions("qb", "1.0.0", "1.0.1", two_qb_versions, csv=sample_csv).report()
    assert text.startswith("QB 1.0.0 -> 1.0.1")
    assert diff.NOISE_RULE in text
    c_row = next(line for line in text.splitlines() if line.startswith("estimator  C "))
    assert "0.05" in c_row and "0.3" in c_row and c_row.rstrip().endswith("*")
    # Unchanged features are counted, not listed.
    assert any(line.startswith("features") and "unchanged)" in line
               for line in text.splitlines())
    assert "training rows" in text and "sample athlete" in text


def test_the_previous_release_is_the_version_this_export_replaces(models_dir, trained_results):
    save_pipeline(trained_results["qb"], models_dir, "1.0.1", promote=False)
    assert diff.previous_release("qb", "1.0.1", models_dir) == "1.0.0"  # the current release
    registry.promote("qb", "1.0.1", models_dir)
    assert diff.previous_release("qb", "1.0.1", models_dir) == "1.0.0"  # the one before it
    assert diff.previous_release("qb", "1.0.0", models_dir) == "1.0.1"
    save_pipeline(trained_results["rb"], models_dir, "1.2.0", promote=False)
    (models_dir / "releases.json").unlink()  # an older folder: its latest files say 1.0.1
    for name in models_dir.glob("recruit_reveal_rb_pipeline_latest.*"):
        name.unlink()
    assert diff.previous_release("rb", "1.2.0", models_dir) == "1.0.0"  # highest earlier
    assert diff.previous_release("rb", "1.0.0", models_dir) is None


def test_the_template_section_says_first_release_and_never_raises(models_dir, tmp_path):
    first = diff.since_previous_release(tmp_path / "empty", "wr", "1.0.0")
    assert first.previous is None and first.diff is None
    assert "first release of the WR model" in first.headline()

    assert diff.since_previous_release(models_dir, "wr", "1.0.0").previous is None
    # A previous release that no longer verifies is reported, not raised: the training
    # run must not fail over its report.
    skops = skops_path(models_dir, "wr", "1.0.0")
    skops.write_bytes(skops.read_bytes() + b"tampered")
    broken = diff.since_previous_release(models_dir, "wr", "1.0.1")
    assert broken.previous == "1.0.0" and broken.diff is None and broken.problem
    assert "Could not compare 1.0.1 with the previous release 1.0.0" in broken.headline()


def test_version_changes_shows_the_diff_or_says_first_release(models_dir, sample_csv,
                                                              trained_results, tmp_path):
    first = diff.version_changes(diff.since_previous_release(tmp_path, "qb", "1.0.0"))
    assert "first release of the QB model" in first.to_html()

    save_pipeline(trained_results["qb"], models_dir, "1.0.1", promote=False)
    changes = diff.since_previous_release(models_dir, "qb", "1.0.1", csv=sample_csv)
    styled = diff.version_changes(changes)
    table = styled.data
    assert list(table.columns) == ["section", "item", "1.0.0", "1.0.1", "change"]
    exact = table[table["item"] == "exact_accuracy"].iloc[0]
    assert exact["change"] == "+0.000 (within noise)"  # the same model exported twice
    assert set(table["section"]) >= {"metric", "estimator", "data", "predictions"}
    predictions = table[table["section"] == "predictions"]["change"]
    assert all(text.startswith("same division 100.0%") for text in predictions)
    html = styled.to_html()
    assert "Changes from 1.0.0 (the previous release) to 1.0.1" in html
    assert diff.NOISE_RULE.split(",")[0] in html


def test_a_five_level_te_diff_names_its_own_levels(two_qb_versions):
    # Metadata only (training a TE is the modeling branch's): the levels come from classes.
    levels = ["D3", "D2", "FCS", "G5", "Power 4"]
    metas = []
    for version, g5 in (("1.0.0", 30), ("1.0.1", 45)):
        meta = registry.describe("qb", version, two_qb_versions)
        fingerprint = meta.data_fingerprint.model_copy(update={
            "rows_per_division": dict(zip(levels, [50, 40, 35, g5, 20], strict=True))})
        cv = dict(meta.metrics.cv)
        recall = {d: {"mean": 0.5, "std": 0.1} for d in reversed(levels)}
        cv["recall_per_division"] = recall
        metas.append(meta.model_copy(update={
            "position": "te", "classes": levels, "data_fingerprint": fingerprint,
            "metrics": meta.metrics.model_copy(update={"cv": cv})}))
    fields = {(f.section, f.name): (f.a, f.b) for f in diff._fields(*metas)}
    assert [n for s, n in fields if s == "data" and n.startswith("rows ")][:5] == [
        f"rows {d}" for d in levels]
    assert fields[("data", "rows G5")] == (30, 45)
    recall = [m.name for m in diff._metrics(*metas) if m.name.startswith("recall")]
    assert recall == [f"recall_per_division {d}" for d in levels]  # lowest first
