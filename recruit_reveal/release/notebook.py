"""Executing a notebook with papermill into an audit record.

papermill runs the notebook as it always does; :class:`ProgressEngine` only
adds a log line per finished code cell ("qb: cell 5/29 done in 0.4s  ...") by
handing nbclient two of its cell hooks.  :func:`check_kernel` makes sure the
kernel is this interpreter, and :func:`run_notebook` turns papermill's
failures (an exception in a cell, a cell timeout, a dead kernel) into one
:class:`NotebookExecutionError` naming the position and the cell.

This module imports papermill; the direct engine never loads it.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import papermill
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.engines import NBClientEngine, papermill_engines

from ..errors import NotebookExecutionError
from .contract import display_path
from .engines import DEFAULT_CELL_TIMEOUT
from .records import (
    describe_cell,
    finish_record,
    first_code_line,
    first_lines,
    last_started_cell,
    prepare_record_slot,
)

logger = logging.getLogger(__name__)

KERNEL_NAME = "python3"
ENGINE_NAME = "recruit_reveal"
#: ignore_cwd: the kernel must import the same recruit_reveal as the runner, never a
#: ``recruit_reveal/`` folder that happens to be in the working directory (a second
#: checkout, say) -- otherwise the two engines would train different code.
#: Kernel log: the record holds what matters; shutdown chatter only confuses.
#: History: IPython's database is shared by every kernel of a user; parallel kernels
#: only contend for it, and a record needs no input history.
KERNEL_ARGUMENTS = ["--IPKernelApp.ignore_cwd=True", "--HistoryManager.enabled=False",
                    "--IPKernelApp.log_level=CRITICAL"]


class _CellProgress:
    """nbclient cell hooks that time each code cell and log it when it finishes."""

    def __init__(self, nb: Any):
        self.nb = nb
        self.started: dict[int, float] = {}

    def start(self, cell: Any, cell_index: int, **_: Any) -> None:
        self.started[cell_index] = time.perf_counter()

    def done(self, cell: Any, cell_index: int, **_: Any) -> None:
        seconds = time.perf_counter() - self.started.pop(cell_index, time.perf_counter())
        position = self.nb.metadata.get("papermill", {}).get("parameters", {}).get("position")
        logger.info("%s: cell %d/%d done in %.1fs  %s", position or "?", cell_index + 1,
                    len(self.nb.cells), seconds, first_code_line(cell.source)[:60])


class ProgressEngine(NBClientEngine):
    """papermill's nbclient engine, logging one line per finished code cell.

    Only ``execute_managed_notebook`` (papermill's extension point for engines)
    is overridden, and only to pass nbclient's ``on_cell_execute`` and
    ``on_cell_executed`` hooks; execution, saving and error handling stay
    papermill's.
    """

    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
        progress = _CellProgress(nb_man.nb)
        return super().execute_managed_notebook(
            nb_man, kernel_name, on_cell_execute=progress.start,
            on_cell_executed=progress.done, **kwargs)


papermill_engines.register(ENGINE_NAME, ProgressEngine)


def check_kernel(kernel_name: str = KERNEL_NAME) -> str:
    """Make sure the notebook kernel runs this very interpreter (and so this venv).

    jupyter_client starts a kernelspec whose command is plain ``python`` with
    ``sys.executable``; any other interpreter (say a user-wide ``python3``
    kernelspec from another install) would train with different libraries
    than the runner, so it is refused.  Returns the interpreter path.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        raise NotebookExecutionError(
            f"no Jupyter kernel named {kernel_name!r}; install one for this interpreter with "
            f"`{sys.executable} -m ipykernel install --sys-prefix`") from None
    command = spec.argv[0] if spec.argv else ""
    plain = {"python", f"python{sys.version_info[0]}",
             "python{}.{}".format(*sys.version_info[:2])}
    if command in plain or _is_this_interpreter(command):
        return sys.executable
    raise NotebookExecutionError(
        f"the Jupyter kernel {kernel_name!r} ({spec.resource_dir}) runs {command}, not "
        f"{sys.executable}; remove that kernelspec or reinstall it with "
        f"`{sys.executable} -m ipykernel install --sys-prefix`")


def _is_this_interpreter(command: str) -> bool:
    """``command`` is ``sys.executable``, however spelled, in this environment's bin folder.

    A venv's python is a symlink to the base interpreter, so the same file
    alone is not enough: the base interpreter would run without the venv.
    """
    try:
        return (os.path.samefile(command, sys.executable)
                and os.path.samefile(os.path.dirname(command) or os.curdir,
                                     os.path.dirname(sys.executable)))
    except OSError:  # no such file
        return False


def run_notebook(template: str | os.PathLike[str], record: str | os.PathLike[str],
                 parameters: Mapping[str, Any], *, position: str,
                 cell_timeout: float | None = DEFAULT_CELL_TIMEOUT,
                 kernel_name: str = KERNEL_NAME) -> Any:
    """Execute ``template`` with ``parameters`` into the audit record ``record`` (+ HTML).

    Returns the executed notebook.  A failing or timed-out cell raises
    :class:`NotebookExecutionError` naming the position and the cell; the
    record stays, showing the error.
    """
    record = Path(record)
    prepare_record_slot(record)
    record.parent.mkdir(parents=True, exist_ok=True)
    try:
        nb = papermill.execute_notebook(
            str(template), str(record), parameters=dict(parameters), kernel_name=kernel_name,
            engine_name=ENGINE_NAME, progress_bar=False, log_output=False,
            execution_timeout=cell_timeout, extra_arguments=KERNEL_ARGUMENTS)
    except papermill.PapermillExecutionError as exc:
        cell = describe_cell(record, exc.cell_index, exc.source)
        message = (f"{position}: {cell} raised {exc.ename}: {first_lines(exc.evalue)} "
                   f"(record: {display_path(record)})")
        finish_record(record, "failed", message)
        raise NotebookExecutionError(message) from None
    except (CellTimeoutError, DeadKernelError) as exc:
        what = (f"timed out after {cell_timeout:g}s" if isinstance(exc, CellTimeoutError)
                else "lost its kernel")
        cell = describe_cell(record, last_started_cell(record), None)
        message = f"{position}: {cell} {what} (record: {display_path(record)})"
        finish_record(record, "failed", message, banner=True)
        raise NotebookExecutionError(message) from None
    except BaseException as exc:
        finish_record(record, "failed", f"{position}: {type(exc).__name__}: {exc}",
                      banner=True)
        raise
    finish_record(record, "succeeded", None, nb=nb)
    return nb
