"""release.agreement: the rows two versions are compared on, and how agreement is counted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recruit_reveal.artifacts import registry
from recruit_reveal.catalog import default_catalog, load_catalog
from recruit_reveal.modeling import probabilities
from recruit_reveal.release import agreement
from recruit_reveal.schema import feature_names

DIVISIONS = default_catalog().ladder.levels
FIVE_LEVELS = load_catalog(Path(__file__).with_name("fixtures") / "catalog_five_levels.toml")


def test_sample_athletes_are_the_spec_s_example_as_the_pipeline_reads_it():
    frame, names = agreement.sample_athletes("rb")
    athlete = default_catalog().position("rb").example
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
    found = agreement.compare("reference", "test", frame, None, a, b, DIVISIONS)
    pa = probabilities.predict_proba(a, frame)
    pb = probabilities.predict_proba(b, frame)
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


class _Fixed:
    """A stand-in model of any ladder: the same probabilities for every row."""

    def __init__(self, proba):
        self.proba = np.asarray(proba, dtype=float)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.tile(self.proba, (len(frame), 1))


def test_a_te_of_the_five_level_catalog_is_compared_on_its_own_example_and_ladder():
    te = FIVE_LEVELS.position("te")
    frame, names = agreement.sample_athletes(te)  # a spec: no catalog lookup
    assert list(frame.columns) == te.feature_names
    assert frame.loc[0, "stars"] == 3 and names == ["te"]
    a = _Fixed([0.1, 0.1, 0.2, 0.5, 0.1])
    b = _Fixed([0.1, 0.1, 0.1, 0.2, 0.5])
    found = agreement.compare("sample athlete", "test", frame, names, a, b, te.levels)
    assert found.same_division == 0
    assert found.transitions == {"G5 -> Power 4": 1}
    assert found.max_change_at == "te, P(Power 4)"  # 0.1 -> 0.5, the largest move
    assert found.max_probability_change == pytest.approx(0.4)
