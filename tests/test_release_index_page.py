"""release.index_page: the HTML of runs/index.html, rendered from hand-made rows."""

from __future__ import annotations

import re

from recruit_reveal.release.diff import MetricChange
from recruit_reveal.release.index_page import (
    Link,
    PositionRow,
    RecordRow,
    ReleaseRow,
    RunRow,
    RunsIndex,
    render,
)

EVIL = '<script>alert("x")</script>&'


def page_with(text: str) -> str:
    """Every text field of the page set to ``text``."""
    position = PositionRow(position="qb", version="1.0.1", changed=True,
                           metrics=[MetricChange(text, 0.48, 0.5, 0.01, 0.01)],
                           data_file=text, data_sha256=text, rows=10, rows_rejected=1,
                           changelog=text, links=[Link(text, "v1.0.1/qb.html")])
    release = ReleaseRow(id=1, when=text, by=text, how=text, action=text, reason=text,
                         previous=None, restores=None, current=True, positions=[position])
    run = RunRow(version="1.0.1", records=[RecordRow("qb", text, text, (Link(text, "x"),))],
                 releases=[])
    return render(RunsIndex(models=text, runs=text, written_at=text, releases=[release],
                            runs_rows=[run], history_error=text))


def test_every_text_is_escaped():
    page = page_with(EVIL)

    assert "<script" not in page
    assert page.count("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;") >= 10


def test_the_page_needs_nothing_from_outside_itself():
    page = page_with("text")

    assert "<script" not in page and "@import" not in page and "url(" not in page
    assert not re.search(r'(href|src)="(https?:|//|/)', page)
    assert '<meta charset="utf-8">' in page and "<style>" in page


def test_times_read_as_utc_minutes_and_other_text_as_it_is():
    page = page_with("x")
    assert "Release 1 · x" in page

    release = ReleaseRow(id=7, when="2026-11-27T10:00:41Z", by="ana", how="cli",
                         action="promote", reason=None, previous=6, restores=None,
                         current=False, positions=[])
    page = render(RunsIndex("m", "r", "now", [release], []))
    assert "Release 7 · 2026-11-27 10:00 UTC" in page
    assert "promote by <b>ana</b> (cli) at 2026-11-27 10:00 UTC · replaced release 6" in page


def test_a_change_is_shown_plain_within_the_spread_and_marked_beyond_it():
    def cell(delta: float, higher_is_better: bool = True) -> str:
        row = PositionRow("qb", "1.0.1", True,
                          metrics=[MetricChange("exact_accuracy", 0.5 - delta, 0.5, 0.02, 0.02,
                                                higher_is_better)])
        release = ReleaseRow(1, "w", "b", "h", "a", None, None, None, True, [row])
        page = render(RunsIndex("m", "r", "now", [release], []))
        return page[page.index('<td class="num">'):].split("</td>")[0]

    assert cell(0.01).endswith('<span class="delta">+0.010</span>')
    assert cell(0.03).endswith('<span class="delta better">▲ +0.030 (better)</span>')
    assert cell(-0.03).endswith('<span class="delta worse">▼ -0.030 (worse)</span>')
    assert cell(-0.03, higher_is_better=False).endswith("▼ -0.030 (better)</span>")
