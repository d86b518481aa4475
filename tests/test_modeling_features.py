"""Derived features: values, missing data, fit statistics from the training rows only."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from recruit_reveal import schema
from recruit_reveal.modeling.features import (
    FEATURE_GROUPS,
    DerivedFeatures,
    canonical_frame,
)

#: The default catalog's combine results (every default position has the four).
COMBINE_COLUMNS = schema.spec_of("qb").combine


def _frame(position: str, n: int = 60, seed: int = 0) -> pd.DataFrame:
    """Plausible raw rows of a position, with some combine results missing."""
    rng = np.random.default_rng(seed)
    data = {}
    for col in schema.columns_for(position):
        if col.kind == "state":
            data[col.name] = rng.choice(["TX", "OH", "IA", "VT", None], size=n)
            continue
        mid, span = (col.low + col.high) / 2, (col.high - col.low) / 10
        data[col.name] = mid + span * rng.normal(size=n)
    frame = pd.DataFrame(data)[schema.feature_names(position)]
    for name in COMBINE_COLUMNS:
        frame.loc[rng.random(n) < 0.3, name] = np.nan
    return frame


def _out(transformer: DerivedFeatures, frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(transformer.transform(frame),
                        columns=transformer.get_feature_names_out(), index=frame.index)


def test_hand_computed_bmi_speed_score_and_per_game():
    row = pd.DataFrame([{"height_inches": 72, "weight_lbs": 200, "forty_yard_dash": 4.5,
                         "games": 10, "senior_yds": 2500, "senior_tds": 20, "senior_int": 4,
                         "state": "tx"}])
    fitted = DerivedFeatures("qb").fit(_frame("qb"))
    out = _out(fitted, row).iloc[0]
    assert out["bmi"] == pytest.approx(703 * 200 / 72**2)
    assert out["speed_score"] == pytest.approx(200 * 200 / 4.5**4)
    assert out["senior_ypg"] == pytest.approx(250.0)  # filled from yards / games
    assert out["tds_per_game"] == pytest.approx(2.0)
    assert out["td_int_ratio"] == pytest.approx(20 / 5)
    assert out["state_tier"] == 1 and out["state_tier_1"] == 1 and out["state_tier_4"] == 0
    assert out["vertical_jump_missing"] == 1 and out["forty_yard_dash_missing"] == 0
    assert out["combine_missing_count"] == 3 and out["no_combine"] == 0
    assert out["junior_season_missing"] == 1


def test_missing_columns_are_allowed_and_extra_columns_ignored():
    train = _frame("wr")
    fitted = DerivedFeatures("wr").fit(train)
    sparse = pd.DataFrame([{"height_inches": 71, "weight_lbs": 180, "senior_rec_ypg": 85,
                            "name": "Someone", "unexpected": 3}])
    out = fitted.transform(sparse)
    assert out.shape == (1, len(fitted.get_feature_names_out()))
    assert out.dtype == np.float64


def test_norms_are_the_statistics_of_the_rows_fitted_on():
    frame = _frame("rb", n=120)
    train = frame.iloc[:70]
    fitted = DerivedFeatures("rb").fit(train)
    for name in COMBINE_COLUMNS:
        values = train[name].dropna()
        mean, std = fitted.norms_[name]
        assert mean == pytest.approx(values.mean())
        assert std == pytest.approx(values.std(ddof=0))
        # ...and not the statistics of the whole frame.
        assert mean != pytest.approx(frame[name].dropna().mean())
    assert fitted.n_fit_rows_ == 70
    assert fitted.typical_games_ == pytest.approx(train["games"].median())


def test_fit_ignores_the_target():
    frame = _frame("qb", n=80)
    a = DerivedFeatures("qb").fit(frame, np.zeros(80))
    b = DerivedFeatures("qb").fit(frame, np.arange(80) % 4)
    assert a.norms_ == b.norms_
    np.testing.assert_array_equal(a.transform(frame), b.transform(frame))


def test_partial_combine_rows_get_the_conditional_mean_and_empty_rows_stay_missing():
    frame = _frame("wr", n=200, seed=3)
    fitted = DerivedFeatures("wr", groups=["combine_impute"]).fit(frame)
    rows = pd.DataFrame([
        {"height_inches": 71, "weight_lbs": 180, "senior_rec_ypg": 60, "forty_yard_dash": 4.4},
        {"height_inches": 71, "weight_lbs": 180, "senior_rec_ypg": 60},
    ])
    out = _out(fitted, rows)
    mean, cov = fitted.combine_mean_, fitted.combine_cov_
    expected = mean[1:] + (4.4 - mean[0]) * cov[0, 1:] / cov[0, 0]
    np.testing.assert_allclose(out.loc[0, list(COMBINE_COLUMNS[1:])], expected)
    assert out.loc[1, list(COMBINE_COLUMNS)].isna().all()


def test_a_column_entirely_missing_in_training_does_not_crash():
    frame = _frame("qb")
    frame["forty_yard_dash"] = np.nan
    frame["state"] = np.nan
    fitted = DerivedFeatures("qb").fit(frame)
    out = _out(fitted, frame)
    assert np.isnan(fitted.norms_["forty_yard_dash"][0])
    assert out["speed_score"].isna().all()
    assert np.isfinite(out["athletic_composite"]).any()


def test_groups_and_exclude_select_features():
    frame = _frame("rb")
    none = DerivedFeatures("rb", groups=[]).fit(frame)
    assert list(none.get_feature_names_out()) == [c.name for c in schema.numeric_columns("rb")]
    some = DerivedFeatures("rb", groups=["bmi"], exclude=["grad_year"]).fit(frame)
    names = list(some.get_feature_names_out())
    assert "bmi" in names and "grad_year" not in names and "speed_score" not in names
    with pytest.raises(ValueError, match="unknown feature group"):
        DerivedFeatures("rb", groups=["bogus"]).fit(frame)


def test_sklearn_conventions_clone_and_pickle():
    est = DerivedFeatures("wr", groups=list(FEATURE_GROUPS))
    assert clone(est).get_params() == est.get_params()
    assert not hasattr(est, "norms_")  # __init__ stores parameters only
    frame = _frame("wr")
    assert est.fit(frame) is est
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.transform(frame), est.transform(frame))


def test_canonical_frame_coerces_types():
    raw = pd.DataFrame({"height_inches": ["72"], "weight_lbs": [200], "state": [" tx "],
                        "forty_yard_dash": ["fast"]})
    frame = canonical_frame(raw, "qb")
    assert list(frame.columns) == schema.feature_names("qb")
    assert frame.loc[0, "height_inches"] == 72.0
    assert frame.loc[0, "state"] == "TX"
    assert np.isnan(frame.loc[0, "forty_yard_dash"])


def _column_by_column(X: pd.DataFrame, position: str) -> pd.DataFrame:
    """The straightforward per-column conversion the fast canonical_frame must match."""
    frame = X.reindex(columns=schema.feature_names(position))
    out = {}
    for col in schema.columns_for(position):
        values = frame[col.name]
        if col.kind == "state":
            out[col.name] = values.map(
                lambda v: v.strip().upper() if isinstance(v, str) and v.strip() else np.nan)
        else:
            out[col.name] = pd.to_numeric(values, errors="coerce").astype("float64")
    return pd.DataFrame(out, index=frame.index)


def test_canonical_frame_matches_column_by_column_conversion_for_every_input_kind():
    raw = _frame("wr", n=40, seed=3)
    raw["state"] = ["tx ", " Oh", "", "  ", None, np.nan, 7, "zz"] * 5
    raw["games"] = raw["games"].round().astype("int64")  # integers
    raw["height_inches"] = raw["height_inches"].astype(object)  # Python objects ...
    raw.loc[raw.index[:5], "height_inches"] = ["72", "x", None, "70.5", True]  # ... and text
    raw["forty_yard_dash"] = raw["forty_yard_dash"].astype("float32")
    raw["vertical_jump"] = raw["vertical_jump"] > 30  # booleans
    raw = raw.drop(columns=["shuttle"]).set_index(pd.Index(range(100, 140)))
    pd.testing.assert_frame_equal(canonical_frame(raw, "wr"), _column_by_column(raw, "wr"))
    no_state = raw.assign(state=np.nan)
    pd.testing.assert_frame_equal(canonical_frame(no_state, "wr"),
                                  _column_by_column(no_state, "wr"))
    with pytest.raises(ValueError, match="duplicate"):
        canonical_frame(pd.concat([raw, raw[["games"]]], axis=1), "wr")


def test_state_tier_features_match_schema_row_by_row():
    raw = _frame("qb", n=30, seed=4)
    raw["state"] = ["TX", "ca", "IA", "VT", None, "zz", " fl "] * 4 + ["DC", "AK"]
    model = DerivedFeatures(position="qb").fit(raw)
    names = list(model.get_feature_names_out())
    tiers = model.transform(raw)[:, names.index("state_tier")]
    expected = [schema.spec_of("qb").state_tier(s) for s in raw["state"]]
    assert [None if np.isnan(t) else int(t) for t in tiers] == expected


# -- positions of another catalog -------------------------------------------------------

def test_a_custom_positions_features_come_from_its_spec():
    from catalog_frames import five_levels, frame_for

    te, lb = five_levels().position("te"), five_levels().position("lb")
    frame, _ = frame_for(te, n=80)
    names = list(DerivedFeatures(te).fit(frame).get_feature_names_out())
    # The production stat on a log scale; no junior season, so no junior features.
    assert "log_senior_rec_ypg" in names and "stars" in names
    assert not any("junior" in n for n in names)
    assert [n for n in names if n.endswith("_missing")] == ["forty_yard_dash_missing"]
    # Measurables only: no production feature; the combine is the forty and the shuttle.
    lb_frame, _ = frame_for(lb, n=80)
    lb_names = list(DerivedFeatures(lb).fit(lb_frame).get_feature_names_out())
    assert not any(n.startswith("log_") for n in lb_names)
    assert [n for n in lb_names if n.endswith("_missing")] == [
        "forty_yard_dash_missing", "shuttle_missing"]
    assert sum(n.startswith("state_tier_") for n in lb_names) == lb.n_state_tiers


def test_a_custom_positions_rate_is_filled_from_its_total_and_games():
    from catalog_frames import five_levels, frame_for

    te = five_levels().position("te")
    fitted = DerivedFeatures(te).fit(frame_for(te, n=80)[0])
    row = pd.DataFrame([{"height_inches": 76, "weight_lbs": 240, "games": 10,
                         "senior_rec_yds": 450, "senior_rec": 30}])
    out = _out(fitted, row).iloc[0]
    assert out["senior_rec_ypg"] == pytest.approx(45.0)
    assert out["log_senior_rec_ypg"] == pytest.approx(np.log1p(45.0))


def test_a_fitted_transformer_keeps_its_spec_and_needs_no_catalog(monkeypatch):
    from catalog_frames import FIVE_LEVELS, five_levels, frame_for

    te = five_levels().position("te")
    frame, _ = frame_for(te, n=80)
    monkeypatch.setenv("CATALOG", str(FIVE_LEVELS))
    fitted = DerivedFeatures("te").fit(frame)
    expected = fitted.transform(frame)
    monkeypatch.delenv("CATALOG")
    with pytest.raises(Exception, match="unknown position 'te'"):
        DerivedFeatures("te").fit(frame)  # the default catalog has no tight end...
    np.testing.assert_array_equal(fitted.transform(frame), expected)  # ...the fitted one needs none
    assert fitted.spec_ == te.to_dict() and fitted.position_ == "te"
    plain = (dict, list, str, float, int, type(None))

    def is_plain(value: object) -> bool:
        if isinstance(value, dict):
            return all(isinstance(k, str) and is_plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(is_plain(v) for v in value)
        return isinstance(value, plain)

    assert is_plain(fitted.plan_) and is_plain(fitted.spec_)


@pytest.mark.parametrize("position, efficiency", [
    ("qb", ["tds_per_game", "td_int_ratio", "rush_ypg"]),
    ("rb", ["tds_per_game", "scrimmage_ypg", "rec_per_game"]),
    ("wr", ["tds_per_game", "rec_per_game", "td_per_catch"]),
])
def test_the_default_catalogs_features_keep_their_names_and_order(position, efficiency):
    # The names and order of the models trained before positions came from the catalog
    # (commit 7f0d383): a model of the default catalog must be the same model.
    spec = schema.spec_of(position)
    names = list(DerivedFeatures(position).fit(_frame(position)).get_feature_names_out())
    production, junior = spec.production, spec.junior_of(spec.production)
    assert names == [c.name for c in spec.numeric] + [
        f"log_{production}", f"log_{junior}", "bmi", "speed_score", "production_growth",
        "td_growth", *efficiency, "athletic_composite", "state_tier", "state_tier_1",
        "state_tier_2", "state_tier_3", "state_tier_4", "forty_yard_dash_missing",
        "vertical_jump_missing", "shuttle_missing", "broad_jump_missing",
        "combine_missing_count", "no_combine", "junior_season_missing"]
