"""runs/index.html in headless Chromium, after real notebook runs: two releases and a failed run.

Chromium is installed when missing and the test fails when it cannot be (see
tests/chromium_support.py): a skipped browser test would prove nothing.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from chromium_support import Browser, chromium_path

from recruit_reveal.release import runner

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_path()


@pytest.fixture(scope="module")
def trained(tmp_path_factory, sample_csv):
    """Two notebook-engine releases of QB, then a run of 1.0.2 that fails and is never released."""
    base = tmp_path_factory.mktemp("index_browser")
    models, runs = base / "models", base / "runs"
    common = {"models_dir": models, "runs_dir": runs, "cv_folds": 3}
    first = runner.train(sample_csv, "qb", "1.0.0", changelog="first <release> & co", **common)
    second = runner.train(sample_csv, "qb", "1.0.1", changelog="quarantined rows",
                          invalid_rows="quarantine", **common)
    failed = runner.train(sample_csv, "qb", "1.0.2", template=FIXTURES / "fails.ipynb",
                          **common)
    assert first.ok and second.ok and not failed.ok
    return models, runs


@pytest.fixture
def browser(chromium, tmp_path):
    opened = Browser(chromium, tmp_path / "profile")
    yield opened
    opened.close()


def local_file(url: str) -> Path | None:
    """The file a file:// URL names (without its #fragment); None for other schemes."""
    parts = urlparse(url)
    return Path(unquote(parts.path)) if parts.scheme == "file" else None


def assert_not_blank(png: Path) -> None:
    from PIL import Image

    with Image.open(png) as image:
        image.load()
        assert image.size == (1366, 900)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    # None: more colours than counted, certainly not blank.
    assert colours is None or len(colours) > 10, f"{png} looks blank: {colours}"
    if colours is not None:
        assert max(count for count, _ in colours) < 0.98 * 1366 * 900, f"{png} is one colour"


def test_the_index_opens_offline_without_errors_and_lists_both_releases(trained, browser,
                                                                         tmp_path):
    _, runs = trained
    page = runs / "index.html"
    assert page.is_file(), "the runner did not write runs/index.html"

    browser.open(page)

    assert browser.errors == []
    links = browser.links()
    assert links, "the index links to no record"
    missing = [url for url in links if local_file(url) is None or not local_file(url).is_file()]
    assert missing == [], f"links that do not name an existing file: {missing}"
    headings = browser.evaluate(
        "Array.from(document.querySelectorAll('section.release h3')).map(h => h.innerText)")
    assert [h.split(" ·")[0] for h in headings] == ["Release 2", "Release 1"]
    assert "current" in headings[0]
    versions = browser.evaluate(
        "Array.from(document.querySelectorAll('section.release tbody tr td:nth-child(2)'))"
        ".map(td => td.innerText.trim())")
    assert versions == ["1.0.1", "1.0.0"]
    text = browser.evaluate("document.body.innerText")
    assert "first <release> & co" in text  # escaped in the HTML, shown as written
    assert "never released" in text and "failed" in text  # the 1.0.2 run
    assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), \
        "the page is wider than a laptop screen"
    assert_not_blank(browser.screenshot(tmp_path / "index.png"))


def test_a_record_linked_from_the_index_opens_and_its_local_links_resolve(trained, browser,
                                                                          tmp_path):
    _, runs = trained
    browser.open(runs / "index.html")
    record = local_file(browser.evaluate(
        "Array.from(document.querySelectorAll('section.release.current a'))"
        ".find(a => a.innerText === 'record').href"))
    assert record == runs / "v1.0.1" / "qb.html"

    browser.open(record)

    assert "Recruit Reveal" in browser.evaluate("document.body.innerText")
    local = [url for url in browser.links() if local_file(url) is not None]
    assert local and all(local_file(url).is_file() for url in local)
    assert browser.errors == []
    assert_not_blank(browser.screenshot(tmp_path / "record.png"))


def test_a_record_needs_no_network(trained, browser):
    _, runs = trained

    browser.open(runs / "v1.0.1" / "qb.html")

    remote = browser.evaluate(
        "Array.from(document.querySelectorAll('[src], link[rel=stylesheet]'))"
        ".map(e => e.src || e.href).filter(u => !u.startsWith('file:') && !u.startsWith('data:'))")
    assert remote == [] and browser.errors == []
