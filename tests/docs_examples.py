"""The examples of README.md and docs/*.md, as tests/test_docs.py runs them.

Every fenced block in ``bash``, ``python`` or ``json`` is an example and is preceded by a
marker (an HTML comment, invisible when rendered) saying what the test does with it:

* ``<!-- example: run -->``: a bash block runs command by command (``# {...}`` comment
  lines after a command are its answer, compared); a python block is executed.
* ``<!-- example: POST /path?query -->`` before a json block: the block is sent as the
  body; ``<!-- example: POST /path?query with the body above -->`` sends the last body
  again.
* ``<!-- example: answer -->`` before a json block: compared with the last answer.
* ``<!-- example: skip REASON -->``: not run, for the reason given.

An answer matches when every key it shows has the value shown: ``"..."`` (or ``"... 4242"``,
an example of a value that varies) stands for any value, a ``"..."`` key for keys not shown, and a list ending in ``"..."`` items for more
items; a block starting with a key (``"target_search": {...}``) is a part of the answer.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LANGUAGES = ("bash", "python", "json")
_MARKER = re.compile(r"<!--\s*example:\s*(.*?)\s*-->")
_FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass(frozen=True)
class Example:
    file: Path
    line: int
    language: str
    marker: str | None
    text: str

    @property
    def where(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}"


def examples(path: Path) -> list[Example]:
    """The fenced blocks of ``path`` in :data:`LANGUAGES`, each with the marker before it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found, i = [], 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        marker = _MARKER.search(before)
        if fence.group(1) in LANGUAGES:
            found.append(Example(path, i + 1, fence.group(1),
                                 marker.group(1) if marker else None,
                                 "\n".join(lines[i + 1:end])))
        i = end + 1
    return found


def parse_answer(text: str) -> Any:
    """A json block: a document, or a part of one (``"key": value``) as ``{key: value}``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return json.loads("{" + text + "}")


def mismatches(shown: Any, actual: Any, path: str = "") -> list[str]:
    """Where ``actual`` differs from what the docs show (see the module's rules)."""
    if isinstance(shown, str) and shown.startswith("..."):
        return []  # "..." or "... an example value": any value
    if isinstance(shown, dict):
        if not isinstance(actual, dict):
            return [f"{path or '.'}: docs show an object, the server answers {actual!r}"]
        out = []
        for key, value in shown.items():
            if key == "...":
                continue
            if key not in actual:
                out.append(f"{path}.{key}: shown in the docs, not in the answer")
            else:
                out += mismatches(value, actual[key], f"{path}.{key}")
        return out
    if isinstance(shown, list):
        items = [v for v in shown if not (isinstance(v, str) and v.startswith("..."))]
        more = len(items) < len(shown)
        if not isinstance(actual, list) or len(actual) < len(items) or (
                not more and len(actual) != len(items)):
            return [f"{path}: docs show {shown!r}, the server answers {actual!r}"]
        return [m for i, v in enumerate(items) for m in mismatches(v, actual[i], f"{path}[{i}]")]
    if shown != actual or type(shown) is bool and type(actual) is not bool:
        return [f"{path}: docs show {shown!r}, the server answers {actual!r}"]
    return []


def unrounded(doc: Any, path: str = "") -> list[str]:
    """Numbers of an answer with more than the 6 decimal places the docs promise."""
    if isinstance(doc, float):
        return [f"{path}: {doc!r}"] if doc != round(doc, 6) else []
    if isinstance(doc, dict):
        return [m for k, v in doc.items() for m in unrounded(v, f"{path}.{k}")]
    if isinstance(doc, list):
        return [m for i, v in enumerate(doc) for m in unrounded(v, f"{path}[{i}]")]
    return []


@dataclass
class Command:
    """One shell command of a bash block and the answer the docs show after it (if any)."""

    text: str
    answer: str | None


def commands(block: str) -> list[Command]:
    """A bash block as commands: a line continued by ``\\``, a ``|`` at its end or an open
    quote joins the next; a ``# {`` (or ``# [``) line right after a command starts its
    answer, and the comment lines after it continue it; other comments are comments."""
    out: list[Command] = []
    pending, answering = "", False
    for line in block.splitlines():
        if not pending and line.lstrip().startswith("#"):
            body = line.lstrip()[1:].strip()
            if out and (answering or body.startswith(("{", "["))):
                out[-1].answer = body if out[-1].answer is None else out[-1].answer + body
                answering = True
            continue
        answering = False
        if not pending and not line.strip():
            continue
        pending = f"{pending}\n{line}" if pending else line
        if pending.rstrip().endswith(("\\", "|")) or not _complete(pending):
            continue
        out.append(Command(pending, None))
        pending = ""
    assert not pending, f"an unfinished command: {pending!r}"
    return out


def _complete(text: str) -> bool:
    try:
        shlex.split(text, comments=True)
    except ValueError:
        return False
    return True
