"""release.summary: the run summary names failures and the exact commands to promote or retry.
"""

from __future__ import annotations

from pathlib import Path

from recruit_reveal.release.summary import PositionRun, RunSummary

FIXTURES = Path(__file__).parent / "fixtures"


def test_summary_names_failures_and_the_exact_promote_command(tmp_path):
    summary = RunSummary(version="1.2.0", engine="notebook", models_dir=tmp_path / "m",
                                runs_dir=tmp_path / "runs")
    summary.runs = [
        PositionRun("qb", "1.2.0", status="succeeded", exact_accuracy=0.61,
                           within_one_accuracy=0.95, duration=3.0),
        PositionRun("rb", "1.2.0", status="succeeded", duration=2.0),
        PositionRun("wr", "1.2.0", status="failed", error="wr: cell 8 raised X"),
    ]
    assert not summary.ok
    command = summary.promote_command()
    assert command == (f"recruit-reveal models promote qb 1.2.0 --models-dir {tmp_path / 'm'}"
                       f" && recruit-reveal models promote rb 1.2.0 --models-dir "
                       f"{tmp_path / 'm'}")
    text = summary.report()
    assert "FAILED wr: wr: cell 8 raised X" in text
    assert "latest was left unchanged" in text and command in text
    assert text.splitlines()[0].split() == list(RunSummary.HEADERS)
    assert "0.610" in text and "0.950" in text
    summary.csv = tmp_path / "t.csv"
    assert summary.retry_command() == (
        f"recruit-reveal train --csv {tmp_path / 't.csv'} --position wr --version 1.2.0 "
        f"--models-dir {tmp_path / 'm'} --runs-dir {tmp_path / 'runs'}")
    assert summary.retry_command() in summary.report()
