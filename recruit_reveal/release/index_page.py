"""What ``runs/index.html`` shows (:class:`RunsIndex`, built by :func:`.index.collect`)
and its HTML: one Jinja template, autoescaped, with its CSS inline.

The page must work opened straight from the disk, offline and in any copy of
the runs folder: no script, no web font, no remote or absolute link.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from ..reporting.tables import format_metric
from .diff import MetricChange

if TYPE_CHECKING:
    import jinja2

#: (CV metric, label, whether a higher value is better) in the order the page shows them.
METRICS = (("exact_accuracy", "CV exact", True),
           ("within_one_accuracy", "CV within one", True),
           ("expected_calibration_error", "ECE", False))


@dataclass(frozen=True)
class Link:
    label: str
    href: str


@dataclass
class PositionRow:
    """A position's model in one release."""

    position: str
    version: str
    changed: bool
    #: Against the release this one replaced (``a``: None when there is no change to show).
    metrics: list[MetricChange] = field(default_factory=list)
    data_file: str | None = None
    data_sha256: str | None = None
    #: The source spec (credentials stripped, Delta pinned), and whether its rows differ
    #: from those of the version this one replaced (None: unknown, or nothing replaced).
    data_source: str | None = None
    data_changed: bool | None = None
    rows: int | None = None
    rows_rejected: int | None = None
    changelog: str | None = None
    #: The next-class backtest beside shuffled CV, one line (None: no backtest recorded).
    next_class: str | None = None
    links: list[Link] = field(default_factory=list)
    #: Why the metadata could not be read (the row then shows only the version).
    error: str | None = None


@dataclass
class ReleaseRow:
    id: int
    when: str
    by: str
    how: str
    action: str
    reason: str | None
    previous: int | None
    restores: int | None
    current: bool
    positions: list[PositionRow]


@dataclass(frozen=True)
class RecordRow:
    """One audit record: a position's run of a version, or an earlier failed attempt kept aside."""

    position: str
    attempt: str
    status: str
    links: tuple[Link, ...]


@dataclass
class RunRow:
    """One ``runs/v{version}/`` folder."""

    version: str
    records: list[RecordRow]
    #: Releases that served a model of this version.
    releases: list[int]

    @property
    def failed(self) -> bool:
        return any(r.status != "succeeded" for r in self.records)


@dataclass
class RunsIndex:
    models: str
    runs: str
    written_at: str
    releases: list[ReleaseRow]
    runs_rows: list[RunRow]
    #: Why the release history could not be read, when it could not.
    history_error: str | None = None
    #: The monitoring records (``monitor/{date}/{position}.html``), newest first.
    monitoring: list[Link] = field(default_factory=list)


_CSS = """
:root { color-scheme: light; --ink: #1d2733; --muted: #5b6675; --line: #d8dee6;
        --good: #11734b; --bad: #b3261e; --band: #f4f6f9; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1280px; padding: 24px 28px 48px; color: var(--ink);
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 6px; }
h3 { font-size: 15px; margin: 22px 0 4px; }
p.sub, .meta, .note, small { color: var(--muted); }
p.sub { margin: 0 0 18px; }
section.release { border: 1px solid var(--line); border-radius: 6px; padding: 4px 16px 12px;
                  margin: 14px 0; }
section.release.current { border-color: #7a9cc6; box-shadow: 0 0 0 2px #e3ecf7; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; }
table.models { table-layout: fixed; }
td { overflow-wrap: anywhere; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px;
         border-bottom: 1px solid var(--line); }
th { font-weight: 600; background: var(--band); white-space: nowrap; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
code { font-size: 12.5px; }
.badge { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px;
         font-weight: 600; vertical-align: 1px; background: var(--band); color: var(--muted); }
.badge.current, .badge.succeeded { background: #e1f3ea; color: var(--good); }
.badge.failed, .badge.unfinished, .badge.unreadable, .badge.never { background: #fbe4e2;
         color: var(--bad); }
.delta { display: block; font-size: 12px; color: var(--muted); }
.delta.better { color: var(--good); font-weight: 600; }
.delta.worse { color: var(--bad); font-weight: 600; }
.unchanged { color: var(--muted); }
.error { color: var(--bad); }
tr.failed td { background: #fff6f5; }
a { color: #1a5fb4; }
footer { margin-top: 30px; border-top: 1px solid var(--line); padding-top: 8px; }
"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Recruit Reveal: releases and training runs</title>
<style>{{ css }}</style>
</head>
<body>
<h1>Recruit Reveal: releases and training runs</h1>
<p class="sub">Models <code>{{ ix.models }}</code> · runs <code>{{ ix.runs }}</code>
 · written {{ ix.written_at }}</p>

<h2 id="releases">Releases, newest first</h2>
{% if ix.history_error %}<p class="error">The release history could not be read:
 {{ ix.history_error }}</p>{% endif %}
{% for r in ix.releases %}
<section class="release{{ ' current' if r.current }}" id="release-{{ r.id }}">
<h3>Release {{ r.id }} · {{ r.when | when }}
{% if r.current %} <span class="badge current">current</span>{% endif %}</h3>
<p class="meta">{{ r.action }} by <b>{{ r.by }}</b> ({{ r.how }}) at {{ r.when | when }}
{%- if r.restores is not none %} · restores release {{ r.restores }}{% endif %}
{%- if r.previous is not none %} · replaced release {{ r.previous }}{% endif %}
{%- if r.reason %} · reason: {{ r.reason }}{% endif %}</p>
<table class="models">
<colgroup><col style="width:7%"><col style="width:10%">
{%- for label in labels %}<col style="width:11%">{% endfor -%}
<col style="width:17%"><col style="width:23%"><col style="width:10%"></colgroup>
<thead><tr><th>Position</th><th>Version</th>
{%- for label in labels %}<th>{{ label }}<sup>*</sup></th>{% endfor -%}
<th>Training data</th><th>Changelog</th><th>Record</th></tr></thead>
<tbody>
{% for p in r.positions %}
<tr>
<td>{{ p.position | upper }}</td>
<td>{{ p.version }}{% if not p.changed %} <small class="unchanged">(unchanged)</small>{% endif %}</td>
{% if p.error %}<td colspan="{{ labels | length + 2 }}" class="error">{{ p.error }}</td>
{% else %}
{% for m in p.metrics %}<td class="num">{{ {'mean': m.b, 'std': m.b_std} | metric }}
{%- if m.delta is not none %}
{%- if m.beyond_noise %}<span class="delta {{ m.verdict }}">
{{- '▲' if m.delta > 0 else '▼' }} {{ '%+.3f' | format(m.delta) }} ({{ m.verdict }})</span>
{%- else %}<span class="delta">{{ '%+.3f' | format(m.delta) }}</span>{% endif %}
{%- endif %}</td>
{% endfor %}
<td><code title="{{ p.data_sha256 or '' }}">{{ (p.data_sha256 or '-')[:12] }}</code>
 {{ p.data_file or '' }}{% if p.data_changed %} <strong>(data changed)</strong>{% endif %}
{%- if p.data_source %}<br><small><code>{{ p.data_source }}</code></small>{% endif %}<br><small>{{ p.rows | thousands }} rows used
{%- if p.rows_rejected is not none %}, {{ p.rows_rejected }} rejected{% endif %}</small>
{%- if p.next_class %}<br><small class="next-class">{{ p.next_class }}</small>{% endif %}</td>
<td>{{ p.changelog or '-' }}</td>
{% endif %}
<td>{% for link in p.links %}<a href="{{ link.href }}">{{ link.label }}</a>
{%- if not loop.last %}<br>{% endif %}{% else %}<small>no record</small>{% endfor %}</td>
</tr>
{% endfor %}
</tbody>
</table>
</section>
{% else %}
<p>No release yet: a training run of every position, or <code>recruit-reveal models
promote</code>, makes the first one.</p>
{% endfor %}

<h2 id="runs">Training runs in this folder</h2>
{% if ix.runs_rows %}
<table>
<thead><tr><th>Version</th><th>Released in</th><th>Position</th><th>Run</th><th>Outcome</th>
<th>Files</th></tr></thead>
<tbody>
{% for run in ix.runs_rows %}{% for rec in run.records %}
<tr class="{{ 'failed' if rec.status != 'succeeded' }}">
{% if loop.first %}<td rowspan="{{ run.records | length }}">v{{ run.version }}</td>
<td rowspan="{{ run.records | length }}">{% if run.releases %}release
{{ run.releases | join(', ') }}{% else %}<span class="badge never">never released</span>
{% endif %}</td>{% endif %}
<td>{{ rec.position | upper }}</td><td>{{ rec.attempt }}</td>
<td><span class="badge {{ rec.status }}">{{ rec.status }}</span></td>
<td>{% for link in rec.links %}<a href="{{ link.href }}">{{ link.label }}</a>
{%- if not loop.last %} · {% endif %}{% endfor %}</td>
</tr>
{% else %}
<tr class="failed"><td>v{{ run.version }}</td><td>{% if run.releases %}release
{{ run.releases | join(', ') }}{% else %}<span class="badge never">never released</span>
{% endif %}</td><td colspan="4">no record in the folder</td></tr>
{% endfor %}{% endfor %}
</tbody>
</table>
{% else %}
<p>No training run has left a record here yet (the direct engine keeps none).</p>
{% endif %}

{% if ix.monitoring %}
<h2 id="monitoring">Monitoring</h2>
<ul>{% for link in ix.monitoring %}<li><a href="{{ link.href }}">{{ link.label }}</a></li>
{% endfor %}</ul>
{% endif %}

<footer class="note">
<p><sup>*</sup> CV figures are means over the cross-validation folds, ± their fold-to-fold
standard deviation. Below each is the change against the release this one replaced.
A change is marked ▲/▼ with better or worse only when its size is larger than the
pooled fold-to-fold standard deviation of the two versions, sqrt((std_A² + std_B²) / 2),
the rule <code>recruit-reveal models diff</code> applies too; smaller changes are
within the noise of cross-validation. Higher is better for exact and within-one accuracy,
lower for ECE (expected calibration error).</p>
</footer>
</body>
</html>
"""


def render(index: RunsIndex) -> str:
    """The page for ``index``; every text from the files is escaped."""
    return _template().render(ix=index, css=_CSS, labels=_labels())


def _labels() -> list[str]:
    return [label for _, label, _ in METRICS]


@cache
def _template() -> jinja2.Template:
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["metric"] = format_metric
    env.filters["when"] = _when
    env.filters["thousands"] = lambda n: "-" if n is None else f"{n:,}"
    return env.from_string(_TEMPLATE)


def _when(stamp: str) -> str:
    """``2026-11-27T10:00:41Z`` as ``2026-11-27 10:00 UTC``; anything else as it is."""
    if len(stamp) >= 16 and stamp[10] == "T" and stamp.endswith("Z"):
        return f"{stamp[:10]} {stamp[11:16]} UTC"
    return stamp
