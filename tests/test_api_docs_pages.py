"""/docs and /redoc render in headless Chromium with no network beyond the service."""

from __future__ import annotations

import time

import httpx
import pytest
from api_support import serve_process
from chromium_support import Browser, chromium_path

from recruit_reveal.api import docs_pages

#: Every host name but the server's address fails to resolve: a page that reaches for a CDN
#: gets nothing.
OFFLINE = ("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",)
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


@pytest.fixture(scope="module")
def server(exported_models_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("docs_pages")
    with serve_process(exported_models_dir, folder / "server.log", ACCESS_LOG="0") as (_, url):
        yield url


@pytest.fixture
def browser(tmp_path):
    opened = Browser(chromium_path(), tmp_path / "profile", extra_flags=OFFLINE)
    opened.call("Network.enable")
    yield opened
    opened.close()


def operations(url: str) -> set[tuple[str, str]]:
    paths = httpx.get(f"{url}/openapi.json", timeout=30).json()["paths"]
    return {(method, path) for path, item in paths.items() for method in item if method in METHODS}


def wait_until(browser: Browser, expression: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not browser.evaluate(expression):
        assert time.monotonic() < deadline, f"never true: {expression}\n{browser.errors}"
        time.sleep(0.2)


def outside(browser: Browser, server: str) -> list[str]:
    """Every URL the page requested from anywhere but the server (data: URLs and the
    page's own blob: URLs, ReDoc's worker, are in the page already)."""
    return [url for e in browser.events if e.get("method") == "Network.requestWillBeSent"
            if not (url := e["params"]["request"]["url"]).startswith(
                (server, f"blob:{server}", "data:"))]


def test_swagger_ui_lists_every_operation_with_no_network(server, browser):
    browser.goto(f"{server}{docs_pages.DOCS_PATH}")
    wait_until(browser, "document.querySelectorAll('.opblock-summary-path').length > 0")
    shown = browser.evaluate(
        "Array.from(document.querySelectorAll('.opblock')).map(b => ["
        "b.querySelector('.opblock-summary-method').textContent.toLowerCase(),"
        "b.querySelector('.opblock-summary-path').getAttribute('data-path')])")
    assert {tuple(pair) for pair in shown} == operations(server)
    assert any(u.endswith("/swagger-ui-bundle.js") for u in
               (e["params"]["request"]["url"] for e in browser.events
                if e.get("method") == "Network.requestWillBeSent"))
    assert outside(browser, server) == [] and browser.errors == []


def test_redoc_renders_every_operation_with_no_network(server, browser):
    browser.goto(f"{server}{docs_pages.REDOC_PATH}")
    wanted = len(operations(server))
    wait_until(browser, "document.querySelectorAll('[data-section-id^=\"operation/\"]').length"
                        f" >= {wanted}")
    assert outside(browser, server) == [] and browser.errors == []
