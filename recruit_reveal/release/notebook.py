"""Executing a notebook with papermill into an audit record.

papermill runs the notebook as it always does; :class:`ProgressEngine` only
adds a log line per finished code cell ("qb: cell 5/29 done in 0.4s  ...") by
handing nbclient two of its cell hooks, saves the record when a code cell
starts rather than around every cell, and stops the kernel at once when the
notebook is done.  :class:`KernelPool` starts (and warms) the kernels of
later runs while earlier ones train.  :func:`check_kernel` makes sure the
kernel is this interpreter, and :func:`run_notebook` turns papermill's
failures (an exception in a cell, a cell timeout, a dead kernel) into one
:class:`NotebookExecutionError` naming the position and the cell.

This module imports papermill; the direct engine never loads it.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

import papermill
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines
from papermill.log import logger as papermill_logger
from papermill.utils import merge_kwargs, remove_args

from ..errors import NotebookExecutionError
from .contract import DEFAULT_CELL_TIMEOUT, display_path
from .records import (
    describe_cell,
    finish_record,
    first_code_line,
    first_lines,
    last_started_cell,
    prepare_record_slot,
    staging,
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


class _RecordManager(NotebookExecutionManager):
    """papermill's execution manager, saving the record only when a code cell starts.

    papermill would rewrite the whole record (figures included) whenever any
    cell starts or ends, each time on the path to the next cell.  What a
    partial record needs is the code cell that was running, so that is when it
    is saved; the end of the run (success or not) saves the complete record.
    """

    _quiet = False

    def save(self, **kwargs: Any) -> None:
        if not self._quiet:
            super().save(**kwargs)

    def cell_start(self, cell: Any, cell_index: Any = None, **kwargs: Any) -> None:
        self._quiet = cell.get("cell_type") != "code"
        try:
            super().cell_start(cell, cell_index, **kwargs)
        finally:
            self._quiet = False

    def cell_complete(self, cell: Any, cell_index: Any = None, **kwargs: Any) -> None:
        self._quiet = True
        try:
            super().cell_complete(cell, cell_index, **kwargs)
        finally:
            self._quiet = False


class ProgressEngine(NBClientEngine):
    """papermill's nbclient engine, logging one line per finished code cell.

    ``execute_managed_notebook`` (papermill's extension point for engines) is
    papermill's own, plus nbclient's ``on_cell_execute`` and
    ``on_cell_executed`` hooks and an immediate stop of the kernel when the
    notebook is done (a graceful shutdown only waits for a kernel that has
    nothing left to do); ``execute_notebook`` only uses
    :class:`_RecordManager`.  Execution and error handling stay papermill's.
    """

    @classmethod
    def execute_notebook(cls, nb: Any, kernel_name: str, output_path: Any = None,
                         progress_bar: Any = True, log_output: bool = False,
                         autosave_cell_every: int = 30, **kwargs: Any) -> Any:
        # papermill's Engine.execute_notebook, with the manager above
        nb_man = _RecordManager(nb, output_path=output_path, progress_bar=progress_bar,
                                log_output=log_output, autosave_cell_every=autosave_cell_every)
        nb_man.notebook_start()
        try:
            cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
        finally:
            nb_man.cleanup_pbar()
            nb_man.notebook_complete()
        return nb_man.nb

    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, log_output: bool = False,
                                 stdout_file: Any = None, stderr_file: Any = None,
                                 start_timeout: int = 60, execution_timeout: Any = None,
                                 **kwargs: Any) -> Any:
        # NBClientEngine's, with the cell hooks, an immediate stop of the kernel, and
        # cleanup_kc: nbclient stops a kernel it was handed (a WarmKernel's) and closes its
        # own client of it only when told to.
        progress = _CellProgress(nb_man.nb)
        timeout = execution_timeout or kwargs.get("timeout")
        kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
        kwargs.setdefault("shutdown_kernel", "immediate")
        final = merge_kwargs(kwargs, timeout=timeout, startup_timeout=start_timeout,
                             kernel_name=kernel_name, log=papermill_logger,
                             log_output=log_output, stdout_file=stdout_file,
                             stderr_file=stderr_file, on_cell_execute=progress.start,
                             on_cell_executed=progress.done)
        return PapermillNotebookClient(nb_man, **final).execute(cleanup_kc=True)


papermill_engines.register(ENGINE_NAME, ProgressEngine)


#: What a kernel imports before its notebook is handed to it: the template's own imports
#: and the training module's.  Package modules only; they bind no name in the notebook.
PRELOAD = ("recruit_reveal.data", "recruit_reveal.export", "recruit_reveal.modeling.training",
           "recruit_reveal.release.contract", "recruit_reveal.reporting.display",
           "recruit_reveal.reporting.figures")


class WarmKernel:
    """A kernel started, and importing :data:`PRELOAD`, before its notebook runs.

    Starting a kernel and importing scikit-learn, pandas and matplotlib in it
    costs a few seconds of one core per position.  A kernel warmed while other
    positions train does that on a core they leave idle, instead of on the
    path of its own run.  The imports run silently (no execution count, no
    history, no output), so the record reads exactly as with a cold kernel;
    only its first code cell is quicker.
    """

    def __init__(self, kernel_name: str = KERNEL_NAME):
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_client.utils import run_sync

        # The async manager is the kind nbclient creates itself; the start is one Popen.
        self.km = AsyncKernelManager(kernel_name=kernel_name)
        run_sync(self.km.start_kernel)(extra_arguments=KERNEL_ARGUMENTS)
        self._warming = threading.Thread(target=self._preload, name="warm-kernel", daemon=True)
        self._warming.start()

    def _preload(self) -> None:
        client = self.km.blocking_client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
            request = client.execute(f"[__import__(m) for m in {PRELOAD!r}]", silent=True,
                                     store_history=False)
            while client.get_shell_msg(timeout=600)["parent_header"].get("msg_id") != request:
                pass
        except Exception as exc:  # the notebook's own cells import, or fail visibly
            logger.debug("warming a kernel failed: %s", exc)
        finally:
            client.stop_channels()

    def manager(self) -> Any:
        """The kernel manager, once the imports are done (papermill's ``km``)."""
        self._warming.join()
        return self.km

    def shutdown(self) -> None:
        """Stop the kernel, unless its run has (nbclient stops the kernels it ran)."""
        from jupyter_client.utils import run_sync

        self._warming.join()
        if run_sync(self.km.is_alive)():
            run_sync(self.km.shutdown_kernel)(now=True)


class KernelPool:
    """Warm kernels for ``runs`` notebook runs, ``ahead`` of them at most at any time.

    A kernel taken by a run is replaced once it has finished warming: the
    next kernel then warms while the runs train, instead of slowing down the
    warm-up of the kernels the first runs are waiting for.
    """

    def __init__(self, runs: int, ahead: int, kernel_name: str = KERNEL_NAME):
        self.kernel_name = kernel_name
        self.remaining, self.ahead = runs, max(1, ahead)
        self.warm: list[WarmKernel] = []
        self.lock = threading.Lock()
        with self.lock:
            self._fill()

    def _fill(self) -> None:
        while len(self.warm) < min(self.ahead, self.remaining):
            try:
                self.warm.append(WarmKernel(self.kernel_name))
            except Exception as exc:  # the runs start their own kernels, and report why not
                logger.warning("could not start a kernel ahead of its run: %s", exc)
                self.ahead = 0

    def _refill_after(self, kernel: WarmKernel) -> None:
        kernel.manager()
        with self.lock:
            self._fill()

    def take(self) -> WarmKernel | None:
        """A warm kernel for the next run (None once every run has had one)."""
        with self.lock:
            if not self.warm:
                return None
            kernel = self.warm.pop(0)
            self.remaining -= 1
        threading.Thread(target=self._refill_after, args=(kernel,), name="kernel-pool",
                         daemon=True).start()
        return kernel

    def close(self) -> None:
        """Stop the kernels no run took (and start no more)."""
        with self.lock:
            left, self.warm, self.remaining = self.warm, [], 0
        for kernel in left:
            kernel.shutdown()


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
                 kernel_name: str = KERNEL_NAME, kernel: WarmKernel | None = None) -> Any:
    """Execute ``template`` with ``parameters`` into the audit record ``record`` (+ HTML).

    ``record`` is a local path or a URL in an object store (see
    :func:`~.records.staging`); ``kernel`` a :class:`WarmKernel` to run in (it
    is shut down afterwards), or None to start one.  Returns the executed
    notebook.  A failing or timed-out cell raises
    :class:`NotebookExecutionError` naming the position and the cell; the
    record stays, showing the error.
    """
    try:
        prepare_record_slot(record)
    except BaseException:
        if kernel is not None:
            kernel.shutdown()
        raise
    shown = display_path(record)
    warm = {} if kernel is None else {"km": kernel.manager()}
    with staging(record) as staged:
        try:
            nb = papermill.execute_notebook(
                str(template), str(staged), parameters=dict(parameters),
                kernel_name=kernel_name, engine_name=ENGINE_NAME, progress_bar=False,
                log_output=False, execution_timeout=cell_timeout,
                extra_arguments=KERNEL_ARGUMENTS, **warm)
        except papermill.PapermillExecutionError as exc:
            cell = describe_cell(staged, exc.cell_index, exc.source)
            message = (f"{position}: {cell} raised {exc.ename}: {first_lines(exc.evalue)} "
                       f"(record: {shown})")
            finish_record(record, "failed", message, staged=staged)
            raise NotebookExecutionError(message) from None
        except (CellTimeoutError, DeadKernelError) as exc:
            what = (f"timed out after {cell_timeout:g}s" if isinstance(exc, CellTimeoutError)
                    else "lost its kernel")
            cell = describe_cell(staged, last_started_cell(staged), None)
            message = f"{position}: {cell} {what} (record: {shown})"
            finish_record(record, "failed", message, banner=True, staged=staged)
            raise NotebookExecutionError(message) from None
        except BaseException as exc:
            finish_record(record, "failed", f"{position}: {type(exc).__name__}: {exc}",
                          banner=True, staged=staged)
            raise
        finally:
            if kernel is not None:  # nbclient stops only the kernels it started
                kernel.shutdown()
        finish_record(record, "succeeded", None, nb=nb, staged=staged)
    return nb
