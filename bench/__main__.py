"""``python -m bench [--smoke] [--only NAME ...] [--out PATH]``: run the benchmarks.

The full run rewrites docs/benchmarks.md from what it measured.  ``--smoke``
uses tiny sizes so the scripts can be exercised by the test suite; it
writes nowhere unless ``--out`` is given, because tiny sizes say nothing
about the goals.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time
from pathlib import Path

from ._common import Goal, Section, machine_facts, table

_HERE = Path(__file__).resolve().parent

#: Run order: cheap and self-contained first, the HTTP servers last.
_BASE_MODULES = (
    "bayes_ceiling",
    "training_quality",
    "learning_curve",
    "scale",
    "data_loading",
    "notebook_vs_direct",
    "serving",
    "mlflow_serving",
)
#: Benchmarks another change adds; each runs (last) once its file exists, with the same
#: contract as the others: ``run(smoke: bool) -> Section``, its goals in ``Section.goals``.
_OPTIONAL_MODULES = ("catalog", "workers", "signatures", "partial_profiles", "observability",
                     "middleware", "prediction_log", "monitoring", "protocols",
                     "inference_v2", "sources", "backtest")
MODULES = _BASE_MODULES + tuple(m for m in _OPTIONAL_MODULES if (_HERE / f"{m}.py").is_file())

#: Goal rows an optional module feeds.  While its file is missing the goals table still
#: lists them, as not measured, so a missing measurement cannot pass for a met goal; once
#: the module exists, the table shows the goals its Section returns instead.
PENDING_GOALS = {
    "workers": (Goal("time for a promote to reach every worker", "set by bench/workers.py",
                     "not measured", None, "bench/workers.py is not in this tree yet"),),
}

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def _as_section(value: str | Section) -> Section:
    return value if isinstance(value, Section) else Section(markdown=value)


def _goals_summary(goals: list[Goal]) -> str:
    if not goals:
        return "No goal was checked in this run."
    met = sum(g.met is True for g in goals)
    unmeasured = sum(g.met is None for g in goals)
    rows = [[g.name, g.target, g.measured, g.verdict, g.margin] for g in goals]
    return (f"{met} of {len(goals)} goals met"
            + (f" ({unmeasured} not measured)" if unmeasured else "") + ".\n\n"
            + table(["goal", "target", "measured", "verdict", "margin"], rows))


def pending_goals(ran: list[str]) -> list[Goal]:
    """Placeholder rows for optional modules that do not exist (only on a full run)."""
    if set(_BASE_MODULES) - set(ran):
        return []
    return [g for name, goals in PENDING_GOALS.items() if name not in MODULES for g in goals]


def render(sections: dict[str, Section], facts: dict[str, str], elapsed: float,
           smoke: bool) -> str:
    goals = [g for s in sections.values() for g in s.goals] + pending_goals(list(sections))
    head = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench`); do not edit by hand."
        + (" **Smoke run: tiny sizes, the figures mean nothing.**" if smoke else ""),
        "",
        f"Measured {facts['date']} on {facts['cores']} cores, {facts['memory']} memory, "
        f"Python {facts['python']} ({facts['platform']}).",
        "Libraries: " + ", ".join(f"{k} {v}" for k, v in facts.items()
                                  if k not in {"date", "cores", "memory", "python", "platform"})
        + ".",
        f"The whole run took {elapsed / 60:.1f} minutes.",
        "",
        "## Reading the results",
        "",
        _goals_summary(goals),
        "",
    ]
    return "\n".join(head + [s.markdown.strip() + "\n" for s in sections.values()])


def _blocks(text: str) -> list[str]:
    """The report cut before each "## " heading (the first block is the head)."""
    parts, current = [], []
    for line in text.splitlines(keepends=True):
        if line.startswith("## ") and current:
            parts.append("".join(current))
            current = []
        current.append(line)
    parts.append("".join(current))
    return parts


def _merge_goals(block: str, goals: list[Goal]) -> str:
    """The "Reading the results" block with ``goals``' rows replacing rows of the same goal
    (new goals appended) and the count of goals met recounted from the rows."""
    lines = block.splitlines()
    rows = {g.name: f"| {g.name} | {g.target} | {g.measured} | {g.verdict} | {g.margin} |"
            for g in goals}
    table_rows = [i for i, line in enumerate(lines) if line.startswith("| ") and
                  not line.startswith("| goal |")]
    for i in table_rows:
        name = lines[i][2:].split(" | ", 1)[0]
        if name in rows:
            lines[i] = rows.pop(name)
    last = table_rows[-1] if table_rows else len(lines) - 1
    lines[last + 1:last + 1] = list(rows.values())
    verdicts = [line.rsplit(" | ", 2)[1] for line in lines
                if line.startswith("| ") and not line.startswith("| goal |")
                and not line.startswith("|---")]
    count = f"{sum(v == 'met' for v in verdicts)} of {len(verdicts)} goals met."
    text = "\n".join(count if line.endswith("goals met.") else line for line in lines)
    return text.rstrip("\n") + "\n\n"


def merge(existing: str, sections: dict[str, Section], date: str) -> str:
    """``existing`` with ``sections`` (and their goals) in place of their earlier run's."""
    blocks = _blocks(existing)
    for section in sections.values():
        title = section.markdown.strip().splitlines()[0]
        new = section.markdown.strip() + "\n\n"
        at = next((i for i, b in enumerate(blocks) if b.startswith(title + "\n")), None)
        if at is None:
            blocks.append(new)
        else:
            blocks[at] = new
    goals = [g for s in sections.values() for g in s.goals]
    titles = ", ".join(s.markdown.strip().splitlines()[0][3:] for s in sections.values())
    for i, block in enumerate(blocks):
        if block.startswith("## Reading the results"):
            block = _merge_goals(block, goals)
            note = f"{titles}: measured alone on {date} (`python -m bench --only ... --merge`)."
            blocks[i] = block.replace("## Reading the results\n\n",
                                      f"## Reading the results\n\n{note}\n\n", 1)
    return "".join(blocks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds not minutes")
    parser.add_argument("--only", nargs="*", choices=MODULES, help="run only these benchmarks")
    parser.add_argument("--out", type=Path, help=f"where to write the report (default {DOCS})")
    parser.add_argument("--merge", action="store_true",
                        help="with --only: put these sections and their goal rows into the "
                             "existing report, keeping the others (noted in the report)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    start = time.perf_counter()
    sections: dict[str, Section] = {}
    for name in args.only or MODULES:
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        sections[name] = _as_section(module.run(smoke=args.smoke))
        print(f"[bench] {name} done in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    report = render(sections, machine_facts(), time.perf_counter() - start, args.smoke)
    out = args.out or (None if args.smoke else DOCS)
    if args.merge and out is not None and out.is_file():
        report = merge(out.read_text(encoding="utf-8"), sections, machine_facts()["date"])
    if out is None:
        print(report)
    else:
        out.write_text(report, encoding="utf-8")
        print(f"[bench] wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
