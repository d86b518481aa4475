"""recruit-reveal monitor: the template executed headless by papermill into runs/monitor/,
exit 3 naming the drifted input in the HTML record, exit 0 for an unshifted stream."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from monitoring_support import profiled_models, stream, write_log

from recruit_reveal.cli import main
from recruit_reveal.monitoring import monitor_runs
from recruit_reveal.monitoring.monitor_runs import EXIT_ALERT, MONITOR_TEMPLATE
from recruit_reveal.release.notebook import run_notebook

ROOT = MONITOR_TEMPLATE.parents[3]


def test_the_notebook_copy_is_the_packaged_template():
    assert (ROOT / "notebooks" / "monitor.ipynb").read_bytes() == MONITOR_TEMPLATE.read_bytes()


def test_the_template_parameters_are_the_monitor_params():
    nb = json.loads(MONITOR_TEMPLATE.read_text())
    (cell,) = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
    assigned = [line.split("=")[0].strip() for line in "".join(cell["source"]).splitlines()
                if "=" in line and not line.startswith("#")]
    assert assigned == list(monitor_runs.MonitorParams().__dict__)


@pytest.fixture(scope="module")
def profiled(tmp_path_factory, exported_models_dir, sample_csv):
    return profiled_models(tmp_path_factory.mktemp("profiled") / "models", exported_models_dir,
                           sample_csv)


def test_a_shifted_stream_exits_3_and_the_html_record_names_the_input(tmp_path, profiled,
                                                                      trained_results, capsys):
    table, _ = stream(trained_results["wr"].pipeline, "wr", 400, seed=5,
                      shift={"weight_lbs": 30.0})
    write_log(tmp_path / "log", table)
    runs = tmp_path / "runs"
    code = main(["monitor", "--position", "wr", "--log", str(tmp_path / "log"),
                 "--runs-dir", str(runs), "--models-dir", str(profiled)])
    assert code == EXIT_ALERT
    day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    html = (runs / "monitor" / day / "wr.html").read_text()
    assert "Drifted inputs of wr 1.0.0: weight_lbs" in html
    assert "drifted wr 1.0.0: weight_lbs" in capsys.readouterr().out
    assert f"monitor/{day}/wr.html" in (runs / "index.html").read_text()
    # a second run the same day would overwrite the record: refused, usage error
    assert main(["monitor", "--position", "wr", "--log", str(tmp_path / "log"),
                 "--runs-dir", str(runs), "--models-dir", str(profiled)]) == 2


def test_an_unshifted_stream_exits_0(tmp_path, profiled, trained_results):
    table, _ = stream(trained_results["qb"].pipeline, "qb", 300, seed=6)
    write_log(tmp_path / "log", table)
    outcome = monitor_runs.run_monitor(
        monitor_runs.MonitorParams(log=str(tmp_path / "log"), models_dir=str(profiled),
                                   position="qb"), tmp_path / "runs", run_notebook)
    assert outcome.verdict["alert"] is False and outcome.verdict["records"] == 300
    assert outcome.verdict["drifted"] == {}
