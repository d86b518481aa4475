"""The ``recruit-reveal`` commands other than ``models``: train, runs index, serve, generate-data.

Each handler takes the parsed arguments and returns the exit code; errors the
user can fix propagate as :class:`~recruit_reveal.errors.RecruitRevealError`.
Heavy libraries are imported inside the handlers, so each command pays only for
what it uses.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .catalog_commands import catalog
from .model_commands import ACTIONS as MODEL_ACTIONS
from .parser import EXIT_FAILED, EXIT_OK

logger = logging.getLogger("recruit_reveal.cli")


#: The options naming a place -> the setting read when the option is not given.
_LOCATIONS = {"models_dir": "model_dir", "runs_dir": "runs_dir", "log": "prediction_log"}


def resolve_locations(args: argparse.Namespace) -> None:
    """Fill every place the command takes, in one way for all: the flag, else the
    environment (MODEL_DIR, RUNS_DIR, PREDICTION_LOG), else the default (models, runs; the
    log has none).  A bad value is a RecruitRevealError naming the variable."""
    from ..settings import load_setting

    for option, setting in _LOCATIONS.items():
        if hasattr(args, option) and getattr(args, option) is None:
            value = load_setting(setting)
            setattr(args, option, None if value is None else str(value))


def _train(args: argparse.Namespace) -> int:
    from recruit_reveal.release.contract import DEFAULT_CELL_TIMEOUT
    from recruit_reveal.release.runner import train

    summary = train(
        _per_position(args.data, "--data") or "", args.position, args.version, engine=args.engine,
        jobs=args.jobs, models_dir=args.models_dir,
        runs_dir=args.runs_dir, changelog=args.changelog, seed=args.seed,
        cv_folds=args.cv_folds, columns=_per_position(args.columns, "--columns"),
        invalid_rows=args.invalid_rows, max_invalid_fraction=args.max_invalid_fraction,
        cell_timeout=args.cell_timeout or DEFAULT_CELL_TIMEOUT, table=args.table,
        query=args.query, catalog=args.catalog)
    print(summary.report())
    return EXIT_OK if summary.ok else EXIT_FAILED


def _per_position(values: list[str] | None, flag: str) -> str | dict[str, str] | None:
    """One value for every position, or ``{position: value}`` from ``qb=...`` values."""
    from ..catalog import active_catalog
    from ..errors import RecruitRevealError

    if not values:
        return None
    named: dict[str, str] = {}
    for value in values:
        head, sep, rest = value.partition("=")
        if sep and head.strip().lower() in active_catalog().positions:
            named[head.strip().lower()] = rest
        elif len(values) > 1:
            raise RecruitRevealError(f"{flag} given {len(values)} times: name each one's "
                                     f"position, as {flag} qb=... {flag} rb=...")
        else:
            return value
    return named


def _retrain(args: argparse.Namespace) -> int:
    from recruit_reveal.release.retrain import retrain

    summary = retrain(args.position, args.from_version, args.version,
                      allow_changed_data=args.allow_changed_data,
                      models_dir=args.models_dir,
                      runs_dir=args.runs_dir)
    print(summary.report())
    return EXIT_OK if summary.ok else EXIT_FAILED


def _runs_index(args: argparse.Namespace) -> int:
    from recruit_reveal.release.index import write_index

    print(write_index(args.runs_dir, args.models_dir))
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    # Imported here: the other commands should not pay for FastAPI and uvicorn.
    from recruit_reveal.api.app import run
    from recruit_reveal.api.rate_limits import scope_warning
    from recruit_reveal.settings import load_settings

    # run() reads the Settings once, these options over the environment; a bad value
    # is a RecruitRevealError naming the variable (exit code 2), as everywhere else.
    warning = scope_warning(load_settings(None, **({"workers": args.workers}
                                                   if args.workers else {})))
    if warning:
        logger.warning("warning: %s", warning)
    if args.allow_pickle:
        os.environ["ALLOW_PICKLE"] = "1"  # the registry reads it on every load
    run(args.host, args.port, models_dir=args.models_dir, access_log=args.access_log,
        workers=args.workers)
    return EXIT_OK


def _generate_data(args: argparse.Namespace) -> int:
    from recruit_reveal.data.synthetic import write_sample

    kwargs: dict[str, Any] = {}
    if args.rows is not None:
        kwargs["rows_per_position"] = args.rows
    if args.seed is not None:
        kwargs["seed"] = args.seed
    if getattr(args, "catalog", None) is not None:
        from recruit_reveal.catalog import load_catalog

        kwargs["catalog"] = load_catalog(args.catalog)
    path = write_sample(args.out, **kwargs)
    print(f"Wrote {path} (and its provenance sidecar {Path(path).with_suffix('')}"
          ".synthetic.json)")
    return EXIT_OK


def _models(args: argparse.Namespace) -> int:
    return MODEL_ACTIONS[args.models_command](args)


def _runs(args: argparse.Namespace) -> int:
    return RUNS_ACTIONS[args.runs_command](args)


def _keys(args: argparse.Namespace) -> int:
    from recruit_reveal.artifacts.signatures import create_key_pair

    private, public = create_key_pair(args.folder)
    print(f"Wrote {private} (the signing key: keep it secret; SIGNING_KEY or --signing-key)")
    print(f"Wrote {public} (the verify key: VERIFY_KEY for serve and the registry)")
    return EXIT_OK


def _prediction_log(args: argparse.Namespace) -> str:
    if not args.log:
        from ..errors import RecruitRevealError

        raise RecruitRevealError("no prediction log: pass --log or set PREDICTION_LOG")
    return str(args.log)


def _outcomes_add(args: argparse.Namespace) -> int:
    from recruit_reveal.monitoring.outcomes import add_outcomes

    written = add_outcomes(args.csv, _prediction_log(args))
    print(f"Recorded {written.rows} outcome(s) in {written.location}")
    return EXIT_OK


def _outcomes(args: argparse.Namespace) -> int:
    return {"add": _outcomes_add}[args.outcomes_command](args)


def _monitor(args: argparse.Namespace) -> int:
    from recruit_reveal.monitoring.monitor_runs import EXIT_ALERT, MonitorParams, run_monitors
    from recruit_reveal.release.index import write_index
    from recruit_reveal.release.notebook import check_kernel, run_notebook

    params = MonitorParams(log=_prediction_log(args), models_dir=args.models_dir,
                           position=args.position, since=args.since)
    check_kernel()
    outcomes = run_monitors(params, args.runs_dir, run_notebook)
    if any(o.record is not None for o in outcomes):
        write_index(args.runs_dir, args.models_dir)
    if not outcomes:
        print(f"No records in {params.log}: no monitoring record was written.")
    for outcome in outcomes:
        print("\n".join(outcome.lines()))
    return EXIT_ALERT if any(o.alert for o in outcomes) else EXIT_OK


RUNS_ACTIONS: dict[str, Callable[[argparse.Namespace], int]] = {"index": _runs_index}

#: ``recruit-reveal COMMAND`` -> its handler.
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": _train, "retrain": _retrain, "models": _models, "runs": _runs, "serve": _serve,
    "generate-data": _generate_data, "keys": _keys, "outcomes": _outcomes,
    "monitor": _monitor, "catalog": catalog,
}
