"""Helpers shared by the benchmark modules: timing, memory, machine facts, goals."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata


@dataclass(frozen=True)
class Goal:
    """One speed or quality goal and whether this run met it.

    ``met=None``: not measured in this run; ``margin`` then says why.
    """

    name: str
    target: str
    measured: str
    met: bool | None
    margin: str = ""

    @property
    def verdict(self) -> str:
        return "not measured" if self.met is None else "met" if self.met else "**missed**"


@dataclass(frozen=True)
class Section:
    """What a benchmark module returns: its markdown and the goals it checked."""

    markdown: str
    goals: tuple[Goal, ...] = ()


def median_time(fn: Callable[[], object], repeats: int = 5) -> tuple[float, list[float]]:
    """Median wall time of ``fn`` over ``repeats`` runs, and every run's time."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def run_isolated(code: str, *args: str, timeout: float = 600) -> dict:
    """Run ``code`` in a fresh interpreter; it must print one JSON object last.

    Used for wall time and peak memory, so one measurement cannot inherit
    another's allocations or warm caches.
    """
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine_facts() -> dict[str, str]:
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    libs = {}
    for name in ("scikit-learn", "pandas", "numpy", "joblib", "papermill", "fastapi", "uvicorn"):
        try:
            libs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            libs[name] = "not installed"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cores": str(os.cpu_count()),
        "memory": f"{mem_gib:.0f} GiB",
        "python": platform.python_version(),
        "platform": platform.platform(),
        **libs,
    }


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def stop_server(proc: subprocess.Popen) -> None:
    """Stop a server the benchmark started: SIGINT (a clean shutdown), then kill."""
    import signal

    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
