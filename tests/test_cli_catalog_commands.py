"""``recruit-reveal catalog show|check`` and ``--catalog``."""

from __future__ import annotations

from pathlib import Path

from recruit_reveal.cli import main

FIXTURE = Path(__file__).parent / "fixtures" / "catalog_five_levels.toml"


def test_check_a_good_catalog(capsys):
    assert main(["catalog", "check", str(FIXTURE)]) == 0
    out = capsys.readouterr().out
    assert "5 positions (qb, rb, wr, te, lb)" in out
    assert "D3 < D2 < FCS < G5 < Power 4" in out


def test_check_lists_every_problem_one_line_each_exit_2_no_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[ladder]\nlevels = ["Only"]\n[inputs.stars]\nkind = "stars"\n'
                   '[positions.te]\ninputs = ["height_inches"]\nrequired = ["weight_lbs"]\n',
                   encoding="utf-8")
    assert main(["catalog", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert any("ladder.levels: a ladder needs at least two levels" in line for line in lines)
    assert any("inputs.stars.kind: unknown kind 'stars'" in line for line in lines)
    assert any("positions.te.required: 'weight_lbs' is not among" in line for line in lines)
    assert all(str(bad) in line for line in lines)


def test_show_prints_positions_inputs_and_ladder(capsys):
    assert main(["catalog", "show", str(FIXTURE)]) == 0
    out = capsys.readouterr().out
    assert "Ladder, lowest first: D3 < D2 < FCS < G5 < Power 4" in out
    assert "Tight end" in out and "Linebacker" in out
    assert "recruiting-service star rating" in out
    # An input a position overrides is shown as each position holds it.
    assert "rushing yards/game" in out and "passing yards/game" in out


def test_show_defaults_to_the_default_catalog(capsys, monkeypatch):
    monkeypatch.delenv("CATALOG", raising=False)
    assert main(["catalog", "show"]) == 0
    assert "D3 < D2 < FCS < Power 5" in capsys.readouterr().out


def test_a_broken_catalog_flag_stops_a_command_before_it_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CATALOG", raising=False)
    bad = tmp_path / "bad.toml"
    bad.write_text("[ladder]\nlevels = []\n", encoding="utf-8")
    code = main(["train", "--csv", str(tmp_path / "none.csv"), "--position", "all",
                 "--catalog", str(bad), "--models-dir", str(tmp_path / "models")])
    assert code == 2
    assert "ladder.levels" in capsys.readouterr().err
    assert not (tmp_path / "models").exists()
