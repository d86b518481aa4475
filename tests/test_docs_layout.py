"""The docs name only modules that exist, and docs/api.md's code layout is the tree's."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from recruit_reveal.api.request_ids import ACCESS_LOGGER

ROOT = Path(__file__).resolve().parents[1]
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
SOURCE_FOLDERS = ("recruit_reveal", "tests", "bench", "scripts")
#: Dotted names in the docs that are not modules of this package, and why.
NOT_MODULES = {
    # the logger of the access lines, not a module
    ACCESS_LOGGER: "logger",
    # the earlier system's modules, which its pickles name (docs/artifacts.md)
    "recruit_reveal.model": "earlier system",
    "recruit_reveal.features": "earlier system",
}


def resolves(dotted: str, root: Path = ROOT) -> bool:
    """Whether ``dotted`` is a module of the tree, or an attribute of one."""
    parts = dotted.split(".")
    path, depth = root / parts[0], 1
    while depth < len(parts) and ((path / parts[depth]).is_dir()
                                  or (path / f"{parts[depth]}.py").is_file()):
        path, depth = path / parts[depth], depth + 1
    found: object = importlib.import_module(".".join(parts[:depth]))
    for attr in parts[depth:]:
        if not hasattr(found, attr):
            return False
        found = getattr(found, attr)
    return True


def dotted_names(text: str) -> set[str]:
    return set(re.findall(r"recruit_reveal(?:\.[A-Za-z_]\w*)+", text))


def python_files(text: str) -> set[str]:
    """Every ``name.py`` or ``folder/name.py`` in backticks."""
    return set(re.findall(r"`([\w/.-]*\w\.py)`", text))


def known_files(root: Path = ROOT) -> set[str]:
    return {p.relative_to(root).as_posix() for folder in SOURCE_FOLDERS
            for p in (root / folder).rglob("*.py")}


def missing_files(named: set[str], files: set[str]) -> list[str]:
    """The names of ``named`` that are no file (a bare name may be any folder's)."""
    return sorted(n for n in named if not any(f == n or f.endswith(f"/{n}") for f in files))


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_module_a_doc_names_exists(doc):
    text = doc.read_text(encoding="utf-8")
    unresolved = sorted(n for n in dotted_names(text) if n not in NOT_MODULES
                        and not resolves(n))
    assert not unresolved, f"{doc.name} names modules that do not exist: {unresolved}"
    paths = sorted(p.rstrip(".") for p in re.findall(r"recruit_reveal/[\w/.-]+", text)
                   if "{" not in p and not (ROOT / p.rstrip(".")).exists())
    assert not paths, f"{doc.name} names paths that do not exist: {paths}"
    missing = missing_files(python_files(text), known_files())
    assert not missing, f"{doc.name} names files that do not exist: {missing}"


def api_layout(text: str) -> set[str]:
    """The files docs/api.md's "Code layout" list names, relative to recruit_reveal/api/."""
    heading = text.index("Code layout (`recruit_reveal/api/`")
    start = text.index("\n\n", heading)  # the list, after the sentence that introduces it
    return python_files(text[start:text.index("\n## ", start)])


def test_the_api_code_layout_names_every_module_of_the_tree_and_no_other():
    api = ROOT / "recruit_reveal" / "api"
    tree = {p.relative_to(api).as_posix() for p in api.rglob("*.py") if p.name != "__init__.py"}
    named = api_layout((ROOT / "docs" / "api.md").read_text(encoding="utf-8"))
    assert named == tree, (f"docs/api.md's code layout lacks {sorted(tree - named)} and names "
                           f"{sorted(named - tree)}, which do not exist")


def test_the_checks_fail_on_a_module_that_is_gone(tmp_path):
    # A name of the old layout: the package has no such module, so the check must say so.
    assert not resolves("recruit_reveal.api.schemas")
    assert not resolves("recruit_reveal.modeling.explanations.predict_proba")
    assert resolves("recruit_reveal.modeling.probabilities.predict_proba")
    assert missing_files({"schemas.py", "whatif.py", "routers/whatif.py"}, known_files()) == \
        ["schemas.py"]
    layout = ("Code layout (`recruit_reveal/api/`; see `x.py`):\n\n- `app.py`\n- `errors.py`\n\n"
              "## Next\n")
    assert api_layout(layout) == {"app.py", "errors.py"}
