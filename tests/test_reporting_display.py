"""Display helpers of the training notebook."""

import pandas as pd
import pytest

from recruit_reveal.modeling import explanations as insights
from recruit_reveal.reporting import display as report
from recruit_reveal.schema import DIVISIONS, POSITIONS, SAMPLE_ATHLETES


@pytest.mark.parametrize("position", POSITIONS)
def test_sample_athlete_shows_what_the_api_would_answer(trained_results, position):
    result = trained_results[position]
    table = report.sample_athlete(result)["value"]

    athlete = next(a for a in SAMPLE_ATHLETES if a["position"] == position)
    expected = insights.explain_frame(
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
