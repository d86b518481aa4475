"""A realistic export (tests/messy_export.py): every position, other headers, bad rows set aside."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest

from recruit_reveal import schema
from recruit_reveal.catalog import default_catalog
from recruit_reveal.data import load_training_data, write_rejected_rows
from recruit_reveal.errors import DataValidationError


@pytest.fixture(scope="module")
def loaded(messy_export):
    return {pos: load_training_data(messy_export.path, pos, columns=messy_export.mapping_path,
                                    invalid_rows="quarantine")
            for pos in default_catalog().keys}


def test_the_export_is_what_real_exports_look_like(messy_export):
    raw = messy_export.path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw and raw.count(b"\n") == raw.count(
        b"\r\n")
    assert messy_export.rows == 20_000 and len(set(messy_export.positions)) == 11
    zero = sum(len(r) for r in messy_export.zero_height_rows.values())
    model_rows = sum(messy_export.rows_of(p) for p in default_catalog().keys)
    assert 0.07 < zero / model_rows < 0.13


@pytest.mark.parametrize("position", default_catalog().keys)
def test_every_model_position_loads_with_the_mapping_file_and_quarantine(
        messy_export, loaded, position):
    data = loaded[position]
    counts = data.row_counts
    # Nothing disappears: every data row of the file is used, rejected or skipped.
    assert counts.adds_up
    assert counts.used + counts.rejected + counts.skipped == messy_export.rows == counts.data_rows
    assert str(counts).startswith(f"{messy_export.rows:,} data rows = {counts.used:,} used + ")
    assert counts.blank == 0
    assert counts.other_positions == {
        p: messy_export.rows_of(p) for p in set(messy_export.positions) - {position}}
    assert counts.used + counts.rejected == messy_export.rows_of(position) == len(data) + len(
        data.rejected)

    # The rejected rows are exactly the injected ones: zero heights and the few bad cells.
    assert set(data.rejected["row"]) == messy_export.invalid_rows(position)
    assert not set(data.source_rows) & messy_export.invalid_rows(position)
    groups = {(g.column, g.rule): g.count for g in data.problem_groups}
    assert groups == {
        ("height", "outside the plausible range"): len(messy_export.zero_height_rows[position]),
        ("weight", "not a number"): 2, ("region_a", "unknown state code"): 2,
        ("Level", "unknown division"): 2}

    assert data.column_mapping == {
        "Player": "name", "Pos": "position", "Level": "division", "Class": "grad_year",
        "region_a": "state", "height": "height_inches", "weight": "weight_lbs", "GP": "games",
        "fourty": "forty_yard_dash", "Vert": "vertical_jump"}
    assert data.mapping_file == str(messy_export.mapping_path)
    assert data.encoding == "UTF-8" and data.separator == ","
    assert list(data.frame.columns) == schema.feature_names(position)
    assert data.frame["height_inches"].between(60, 84).all()
    assert data.frame["weight_lbs"].notna().all()
    assert data.frame["forty_yard_dash"].isna().any()
    assert all(n >= 50 for n in data.rows_per_division.values())
    json.dumps(data.validation_summary())


def test_rejected_rows_keep_every_column_as_written_with_their_problems(messy_export, loaded,
                                                                       tmp_path):
    data = loaded["qb"]
    raw = pd.read_csv(messy_export.path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    rejected = data.rejected
    assert list(rejected.columns) == ["row", *raw.columns, "problems"]
    original = raw.iloc[rejected["row"].to_numpy() - 2].reset_index(drop=True)
    pd.testing.assert_frame_equal(rejected[list(raw.columns)].reset_index(drop=True), original)
    zero = sorted(messy_export.zero_height_rows["qb"])[0]
    text = rejected.loc[rejected["row"] == zero, "problems"].item()
    assert text.startswith("height: value 0") and "outside the plausible range (below 60)" in text

    path = write_rejected_rows(data, tmp_path)
    assert path == tmp_path / "qb.rejected.csv"
    again = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert len(again) == len(rejected) and list(again.columns) == list(rejected.columns)
    assert again["row"].astype(int).tolist() == rejected["row"].tolist()


def test_fail_mode_names_the_file_once_in_a_short_message(messy_export):
    with pytest.raises(DataValidationError) as info:
        load_training_data(messy_export.path, "wr", columns=messy_export.mapping_path)
    error = info.value
    message = str(error)
    assert message.count(str(messy_export.path)) == 1
    assert len(message.splitlines()) < 40
    cells = [p for p in error.problems if p.row is not None]
    assert len(cells) == len(messy_export.invalid_rows("wr"))
    assert {p.row for p in cells} == messy_export.invalid_rows("wr")
    assert "outside the plausible range" in message and "e.g. '0'" in message
    # Labels off the ladder are also named once for the file, with their row counts.
    [labels] = [p for p in error.problems if p.row is None]
    assert "not on the ladder" in labels.message and "(2 rows)" in labels.message


def test_without_the_mapping_file_the_state_column_is_unknown(messy_export):
    data = load_training_data(messy_export.path, "rb", invalid_rows="quarantine")
    assert data.unknown_columns == ["region_a", "Stars", "Offers"]
    assert data.frame["state"].isna().all()
    # Built-in spellings still read height, weight, fourty and Level.
    assert data.column_mapping["fourty"] == "forty_yard_dash"


def test_loading_20k_rows_is_quick(messy_export):
    start = time.perf_counter()
    load_training_data(messy_export.path, "qb", columns=messy_export.mapping_path,
                       invalid_rows="quarantine")
    assert time.perf_counter() - start < 2.0


def test_models_can_learn_from_what_is_kept(loaded):
    data = loaded["wr"]
    ypg = data.frame["senior_rec_ypg"].to_numpy()
    order = [default_catalog().ladder.levels.index(d) for d in data.target]
    assert np.corrcoef(ypg[~np.isnan(ypg)], np.asarray(order)[~np.isnan(ypg)])[0, 1] > 0.3
