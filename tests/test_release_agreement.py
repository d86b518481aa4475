"""release.agreement: the rows two versions are compared on, and how agreement is counted."""

from __future__ import annotations

import numpy as np
import pytest

from recruit_reveal.artifacts import registry
from recruit_reveal.modeling import explanations
from recruit_reveal.release import agreement
from recruit_reveal.schema import DIVISIONS, SAMPLE_ATHLETES, feature_names


def test_sample_athletes_are_the_schema_s_as_the_pipeline_reads_them():
    frame, names = agreement.sample_athletes("rb")
    athlete = next(a for a in SAMPLE_ATHLETES if a["position"] == "rb")
    assert list(frame.columns) == feature_names("rb")
    assert names == [athlete["name"]]
    assert frame.loc[0, "senior_ypg"] == athlete["senior_ypg"]
    assert np.isnan(frame.loc[0, "vertical_jump"])  # not given: missing, as the API reads it


def test_compare_counts_same_divisions_moves_and_the_largest_change(trained_results,
                                                                    sample_csv):
    from recruit_reveal.modeling.training import train_position

    a = trained_results["wr"].pipeline
    b = train_position(sample_csv, "wr", seed=3, cv_folds=2, params={"C": 1.0}).pipeline
    frame = agreement.reference_athletes("wr", trained_results["wr"].typical_values)
    found = agreement.compare("reference", "test", frame, None, a, b)
    pa = explanations.predict_proba(a, frame)
    pb = explanations.predict_proba(b, frame)
    same = pa.argmax(axis=1) == pb.argmax(axis=1)
    assert not same.all()  # two different models, or the counts below prove nothing
    assert found.count == len(frame) and found.same_division == int(same.sum())
    assert found.share_same == pytest.approx(same.mean())
    assert found.max_probability_change == pytest.approx(np.abs(pb - pa).max())
    row, col = np.unravel_index(np.abs(pb - pa).argmax(), pa.shape)
    assert found.max_change_at == f"athlete {row}, P({DIVISIONS[col]})"
    assert found.mean_probability_change == pytest.approx(np.abs(pb - pa).max(axis=1).mean())
    assert sum(found.transitions.values()) == int((~same).sum())
    assert list(found.transitions.values()) == sorted(found.transitions.values(), reverse=True)


def test_the_training_file_is_found_by_name_and_sha256(exported_models_dir, sample_csv,
                                                       tmp_path, monkeypatch):
    meta = registry.describe("qb", "1.0.0", exported_models_dir)
    monkeypatch.chdir(tmp_path)
    assert agreement.find_training_file(meta) == (None, None)
    (tmp_path / "data").mkdir()
    copy = tmp_path / "data" / meta.data_fingerprint.file
    copy.write_bytes(sample_csv.read_bytes())
    found, which = agreement.find_training_file(meta)
    assert found is not None and found.resolve() == copy.resolve() and which is meta
    copy.write_bytes(sample_csv.read_bytes() + b"\n")  # same name, other bytes
    assert agreement.find_training_file(meta) == (None, None)
