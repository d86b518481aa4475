"""``make bench-smoke``: every benchmark runs end to end at tiny sizes, so none can rot."""

import subprocess
import sys
from pathlib import Path

from bench.__main__ import DOCS, MODULES

ROOT = Path(__file__).resolve().parents[1]


def _stamp(path: Path):
    return path.stat().st_mtime_ns if path.exists() else None


def test_smoke_run_reports_every_section_and_leaves_the_docs_alone():
    before = _stamp(DOCS)
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = proc.stdout
    assert "Smoke run" in report
    assert "## Reading the results" in report
    assert "goals met" in report
    for name in MODULES:
        assert f"python -m bench.{name}" in report, f"section of bench.{name} is missing"
    # Tiny sizes say nothing about the goals: the committed results stay as they were.
    assert _stamp(DOCS) == before
