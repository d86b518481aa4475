"""The command line of ``recruit-reveal``: its options, their types and defaults."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..catalog import POSITION_KEY
from ..release.contract import NotebookParams

#: The training flags' defaults are the notebook run's.
_RUN_DEFAULTS = NotebookParams()

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
_EXIT_CODES = ("exit codes: 0 success; 1 a training run in which some position failed (the "
               "summary says which, and how to promote the rest), or a models migrate --all in "
               "which some version failed; 2 a problem to fix before anything ran (bad input, "
               "missing model, existing version); 3 monitor: an input drifted or live accuracy "
               "fell below the CV figure")
_TRAIN_EXIT_CODES = ("exit codes: 0 success; 1 a training run in which some position failed "
                     "(the summary says which, and how to promote the rest); 2 a problem to fix "
                     "before anything ran (bad input, missing model, existing version)")
_MIGRATE_EXIT_CODES = ("exit codes: 0 every version migrated or skipped (it had a skops file "
                       "already); 1 with --all, some version failed (each is printed); 2 a "
                       "problem to fix before anything ran (no --trust-pickle, unknown version, "
                       "a sha256 that does not match)")
_MODELS_HELP = "models folder or s3://bucket/prefix (default: $MODEL_DIR or models)"
_RUNS_HELP = "audit records folder or s3://bucket/prefix (default: $RUNS_DIR or runs)"
_LOG_HELP = "prediction log folder or s3://bucket/prefix (default: $PREDICTION_LOG)"
_ONE_POSITION_HELP = "qb, rb or wr"


def _position(text: str) -> str:
    """A position key or ``all``; which keys exist is the catalog's (or the models
    folder's) to say, once the command has read it."""
    value = text.strip().lower()
    if value != "all" and not POSITION_KEY.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a position key (e.g. qb) or all")
    return value


def _one_position(text: str) -> str:
    value = _position(text)
    if value == "all":
        raise argparse.ArgumentTypeError("choose one position (e.g. qb)")
    return value


def _add_catalog(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--catalog", default=None, metavar="FILE",
                        help="the catalog of positions, inputs and levels (default: $CATALOG, "
                             "else the default catalog: qb, rb, wr on D3 < D2 < FCS < Power 5); "
                             "generate-data draws its positions that have a sample section")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a share from 0 to 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recruit-reveal",
        description="Train, inspect, promote and serve the Recruit Reveal models.",
        epilog=_EXIT_CODES)
    _add_verbosity(parser, default=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    _add_train(sub)
    _add_retrain(sub)
    _add_models(sub)
    _add_runs(sub)
    _add_serve(sub)
    _add_generate_data(sub)
    _add_keys(sub)
    _add_outcomes(sub)
    _add_monitor(sub)
    _add_catalog_command(sub)
    _add_verbosity_everywhere(parser)
    return parser


def _add_catalog_command(sub: Any) -> None:
    """recruit-reveal catalog show|check"""
    cat = sub.add_parser("catalog", help="show or check a catalog of positions, inputs and "
                         "levels (docs/data-contract.md, \"The catalog\")")
    csub = cat.add_subparsers(dest="catalog_command", metavar="ACTION", required=True)
    show = csub.add_parser("show", help="the positions, inputs and ladder as tables")
    show.add_argument("file", nargs="?", default=None,
                      help="a catalog file (default: $CATALOG, else the default catalog)")
    check = csub.add_parser("check", help="validate a catalog: one line per problem, exit 2",
                            epilog="exit codes: 0 the catalog is valid; 2 it has problems")
    check.add_argument("file", help="the catalog file")


def _add_verbosity(parser: argparse.ArgumentParser, default: Any) -> None:
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="store_true", default=default,
                           help="debug logging (and the traceback of an unexpected error)")
    verbosity.add_argument("-q", "--quiet", action="store_true", default=default,
                           help="warnings and errors only")


def _add_verbosity_everywhere(parser: argparse.ArgumentParser) -> None:
    """-v/-q after any (sub)command too; SUPPRESS keeps a subparser from resetting a flag
    given before the subcommand."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _add_verbosity(child, default=argparse.SUPPRESS)
                _add_verbosity_everywhere(child)


def _add_train(sub: Any) -> None:
    """recruit-reveal train"""
    train = sub.add_parser(
        "train", help="train positions and export versioned models",
        description="Train one or every position as one release. The notebook engine runs "
        "the training template (notebooks/train_position.ipynb, shipped in the package) with "
        "papermill and keeps each executed notebook in "
        "runs/v{version}/ as the audit record; latest switches only when every position "
        "succeeded.", epilog=_TRAIN_EXIT_CODES)
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", action="append", metavar="[POS=]SOURCE",
                        help="training data: a CSV or Parquet file, a Parquet dataset folder, a "
                             "Delta table (folder[@VERSION|@TIMESTAMP]) or an SQLAlchemy URL "
                             "(with --table or --query), local or s3://; repeat as "
                             "qb=SOURCE rb=SOURCE for one source per position")
    source.add_argument("--csv", action="append", dest="data", metavar="SOURCE",
                        help="the same as --data")
    train.add_argument("--table", default=None, help="the table an SQL source reads")
    train.add_argument("--query", default=None, help='the query an SQL source runs, '
                       '"SELECT ..." (read-only)')
    train.add_argument("--position", required=True, type=_position,
                       help="a position of the catalog (default catalog: qb, rb, wr) or all")
    _add_catalog(train)
    train.add_argument("--version", help="X.Y.Z (default: the next patch version)")
    train.add_argument("--changelog", help="one line for CHANGELOG_{pos}.md and the metadata")
    train.add_argument("--engine", choices=("notebook", "direct"), default="notebook",
                       help="notebook (default, leaves audit records) or direct")
    train.add_argument("--jobs", type=_positive_int, default=1,
                       help="positions trained at the same time (default 1)")
    train.add_argument("--models-dir", default=None, help=_MODELS_HELP)
    train.add_argument("--runs-dir", default=None, help=_RUNS_HELP)
    train.add_argument("--seed", type=int, default=_RUN_DEFAULTS.seed,
                       help="random seed (default %(default)s)")
    train.add_argument("--cv-folds", type=_positive_int, default=_RUN_DEFAULTS.cv_folds,
                       help="cross-validation folds (default %(default)s)")
    train.add_argument("--columns", action="append", default=None, metavar="[POS=]FILE",
                       help='JSON object mapping the file\'s headers to canonical columns, '
                            'e.g. {"fourty": "forty_yard_dash"} (common spellings such as '
                            'Ht, Wt, 40 Time, Level are known already); qb=FILE for one '
                            'position\'s source')
    train.add_argument("--invalid-rows", choices=("fail", "quarantine"),
                       default=_RUN_DEFAULTS.invalid_rows,
                       help="rows with an invalid value: fail the run (default), or leave them "
                            "out and keep them in runs/v{version}/{pos}.rejected.csv")
    train.add_argument("--max-invalid-fraction", type=_fraction,
                       default=_RUN_DEFAULTS.max_invalid_fraction, metavar="SHARE",
                       help="with quarantine, fail when more than this share of a position's "
                            "rows is invalid (default %(default)s)")
    train.add_argument("--cell-timeout", type=float, default=None,
                       help="seconds one notebook cell may run (default 600)")
    _add_signing_key(train)


def _add_retrain(sub: Any) -> None:
    """recruit-reveal retrain"""
    retrain = sub.add_parser(
        "retrain", help="train a version again from its record (same source and version)",
        description="Re-run a version's training from its metadata: the same source at the "
        "same pinned version, the same parameters, seed, folds and engine. The rows are "
        "checked against the recorded content digest first; changed data is refused unless "
        "--allow-changed-data.", epilog=_TRAIN_EXIT_CODES)
    retrain.add_argument("position", type=_one_position, help="the position, e.g. qb")
    retrain.add_argument("from_version", metavar="VERSION", help="X.Y.Z to retrain")
    retrain.add_argument("--version", default=None,
                         help="X.Y.Z of the new version (default: the next patch version)")
    retrain.add_argument("--allow-changed-data", action="store_true",
                         help="train even when the rows differ, and record the change")
    retrain.add_argument("--models-dir", default=None, help=_MODELS_HELP)
    retrain.add_argument("--runs-dir", default=None, help=_RUNS_HELP)


def _add_models(sub: Any) -> None:
    """recruit-reveal models ACTION"""
    models = sub.add_parser("models", help="list, show, promote or roll back exported models")
    msub = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    mlist = msub.add_parser("list", help="every version of every position; * = current release")
    mshow = msub.add_parser("show", help="the metadata of one version")
    mshow.add_argument("position", type=_one_position, help=_ONE_POSITION_HELP)
    mshow.add_argument("version", nargs="?", default="latest", help="X.Y.Z or latest (default)")
    mshow.add_argument("--json", action="store_true", help="print the full metadata as JSON")
    mpromote = msub.add_parser("promote", help="a new release with one position at a version")
    mpromote.add_argument("position", type=_one_position, help=_ONE_POSITION_HELP)
    mpromote.add_argument("version", help="X.Y.Z")
    _add_signing_key(mpromote)
    mrollback = msub.add_parser("rollback",
                                help="make the previous release current again (a new entry)")
    mhistory = msub.add_parser("history", help="every release: when, by whom, how and why")
    mhistory.add_argument("--json", action="store_true", help="print the history as JSON")
    mdiff = msub.add_parser("diff", help="what changed between two versions: metrics, settings, "
                            "data and predictions")
    mdiff.add_argument("position", type=_one_position, help=_ONE_POSITION_HELP)
    mdiff.add_argument("a", help="X.Y.Z or latest (the older one)")
    mdiff.add_argument("b", help="X.Y.Z or latest")
    mdiff.add_argument("--json", action="store_true", help="print the diff as JSON")
    mdiff.add_argument("--csv", type=Path, default=None,
                       help="rows to compare predictions on (default: the training file the "
                            "metadata names, if found unchanged)")
    mmigrate = _add_migrate(msub)
    _add_signing_key(mmigrate)
    for p in (mpromote, mrollback):
        p.add_argument("--reason", default=None, help="why, for the history")
    for p in (mpromote, mrollback, mmigrate):
        p.add_argument("--by", default=None, help="who, for the history (default: the OS user)")
    for p in (mlist, mshow, mpromote, mrollback, mhistory, mdiff, mmigrate):
        p.add_argument("--models-dir", default=None, help=_MODELS_HELP)


def _add_migrate(msub: Any) -> Any:
    """recruit-reveal models migrate"""
    mmigrate = msub.add_parser(
        "migrate", help="convert a pickle-only version to skops, once, on your word",
        description="Unpickle a version exported without a skops file (this runs the "
        "pickle's code: only for a pickle you trust), after checking its sha256 against the "
        "metadata; write it as skops, checked to predict identically, and record who, when "
        "and why in its metadata and the release history. Versions with a skops file are "
        "skipped.", epilog=_MIGRATE_EXIT_CODES)
    mmigrate.add_argument("position", nargs="?", type=_one_position, help=_ONE_POSITION_HELP)
    mmigrate.add_argument("version", nargs="?", help="X.Y.Z")
    mmigrate.add_argument("--all", action="store_true",
                          help="every pickle-only version of every position")
    mmigrate.add_argument("--trust-pickle", action="store_true",
                          help="required: you trust whoever wrote the pickle")
    mmigrate.add_argument("--reason", required=True, help="why, for the metadata and history")
    return mmigrate


def _add_runs(sub: Any) -> None:
    """recruit-reveal runs index"""
    runs = sub.add_parser("runs", help="the page of every release and training run")
    rsub = runs.add_subparsers(dest="runs_command", metavar="ACTION", required=True)
    rindex = rsub.add_parser("index", help="rewrite runs/index.html (done after every run too)")
    rindex.add_argument("--runs-dir", default=None, help=_RUNS_HELP)
    rindex.add_argument("--models-dir", default=None, help=_MODELS_HELP)


def _add_serve(sub: Any) -> None:
    """recruit-reveal serve"""
    serve = sub.add_parser("serve", help="serve the models over HTTP (uvicorn)")
    serve.add_argument("--host", default=None, help="default $HOST or 127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="default $PORT or 8000")
    serve.add_argument("--models-dir", default=None, help=_MODELS_HELP)
    serve.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=None,
                       help="uvicorn's line per request (default: $ACCESS_LOG, on)")
    serve.add_argument("--workers", type=_positive_int, default=None,
                       help="server processes sharing the port, each following the current "
                            "release (default: $WORKERS or 1)")
    serve.add_argument("--allow-pickle", action="store_true",
                       help="also unpickle models that have no skops file (as ALLOW_PICKLE=1; "
                            "unpickling runs code from the file: trust the folder's writers)")


def _add_generate_data(sub: Any) -> None:
    """recruit-reveal generate-data"""
    gen = sub.add_parser("generate-data", help="write the synthetic sample CSV")
    gen.add_argument("--out", type=Path, default=Path("data/training.csv"),
                     help="default data/training.csv")
    gen.add_argument("--rows", type=_positive_int, default=None,
                     help="rows per position (default: the generator's, 2000)")
    gen.add_argument("--seed", type=int, default=None, help="default: the generator's, 2026")
    _add_catalog(gen)


def _add_keys(sub: Any) -> None:
    """recruit-reveal keys create"""
    keys = sub.add_parser("keys", help="key pairs for signing exported models")
    ksub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    create = ksub.add_parser(
        "create", help="make a P-256 key pair: signing_key.pem (keep it secret) and "
        "verify_key.pub (give it to the servers as VERIFY_KEY)")
    create.add_argument("folder", type=Path, help="where to write the two files")


def _add_signing_key(command: argparse.ArgumentParser) -> None:
    command.add_argument("--signing-key", type=Path, default=None, metavar="PEM",
                         help="sign the version's files with this private key (default: "
                              "$SIGNING_KEY; make one with 'recruit-reveal keys create')")


def _add_outcomes(sub: Any) -> None:
    """recruit-reveal outcomes add"""
    outcomes = sub.add_parser("outcomes", help="the divisions athletes actually reached")
    osub = outcomes.add_subparsers(dest="outcomes_command", metavar="ACTION", required=True)
    add = osub.add_parser(
        "add", help="record a CSV of outcomes (athlete_ref and/or request_id, division, "
        "optional date) beside the prediction log")
    add.add_argument("csv", type=Path, metavar="FILE.csv",
                     help="the outcomes: a header row, then one outcome per row")
    add.add_argument("--log", default=None, help=_LOG_HELP)


def _add_monitor(sub: Any) -> None:
    """recruit-reveal monitor"""
    monitor = sub.add_parser(
        "monitor", help="review production (drift, live accuracy) into an audit record "
        "runs/monitor/{date}/{position}.ipynb",
        epilog="exit codes: 0 no alert; 3 an input drifted or live accuracy fell below the "
               "CV figure (docs/monitoring.md); 2 a problem to fix before anything ran")
    monitor.add_argument("--since", type=_date, default=None, metavar="YYYY-MM-DD",
                         help="only records of this UTC date or later (default: all)")
    monitor.add_argument("--position", type=_position, default="all",
                         help="qb, rb, wr or all (default)")
    _add_catalog(monitor)
    monitor.add_argument("--log", default=None, help=_LOG_HELP)
    monitor.add_argument("--runs-dir", default=None, help=_RUNS_HELP)
    monitor.add_argument("--models-dir", default=None, help=_MODELS_HELP)


def _date(text: str) -> str:
    from datetime import date

    try:
        return date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None

