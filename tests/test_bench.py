"""``make bench-smoke``: every benchmark runs end to end at tiny sizes, so none can rot."""

import subprocess
import sys
from pathlib import Path

from bench.__main__ import MODULES

ROOT = Path(__file__).resolve().parents[1]


def test_smoke_run_writes_every_section_and_a_goal_summary(tmp_path):
    out = tmp_path / "benchmarks.md"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = out.read_text(encoding="utf-8")
    assert "Smoke run" in report
    assert "## Reading the results" in report
    assert "goals met" in report
    for name in MODULES:
        assert f"python -m bench.{name}" in report, f"section of bench.{name} is missing"
    # A smoke run must never overwrite the committed results.
    assert f"wrote {out}" in proc.stderr
