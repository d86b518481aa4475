"""Docs that cannot drift: every example of README.md and docs/*.md runs against a live server
(`recruit-reveal serve`, a real worker process) on the sample models, trained as
`make train-all` trains them, and every answer the docs show is compared with the server's,
numbers to the 6 places every answer is rounded to.  The markers are described in
tests/docs_examples.py."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from api_support import serve_process
from docs_examples import (
    DOCS,
    Example,
    commands,
    examples,
    mismatches,
    parse_answer,
    unrounded,
)

BIN = Path(sys.executable).parent
ALL = [e for path in DOCS for e in examples(path)]
_MARKERS = ("run", "answer", "skip ", "POST ", "GET ")
#: Commands the live server stands for: they would start a second one.
_SERVERS = ("make serve", "recruit-reveal serve", "uvicorn ")
_PLACES = ("MODEL_DIR", "RUNS_DIR", "PREDICTION_LOG", "MODEL_VERSION")


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The bundled sample data and models as `make data` and `make train-all` make them (the
    direct engine: the same models, tests/test_cli.py), and qb 1.0.1 beside 1.0.0."""
    root = tmp_path_factory.mktemp("docs")
    env = {k: v for k, v in os.environ.items() if k not in _PLACES}
    cli = str(BIN / "recruit-reveal")
    for argv in (["generate-data"],
                 ["train", "--csv", "data/training.csv", "--position", "all", "--engine",
                  "direct", "--jobs", "2", "--version", "1.0.0"],
                 ["train", "--csv", "data/training.csv", "--position", "qb", "--engine",
                  "direct", "--version", "1.0.1"],
                 ["models", "promote", "qb", "1.0.0", "--reason", "serve 1.0.0 again"]):
        done = subprocess.run([cli, "-q", *argv], cwd=root, env=env, capture_output=True,
                              text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
    # README's monitoring example records the levels some athletes reached
    (root / "signings_2026.csv").write_text("athlete_ref,division,date\n"
                                            "qb-2026-17,FCS,2026-11-02\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def server(sample, tmp_path_factory):
    # the limits docs/api.md's /health shows (far above what the examples send)
    # and a prediction log, written at once, for README's monitoring example
    with serve_process(sample / "models", tmp_path_factory.mktemp("log") / "serve.log",
                       RATE_LIMIT="100/minute", RATE_LIMIT_BATCH="10/minute",
                       PREDICTION_LOG=str(sample / "log"),
                       PREDICTION_LOG_FLUSH_SECONDS="0.1") as (_, url):
        yield url


def test_every_example_says_what_the_docs_test_does_with_it():
    unmarked = [e.where for e in ALL if e.marker is None or not e.marker.startswith(_MARKERS)]
    assert unmarked == [], "examples without an <!-- example: ... --> marker"
    bare = [e.where for e in ALL if e.marker.strip() == "skip"]
    assert bare == [], "a skipped example must say why"


def _substitute(text: str, url: str) -> str:
    host = url.removeprefix("http://")
    text = text.replace("http://localhost:8000", url).replace("localhost:8000", host)
    text = text.replace("127.0.0.1:8000", host)
    return text.replace(".venv/bin/recruit-reveal", str(BIN / "recruit-reveal"))


class _Session:
    """One doc's examples in order: the last request body and answer carry over."""

    def __init__(self, url: str, cwd: Path):
        self.url, self.cwd = url, cwd
        self.body: object = None
        self.answer: object = None
        self.problems: list[str] = []

    def problem(self, example: Example, text: str) -> None:
        self.problems.append(f"{example.where}: {text}")

    def run(self, example: Example) -> None:
        marker = example.marker or ""
        if marker.startswith("skip"):
            return
        if marker.startswith(("POST ", "GET ")):
            self.request(example, marker)
        elif marker == "answer":
            self.compare(example, parse_answer(example.text), self.answer)
        elif example.language == "bash":
            self.shell(example)
        elif example.language == "python":
            self.python(example)

    def request(self, example: Example, marker: str) -> None:
        """``POST /path``: the block is the body.  ``GET /path``, ``POST /path with the body
        above`` and ``POST /path {inline body}``: the block is the answer to compare."""
        method, _, rest = marker.partition(" ")
        path, _, extra = rest.partition(" ")
        shows_answer = method == "GET" or bool(extra)
        if extra == "with the body above":
            body = self.body
        elif extra:
            body = json.loads(extra)
        elif method == "POST":
            body = parse_answer(example.text)
        else:
            body = None
        if method == "POST":
            self.body = body
        answer = httpx.request(method, self.url + path, timeout=60,
                               **({"json": body} if method == "POST" else {}))
        self.answer = answer.json()
        self.problems += [f"{example.where}: answer not rounded to 6 places: {m}"
                          for m in unrounded(self.answer)]
        if shows_answer:
            self.compare(example, parse_answer(example.text), self.answer)

    def compare(self, example: Example, shown: object, actual: object) -> None:
        self.problems += [f"{example.where}: {m}" for m in mismatches(shown, actual)]

    def shell(self, example: Example) -> None:
        # HOME: a command writing under ~ (keys create ~/keys) writes in the sample folder
        env = {**{k: v for k, v in os.environ.items() if k not in _PLACES},
               "HOME": str(self.cwd), "PREDICTION_LOG": str(self.cwd / "log")}
        for command in commands(example.text):
            if command.text.lstrip().startswith(_SERVERS):
                continue  # the live server is that server
            done = subprocess.run(["bash", "-o", "pipefail", "-c",
                                   _substitute(command.text, self.url)],
                                  cwd=self.cwd, env=env, capture_output=True, text=True,
                                  timeout=300, check=False)
            if done.returncode != 0 or "Traceback" in done.stderr:
                self.problem(example, f"`{command.text}` exited {done.returncode}: "
                                      f"{done.stderr[-800:]}")
            elif command.answer is not None:
                actual = json.loads(done.stdout)
                self.compare(example, parse_answer(command.answer), actual)
                if "/v2/" not in command.text:  # the protocol's tensors are unrounded
                    self.problems += [f"{example.where}: not rounded: {m}"
                                      for m in unrounded(actual)]

    def python(self, example: Example) -> None:
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.chdir(self.cwd):
                exec(compile(_substitute(example.text, self.url), example.where, "exec"), {})
        except Exception as exc:  # noqa: BLE001 - reported with the example's place
            self.problem(example, f"{type(exc).__name__}: {exc}")


@pytest.mark.parametrize("doc", DOCS, ids=[p.name for p in DOCS])
def test_every_example_of_the_doc_runs_and_its_answers_are_the_servers(doc, server, sample):
    session = _Session(server, sample)
    ran = [e for e in ALL if e.file == doc]
    for example in ran:
        session.run(example)
    assert not session.problems, "\n".join(session.problems)
    if doc.name == "README.md":  # its `monitor` reviewed the log its own requests made
        assert list((sample / "runs" / "monitor").glob("*/qb.html"))


def _example(doc: str, marker: str, needle: str) -> Example:
    return next(e for e in ALL if e.file.name == doc and e.marker == marker and needle in e.text)


def test_a_doc_changed_to_disagree_with_the_server_fails(server, sample):
    import dataclasses

    request = _example("api.md", "POST /predict", '"name": "Test QB Player"')
    answer = _example("api.md", "answer", '"probability": 0.541427')
    curl = _example("api.md", "run", "/v2/models/qb/infer")
    for example, old, new in [(answer, '"probability": 0.541427', '"probability": 0.541428'),
                              (answer, '"ignored_fields": ["name"]', '"ignored_fields": []'),
                              (curl, '"data": ["D2"]', '"data": ["FCS"]')]:
        session = _Session(server, sample)
        session.run(request)
        session.run(example)
        assert session.problems == [], "the doc as written agrees with the server"
        session.run(dataclasses.replace(example, text=example.text.replace(old, new)))
        assert len(session.problems) == 1 and "the server answers" in session.problems[0]


def test_the_comparison_rules():
    assert mismatches({"a": 1, "...": "..."}, {"a": 1, "b": 2}) == []
    assert mismatches({"a": "..."}, {"a": [1]}) == []
    assert mismatches({"pid": "... 4242"}, {"pid": 77}) == []
    assert mismatches({"a": 1, "b": 2}, {"a": 1}) == [".b: shown in the docs, not in the answer"]
    assert mismatches([1, "..."], [1, 2, 3]) == [] and mismatches([1], [1, 2]) != []
    assert mismatches({"p": 0.5}, {"p": 0.500001}) == [
        ".p: docs show 0.5, the server answers 0.500001"]
    assert mismatches({"ok": True}, {"ok": 1}) != []
    assert unrounded({"p": [0.1234567, 0.123456]}) == [".p[0]: 0.1234567"]
    assert parse_answer('"k": {"a": 1}') == {"k": {"a": 1}}


def test_a_bash_block_splits_into_commands_with_their_answers():
    block = ("make serve   # a comment\n"
             "curl -s x -d '{\n  \"a\": 1}'\n"
             "# {\"b\":\n#  2}\n"
             "printf 'x' |\n  curl -s y --data-binary @-\n"
             "recruit-reveal models list \\\n    --json\n"
             "                     # a note, not an answer\n")
    found = commands(block)
    assert [c.text.split()[0] for c in found] == ["make", "curl", "printf", "recruit-reveal"]
    assert found[1].answer == '{"b":2}' and found[2].answer is None
    assert found[3].answer is None
