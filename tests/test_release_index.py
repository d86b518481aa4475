"""release.index: what runs/index.html lists, read from real models and runs folders.

The page in a browser, after real notebook runs, is in tests/test_release_index_browser.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import pytest
from test_release_records import fake_record

from recruit_reveal.artifacts import layout, manifest
from recruit_reveal.artifacts.metadata import ModelMetadata, Summary
from recruit_reveal.cli import main
from recruit_reveal.release import index, runner
from recruit_reveal.release.index_page import render

NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.timezone.utc)


def add_version(models: Path, position: str, version: str, *, changelog: str | None = None,
                **means: tuple[float, float]) -> ModelMetadata:
    """A copy of the position's 1.0.0 metadata as ``version``, with some CV metrics changed.

    Only the metadata: the index reads it as stored and never loads a model.
    """
    base = ModelMetadata.from_json_bytes(
        layout.metadata_path(models, position, "1.0.0").read_bytes(), source="1.0.0")
    cv = dict(base.metrics.cv)
    for name, (mean, std) in means.items():
        cv[name] = Summary(mean=mean, std=std)
    meta = base.model_copy(update={
        "model_version": version, "changelog": changelog if changelog else base.changelog,
        "metrics": base.metrics.model_copy(update={"cv": cv})})
    layout.metadata_path(models, position, version).write_bytes(meta.to_json_bytes())
    return meta


def set_metrics(models: Path, position: str, **means: tuple[float, float]) -> None:
    add_version(models, position, "1.0.0", **means)


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value for name, value in attrs if name in ("href", "src") and value]


def links_of(page: str) -> list[str]:
    parser = Links()
    parser.feed(page)
    return parser.urls


def test_changes_are_marked_only_beyond_the_pooled_fold_std(models_dir, tmp_path):
    set_metrics(models_dir, "qb", exact_accuracy=(0.50, 0.03), within_one_accuracy=(0.90, 0.03),
                expected_calibration_error=(0.05, 0.01))
    add_version(models_dir, "qb", "1.0.1", exact_accuracy=(0.525, 0.01),
                within_one_accuracy=(0.88, 0.01), expected_calibration_error=(0.09, 0.005))
    manifest.release(models_dir, {"qb": "1.0.1"}, how="cli", by="ana", reason="fall data")

    found = index.collect(tmp_path / "runs", models_dir, now=NOW)

    newest, first = found.releases[0], found.releases[-1]
    assert newest.current and not first.current and newest.id > first.id
    qb = next(p for p in newest.positions if p.position == "qb")
    exact, within, ece = qb.metrics
    pooled = math.sqrt((0.03 ** 2 + 0.01 ** 2) / 2)  # 0.0224, below the larger std 0.03
    # +0.025 is just beyond the pooled std (though not beyond 0.03): marked, better.
    assert exact.delta == pytest.approx(0.025) and exact.noise == pytest.approx(pooled)
    assert exact.beyond_noise and exact.verdict == "better"
    # -0.020 is just within it: not marked.
    assert within.delta == pytest.approx(-0.02) and within.noise == pytest.approx(pooled)
    assert not within.beyond_noise
    # ECE up by 0.04 against 0.008: marked, and worse since lower is better.
    assert ece.beyond_noise and ece.verdict == "worse"
    rb = next(p for p in newest.positions if p.position == "rb")
    assert not rb.changed and all(m.delta is None for m in rb.metrics)

    page = render(found)
    assert "▲ +0.025 (better)" in page and "▲ +0.040 (worse)" in page
    assert '<span class="delta">-0.020</span>' in page
    assert "sqrt((std_A² + std_B²) / 2)" in page  # the rule, in the footnote
    assert page.index(f"Release {newest.id} ") < page.index(f"Release {first.id} ")


def test_a_release_shows_who_when_why_data_and_changelog(models_dir, tmp_path):
    add_version(models_dir, "wr", "1.0.1", changelog="more WR rows")
    made = manifest.release(models_dir, {"wr": "1.0.1"}, how="cli", by="bo",
                            reason="wr retrained")

    page = render(index.collect(tmp_path / "runs", models_dir, now=NOW))

    meta = ModelMetadata.from_json_bytes(
        layout.metadata_path(models_dir, "wr", "1.0.1").read_bytes(), source="wr")
    section = page[page.index(f'id="release-{made.id}"'):]
    section = section[:section.index("</section>")]
    assert f"release by <b>bo</b> (cli) at {made.when[:10]} {made.when[11:16]} UTC" in section
    assert "reason: wr retrained" in section and "more WR rows" in section
    assert f">{meta.data_fingerprint.sha256[:12]}</code>" in section
    assert f"{meta.data_fingerprint.rows:,} rows used" in section
    assert "no record" in section  # no runs folder: nothing to link
    # The next-class backtest beside shuffled CV, as the metadata records it.
    assert meta.backtest is not None
    loss = meta.backtest["log_loss"]
    assert (f"next class (grad_year 2024-2026): log loss {loss['mean']:.3f} ± "
            f"{loss['std']:.3f}; shuffled CV agrees") in section


def test_failed_and_never_released_runs_are_shown_as_such(models_dir, tmp_path):
    runs = tmp_path / "runs"
    fake_record(runs / "v1.0.0" / "qb.ipynb", "succeeded")
    (runs / "v1.0.0" / "qb.rejected.csv").write_text("row,column,rule\n", encoding="utf-8")
    fake_record(runs / "v1.0.1" / "qb.ipynb", "failed")
    fake_record(runs / "v1.0.1" / "qb.failed-20261127T080000Z.ipynb", "failed")
    killed = nbformat.v4.new_notebook()  # papermill's file of a run that never finished
    nbformat.write(killed, runs / "v1.0.1" / "rb.ipynb")
    (runs / "v1.0.1" / "qb.html").unlink()
    (runs / "notes").mkdir()  # not a version folder: ignored

    found = index.collect(runs, models_dir, now=NOW)

    assert [r.version for r in found.runs_rows] == ["1.0.1", "1.0.0"]
    failed, ok = found.runs_rows
    assert failed.releases == [] and failed.failed
    assert [(r.position, r.attempt, r.status) for r in failed.records] == [
        ("qb", "this run", "failed"),
        ("qb", "earlier attempt 20261127T080000Z", "failed"),
        ("rb", "this run", "unfinished")]
    # Without its HTML copy the record links to the notebook itself.
    assert [link.href for link in failed.records[0].links] == ["v1.0.1/qb.ipynb"]
    assert ok.releases and not ok.failed
    assert [link.href for link in ok.records[0].links] == ["v1.0.0/qb.html",
                                                          "v1.0.0/qb.rejected.csv"]
    page = render(found)
    assert "never released" in page and '<span class="badge failed">failed</span>' in page
    current_qb = next(p for p in found.releases[0].positions if p.position == "qb")
    assert [link.label for link in current_qb.links] == ["record", "rejected rows"]


def test_every_link_is_relative_and_names_an_existing_file(models_dir, tmp_path):
    runs = tmp_path / "runs"
    for pos in ("qb", "wr"):
        fake_record(runs / "v1.0.0" / f"{pos}.ipynb", "succeeded")
    fake_record(runs / "v2.0.0" / "rb.ipynb", "failed")

    written = Path(index.write_index(runs, models_dir))

    assert written == runs / "index.html"
    urls = links_of(written.read_text(encoding="utf-8"))
    assert set(urls) == {"v1.0.0/qb.html", "v1.0.0/wr.html", "v2.0.0/rb.html"}
    for url in urls:
        parts = urlparse(url)
        assert not parts.scheme and not parts.netloc and not url.startswith("/"), url
        assert (runs / unquote(parts.path)).is_file(), url


def test_all_text_from_the_files_is_escaped(models_dir, tmp_path):
    add_version(models_dir, "qb", "1.0.1", changelog='<script>alert("changelog")</script>')
    manifest.release(models_dir, {"qb": "1.0.1"}, how="cli", by="<img src=x onerror=alert(1)>",
                     reason="</table><script>alert('reason')</script>")

    page = render(index.collect(tmp_path / "runs", models_dir, now=NOW))

    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&#34;changelog&#34;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;/table&gt;&lt;script&gt;alert(&#39;reason&#39;)" in page


def test_empty_folders_make_a_page_that_says_so(tmp_path):
    written = Path(index.write_index(tmp_path / "runs", tmp_path / "models"))

    page = written.read_text(encoding="utf-8")
    assert "No release yet" in page and "No training run has left a record here yet" in page
    assert links_of(page) == []


def test_an_unreadable_history_is_reported_and_the_runs_still_listed(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / manifest.MANIFEST).write_text("{not json", encoding="utf-8")
    fake_record(tmp_path / "runs" / "v1.0.0" / "qb.ipynb", "succeeded")

    found = index.collect(tmp_path / "runs", tmp_path / "models", now=NOW)

    assert found.history_error and "not valid JSON" in found.history_error
    assert found.releases == [] and [r.version for r in found.runs_rows] == ["1.0.0"]
    assert "could not be read" in render(found)


def test_a_released_version_without_metadata_says_why(tmp_path, models_dir):
    layout.metadata_path(models_dir, "rb", "1.0.0").unlink()

    found = index.collect(tmp_path / "runs", models_dir, now=NOW)

    rb = next(p for p in found.releases[0].positions if p.position == "rb")
    assert rb.error and "no metadata for rb 1.0.0" in rb.error and rb.metrics == []


def test_refresh_index_logs_a_failure_instead_of_raising(models_dir, tmp_path, caplog):
    runs = tmp_path / "runs"
    runs.write_text("a file where the runs folder should be", encoding="utf-8")

    with caplog.at_level(logging.ERROR, logger=index.__name__):
        index.refresh_index(runs, models_dir)

    assert "could not rewrite index.html" in caplog.text


def test_refresh_without_create_only_updates_an_existing_page(models_dir, tmp_path):
    runs = tmp_path / "runs"
    index.refresh_index(runs, models_dir, create=False)
    assert not (runs / "index.html").exists()

    index.write_index(runs, tmp_path / "no-models")
    assert "No release yet" in (runs / "index.html").read_text(encoding="utf-8")
    index.refresh_index(runs, models_dir, create=False)
    assert "Release " in (runs / "index.html").read_text(encoding="utf-8")


def test_a_direct_run_refreshes_an_existing_page_and_does_not_start_one(sample_csv, tmp_path):
    models, runs = tmp_path / "models", tmp_path / "runs"
    runner.train(sample_csv, "qb", "1.0.0", engine="direct", models_dir=models, runs_dir=runs,
                 cv_folds=3)
    assert not runs.exists()

    index.write_index(runs, models)
    runner.train(sample_csv, "qb", "1.0.1", engine="direct", models_dir=models, runs_dir=runs,
                 cv_folds=3)

    found = index.collect(runs, models)
    assert [r.positions[0].version for r in found.releases] == ["1.0.1", "1.0.0"]
    assert "1.0.1" in (runs / "index.html").read_text(encoding="utf-8")


def test_cli_runs_index_writes_the_page_and_prints_where(models_dir, tmp_path, capsys):
    runs = tmp_path / "runs"

    code = main(["runs", "index", "--runs-dir", str(runs), "--models-dir", str(models_dir)])

    assert code == 0
    assert capsys.readouterr().out.strip() == str(runs / "index.html")
    assert "Release " in (runs / "index.html").read_text(encoding="utf-8")


def test_an_s3_runs_folder_gets_its_page_too(models_dir, bucket, tmp_path):
    import fsspec

    local = tmp_path / "runs"
    fake_record(local / "v1.0.0" / "qb.ipynb", "succeeded")
    fs = fsspec.filesystem("s3")
    for name in ("qb.ipynb", "qb.html"):
        fs.pipe_file(f"{bucket[5:]}/runs/v1.0.0/{name}", (local / "v1.0.0" / name).read_bytes())

    where = index.write_index(f"{bucket}/runs", models_dir)

    assert where == f"{bucket}/runs/index.html"
    page = fs.cat_file(f"{bucket[5:]}/runs/index.html").decode()
    assert '<a href="v1.0.0/qb.html">record</a>' in page
    assert '<span class="badge succeeded">succeeded</span>' in page


def test_positions_follow_the_catalog_and_unknown_ones_come_after(monkeypatch):
    from recruit_reveal.release import index

    monkeypatch.delenv("CATALOG", raising=False)
    versions = {"te": "1.0.0", "wr": "1.0.0", "lb": "1.0.0", "qb": "1.0.0"}
    assert index._ordered(versions) == ["qb", "wr", "lb", "te"]  # te, lb: another catalog's
    monkeypatch.setenv("CATALOG", str(Path(__file__).with_name("fixtures")
                                      / "catalog_five_levels.toml"))
    assert index._ordered(versions) == ["qb", "wr", "te", "lb"]


def _te_metadata(models_dir: Path) -> None:
    """A TE document made from QB's, on the five-level ladder (the index reads metadata
    only, never a model)."""
    base = ModelMetadata.from_json_bytes(
        layout.metadata_path(models_dir, "qb", "1.0.0").read_bytes(), source="1.0.0")
    te = base.model_copy(update={"position": "te", "classes": ["D3", "D2", "FCS", "G5",
                                                               "Power 4"]})
    layout.metadata_path(models_dir, "te", "1.0.0").write_bytes(te.to_json_bytes())


FIVE_LEVELS = Path(__file__).with_name("fixtures") / "catalog_five_levels.toml"


def test_a_te_run_of_the_five_level_catalog_gets_its_record_row(models_dir, tmp_path,
                                                                monkeypatch):
    monkeypatch.setenv("CATALOG", str(FIVE_LEVELS))
    _te_metadata(models_dir)
    fake_record(tmp_path / "runs" / "v1.0.0" / "te.ipynb", "succeeded")
    fake_record(tmp_path / "runs" / "v1.0.0" / "lb.ipynb", "failed")
    fake_record(tmp_path / "runs" / "v1.0.0" / "qb.ipynb", "succeeded")

    found = index.collect(tmp_path / "runs", models_dir, now=NOW)

    (run,) = [r for r in found.runs_rows if r.version == "1.0.0"]
    assert [(r.position, r.status) for r in run.records] == [
        ("qb", "succeeded"), ("te", "succeeded"), ("lb", "failed")]  # the catalog's order
    links = links_of(render(found))
    assert "v1.0.0/te.html" in links and "v1.0.0/lb.html" in links


def test_a_te_release_of_the_five_level_catalog_gets_its_row(models_dir, tmp_path,
                                                            monkeypatch):
    monkeypatch.setenv("CATALOG", str(FIVE_LEVELS))
    _te_metadata(models_dir)
    manifest.release(models_dir, {"te": "1.0.0"}, how="cli", by="cy", reason="first TE")

    found = index.collect(tmp_path / "runs", models_dir, now=NOW)

    newest = found.releases[0]
    assert [p.position for p in newest.positions] == ["qb", "rb", "wr", "te"]
    assert next(p for p in newest.positions if p.position == "te").changed
