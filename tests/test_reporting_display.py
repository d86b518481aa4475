"""Display helpers of the training notebook."""

import pandas as pd
import pytest

from recruit_reveal.catalog import default_catalog
from recruit_reveal.modeling import explanations
from recruit_reveal.reporting import display as report

DEFAULT = default_catalog()
DIVISIONS = DEFAULT.ladder.levels


@pytest.mark.parametrize("position", DEFAULT.keys)
def test_sample_athlete_shows_what_the_api_would_answer(trained_results, position):
    result = trained_results[position]
    table = report.sample_athlete(result)["value"]

    athlete = DEFAULT.position(position).example
    expected = explanations.explain_frame(
        result.pipeline,
        pd.DataFrame([{k: v for k, v in athlete.items()
                                         if k not in {"position", "name"}}]),
        position, result.typical_values)[0]
    assert table["predicted division"] == expected["division"] in DIVISIONS
    shown = [float(table[f"P({d})"]) for d in DIVISIONS]
    assert sum(shown) == pytest.approx(1.0, abs=2e-3)
    assert shown == pytest.approx(list(expected["probabilities"]), abs=1e-3)
    assert table["notes"].startswith(f"The {position.upper()} model predicts")
    assert athlete["name"] not in table.to_string()  # names never reach a record


def test_rejected_rows_table_groups_by_column_and_rule_and_names_the_file(messy_export):
    from recruit_reveal.data import load_training_data

    data = load_training_data(messy_export.path, "rb", columns=messy_export.mapping_path,
                              invalid_rows="quarantine")
    styled = report.rejected_rows(data, "runs/v1.0.0/rb.rejected.csv")
    table = styled.data
    assert table["rows"].sum() == len(data.rejected) == len(messy_export.invalid_rows("rb"))
    assert set(zip(table["column"], table["rule"], strict=True)) == {
        ("height", "outside the plausible range"), ("weight", "not a number"),
        ("region_a", "unknown state code"), ("Level", "unknown division")}
    html = styled.to_html()
    assert f"{len(data.rejected):,} row(s) set aside, kept in runs/v1.0.0/rb.rejected.csv" in html
    assert html == report.rejected_rows(data, "runs/v1.0.0/rb.rejected.csv").to_html()

    assert "invalid rows fail the run" in report.rejected_rows(data, None).to_html()


def test_validation_report_shows_where_every_row_went(messy_export):
    from recruit_reveal.data import load_training_data

    data = load_training_data(messy_export.path, "qb", columns=messy_export.mapping_path,
                              invalid_rows="quarantine")
    table = report.validation_report(data)["result"]
    assert table["rows in file"] == str(data.row_counts)
    assert "fourty -> forty_yard_dash" in table["column mapping"]
    assert table["rows rejected"] == len(data.rejected)



def test_the_catalog_table_names_the_catalog_and_its_digests(tmp_path):
    from pathlib import Path

    from recruit_reveal.release.contract import NotebookParams

    five = Path(__file__).with_name("fixtures") / "catalog_five_levels.toml"
    settings = NotebookParams(position="lb", catalog=str(five), models_dir=str(tmp_path))
    table = report.catalog_table(settings)["value"]
    catalog = settings.catalog_in_use
    spec = catalog.position("lb")
    assert table["catalog digest"] == catalog.digest != DEFAULT.digest
    assert table["spec digest"] == spec.digest
    assert table["ladder"] == "D3 < D2 < FCS < G5 < Power 4"
    assert table["production stat"] == "none"  # a linebacker: measurables only
    default = report.catalog_table(NotebookParams())["value"]
    assert default["catalog"] == "default (default)" and default["catalog digest"] == \
        DEFAULT.digest
