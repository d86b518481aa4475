"""Reading a training CSV: encodings, line ends, CSV structure and the header row."""

from __future__ import annotations

import logging

import pytest
from training_csv import ROWS, load_fails, mixed_rows, one_problem, valid_rows, write_csv

from recruit_reveal import schema
from recruit_reveal.data.loading import TrainingData, load_training_data
from recruit_reveal.errors import Problem


def test_utf8_bom_and_crlf_are_fine(tmp_path):
    text = valid_rows("qb", 7).to_csv(index=False, lineterminator="\r\n")
    path = write_csv(tmp_path, b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert len(load_training_data(path, "qb")) == ROWS


def test_column_names_match_ignoring_case_spaces_and_aliases(tmp_path):
    frame = valid_rows("qb", 6).rename(columns={
        "height_inches": "Height", "weight_lbs": " WEIGHT ", "senior_ypg": "Senior_YPG",
        "division": "Division", "position": "Position"})
    data = load_training_data(write_csv(tmp_path, frame), "qb")
    assert list(data.frame.columns) == schema.feature_names("qb")
    assert data.frame["weight_lbs"].notna().all()


def test_names_dropped_and_unknown_columns_reported_then_ignored(tmp_path, caplog):
    frame = valid_rows("qb", 9).rename(columns={"name": "Player_Name"})
    frame["coach_notes"] = "good arm"
    frame["hieght_inches"] = 1
    with caplog.at_level(logging.INFO, logger="recruit_reveal.data.loading"):
        data = load_training_data(write_csv(tmp_path, frame), "qb")
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


def test_blank_rows_are_skipped_and_row_numbers_still_match(tmp_path):
    text = valid_rows("qb", 11).to_csv(index=False)
    lines = text.splitlines()
    lines.insert(3, "")
    lines.insert(5, "," * lines[0].count(","))
    data = load_training_data(write_csv(tmp_path, "\n".join(lines) + "\n\n"), "qb")
    assert len(data) == ROWS
    assert any(f"skipped 3 blank row(s): 4, 6, {ROWS + 4}" == w.message for w in data.warnings)

    lines[7] = lines[7].replace("QB,NAIA", "QB,Juco")
    error = load_fails(write_csv(tmp_path, "\n".join(lines) + "\n", "bad.csv"))
    one_problem(error, row=8, column="division", contains="Juco")


def test_missing_file(tmp_path):
    error = load_fails(tmp_path / "nope.csv")
    one_problem(error, contains="file not found")


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_empty_file(tmp_path, content):
    error = load_fails(write_csv(tmp_path, content))
    one_problem(error, contains="empty")


def test_header_only(tmp_path):
    error = load_fails(write_csv(tmp_path, "position,division,height_inches,weight_lbs,senior_ypg\n"))
    one_problem(error, contains="no data rows")


@pytest.mark.parametrize("content,says", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    (b"PK\x03\x04\x14\x00\x06\x00", "xlsx"),
    (b'[{"position": "qb", "height_inches": 72}]', "JSON"),
    (b'{"rows": []}', "JSON"),
])
def test_not_a_csv_file(tmp_path, content, says):
    error = load_fails(write_csv(tmp_path, content))
    assert says in str(error)


def test_ragged_rows_name_every_bad_row(tmp_path):
    lines = valid_rows("qb", 12).to_csv(index=False).splitlines()
    lines[3] += ",extra"
    lines[6] = ",".join(lines[6].split(",")[:4])
    error = load_fails(write_csv(tmp_path, "\n".join(lines) + "\n"))
    width = len(lines[0].split(","))
    one_problem(error, row=4, contains=f"has {width + 1} fields but the header has {width}")
    one_problem(error, row=7, contains=f"has 4 fields but the header has {width}")


def test_ragged_rows_found_with_quoted_fields_too(tmp_path):
    frame = valid_rows("qb", 13)
    frame.loc[0, "name"] = 'Smith, "Jr"\nthe second'
    lines = frame.to_csv(index=False).split("\n")
    # The quoted name spans two lines; the spreadsheet still shows one row per record.
    lines[5] += ",extra"
    error = load_fails(write_csv(tmp_path, "\n".join(lines)))
    one_problem(error, row=5, contains="fields but the header has")


def test_header_narrower_than_every_data_row(tmp_path):
    lines = valid_rows("qb", 27).to_csv(index=False).splitlines()
    lines[0] = lines[0].rsplit(",", 1)[0]
    error = load_fails(write_csv(tmp_path, "\n".join(lines) + "\n"))
    width = lines[0].count(",") + 1
    one_problem(error, row=1, contains=f"header has {width} fields but every data row has "
                                     f"{width + 1}")


def test_old_mac_line_ends(tmp_path):
    frame = valid_rows("qb", 28).astype(object)
    frame.loc[1, "height_inches"] = "6'1\""  # a quote forces the csv-module path
    path = write_csv(tmp_path, frame.to_csv(index=False, lineterminator="\r"))
    data = load_training_data(path, "qb")
    assert len(data) == ROWS and data.frame.loc[1, "height_inches"] == 73.0


def test_semicolon_and_tab_separated_files(tmp_path):
    frame = valid_rows("qb", 14)
    for sep in (";", "\t"):
        path = write_csv(tmp_path, frame.to_csv(index=False, sep=sep, lineterminator="\r\n"))
        data = load_training_data(path, "qb")
        assert len(data) == ROWS and data.separator == sep
        assert data.frame["height_inches"].tolist() == frame["height_inches"].tolist()


def test_no_header_row(tmp_path):
    text = valid_rows("qb", 15).to_csv(index=False, header=False)
    error = load_fails(write_csv(tmp_path, text))
    problem = one_problem(error, row=1, contains="no header row")
    assert "looks like data" in problem.message
    assert "height_inches" in problem.expected


@pytest.mark.parametrize("second", ["height_inches", "Height_Inches", " HEIGHT ", "height"])
def test_column_name_appearing_twice(tmp_path, second):
    text = valid_rows("qb", 20).to_csv(index=False)
    lines = text.splitlines()
    lines = [lines[0] + "," + second] + [line + ",70" for line in lines[1:]]
    error = load_fails(write_csv(tmp_path, "\n".join(lines) + "\n"))
    p = one_problem(error, row=1, column="height_inches", contains="appears 2 times")
    assert repr(second.strip()) in p.message


def test_duplicated_position_column_stops_early(tmp_path):
    frame = mixed_rows()
    frame["Position "] = frame["position"]
    frame.loc[3, "Position "] = "WR" if frame.loc[3, "position"] != "WR" else "QB"
    error = load_fails(write_csv(tmp_path, frame))
    assert len(error.problems) == 1
    one_problem(error, row=1, column="position", contains="appears 2 times")


def test_file_not_utf8_is_read_as_windows_1252_with_a_warning(tmp_path):
    frame = valid_rows("qb", 23)
    frame["coach_note"] = "ok"
    frame.loc[3, "coach_note"] = "André Müller’s pick"
    data = load_training_data(write_csv(tmp_path, frame.to_csv(index=False).encode("cp1252")),
                              "qb")
    assert len(data) == ROWS and data.encoding == "Windows-1252"
    note = [w for w in data.warnings if "not UTF-8" in w.message]
    assert len(note) == 1 and note[0].row == 5 and "Windows-1252" in note[0].message


def test_latin1_bytes_that_windows_1252_leaves_undefined(tmp_path):
    text = valid_rows("qb", 29).to_csv(index=False).replace("Athlete qb003", "Ath\x81ete")
    data = load_training_data(write_csv(tmp_path, text.encode("latin-1")), "qb")
    assert len(data) == ROWS and data.encoding == "Latin-1"


def test_utf16_file(tmp_path):
    text = valid_rows("qb", 24).to_csv(index=False)
    error = load_fails(write_csv(tmp_path, text.encode("utf-16")))
    one_problem(error, contains="UTF-16")


def test_windows_1252_semicolons_and_crlf_together(tmp_path):
    frame = valid_rows("qb", 32).astype(object)
    frame.loc[0, "height_inches"] = "6\u20192\u201d"  # typographic quotes: bytes 0x92, 0x94
    frame.loc[1, "name"] = "José Núñez"
    text = frame.to_csv(index=False, sep=";", lineterminator="\r\n")
    data = load_training_data(write_csv(tmp_path, text.encode("cp1252")), "qb")
    assert (data.encoding, data.separator, len(data)) == ("Windows-1252", ";", ROWS)
    assert data.frame.loc[0, "height_inches"] == 74.0


FORM_HEADERS = {
    "qb": {"senior_ypg": "Senior_YPG", "senior_tds": "Senior_TD_Passes"},
    "rb": {"senior_ypg": "Senior_YPG", "senior_ypc": "Senior_Avg", "senior_rec_yds": "Senior_rec_yds"},
    "wr": {"senior_rec_ypg": "Senior_YPG", "senior_tds": "Senior_rec_td", "senior_avg": "Senior_Avg"},
}
COMMON_FORM_HEADERS = {"height_inches": "Height_Inches", "weight_lbs": "Weight_Lbs",
                       "forty_yard_dash": "Forty_Yard_Dash", "vertical_jump": "Vertical_Jump",
                       "grad_year": "Grad_year", "state": "State", "division": "Division",
                       "position": "Position", "name": "Player_Name"}


@pytest.mark.parametrize("position", list(FORM_HEADERS))
def test_a_file_with_an_intake_forms_headers_loads(tmp_path, position):
    frame = valid_rows(position, 41)
    renamed = frame.rename(columns=COMMON_FORM_HEADERS | FORM_HEADERS[position])
    renamed["College"] = "Somewhere U"
    data = load_training_data(write_csv(tmp_path, renamed), position)
    reference = load_training_data(write_csv(tmp_path, frame, "canonical.csv"), position)
    assert data.frame.equals(reference.frame)
    assert data.unknown_columns == ["College"]


def test_one_column_under_two_names_is_read_once_when_every_row_agrees(tmp_path):
    frame = valid_rows("qb", 42)
    frame["Height_Inches"] = frame["height_inches"].astype(float)  # 72 and 72.0 agree
    data = load_training_data(write_csv(tmp_path, frame), "qb")
    assert len(data) == ROWS
    warned = [w for w in data.warnings if w.column == "height_inches"]
    assert len(warned) == 1 and "appears 2 times with the same values" in warned[0].message
