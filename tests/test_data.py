"""load_training_data: clean files load exactly; every bad file is reported by file, row, column."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recruit_reveal import schema
from recruit_reveal.data.loading import MAX_PROBLEMS, TrainingData, load_training_data
from recruit_reveal.errors import DataValidationError, Problem, RecruitRevealError

# Spellings the file uses for each division; the loader must map them to DIVISIONS.
FILE_LABELS = ("NAIA", "DII", "fcs", "P5")
PER_DIVISION = 6
ROWS = len(FILE_LABELS) * PER_DIVISION
BUNDLED = Path(__file__).resolve().parents[1] / "data" / "training.csv"


def _rows(position: str, seed: int) -> pd.DataFrame:
    """Valid rows of one position: every column filled with a plausible value."""
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {
        "name": [f"Athlete {position}{i:03d}" for i in range(ROWS)],
        "position": position.upper(),
        "division": np.repeat(FILE_LABELS, PER_DIVISION),
    }
    for col in schema.columns_for(position):
        if col.kind == "state":
            data[col.name] = rng.choice(["tx", "OH", "ca", "WY"], ROWS)
            continue
        span = col.high - col.low
        values = col.low + span * rng.uniform(0.3, 0.7, ROWS)
        data[col.name] = np.round(values) if col.kind == "int" else np.round(values, 1)
    return pd.DataFrame(data)


def _mixed() -> pd.DataFrame:
    """Rows of every position, interleaved so that the file order matters."""
    frame = pd.concat([_rows(p, i) for i, p in enumerate(schema.POSITIONS)], ignore_index=True)
    order = np.arange(len(frame)).reshape(len(schema.POSITIONS), ROWS).T.ravel()
    return frame.iloc[order].reset_index(drop=True).astype(object)


def _row_of(frame: pd.DataFrame, index: int) -> int:
    """Spreadsheet row of a frame row written with a header (header = row 1)."""
    return frame.index.get_loc(index) + 2


def _write(tmp_path: Path, content: pd.DataFrame | str | bytes, name: str = "train.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, pd.DataFrame):
        content.to_csv(path, index=False)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def _fails(path: Path, position: str = "qb", **kwargs) -> DataValidationError:
    with pytest.raises(DataValidationError) as info:
        load_training_data(path, position, **kwargs)
    error = info.value
    assert isinstance(error, RecruitRevealError)
    assert error.problems and all(isinstance(p, Problem) for p in error.problems)
    assert all(p.file == str(path) for p in error.problems)
    assert str(path) in str(error)
    return error


def _problem(error: DataValidationError, *, row=None, column=None, contains="") -> Problem:
    """The one problem at ``row``/``column`` whose message contains ``contains``."""
    found = [p for p in error.problems
             if (row is None or p.row == row) and (column is None or p.column == column)
             and contains in p.message]
    assert len(found) == 1, f"wanted row={row} column={column} {contains!r} in:\n{error}"
    problem = found[0]
    text = str(problem)
    if row is not None:
        assert f"row {row}," in text or f"row {row}:" in text
    if column is not None:
        assert f"column '{column}'" in text
    assert problem.expected
    return problem


# --------------------------------------------------------------------------- valid files


def test_mixed_file_loads_exact_columns_dtypes_and_order(tmp_path):
    frame = _mixed()
    path = _write(tmp_path, frame)
    data = load_training_data(path, "WR")

    assert isinstance(data, TrainingData)
    assert data.position == "wr" and data.path == path
    assert data.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert list(data.frame.columns) == schema.feature_names("wr")
    for col in schema.numeric_columns("wr"):
        assert data.frame[col.name].dtype == np.float64, col.name
    assert data.frame["state"].dtype == object
    assert set(data.frame["state"]) <= {"TX", "OH", "CA", "WY"}

    expected = frame[frame["position"] == "WR"]
    assert len(data) == ROWS
    assert data.frame.index.equals(data.target.index)
    assert data.source_rows.tolist() == [_row_of(frame, i) for i in expected.index]
    np.testing.assert_array_equal(data.frame["senior_rec_ypg"],
                                  expected["senior_rec_ypg"].astype(float))
    mapping = dict(zip(FILE_LABELS, schema.DIVISIONS, strict=True))
    assert data.target.tolist() == [mapping[v] for v in expected["division"]]
    assert data.rows_per_division == {d: PER_DIVISION for d in schema.DIVISIONS}
    assert list(data.rows_per_division) == list(schema.DIVISIONS)
    assert data.unknown_columns == []
    assert "name" not in data.frame.columns and "player_name" not in data.frame.columns


def test_single_position_file_without_position_column(tmp_path):
    frame = _rows("rb", 3).drop(columns="position")
    path = _write(tmp_path, frame)
    data = load_training_data(path, "rb")
    assert len(data) == ROWS
    np.testing.assert_allclose(data.frame["senior_ypc"], frame["senior_ypc"])


def test_optional_columns_absent_or_blank_are_nan(tmp_path):
    frame = _rows("qb", 4).drop(columns=["vertical_jump", "state"])
    frame["forty_yard_dash"] = frame["forty_yard_dash"].astype(object)
    frame.loc[0, "forty_yard_dash"] = ""
    frame.loc[1, "forty_yard_dash"] = "  "
    frame.loc[2, "forty_yard_dash"] = "N/A"
    frame.loc[3, "forty_yard_dash"] = "NaN"
    data = load_training_data(_write(tmp_path, frame), "qb")
    assert data.frame["vertical_jump"].isna().all()
    assert data.frame["state"].isna().all()
    assert data.frame["forty_yard_dash"].isna().tolist()[:5] == [True] * 4 + [False]


def test_heights_in_feet_and_inches_are_parsed(tmp_path):
    frame = _rows("qb", 5)
    frame["height_inches"] = frame["height_inches"].astype(object)
    formats = ["6-2", "6'2\"", "6' 2", "6 ft 2 in", " 74 ", "5'11"]
    for i, text in enumerate(formats):
        frame.loc[i, "height_inches"] = text
    data = load_training_data(_write(tmp_path, frame), "qb")
    assert data.frame["height_inches"].tolist()[:6] == [74.0] * 5 + [71.0]


def test_column_names_match_ignoring_case_spaces_and_aliases(tmp_path):
    frame = _rows("qb", 6).rename(columns={
        "height_inches": "Height", "weight_lbs": " WEIGHT ", "senior_ypg": "Senior_YPG",
        "division": "Division", "position": "Position"})
    data = load_training_data(_write(tmp_path, frame), "qb")
    assert list(data.frame.columns) == schema.feature_names("qb")
    assert data.frame["weight_lbs"].notna().all()


def test_utf8_bom_and_crlf_are_fine(tmp_path):
    text = _rows("qb", 7).to_csv(index=False, lineterminator="\r\n")
    path = _write(tmp_path, b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert len(load_training_data(path, "qb")) == ROWS


def test_thousands_separators_are_read(tmp_path):
    frame = _rows("qb", 8)
    frame["senior_yds"] = frame["senior_yds"].astype(object)
    frame.loc[0, "senior_yds"] = "3,200"
    data = load_training_data(_write(tmp_path, frame), "qb")
    assert data.frame.loc[0, "senior_yds"] == 3200.0


# --------------------------------------------------------------------------- warnings


def test_names_dropped_and_unknown_columns_reported_then_ignored(tmp_path, caplog):
    frame = _rows("qb", 9).rename(columns={"name": "Player_Name"})
    frame["coach_notes"] = "good arm"
    frame["hieght_inches"] = 1
    with caplog.at_level(logging.INFO, logger="recruit_reveal.data.loading"):
        data = load_training_data(_write(tmp_path, frame), "qb")
    assert data.unknown_columns == ["coach_notes", "hieght_inches"]
    assert "coach_notes" not in data.frame.columns
    assert "did you mean 'height_inches'" in str(_warning(data, "hieght_inches"))
    assert "never kept" in _warning(data, "Player_Name").message
    assert "coach_notes" in caplog.text and "Player_Name" in caplog.text


def _warning(data: TrainingData, column: str) -> Problem:
    found = [w for w in data.warnings if w.column == column]
    assert len(found) == 1, data.warnings
    assert found[0].row == 1
    return found[0]


def test_duplicated_rows_are_a_warning_naming_the_rows(tmp_path, caplog):
    frame = _rows("qb", 10)
    frame = pd.concat([frame, frame.iloc[[2, 2, 5]]], ignore_index=True)
    with caplog.at_level(logging.WARNING, logger="recruit_reveal.data.loading"):
        data = load_training_data(_write(tmp_path, frame), "qb")
    dups = [w for w in data.warnings if "duplicates row" in w.message]
    assert [(w.row, w.message.split()[2]) for w in dups] == [
        (ROWS + 2, "4"), (ROWS + 3, "4"), (ROWS + 4, "7")]
    assert len(data) == ROWS + 3
    assert f"row {ROWS + 2}" in caplog.text


def test_blank_rows_are_skipped_and_row_numbers_still_match(tmp_path):
    text = _rows("qb", 11).to_csv(index=False)
    lines = text.splitlines()
    lines.insert(3, "")
    lines.insert(5, "," * lines[0].count(","))
    data = load_training_data(_write(tmp_path, "\n".join(lines) + "\n\n"), "qb")
    assert len(data) == ROWS
    assert any(f"skipped 3 blank row(s): 4, 6, {ROWS + 4}" == w.message for w in data.warnings)

    lines[7] = lines[7].replace("QB,NAIA", "QB,Juco")
    error = _fails(_write(tmp_path, "\n".join(lines) + "\n", "bad.csv"))
    _problem(error, row=8, column="division", contains="Juco")


# --------------------------------------------------------------------------- bad files


def test_missing_file(tmp_path):
    error = _fails(tmp_path / "nope.csv")
    _problem(error, contains="file not found")


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_empty_file(tmp_path, content):
    error = _fails(_write(tmp_path, content))
    _problem(error, contains="empty")


def test_header_only(tmp_path):
    error = _fails(_write(tmp_path, "position,division,height_inches,weight_lbs,senior_ypg\n"))
    _problem(error, contains="no data rows")


@pytest.mark.parametrize("content,says", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    (b"PK\x03\x04\x14\x00\x06\x00", "xlsx"),
    (b'[{"position": "qb", "height_inches": 72}]', "JSON"),
    (b'{"rows": []}', "JSON"),
])
def test_not_a_csv_file(tmp_path, content, says):
    error = _fails(_write(tmp_path, content))
    assert says in str(error)


def test_ragged_rows_name_every_bad_row(tmp_path):
    lines = _rows("qb", 12).to_csv(index=False).splitlines()
    lines[3] += ",extra"
    lines[6] = ",".join(lines[6].split(",")[:4])
    error = _fails(_write(tmp_path, "\n".join(lines) + "\n"))
    width = len(lines[0].split(","))
    _problem(error, row=4, contains=f"has {width + 1} fields but the header has {width}")
    _problem(error, row=7, contains=f"has 4 fields but the header has {width}")


def test_ragged_rows_found_with_quoted_fields_too(tmp_path):
    frame = _rows("qb", 13)
    frame.loc[0, "name"] = 'Smith, "Jr"\nthe second'
    lines = frame.to_csv(index=False).split("\n")
    # The quoted name spans two lines; the spreadsheet still shows one row per record.
    lines[5] += ",extra"
    error = _fails(_write(tmp_path, "\n".join(lines)))
    _problem(error, row=5, contains="fields but the header has")


def test_header_narrower_than_every_data_row(tmp_path):
    lines = _rows("qb", 27).to_csv(index=False).splitlines()
    lines[0] = lines[0].rsplit(",", 1)[0]
    error = _fails(_write(tmp_path, "\n".join(lines) + "\n"))
    width = lines[0].count(",") + 1
    _problem(error, row=1, contains=f"header has {width} fields but every data row has "
                                     f"{width + 1}")


def test_old_mac_line_ends(tmp_path):
    frame = _rows("qb", 28).astype(object)
    frame.loc[1, "height_inches"] = "6'1\""  # a quote forces the csv-module path
    path = _write(tmp_path, frame.to_csv(index=False, lineterminator="\r"))
    data = load_training_data(path, "qb")
    assert len(data) == ROWS and data.frame.loc[1, "height_inches"] == 73.0


def test_semicolon_separated_file(tmp_path):
    text = _rows("qb", 14).to_csv(index=False, sep=";")
    error = _fails(_write(tmp_path, text))
    _problem(error, row=1, contains="semicolons")


def test_no_header_row(tmp_path):
    text = _rows("qb", 15).to_csv(index=False, header=False)
    error = _fails(_write(tmp_path, text))
    problem = _problem(error, row=1, contains="no header row")
    assert "looks like data" in problem.message
    assert "height_inches" in problem.expected


@pytest.mark.parametrize("position,dropped", [
    ("qb", "height_inches"), ("qb", "weight_lbs"), ("qb", "senior_ypg"), ("qb", "division"),
    ("rb", "senior_ypg"), ("wr", "senior_rec_ypg"),
])
def test_required_column_missing(tmp_path, position, dropped):
    frame = _mixed().drop(columns=dropped)
    error = _fails(_write(tmp_path, frame), position)
    problem = _problem(error, column=dropped, contains="required column is missing")
    assert problem.row is None and dropped in problem.expected


def test_position_column_required_when_file_holds_several_positions(tmp_path):
    frame = _mixed().drop(columns="position")
    error = _fails(_write(tmp_path, frame), "qb")
    problem = _problem(error, column="position", contains="several positions")
    assert "senior_rec_ypg" in problem.message and "senior_comp_pct" in problem.message


def test_single_position_file_of_another_position(tmp_path):
    frame = _rows("wr", 16).drop(columns="position")
    error = _fails(_write(tmp_path, frame), "rb")
    _problem(error, column="position", contains="look like wr data")


def test_numeric_column_holding_text(tmp_path):
    frame = _mixed()
    qb = frame.index[frame["position"] == "QB"]
    frame.loc[qb[1], "weight_lbs"] = "two hundred"
    frame.loc[qb[2], "height_inches"] = "tall"
    frame.loc[qb[3], "height_inches"] = "6'13"
    path = _write(tmp_path, frame)
    error = _fails(path)
    p = _problem(error, row=_row_of(frame, qb[1]), column="weight_lbs", contains="not a number")
    assert "'two hundred'" in p.message and "pounds between 120 and 350" in p.expected
    p = _problem(error, row=_row_of(frame, qb[2]), column="height_inches", contains="'tall'")
    assert "6-2" in p.expected
    _problem(error, row=_row_of(frame, qb[3]), column="height_inches", contains="6'13")


def test_value_outside_plausible_range(tmp_path):
    frame = _mixed()
    qb = frame.index[frame["position"] == "QB"]
    frame.loc[qb[0], "height_inches"] = 188
    frame.loc[qb[1], "height_inches"] = 6.2
    frame.loc[qb[2], "senior_ypg"] = 3200
    frame.loc[qb[3], "forty_yard_dash"] = -1
    error = _fails(_write(tmp_path, frame))
    p = _problem(error, row=_row_of(frame, qb[0]), column="height_inches", contains="188")
    assert "centimetres" in p.message and p.expected == "inches between 60 and 84"
    _problem(error, row=_row_of(frame, qb[1]), column="height_inches", contains="feet?")
    _problem(error, row=_row_of(frame, qb[2]), column="senior_ypg", contains="outside")
    _problem(error, row=_row_of(frame, qb[3]), column="forty_yard_dash", contains="-1")


def test_counts_must_be_whole_numbers(tmp_path):
    frame = _rows("qb", 17)
    frame.loc[4, "senior_tds"] = 12.5
    error = _fails(_write(tmp_path, frame))
    _problem(error, row=6, column="senior_tds", contains="not a whole number")


def test_missing_value_in_required_column(tmp_path):
    frame = _rows("qb", 18)
    frame.loc[0, "weight_lbs"] = np.nan
    error = _fails(_write(tmp_path, frame))
    _problem(error, row=2, column="weight_lbs", contains="missing value")


def test_unknown_division_label(tmp_path):
    frame = _mixed()
    qb = frame.index[frame["position"] == "QB"]
    frame.loc[qb[5], "division"] = "Juco"
    error = _fails(_write(tmp_path, frame), min_rows_per_division=1)
    p = _problem(error, row=_row_of(frame, qb[5]), column="division", contains="'Juco'")
    assert "Power 5" in p.expected


def test_missing_target(tmp_path):
    frame = _mixed()
    qb = frame.index[frame["position"] == "QB"]
    frame.loc[qb[7], "division"] = " "
    error = _fails(_write(tmp_path, frame), min_rows_per_division=1)
    _problem(error, row=_row_of(frame, qb[7]), column="division", contains="missing target")


def test_unknown_state_code(tmp_path):
    frame = _rows("qb", 19)
    frame.loc[2, "state"] = "Texas"
    error = _fails(_write(tmp_path, frame))
    _problem(error, row=4, column="state", contains="'Texas'")


@pytest.mark.parametrize("second", ["height_inches", "Height_Inches", " HEIGHT ", "height"])
def test_column_name_appearing_twice(tmp_path, second):
    text = _rows("qb", 20).to_csv(index=False)
    lines = text.splitlines()
    lines = [lines[0] + "," + second] + [line + ",70" for line in lines[1:]]
    error = _fails(_write(tmp_path, "\n".join(lines) + "\n"))
    p = _problem(error, row=1, column="height_inches", contains="appears 2 times")
    assert repr(second.strip()) in p.message


def test_duplicated_position_column_stops_early(tmp_path):
    frame = _mixed()
    frame["Position "] = frame["position"]
    error = _fails(_write(tmp_path, frame))
    assert len(error.problems) == 1
    _problem(error, row=1, column="position", contains="appears 2 times")


def test_division_with_too_few_rows(tmp_path):
    frame = _rows("qb", 21)
    frame = frame.drop(index=frame.index[frame["division"] == "DII"][2:])
    error = _fails(_write(tmp_path, frame))
    p = _problem(error, column="division", contains="'D2' has only 2 valid qb row(s)")
    assert p.expected == "at least 5 rows per division"
    assert len(error.problems) == 1
    assert load_training_data(_write(tmp_path, frame), "qb", min_rows_per_division=2)


def test_absent_division_is_too_few(tmp_path):
    frame = _rows("qb", 22)
    frame = frame[frame["division"] != "P5"]
    error = _fails(_write(tmp_path, frame), min_rows_per_division=1)
    _problem(error, column="division", contains="'Power 5' has 0 valid qb row(s)")


def test_requested_position_absent(tmp_path):
    frame = _mixed()
    frame = frame[frame["position"] != "RB"]
    error = _fails(_write(tmp_path, frame), "rb")
    p = _problem(error, column="position", contains="no rb rows")
    assert f"qb ({ROWS} rows), wr ({ROWS} rows)" in p.message


def test_unknown_requested_position():
    with pytest.raises(DataValidationError, match="kicker"):
        load_training_data("whatever.csv", "kicker")


def test_file_not_utf8(tmp_path):
    text = _rows("qb", 23).to_csv(index=False).replace("Athlete qb003", "André Müller")
    error = _fails(_write(tmp_path, text.encode("cp1252")))
    p = _problem(error, row=5, contains="not UTF-8")
    assert "re-save" in p.expected and "UTF-8" in p.expected


def test_utf16_file(tmp_path):
    text = _rows("qb", 24).to_csv(index=False)
    error = _fails(_write(tmp_path, text.encode("utf-16")))
    _problem(error, contains="UTF-16")


def test_other_positions_are_not_validated_but_unknown_positions_are(tmp_path):
    frame = _mixed()
    wr = frame.index[frame["position"] == "WR"]
    frame.loc[wr[0], "height_inches"] = "tall"
    frame.loc[wr[1], "division"] = "Juco"
    frame.loc[wr[2], "senior_rec_ypg"] = ""
    path = _write(tmp_path, frame)
    assert len(load_training_data(path, "qb")) == ROWS
    _fails(path, "wr")

    frame.loc[3, "position"] = "TE"
    frame.loc[4, "position"] = ""
    error = _fails(_write(tmp_path, frame, "te.csv"), "qb")
    _problem(error, row=5, column="position", contains="unknown position 'TE'")
    _problem(error, row=6, column="position", contains="missing position")


def test_several_problems_collected_in_one_error(tmp_path):
    frame = _rows("qb", 25).drop(columns="senior_ypg").astype(object)
    frame.loc[0, "weight_lbs"] = "heavy"
    frame.loc[1, "state"] = "ZZ"
    frame.loc[2, "division"] = "Juco"
    frame.loc[3, "games"] = 40
    error = _fails(_write(tmp_path, frame), min_rows_per_division=1)
    assert len(error.problems) == 5 and error.truncated == 0
    _problem(error, column="senior_ypg", contains="required column is missing")
    _problem(error, row=2, column="weight_lbs")
    _problem(error, row=3, column="state")
    _problem(error, row=4, column="division")
    _problem(error, row=5, column="games")
    # The header-level problem is listed before the cell problems, which follow the rows.
    assert [p.row for p in error.problems] == [None, 2, 3, 4, 5]
    assert str(error).startswith("5 problem(s) found:")


def test_problems_are_capped_and_counted(tmp_path):
    frame = _rows("qb", 26)
    frame = pd.concat([frame] * 4, ignore_index=True)  # 96 rows
    frame["weight_lbs"] = 90
    frame["senior_ypg"] = "lots"
    error = _fails(_write(tmp_path, frame), max_problems=MAX_PROBLEMS)
    assert len(error.problems) == MAX_PROBLEMS
    assert error.truncated == 2 * len(frame) - MAX_PROBLEMS
    assert f"... and {error.truncated} more" in str(error)
    # The first rows are listed first, both columns of a row together.
    assert [p.row for p in error.problems[:4]] == [2, 2, 3, 3]


# --------------------------------------------------------------------------- bundled data


@pytest.mark.skipif(not BUNDLED.exists(), reason="data/training.csv has not been generated yet")
@pytest.mark.parametrize("position", schema.POSITIONS)
def test_bundled_training_csv_loads_cleanly(position):
    data = load_training_data(BUNDLED, position)
    assert len(data) > 0 and data.frame.shape[1] == len(schema.feature_names(position))
    assert all(n >= 5 for n in data.rows_per_division.values())
    assert data.unknown_columns == []
    assert [w for w in data.warnings if "never kept" not in w.message] == []
    for name in schema.required_columns(position):
        assert data.frame[name].notna().all(), name
