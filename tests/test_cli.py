"""``recruit-reveal``: training end to end (both engines, a failing position, the shim),
the models commands, generate-data, serve, and the exit-2 rule for user errors."""

from __future__ import annotations

import csv
import json
import shlex
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from recruit_reveal.artifacts import registry
from recruit_reveal.artifacts.layout import artifact_path, metadata_path
from recruit_reveal.cli import main
from recruit_reveal.errors import ModelNotFoundError
from recruit_reveal.schema import POSITIONS

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def notebook_run(tmp_path_factory, sample_csv):
    """``recruit-reveal train --position all`` with the notebook engine into a fresh folder."""
    base = tmp_path_factory.mktemp("notebook_engine")
    argv = ["train", "--csv", str(sample_csv), "--position", "all", "--version", "1.0.0",
            "--changelog", "first release", "--models-dir", str(base / "models"),
            "--runs-dir", str(base / "runs"), "--jobs", "2", "--cv-folds", "3", "--seed", "5"]
    proc = subprocess.run([str(BIN / "recruit-reveal"), *argv], capture_output=True, text=True,
                          timeout=600, check=False)
    return base, proc


def test_notebook_engine_trains_every_position_and_leaves_exactly_the_expected_files(
        notebook_run):
    base, proc = notebook_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    models, runs = base / "models", base / "runs"
    expected = set()
    for pos in POSITIONS:
        stem = f"recruit_reveal_{pos}_pipeline"
        expected |= {f"{stem}_v1.0.0.pkl", f"{stem}_v1.0.0.skops", f"{stem}_v1.0.0.metadata.json",
                     f"{stem}_latest.pkl", f"{stem}_latest.metadata.json", f"CHANGELOG_{pos}.md"}
    expected.add("releases.json")
    assert {p.name for p in models.iterdir() if not p.name.startswith(".")} == expected
    # One release for the whole run, made by the training run.
    (made,) = registry.history(models).history
    assert made.how == "train" and made.action == "release" and made.reason == "first release"
    assert made.versions == {pos: "1.0.0" for pos in POSITIONS}
    assert {p.relative_to(runs).as_posix() for p in runs.rglob("*")} == (
        {"v1.0.0", "index.html"}
        | {f"v1.0.0/{pos}.{ext}" for pos in POSITIONS for ext in ("ipynb", "html")})

    for pos in POSITIONS:
        meta = json.loads(metadata_path(models, pos, "1.0.0").read_text(encoding="utf-8"))
        record = runs / "v1.0.0" / f"{pos}.ipynb"
        # The metadata names its record; the record shows the artifact's sha256 and the
        # environment that trained it.
        assert json.dumps(meta["audit_record"]).find(f"v1.0.0/{pos}.ipynb") >= 0
        outputs = json.dumps([c.get("outputs", []) for c in nbformat.read(record, 4).cells])
        assert meta["artifact"]["sha256"] in outputs
        assert sys.prefix in outputs  # the environment table: the kernel ran this venv
        assert meta["changelog"] == "first release" and meta["seed"] == 5
        assert registry.describe(pos, "latest", models_dir=models).model_version == "1.0.0"
        html = (runs / "v1.0.0" / f"{pos}.html").read_text(encoding="utf-8")
        assert meta["artifact"]["sha256"] in html
        # the record, the summary and the changelog name the file served: the skops file
        assert meta["artifact_skops"]["sha256"] in html and meta["artifact_skops"]["file"] in html
        changelog = (models / f"CHANGELOG_{pos}.md").read_text(encoding="utf-8")
        assert f"Served file: {meta['artifact_skops']['file']} (skops)" in changelog
        assert "1.0.0 promoted to latest in release 1" in changelog

    # Progress per finished cell on stderr; the summary table and a pointer on stdout.
    assert "qb: cell " in proc.stderr and "wr: cell " in proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["position", "version", "status", "exact", "within-one",
                                "served", "record", "duration"]
    assert any(line.split()[:3] == ["wr", "1.0.0", "succeeded"] for line in lines)
    assert "latest now points at v1.0.0" in proc.stdout
    assert str(artifact_path(models, "rb", "1.0.0").with_suffix(".skops")) in proc.stdout
    assert str(runs / "v1.0.0" / "rb.html") in proc.stdout


def test_both_engines_make_models_that_predict_identically(notebook_run, sample_csv, tmp_path):
    base, proc = notebook_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    direct = tmp_path / "models"
    code = main(["train", "--csv", str(sample_csv), "--position", "all", "--version", "1.0.0",
                 "--engine", "direct", "--models-dir", str(direct), "--cv-folds", "3",
                 "--seed", "5", "--jobs", "2", "--runs-dir", str(tmp_path / "runs")])
    assert code == 0
    assert not (tmp_path / "runs").exists()  # the direct engine leaves no records

    from recruit_reveal.data.loading import load_training_data

    for pos in POSITIONS:
        rows = load_training_data(sample_csv, pos).frame
        by_notebook = registry.load(pos, "1.0.0", models_dir=base / "models").pipeline
        by_direct = registry.load(pos, "1.0.0", models_dir=direct).pipeline
        np.testing.assert_array_equal(by_notebook.predict_proba(rows),
                                      by_direct.predict_proba(rows))
        assert list(by_notebook.predict(rows)) == list(by_direct.predict(rows))
        meta_nb = registry.describe(pos, "1.0.0", models_dir=base / "models")
        meta_direct = registry.describe(pos, "1.0.0", models_dir=direct)
        assert meta_nb.metrics.cv == meta_direct.metrics.cv


def _csv_with_invalid_wr_rows(source: Path, target: Path) -> None:
    with source.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        if row["position"].lower() == "wr":
            row["height_inches"] = "tall"
    with target.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_a_failing_position_promotes_nothing_and_says_how_to_promote_the_rest(
        models_dir, sample_csv, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    _csv_with_invalid_wr_rows(sample_csv, bad)
    runs = tmp_path / "runs"

    code = main(["train", "--csv", str(bad), "--position", "all", "--version", "1.1.0",
                 "--models-dir", str(models_dir), "--runs-dir", str(runs), "--jobs", "2",
                 "--cv-folds", "3"])
    out = capsys.readouterr().out

    assert code == 1
    for pos in ("qb", "rb"):  # the positions that succeeded keep their versioned files
        assert artifact_path(models_dir, pos, "1.1.0").is_file()
        assert metadata_path(models_dir, pos, "1.1.0").is_file()
    assert not artifact_path(models_dir, "wr", "1.1.0").exists()
    for pos in POSITIONS:  # latest unchanged everywhere
        assert registry.latest_version(pos, models_dir) == "1.0.0"
        assert (runs / "v1.1.0" / f"{pos}.ipynb").is_file()
        assert (runs / "v1.1.0" / f"{pos}.html").is_file()
    record = nbformat.read(runs / "v1.1.0" / "wr.ipynb", 4)
    assert "An Exception was encountered" in record.cells[0].source  # papermill's banner
    errors = [o for c in record.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors and errors[0]["ename"] == "DataValidationError"
    assert "height_inches" in errors[0]["evalue"]

    assert "FAILED wr: wr: cell" in out and "DataValidationError" in out
    assert "latest was left unchanged" in out
    command = next(line.strip() for line in out.splitlines()
                   if line.strip().startswith("recruit-reveal models promote"))
    # The printed command is exact: running it promotes the rest.
    for part in command.split(" && "):
        argv = shlex.split(part)
        assert argv[0] == "recruit-reveal"
        assert main(argv[1:]) == 0
    assert registry.latest_version("qb", models_dir) == "1.1.0"
    assert registry.latest_version("rb", models_dir) == "1.1.0"
    assert registry.latest_version("wr", models_dir) == "1.0.0"

    # Fix the data and run the printed retry command: the failed record is kept aside.
    bad.write_bytes(sample_csv.read_bytes())
    retry = next(line.strip() for line in out.splitlines()
                 if line.strip().startswith("recruit-reveal train"))
    assert main([*shlex.split(retry)[1:], "--cv-folds", "3"]) == 0
    kept = list((runs / "v1.1.0").glob("wr.failed-*.ipynb"))
    assert len(kept) == 1 and kept[0].with_suffix(".html").is_file()
    assert "DataValidationError" in kept[0].read_text(encoding="utf-8")
    assert "DataValidationError" not in (runs / "v1.1.0" / "wr.ipynb").read_text(
        encoding="utf-8")
    assert registry.latest_version("wr", models_dir) == "1.1.0"


def test_the_earlier_systems_command_still_works(sample_csv, tmp_path):
    models = tmp_path / "models"
    proc = subprocess.run(
        [sys.executable, "-m", "scripts.train_and_export", "--csv", str(sample_csv),
         "--position", "QB", "--version", "1.0.0", "--models-dir", str(models),
         "--engine", "direct", "--cv-folds", "3", "--runs-dir", str(tmp_path / "runs")],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert registry.latest_version("qb", models) == "1.0.0"
    assert "succeeded" in proc.stdout


# --- user errors: exit 2, one line, no traceback ----------------------------------------


def test_user_error_exits_2_without_traceback(tmp_path):
    proc = subprocess.run(
        [str(BIN / "recruit-reveal"), "train", "--csv", str(tmp_path / "nope.csv"),
         "--position", "qb"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
        check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "nope.csv" in proc.stderr and "not found" in proc.stderr


@pytest.mark.parametrize("argv, needle", [
    (["train", "--csv", "x.csv", "--position", "qb", "--version", "1.0"], "1.0"),
    (["models", "show", "qb", "9.9.9"], "9.9.9"),
    (["models", "promote", "wr", "7.0.0"], "7.0.0"),
    (["models", "diff", "qb", "1.0.0", "9.9.9"], "9.9.9"),
    (["models", "migrate", "qb", "1.0.0", "--reason", "x"], "--trust-pickle"),
    (["models", "migrate", "qb", "9.9.9", "--trust-pickle", "--reason", "x"], "9.9.9"),
    (["models", "migrate", "--trust-pickle", "--reason", "x"], "--all"),
    (["models", "migrate", "qb", "--all", "--trust-pickle", "--reason", "x"], "not both"),
    (["models", "migrate", "qb", "--trust-pickle", "--reason", "x"], "VERSION"),
])
def test_errors_of_every_command_exit_2(argv, needle, models_dir, tmp_path, capsys):
    (tmp_path / "x.csv").write_text("position,division\n", encoding="utf-8")
    argv = [a if a != "x.csv" else str(tmp_path / "x.csv") for a in argv]
    code = main([*argv, "--models-dir", str(models_dir)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("recruit-reveal: error:") and needle in err
    assert "Traceback" not in err


def test_rerunning_a_released_version_is_refused(models_dir, sample_csv, capsys):
    code = main(["train", "--csv", str(sample_csv), "--position", "qb", "--version", "1.0.0",
                 "--models-dir", str(models_dir)])
    assert code == 2
    assert "already exists" in capsys.readouterr().err


def test_unknown_position_is_a_usage_error(capsys, tmp_path):
    csv = tmp_path / "x.csv"
    csv.write_text("position,division\n", encoding="utf-8")
    assert main(["train", "--csv", str(csv), "--position", "te"]) == 2
    assert "unknown position 'te'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["train", "--csv", str(csv), "--position", "../te"])
    assert info.value.code == 2
    assert "not a position key" in capsys.readouterr().err


# --- models list / show / promote ------------------------------------------------------


def test_models_list_show_and_promote(models_dir, trained_results, capsys):
    from recruit_reveal.artifacts.writer import save_pipeline

    save_pipeline(trained_results["qb"], models_dir, "1.0.1", promote=False, changelog="next")

    assert main(["models", "list", "--models-dir", str(models_dir)]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()]
    assert ["qb", "1.0.0", "*"] == rows[3][:3]  # title, header, rule, then qb 1.0.0
    assert ["qb", "1.0.1"] == rows[4][:2] and rows[4][2] != "*"
    assert sum(1 for r in rows if r and r[0] in POSITIONS) == 4

    assert main(["models", "show", "qb", "1.0.1", "--models-dir", str(models_dir)]) == 0
    out = capsys.readouterr().out
    meta = registry.describe("qb", "1.0.1", models_dir=models_dir)
    assert "QB model v1.0.1" in out and meta.artifact.sha256 in out and "exact_accuracy" in out
    # the file served is named first: the skops file, the pickle as the copy it is
    assert f"served file   {meta.artifact_skops.file} (skops, " in out
    assert f"pickle copy   {meta.artifact.file}" in out
    assert "rule_based" in out and "majority" in out
    # the next-class backtest beside shuffled CV, per class, with its verdict
    assert meta.backtest is not None and "next class" in out
    assert "next class (backtest by grad_year, log loss): 2024 " in out
    assert meta.backtest["comparison"]["verdict"] in out

    assert main(["models", "show", "qb", "--json", "--models-dir", str(models_dir)]) == 0
    assert json.loads(capsys.readouterr().out)["model_version"] == "1.0.0"

    assert main(["models", "promote", "qb", "1.0.1", "--models-dir", str(models_dir)]) == 0
    assert registry.latest_version("qb", models_dir) == "1.0.1"
    assert main(["models", "promote", "qb", "1.0.0", "--models-dir", str(models_dir)]) == 0
    assert registry.latest_version("qb", models_dir) == "1.0.0"  # rollback


def test_models_migrate_one_version_then_all_of_them(models_dir, capsys):
    from legacy_models import strip_skops

    strip_skops(models_dir)
    folder = ["--models-dir", str(models_dir)]
    with pytest.raises(ModelNotFoundError, match="models migrate qb 1.0.0"):
        registry.load("qb", "1.0.0", models_dir)
    assert main(["models", "migrate", "qb", "1.0.0", "--trust-pickle", "--reason",
                 "pickle-only export", "--by", "ana", *folder]) == 0
    assert "qb 1.0.0: migrated from pickle to skops" in capsys.readouterr().out
    assert registry.load("qb", "1.0.0", models_dir).format == "skops"
    doc = registry.describe("qb", "1.0.0", models_dir)
    assert doc.model_extra["migration"]["by"] == "ana"
    assert main(["models", "migrate", "--all", "--trust-pickle", "--reason", "the rest",
                 *folder]) == 0
    out = capsys.readouterr().out
    assert "qb 1.0.0: already has a skops file" in out
    assert "rb 1.0.0: migrated" in out and "wr 1.0.0: migrated" in out
    assert main(["models", "history", "--json", *folder]) == 0
    history = json.loads(capsys.readouterr().out)
    assert [(m["position"], m["by"]) for m in history["migrations"]][0] == ("qb", "ana")
    assert main(["models", "history", *folder]) == 0
    assert "Migrated from pickle to skops" in capsys.readouterr().out


def test_models_migrate_all_exits_1_when_a_version_fails(models_dir, capsys):
    from legacy_models import strip_skops

    strip_skops(models_dir)
    metadata_path(models_dir, "rb", "1.0.0").write_text("{not json")
    code = main(["models", "migrate", "--all", "--trust-pickle", "--reason", "x",
                 "--models-dir", str(models_dir)])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED:" in out and "not valid JSON" in out
    assert "qb 1.0.0: migrated" in out and "wr 1.0.0: migrated" in out


def test_models_list_on_an_empty_folder_points_at_training(tmp_path, capsys):
    assert main(["models", "list", "--models-dir", str(tmp_path)]) == 0
    assert "recruit-reveal train" in capsys.readouterr().out


def test_models_diff_prints_a_table_or_json(models_dir, sample_csv, capsys):
    from recruit_reveal.artifacts.writer import save_pipeline
    from recruit_reveal.modeling.training import train_position

    other = train_position(sample_csv, "rb", seed=1, cv_folds=3, params={"C": 0.3})
    save_pipeline(other, models_dir, "1.1.0", promote=False)
    argv = ["models", "diff", "rb", "latest", "1.1.0", "--models-dir", str(models_dir),
            "--csv", str(sample_csv)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("RB 1.0.0 -> 1.1.0")
    c_row = next(line.split() for line in out.splitlines() if line.startswith("estimator  C "))
    assert c_row[2:] == ["0.05", "0.3", "*"]
    assert "training rows" in out and "sample athlete" in out
    assert main([*argv, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["a"], doc["b"]) == ("1.0.0", "1.1.0")
    assert [f["name"] for f in doc["fields"] if f["changed"]] == ["C", "seed"]
    assert doc["agreement"][0]["count"] == 240


# --- generate-data and serve ---------------------------------------------------------


def test_generate_data_writes_the_sample_byte_identically(tmp_path, capsys):
    out = tmp_path / "d" / "sample.csv"
    assert main(["generate-data", "--out", str(out), "--rows", "25", "--seed", "3"]) == 0
    first = out.read_bytes()
    assert main(["generate-data", "--out", str(out), "--rows", "25", "--seed", "3"]) == 0
    assert out.read_bytes() == first
    assert (tmp_path / "d" / "sample.synthetic.json").is_file()
    assert str(out) in capsys.readouterr().out


def test_serve_hands_host_port_and_models_dir_to_the_service(monkeypatch, tmp_path):
    import recruit_reveal.api.app as service

    monkeypatch.delenv("MODEL_DIR", raising=False)
    calls = []
    monkeypatch.setattr(service, "run", lambda host, port, **kw: calls.append((host, port, kw)))
    assert main(["serve", "--host", "0.0.0.0", "--port", "8123",
                 "--models-dir", str(tmp_path)]) == 0
    assert main(["serve", "--workers", "3", "--no-access-log"]) == 0
    assert calls == [
        ("0.0.0.0", 8123, {"models_dir": str(tmp_path), "access_log": None, "workers": None}),
        (None, None, {"models_dir": "models", "access_log": False, "workers": 3})]
    with pytest.raises(SystemExit):
        main(["serve", "--workers", "0"])


@pytest.mark.parametrize("engine", ["notebook", "direct"])
def test_a_messy_multi_position_export_trains_every_position_with_quarantine(
        messy_export, tmp_path, engine):
    """A team's export: 11 positions, their own headers, zero heights, BOM and CRLF."""
    models, runs = tmp_path / "models", tmp_path / "runs"
    argv = ["train", "--csv", str(messy_export.path), "--position", "all", "--version", "1.0.0",
            "--columns", str(messy_export.mapping_path), "--invalid-rows", "quarantine",
            "--models-dir", str(models), "--runs-dir", str(runs), "--engine", engine,
            "--jobs", "2", "--cv-folds", "3"]
    proc = subprocess.run([str(BIN / "recruit-reveal"), *argv], capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for pos in POSITIONS:
        # The rejected rows sit where the record is (or would be, for the direct engine),
        # unchanged, with their spreadsheet row and reasons.
        rejected_file = runs / "v1.0.0" / f"{pos}.rejected.csv"
        with rejected_file.open(encoding="utf-8", newline="") as fh:
            rejected = list(csv.DictReader(fh))
        assert {int(r["row"]) for r in rejected} == messy_export.invalid_rows(pos)
        assert all(r["problems"] for r in rejected)
        assert {r["height"] for r in rejected} >= {"0"}
        assert f"{len(rejected):,} invalid row(s) set aside in" in proc.stdout

        # The metadata says how the file was read and where every row went.
        fp = registry.describe(pos, "1.0.0", models_dir=models).data_fingerprint
        assert fp.rows_in_file == messy_export.rows
        assert fp.rows_rejected == len(rejected)
        assert fp.rows + fp.rows_rejected + fp.rows_skipped == fp.rows_in_file
        assert fp.rows + fp.rows_rejected == messy_export.rows_of(pos)
        assert fp.invalid_rows == "quarantine"
        assert fp.column_mapping["fourty"] == "forty_yard_dash"
        assert sum(r.count for r in fp.rejected_by_rule) >= len(rejected)
        if engine == "notebook":
            html = (runs / "v1.0.0" / f"{pos}.html").read_text(encoding="utf-8")
            assert f"{pos}.rejected.csv" in html and "used +" in html
    assert registry.latest_version("qb", models) == "1.0.0"


def test_a_bad_mapping_file_or_policy_stops_before_training(messy_export, tmp_path, capsys):
    bad = tmp_path / "columns.json"
    bad.write_text(json.dumps({"fourty": "forty_time"}), encoding="utf-8")
    code = main(["train", "--csv", str(messy_export.path), "--position", "qb",
                 "--columns", str(bad), "--models-dir", str(tmp_path / "m"),
                 "--runs-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "forty_time" in err and "columns.json" in err
    assert not (tmp_path / "m").exists() and not (tmp_path / "r").exists()
    with pytest.raises(SystemExit) as stop:
        main(["train", "--csv", str(messy_export.path), "--position", "qb",
              "--max-invalid-fraction", "1.5"])
    assert stop.value.code == 2
