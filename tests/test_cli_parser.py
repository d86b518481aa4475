"""The command line's help: every argument explained, the choices printed are the choices
accepted, every exit code listed, and -v/-q after the subcommand as well as before."""

from __future__ import annotations

import argparse

import pytest

from recruit_reveal.cli import main
from recruit_reveal.cli.parser import build_parser


def _parsers(parser: argparse.ArgumentParser, name: str = "recruit-reveal"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child_name, child in action.choices.items():
                yield from _parsers(child, f"{name} {child_name}")


def test_every_argument_of_every_command_has_help():
    missing = []
    for name, parser in _parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                # the commands' own one-line help, as `--help` lists them
                missing += [f"{name} {choice.dest}" for choice in action._choices_actions
                            if not choice.help]
                assert len(action._choices_actions) == len(action.choices)
            elif not action.help:
                missing.append(f"{name}: {action.dest}")
    assert missing == []


def test_the_top_level_help_lists_every_exit_code(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for code in ("0 success", "1 a training run", "2 a problem to fix", "3 monitor"):
        assert code in text


def test_migrate_help_speaks_of_migration_not_training(capsys):
    with pytest.raises(SystemExit):
        main(["models", "migrate", "--help"])
    epilog = " ".join(capsys.readouterr().out.split()).split("exit codes:")[1]
    assert "training" not in epilog and "with --all, some version failed" in epilog


@pytest.mark.parametrize("action", [["show"], ["promote", "1.0.0"], ["diff", "1.0.0", "1.0.1"],
                                    ["migrate", "1.0.0", "--reason", "x"]])
def test_one_position_commands_offer_only_what_they_accept(action, capsys, tmp_path):
    # One position: "all" is refused as the command reads its arguments.
    with pytest.raises(SystemExit) as stop:
        main(["models", action[0], "all", *action[1:], "--models-dir", str(tmp_path)])
    assert stop.value.code == 2
    assert "choose one position" in capsys.readouterr().err
    # Any position key is one: which exist is the models folder's to say (te has none here).
    assert main(["models", action[0], "te", *action[1:], "--models-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "te" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["-q", "models", "list"], ["models", "list", "-q"],
                                  ["models", "-q", "list"]])
def test_quiet_works_before_or_after_the_subcommand(argv):
    args = build_parser().parse_args(argv)
    assert args.quiet is True and args.verbose is False


def test_verbose_before_the_subcommand_is_not_reset_by_it():
    args = build_parser().parse_args(["-v", "models", "list"])
    assert args.verbose is True and args.quiet is False
