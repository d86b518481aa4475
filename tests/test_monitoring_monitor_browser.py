"""A monitoring record in headless Chromium, after a real `recruit-reveal monitor` run on a
stream shifted in one input, with outcomes: its figures load and show what moved, its
tables carry no pandas index and no exponent-printed p-values.

Chromium is installed when missing and the test fails when it cannot be (see
tests/chromium_support.py): a skipped browser test would prove nothing.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pytest
from chromium_support import Browser, chromium_path
from monitoring_support import profiled_models, stream, write_log
from test_release_index_browser import assert_not_blank

from recruit_reveal.cli import main
from recruit_reveal.monitoring import outcomes


@pytest.fixture(scope="module")
def record(tmp_path_factory, exported_models_dir, sample_csv, trained_results):
    base = tmp_path_factory.mktemp("monitor_browser")
    models = profiled_models(base / "models", exported_models_dir, sample_csv)
    table, truth = stream(trained_results["wr"].pipeline, "wr", 400, seed=5,
                          shift={"weight_lbs": 30.0})
    log = base / "log"
    write_log(log, table)
    records = table.to_pandas()
    pd.DataFrame({"athlete_ref": records["athlete_ref"], "division": truth}).to_csv(
        base / "outcomes.csv", index=False)
    outcomes.add_outcomes(base / "outcomes.csv", log)
    code = main(["monitor", "--position", "wr", "--log", str(log), "--runs-dir",
                 str(base / "runs"), "--models-dir", str(models)])
    assert code == 3  # weight_lbs drifted
    day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    return base / "runs" / "monitor" / day / "wr.html"


@pytest.fixture
def browser(tmp_path):
    opened = Browser(chromium_path(), tmp_path / "profile")
    yield opened
    opened.close()


def test_the_monitoring_record_shows_its_figures_and_plain_tables(record, browser, tmp_path):
    browser.open(record)
    assert browser.errors == []
    images = browser.evaluate(
        "Array.from(document.images).map(i => [i.alt, i.naturalWidth, i.naturalHeight])")
    alts = [alt for alt, width, height in images if width > 200 and height > 100]
    assert len(alts) == len(images), f"an image did not load: {images}"
    # the drifted input against training, the level mix as bars, live accuracy against CV
    assert any("weight_lbs now against training" in a and "drifted" in a for a in alts), alts
    assert any("predicted level, live against training" in a for a in alts), alts
    assert any("against cross-validation" in a for a in alts), alts

    headers = browser.evaluate(
        "Array.from(document.querySelectorAll('table')).map(t => "
        "Array.from(t.querySelectorAll('thead th')).map(th => th.innerText.trim()))")
    drift_header = next(h for h in headers if h and h[0] == "input" and "verdict" in h)
    assert "p (BH)" in drift_header
    # no pandas 0..N index: the first column of every table of the findings is named
    findings = [h for h in headers if h and h[0] in ("input", "division", "records", "metric")]
    assert len(findings) >= 4 and all(h[0] != "" for h in findings)
    cells = browser.evaluate(
        "Array.from(document.querySelectorAll('td')).map(td => td.innerText.trim())")
    assert not [c for c in cells if "e-0" in c or "e-1" in c], "a number printed with exponent"
    verdicts = browser.evaluate(
        "Array.from(document.querySelectorAll('table')).filter(t => Array.from("
        "t.querySelectorAll('thead th')).some(th => th.innerText.trim() === 'verdict'))"
        ".flatMap(t => Array.from(t.querySelectorAll('tbody tr')).map(r => "
        "[r.cells[0].innerText.trim(), r.cells[r.cells.length - 2].innerText.trim()]))")
    assert ["weight_lbs", "drifted"] in verdicts, verdicts
    assert_not_blank(browser.screenshot(tmp_path / "record.png"))
