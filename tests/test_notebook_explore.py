"""notebooks/explore.ipynb: its parameters, its cells (calls, no logic), and a headless
papermill run on a small release."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import papermill
import pytest

from recruit_reveal.artifacts import registry
from recruit_reveal.release.notebook import KERNEL_NAME

ROOT = Path(__file__).resolve().parents[1]
EXPLORE = ROOT / "notebooks" / "explore.ipynb"
#: Lines of code a cell may hold besides imports, comments and blank lines: a call and a display.
MAX_CELL_LINES = 4


@pytest.fixture(scope="module")
def notebook():
    nb = nbformat.read(EXPLORE, as_version=4)
    nbformat.validate(nb)
    return nb


def test_explore_is_committed_clean_with_the_documented_parameters(notebook):
    assert notebook.metadata.kernelspec.name == KERNEL_NAME
    (cell,) = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    defaults = {node.targets[0].id: ast.literal_eval(node.value)
                for node in ast.parse(cell.source).body if isinstance(node, ast.Assign)}
    assert list(defaults) == ["models_dir", "position", "version", "csv", "widgets"]
    assert defaults["version"] == "latest" and defaults["widgets"] is None
    for c in notebook.cells:
        if c.cell_type == "code":
            assert c.outputs == [] and c.execution_count is None


def _code_lines(source: str) -> list[str]:
    """The cell's lines of code, leaving out comments, blank lines and imports."""
    lines = [line.strip() for line in source.splitlines()]
    return [line for line in lines if line and not line.startswith(("#", "import ", "from "))]


def test_explore_cells_are_calls_into_the_package(notebook):
    code = [c for c in notebook.cells if c.cell_type == "code"
            and "parameters" not in c.metadata.get("tags", [])]
    assert len(code) >= 10
    for cell in code:
        tree = ast.parse(cell.source)
        defined = [type(node).__name__ for node in ast.walk(tree)
                   if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
                                 | ast.Lambda)]
        assert not defined, f"cell {cell.id} defines {defined}: move it into recruit_reveal"
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.For | ast.While)], \
            f"cell {cell.id} loops: move it into recruit_reveal"
        lines = _code_lines(cell.source)
        assert len(lines) <= MAX_CELL_LINES, f"cell {cell.id} has {len(lines)} lines:\n{cell.source}"


def test_explore_runs_headless_on_a_small_release(exported_models_dir, sample_csv, tmp_path):
    out = tmp_path / "explore.ipynb"
    # csv=None: the notebook finds the training file the metadata names, in the working
    # directory, and checks its sha256.
    papermill.execute_notebook(
        str(EXPLORE), str(out), kernel_name=KERNEL_NAME, cwd=str(sample_csv.parent),
        parameters={"models_dir": str(exported_models_dir), "position": "wr",
                    "version": "latest", "csv": None},
        progress_bar=False, request_save_on_cell_execute=False)
    cells = {c.get("id"): c for c in nbformat.read(out, as_version=4).cells}
    outputs = [o for c in cells.values() for o in c.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 3  # errors, PD, calibration

    def text(cell_id: str) -> str:
        return "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                       for o in cells[cell_id].outputs)

    version = registry.latest_version("wr", exported_models_dir)
    assert f"WR {version}: requested latest" in text("load-model")
    assert "wr rows" in text("load-data") and "240" in text("load-data")
    assert "NO (sha256 differs" not in text("load-data")
    # Out-of-sample predictions on the model's own file reproduce its CV metrics.
    rows = [line.split() for line in text("oof").splitlines()[1:]]
    assert [r[0] for r in rows] == ["exact_accuracy", "within_one_accuracy", "log_loss",
                                    "expected_calibration_error"]
    assert all(r[1] == r[2] for r in rows), text("oof")
    for group in ("state tier", "combine results missing", "junior season", "division"):
        assert group in text("errors")
    assert "P(Power 5) range" in text("pd")
    assert "Brier" in text("cal") and "largest P (pooled)" in text("cal")
    assert "with changes" in text("athlete")
    assert "what it takes" in text("whatif")
    # Headless: no sliders, the table of their inputs and ranges instead.
    assert "application/vnd.jupyter.widget-view+json" not in str(cells["widgets"].outputs)
    assert "typical" in text("widgets") and "forty_yard_dash" in text("widgets")
