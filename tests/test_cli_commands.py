"""Every command with its defaults, in an empty folder and in a trained one: an exit code
of 0, 1, 2 or 3 and a message, never a traceback; the models folder, runs folder and
prediction log resolved in one way (flag, then environment, then default)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from recruit_reveal.cli import main

BIN = Path(sys.executable).parent
#: Every subcommand as a user types it first, with only what it requires (serve is left
#: out: it would serve; tests/test_cli.py hands its options to a stub).
COMMANDS = [
    ["train", "--csv", "data/training.csv", "--position", "qb"],
    ["models", "list"], ["models", "show", "qb"], ["models", "promote", "qb", "1.0.0"],
    ["models", "rollback"], ["models", "history"], ["models", "diff", "qb", "latest", "latest"],
    ["models", "migrate", "qb", "1.0.0", "--trust-pickle", "--reason", "exported before skops"],
    ["models", "migrate", "--all", "--trust-pickle", "--reason", "exported before skops"],
    ["runs", "index"], ["generate-data", "--rows", "20"], ["keys", "create", "keys"],
    ["outcomes", "add", "outcomes.csv"], ["monitor"], ["monitor", "--since", "2027-01-01"],
]
_PLACES = ("MODEL_DIR", "RUNS_DIR", "PREDICTION_LOG")


@pytest.fixture
def clean_env(monkeypatch):
    for name in _PLACES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _run_everywhere(folder: Path, capsys) -> tuple[list[str], dict[str, int]]:
    problems, codes = [], []
    for argv in COMMANDS:
        code = main(argv)
        codes.append(code)
        err = capsys.readouterr().err
        if code not in (0, 1, 2, 3) or "Traceback" in err or "unexpected error" in err:
            problems.append(f"{' '.join(argv)} in {folder.name}: exit {code}: {err[-500:]}")
        elif code == 2 and not err.startswith("recruit-reveal: error:"):
            problems.append(f"{' '.join(argv)}: exit 2 without a message: {err!r}")
    return problems, dict(zip((" ".join(a) for a in COMMANDS), codes, strict=True))


def test_every_command_in_an_empty_folder_ends_with_an_exit_code_never_a_traceback(
        tmp_path, clean_env, capsys):
    clean_env.chdir(tmp_path)
    problems, codes = _run_everywhere(tmp_path, capsys)
    assert problems == []
    assert codes["models show qb"] == 2 and codes["models list"] == 0


def test_every_command_in_a_trained_folder_ends_with_an_exit_code_never_a_traceback(
        tmp_path, models_dir, clean_env, capsys):
    clean_env.chdir(models_dir.parent)
    (models_dir.parent / "log").mkdir()
    clean_env.setenv("PREDICTION_LOG", "log")
    problems, codes = _run_everywhere(models_dir.parent, capsys)
    assert problems == []
    # found through the defaults alone: models/ and the log of $PREDICTION_LOG
    assert {code for argv, code in codes.items()
            if argv.startswith(("models", "monitor"))} == {0}


def test_the_readme_migrate_command_works_in_a_trained_folder_with_no_other_flag(
        models_dir, clean_env):
    from legacy_models import strip_skops

    strip_skops(models_dir)
    argv = ["models", "migrate", "qb", "1.0.0", "--trust-pickle", "--reason",
            "exported before skops"]
    proc = subprocess.run([str(BIN / "recruit-reveal"), *argv], cwd=models_dir.parent,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "qb 1.0.0: migrated from pickle to skops" in proc.stdout
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_the_models_folder_comes_from_the_flag_else_model_dir(how, models_dir, tmp_path,
                                                              clean_env, capsys):
    from legacy_models import strip_skops

    strip_skops(models_dir)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    clean_env.chdir(elsewhere)  # no models/ here: only the flag or MODEL_DIR can find them
    flag = ["--models-dir", str(models_dir)] if how == "flag" else []
    if how == "environment":
        clean_env.setenv("MODEL_DIR", str(models_dir))
    assert main(["models", "migrate", "--all", "--trust-pickle", "--reason", "x", *flag]) == 0
    out = capsys.readouterr().out
    assert all(f"{pos} 1.0.0: migrated" in out for pos in ("qb", "rb", "wr"))


def test_runs_dir_and_prediction_log_come_from_the_environment(tmp_path, models_dir, clean_env,
                                                               capsys):
    clean_env.chdir(tmp_path)
    clean_env.setenv("RUNS_DIR", str(tmp_path / "records"))
    clean_env.setenv("MODEL_DIR", str(models_dir))
    assert main(["runs", "index"]) == 0
    assert (tmp_path / "records" / "index.html").is_file()
    assert not (tmp_path / "runs").exists()
    clean_env.setenv("PREDICTION_LOG", str(tmp_path / "no-log"))
    assert main(["monitor"]) == 0
    assert "the log holds no record of qb" in capsys.readouterr().out


def test_a_bad_location_in_the_environment_names_the_variable(tmp_path, clean_env, capsys):
    clean_env.chdir(tmp_path)
    clean_env.setenv("RUNS_DIR", "ftp://host/runs")
    assert main(["runs", "index"]) == 2
    assert "RUNS_DIR='ftp://host/runs'" in capsys.readouterr().err


def test_an_unexpected_error_is_one_line_and_its_traceback_is_on_verbose(
        tmp_path, clean_env, capsys):
    import recruit_reveal.cli.commands as commands

    def broken(args):
        raise TypeError("a bug")

    clean_env.setitem(commands.COMMANDS, "runs", broken)
    assert main(["runs", "index"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("recruit-reveal: unexpected error: TypeError: a bug")
    assert "Traceback" not in err
    assert main(["runs", "index", "-v"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_a_file_the_system_refuses_is_a_usage_error_naming_it(tmp_path, clean_env, capsys):
    clean_env.chdir(tmp_path)
    (tmp_path / "runs").write_text("a file where the runs folder should be")
    code = main(["runs", "index"])
    err = capsys.readouterr().err
    assert code == 2 and "runs" in err and "Traceback" not in err
