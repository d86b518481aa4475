"""recruit-reveal monitor: the template executed headless by papermill into runs/monitor/,
exit 3 naming the drifted input in the HTML record, exit 0 for an unshifted stream."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pyarrow as pa
import pytest
from monitoring_support import profiled_models, stream, write_log

from recruit_reveal.cli import main
from recruit_reveal.monitoring import monitor_runs
from recruit_reveal.monitoring.logscan import LogExtent
from recruit_reveal.monitoring.monitor_runs import EXIT_ALERT, MONITOR_TEMPLATE, MonitorOutcome
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
    index = (runs / "index.html").read_text()
    # the runs index links the record with its verdict
    assert f"monitor/{day}/wr.html" in index
    assert f"{day} wr: ALERT (drifted wr 1.0.0: weight_lbs)" in index


def test_an_unshifted_stream_exits_0(tmp_path, profiled, trained_results):
    table, _ = stream(trained_results["qb"].pipeline, "qb", 300, seed=6)
    write_log(tmp_path / "log", table)
    outcome = monitor_runs.run_monitor(
        monitor_runs.MonitorParams(log=str(tmp_path / "log"), models_dir=str(profiled),
                                   position="qb"), tmp_path / "runs", run_notebook)
    assert outcome.verdict["alert"] is False and outcome.verdict["records"] == 300
    assert outcome.verdict["drifted"] == {}


def _argv(tmp_path, profiled, *extra):
    return ["monitor", "--log", str(tmp_path / "log"), "--runs-dir", str(tmp_path / "runs"),
            "--models-dir", str(profiled), *extra]


def test_a_future_since_writes_nothing_and_the_next_run_the_same_day_writes_its_record(
        tmp_path, profiled, trained_results, capsys):
    table, _ = stream(trained_results["qb"].pipeline, "qb", 200, seed=8)
    write_log(tmp_path / "log", table)
    runs = tmp_path / "runs"
    assert main(_argv(tmp_path, profiled, "--since", "2027-01-01", "--position", "qb")) == 0
    out = capsys.readouterr().out
    # the newest record date is named, so a wrong --since shows at once
    assert "qb: no records to review (the newest record of qb is dated 2026-03-03)" in out
    assert not runs.exists()
    assert main(_argv(tmp_path, profiled, "--position", "qb")) == 0
    day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    assert sorted(p.name for p in (runs / "monitor" / day).iterdir()) == [
        "qb.html", "qb.ipynb", "qb.verdict.json"]
    assert "records, OK" in capsys.readouterr().out


def test_position_all_writes_one_record_per_position_and_a_second_run_writes_beside_it(
        tmp_path, profiled, trained_results, capsys):
    qb, _ = stream(trained_results["qb"].pipeline, "qb", 150, seed=9)
    wr, _ = stream(trained_results["wr"].pipeline, "wr", 150, seed=10)
    write_log(tmp_path / "log", pa.concat_tables([qb, wr]))
    argv = _argv(tmp_path, profiled, "--position", "all")
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "rb: no records to review (the log holds no record of rb)" in out
    assert main(argv) == 0
    day_folder = tmp_path / "runs" / "monitor" / datetime.now(timezone.utc).strftime("%Y-%m-%d")
    names = sorted(p.name for p in day_folder.glob("*.ipynb"))
    # qb and wr each twice: the first under its name, the second with its UTC time
    assert len(names) == 4 and {"qb.ipynb", "wr.ipynb"} < set(names)
    assert [n[:3] for n in names] == ["qb-", "qb.", "wr-", "wr."]
    for name in names:
        verdict = json.loads((day_folder / name.replace(".ipynb", ".verdict.json")).read_text())
        assert verdict["position"] == name[:2] and verdict["records"] == 150


def test_the_lines_printed_for_a_run_without_records_and_with_an_alert():
    none = MonitorOutcome("rb", None, {}, LogExtent(0, None))
    assert none.lines() == ["rb: no records to review (the log holds no record of rb); "
                            "no record written"]
    alert = MonitorOutcome("wr", "runs/monitor/d/wr.ipynb",
                           {"records": 1200, "alert": True, "drifted": {"wr 1.0.0": ["forty"]},
                            "accuracy_alerts": []}, LogExtent(1200, "2026-03-03"))
    assert alert.alert
    assert alert.lines() == ["Wrote runs/monitor/d/wr.ipynb: 1,200 records, ALERT",
                             "  drifted wr 1.0.0: forty"]
