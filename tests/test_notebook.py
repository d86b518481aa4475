"""The template notebooks/train_position.ipynb: its shape, its safe interactive defaults,
and a run through papermill's own command line."""

from __future__ import annotations

import ast
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from recruit_reveal.artifacts import registry
from recruit_reveal.artifacts.layout import artifact_path
from recruit_reveal.release.contract import RESULT_MIME, NotebookParams

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "notebooks" / "train_position.ipynb"


@pytest.fixture(scope="module")
def template():
    nb = nbformat.read(TEMPLATE, as_version=4)
    nbformat.validate(nb)
    return nb


def _parameters_cell(nb):
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    return cells[0]


def _defaults(nb) -> dict:
    tree = ast.parse(_parameters_cell(nb).source)
    return {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body
            if isinstance(node, ast.Assign)}


def test_template_is_committed_clean_with_the_python3_kernel(template):
    assert template.metadata.kernelspec.name == "python3"
    for cell in template.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_parameters_cell_is_exactly_the_notebook_params(template):
    """The dataclass is the one definition: the cell assigns its fields, with its defaults."""
    tree = ast.parse(_parameters_cell(template).source)
    assigned = [target.id for node in tree.body if isinstance(node, ast.Assign)
                for target in node.targets if isinstance(target, ast.Name)]
    assert all(isinstance(node, ast.Assign) for node in tree.body)
    assert assigned == list(NotebookParams.names())
    assert _defaults(template) == dataclasses.asdict(NotebookParams())


def test_parameters_cell_has_safe_defaults(template):
    defaults = _defaults(template)
    assert defaults["models_dir"] == "scratch/models"
    assert defaults["promote"] is False and defaults["audit_record"] is None
    assert defaults["version"] is None and defaults["position"] in ("qb", "rb", "wr")
    # The first cell says which safe default was chosen.
    first = template.cells[0]
    assert first.cell_type == "markdown" and "scratch/models/" in first.source
    assert "never" in first.source and "`models/`" in first.source


def test_interactive_defaults_resolve_to_the_scratch_folder(template, monkeypatch):
    defaults = _defaults(template)
    monkeypatch.chdir(ROOT / "notebooks")  # where JupyterLab starts the kernel
    settings = NotebookParams.from_namespace({**defaults, "version": "1.0.0"}).resolve()
    assert Path(settings.models_dir) == ROOT / "scratch" / "models"
    assert Path(settings.csv_path) == ROOT / "data" / "training.csv"
    assert "scratch/" in (ROOT / ".gitignore").read_text(encoding="utf-8").split()


_ALLOWED_STATEMENTS = (ast.Import, ast.ImportFrom, ast.Assign, ast.Expr)


def test_every_code_cell_is_a_library_call_plus_a_display(template):
    """No logic in the notebook: no functions, loops, branches, or non-library imports."""
    for cell in template.cells:
        if cell.cell_type != "code" or "parameters" in cell.metadata.get("tags", []):
            continue
        tree = ast.parse(cell.source)
        for node in tree.body:
            assert isinstance(node, _ALLOWED_STATEMENTS), (cell.source, ast.dump(node))
            if isinstance(node, ast.ImportFrom):
                assert node.module and node.module.split(".")[0] == "recruit_reveal", cell.source
            if isinstance(node, ast.Import):
                raise AssertionError(f"plain import in the template: {cell.source}")
        for node in ast.walk(tree):
            assert not isinstance(node, ast.Lambda | ast.ListComp | ast.DictComp
                                  | ast.GeneratorExp | ast.IfExp), cell.source


def test_template_has_the_narrated_sections_in_order(template):
    headings = [c.source.splitlines()[0].lower() for c in template.cells
                if c.cell_type == "markdown" and c.source.startswith("## ")]
    wanted = ["load and validate", "explore", "cross-validated evaluation", "final fit",
              "export", "changes since the previous release", "summary"]
    positions = [next(i for i, h in enumerate(headings) if w in h) for w in wanted]
    assert positions == sorted(positions)
    source = "\n".join(c.source for c in template.cells if c.cell_type == "code")
    for call in ("contract.NotebookParams.from_namespace(globals()).resolve()",
                 "data.load_training_data", "training.train_position", "export.save_pipeline",
                 "figures.metrics_table", "figures.plot_class_balance",
                 "figures.plot_inputs_by_division", "figures.plot_confusion_matrix",
                 "figures.plot_calibration", "figures.plot_permutation_importance",
                 "report.validation_report", "report.export_table",
                 "data.write_rejected_rows", "report.rejected_rows",
                 "diff.since_previous_release", "diff.version_changes"):
        assert call in source, call
    # Every model is saved through recruit_reveal.export.
    assert "from recruit_reveal import data, export" in source
    # The last cell displays the run's result, which the runner reads.
    assert template.cells[-1].source == \
        "contract.PositionResult.of(settings, result, exported, rejected_rows)"


def test_papermills_own_command_line_runs_the_template(sample_csv, models_dir, tmp_path):
    papermill = Path(sys.executable).parent / "papermill"
    out = tmp_path / "out.ipynb"
    models = models_dir  # holds rb 1.0.0, the current release: the run is compared with it
    proc = subprocess.run(
        [str(papermill), str(TEMPLATE), str(out), "-p", "position", "rb",
         "-p", "csv_path", str(sample_csv), "-p", "models_dir", str(models),
         "-p", "cv_folds", "3", "-p", "version", "2.0.0", "--no-progress-bar"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert artifact_path(models, "rb", "2.0.0").is_file()
    # promote defaults to False: a single notebook run never switches latest.
    assert registry.latest_version("rb", models) == "1.0.0"
    meta = registry.describe("rb", "2.0.0", models_dir=models)
    outputs = json.dumps([c.get("outputs", []) for c in nbformat.read(out, 4).cells])
    assert "Changes from 1.0.0 (the previous release) to 2.0.0" in outputs
    assert "same division" in outputs and "beyond noise" in outputs
    assert meta.artifact.sha256 in outputs
    assert '"image/png"' in outputs  # the figures are in the record
    # The next-class backtest, per class, with its verdict beside shuffled CV.
    assert "RB: next-class backtest" in outputs and "shuffled CV" in outputs
    assert meta.audit_record is None  # no runner, no record named
    # The run's result, as the runner reads it, matches what was exported.
    (result,) = [o["data"][RESULT_MIME] for c in nbformat.read(out, 4).cells
                 for o in c.get("outputs", []) if RESULT_MIME in o.get("data", {})]
    assert result["sha256"] == meta.artifact.sha256 and result["version"] == "2.0.0"
    assert result["exact_accuracy"] == meta.metrics.headline.exact_accuracy
