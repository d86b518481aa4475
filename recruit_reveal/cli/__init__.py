"""The ``recruit-reveal`` command: train, inspect and promote models, serve them, make data.

Problems the user can fix (:class:`RecruitRevealError`, or a file the system refused)
end with a short message on stderr and exit code 2, without a traceback.  A training
run in which some position failed exits with 1 after printing its summary; so does an
unexpected error, in one line (its traceback with ``-v``).  ``monitor`` exits with 3 on
an alert.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..catalog import CATALOG_ENV, load_catalog
from ..errors import RecruitRevealError
from .commands import COMMANDS, resolve_locations
from .parser import EXIT_FAILED, EXIT_OK, EXIT_USAGE, build_parser

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "build_parser", "configure_logging", "main"]


def configure_logging(level: int = logging.INFO, log_format: str | None = None) -> None:
    """INFO and up to stderr, one line each (``json``: one JSON object each, with the
    request id; default: LOG_FORMAT); the library itself only logs."""
    if log_format is None:
        # A bad value is reported by the command that reads the settings (serve).
        log_format = os.environ.get("LOG_FORMAT", "text").strip().lower()
    if log_format == "json":
        from ..api.request_ids import stderr_handler

        handler = stderr_handler("json")
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # papermill repeats at INFO what the runner already says per position.
    logging.getLogger("papermill").setLevel(max(level, logging.WARNING))


def _use_catalog(args: object) -> None:
    """``--catalog FILE``: checked now (every problem listed, exit 2), then named in CATALOG,
    so the library and the notebook engine's kernels read the same catalog."""
    if getattr(args, "command", None) == "catalog":
        return  # it names the file it reads
    path = getattr(args, "catalog", None)
    if path is None:
        path = os.environ.get(CATALOG_ENV) or None
    if path is not None:
        load_catalog(path)
        os.environ[CATALOG_ENV] = str(Path(path).expanduser().absolute())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(logging.DEBUG if args.verbose else
                      logging.WARNING if args.quiet else logging.INFO)
    if getattr(args, "signing_key", None) is not None:
        # Through the environment, so the notebook engine's kernels sign with it too.
        os.environ["SIGNING_KEY"] = str(args.signing_key.expanduser().absolute())
    try:
        _use_catalog(args)
        resolve_locations(args)
        return COMMANDS[args.command](args)
    except RecruitRevealError as exc:
        print(f"recruit-reveal: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (``| head``); silence the flush at exit as well.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:
        # A file or folder the user can fix (permissions, a full disk): its message names it.
        print(f"recruit-reveal: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - a bug of ours: one line, the traceback on -v
        logging.getLogger("recruit_reveal.cli").debug("unexpected error", exc_info=True)
        print(f"recruit-reveal: unexpected error: {type(exc).__name__}: {exc} (run with -v "
              "for the traceback, and please report it)", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("recruit-reveal: interrupted", file=sys.stderr)
        return 130

