"""One monitoring run's findings, as the cells of ``monitor.ipynb`` show them.

:func:`build_report` reads the log once (:func:`~.logscan.scan_log`), the outcomes, and
each served version's reference, and returns a :class:`MonitorReport`: per (position,
version) the traffic per day, the predicted-division mix against the training mix, the
drift of every input, the unusual- and integrated-input rates, and live accuracy where
outcomes exist.  :meth:`MonitorReport.verdict` is what the command's exit code follows;
the notebook displays it under :data:`VERDICT_MIME` for the runner.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..catalog.spec import probability_columns
from ..storage.locations import Location
from .accuracy import LiveAccuracy, join_outcomes, live_accuracy, read_outcomes
from .drift import (
    OTHER,
    InputDrift,
    bin_labels,
    chi_square_p,
    correct,
    expected_shares,
    ks_test,
    psi,
    psi_band,
    state_expected,
)
from .level_mix import MixShift, mix_shift
from .logscan import InputHistogram, StreamSummary, scan_log, summary_inputs
from .training_profile import ReleaseReference, load_reference

VERDICT_MIME = "application/vnd.recruit-reveal.monitor-verdict+json"


def positions_of(position: str) -> list[str] | None:
    """The positions to read from the log; None for ``all``: every position the log holds
    (models trained with another catalog included)."""
    return None if position == "all" else [position]


def input_drift(name: str, histogram: InputHistogram, reference: ReleaseReference,
                records: int, seed: int) -> InputDrift:
    """One input's PSI and test, before the correction for many inputs."""
    entry = reference.input_profile[name]
    behind = reference.values_behind(name)
    present = int(histogram.counts.sum())
    missing = histogram.missing / records if records else float("nan")
    if histogram.categories is not None:
        expected = state_expected(entry.get("shares") or {})
        codes = histogram.sample.values.astype("int64")
        sample_counts = np.bincount(codes, minlength=len(expected))
        stat, p = float("nan"), chi_square_p(expected, sample_counts, behind)
        test, bins = "chi-square", (*histogram.categories, OTHER)
    else:
        expected = expected_shares(entry["quantiles"], histogram.edges)
        stat, p = ks_test(entry["quantiles"], histogram.sample.values, seed, behind)
        test, bins = "K-S", bin_labels(histogram.edges)
    value = psi(expected, histogram.counts)
    live = histogram.counts / present if present else np.zeros(len(expected))
    return InputDrift(input=name, values=present, missing_share=missing,
                      training_missing_share=entry.get("missing_share"), psi=value,
                      band=psi_band(value), test=test, statistic=stat,
                      p_value=p if present else float("nan"),
                      note="" if present else "no live values", bins=tuple(bins),
                      expected=tuple(map(float, expected)), live=tuple(map(float, live)))


@dataclass
class StreamReport:
    """The findings of one (position, version)."""

    position: str
    version: str
    records: int
    reference_source: str | None
    drift: list[InputDrift]
    rates: dict[str, Any]
    unusual_by_input: dict[str, int]
    integrated_by_input: dict[str, int]
    division_mix: pd.DataFrame
    accuracy: LiveAccuracy | None
    #: The predicted, then (with outcomes) the observed level mix against training.
    level_mix: list[MixShift] = field(default_factory=list)

    @property
    def mix_shifted(self) -> list[str]:
        return [m.kind for m in self.level_mix if m.shifted]

    @property
    def drifted(self) -> list[str]:
        return [d.input for d in self.drift if d.drifted]

    def drift_table(self) -> pd.DataFrame:
        return pd.DataFrame([d.as_row() for d in self.drift])

    def input_rates(self) -> pd.DataFrame:
        names = sorted(set(self.unusual_by_input) | set(self.integrated_by_input))
        n = max(self.records, 1)
        return pd.DataFrame({"input": names,
                             "unusual rate": [self.unusual_by_input.get(k, 0) / n for k in names],
                             "integrated rate": [self.integrated_by_input.get(k, 0) / n
                                                 for k in names]})


def _mix(traffic: pd.DataFrame, reference: ReleaseReference) -> pd.DataFrame:
    counts = traffic.groupby("predicted")["records"].sum()
    total = counts.sum() or 1
    # The model's own ladder; without a reference, the levels the mix and traffic name.
    levels = list(reference.levels or dict.fromkeys([*reference.division_mix, *counts.index]))
    return pd.DataFrame({"division": levels,
                         "live share": [float(counts.get(d, 0)) / total for d in levels],
                         "training share": [reference.division_mix.get(d) for d in levels]})


def stream_report(stream: StreamSummary, traffic: pd.DataFrame, joined: pd.DataFrame,
                  seed: int) -> StreamReport:
    reference = stream.reference
    drift = correct([input_drift(name, hist, reference, stream.records,
                                 seed) for name, hist in stream.inputs.items()])
    mine = traffic[(traffic["position"] == stream.position)
                   & (traffic["version"] == stream.version)]
    rows = joined[(joined["position"] == stream.position)
                  & (joined["version"] == stream.version)] if len(joined) else joined
    return StreamReport(
        position=stream.position, version=stream.version, records=stream.records,
        reference_source=reference.source, drift=drift, rates=summary_inputs(stream),
        unusual_by_input=stream.unusual_by_input,
        integrated_by_input=stream.integrated_by_input, division_mix=_mix(mine, reference),
        accuracy=live_accuracy(rows, reference.cv, reference.levels, seed),
        level_mix=_level_mix(stream, rows, reference))


def _level_mix(stream: StreamSummary, joined: pd.DataFrame,
               reference: ReleaseReference) -> list[MixShift]:
    """The mean predicted probabilities of the traffic (not the argmax counts, which
    differ from the training mix even when nothing moved), then the observed levels."""
    training = {d: float(v) for d, v in reference.division_mix.items() if v is not None}
    columns = dict(zip(reference.levels, probability_columns(reference.levels), strict=True))
    sums = [stream.probability_sums.get(columns.get(d, ""), 0.0) for d in training]
    shifts = [mix_shift("predicted", [], training, sums) if sum(sums) > 0 else None]
    if len(joined) and "division" in joined:
        shifts.append(mix_shift("observed", joined["division"].tolist(), training))
    return [s for s in shifts if s is not None]


@dataclass
class MonitorReport:
    """Every stream of a monitoring run, and the traffic per day."""

    position: str
    since: str | None
    traffic: pd.DataFrame
    streams: list[StreamReport] = field(default_factory=list)
    outcomes: int = 0

    def traffic_per_day(self) -> pd.DataFrame:
        if self.traffic.empty:
            return pd.DataFrame()
        return self.traffic.pivot_table(index="date", columns=["position", "version"],
                                        values="records", aggfunc="sum", fill_value=0)

    def verdict(self) -> dict[str, Any]:
        """JSON-ready: the drifted inputs and accuracy alerts per stream, and ``alert``."""
        drifted = {f"{s.position} {s.version}": s.drifted for s in self.streams if s.drifted}
        accuracy = [f"{s.position} {s.version}" for s in self.streams
                    if s.accuracy is not None and s.accuracy.alert]
        mixes = {f"{s.position} {s.version}": s.mix_shifted for s in self.streams
                 if s.mix_shifted}
        return {"position": self.position, "since": self.since,
                "records": int(sum(s.records for s in self.streams)),
                "drifted": drifted, "accuracy_alerts": accuracy,
                "live_exact": {f"{s.position} {s.version}": s.accuracy.exact
                               for s in self.streams if s.accuracy is not None},
                "level_mix_shifts": mixes, "alert": bool(drifted or accuracy or mixes)}


def build_report(log: Location, models_dir: Location, position: str = "all",
                 since: str | None = None, seed: int = 0) -> MonitorReport:
    """Read the log and outcomes once and judge every (position, version) in them."""
    positions = positions_of(position)
    reference_for = functools.lru_cache(maxsize=None)(
        lambda pos, version: load_reference(models_dir, pos, version))
    outcomes = read_outcomes(log)
    refs = outcomes.loc[outcomes["key_kind"] == "athlete_ref", "key"]
    request_ids = outcomes.loc[outcomes["key_kind"] == "request_id", "key"]
    summary = scan_log(log, positions, reference_for, since=since, outcome_refs=refs,
                       outcome_request_ids=request_ids, seed=seed)
    joined = join_outcomes(outcomes, summary.keyed_records)
    streams = [stream_report(s, summary.traffic, joined, seed)
               for _, s in sorted(summary.streams.items())]
    return MonitorReport(position, since, summary.traffic, streams, outcomes=len(joined))


class _Html:
    """A bit of HTML the notebook displays (and the record's HTML copy keeps)."""

    def __init__(self, html: str, text: str):
        self.html, self.text = html, text

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text


def drifted_line(stream: StreamReport) -> _Html:
    """"Drifted inputs of qb 1.0.0: forty_yard_dash" (or that none drifted)."""
    label = f"{stream.position} {stream.version}"
    if stream.drifted:
        names = ", ".join(stream.drifted)
        return _Html(f'<p style="color:#b00020"><strong>Drifted inputs of {label}: '
                     f"{names}</strong></p>", f"Drifted inputs of {label}: {names}")
    return _Html(f"<p>No input of {label} drifted.</p>", f"No input of {label} drifted.")


def table(frame: pd.DataFrame) -> _Html:
    """A table without pandas' 0..N index (its rows are named by their first column)."""
    return _Html(frame.to_html(index=False, na_rep="-", border=0, classes="dataframe"),
                 frame.to_string(index=False, na_rep="-"))


def _shares(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for column in columns:
        out[column] = [f"{v:.1%}" if isinstance(v, int | float) and np.isfinite(v) else "-"
                       for v in out[column]]
    return out


def show_stream(stream: StreamReport) -> None:
    """Display one stream's findings: drift (a figure per drifted input), the level mix as
    bars, input rates, and live accuracy against CV as a figure and a table."""
    from IPython.display import display

    from ..reporting.display import show
    from .monitor_figures import plot_division_mix, plot_input_shift, plot_live_accuracy

    label = f"{stream.position} {stream.version}"
    source = stream.reference_source or "none: no training profile, drift not measured"
    display(_Html(f"<h3>{label}</h3><p>{stream.records:,} records; reference: {source}</p>",
                  f"{label}: {stream.records} records"))
    display(drifted_line(stream))
    if stream.drift:
        display(table(stream.drift_table()))
    for drift in stream.drift:
        if drift.drifted or drift.verdict == "noisy at this sample size":
            show(plot_input_shift(drift, label))
    show(plot_division_mix(stream.division_mix, label))
    display(table(_shares(stream.division_mix, ["live share", "training share"])))
    for mix in stream.level_mix:
        colour = ' style="color:#b00020"' if mix.shifted else ""
        display(_Html(f"<p{colour}>{mix.line()}</p>", mix.line()))
    rates = stream.input_rates()
    display(table(_shares(pd.DataFrame([stream.rates]),
                          ["unusual-input rate", "integrated-input rate"])))
    if len(rates):
        display(table(_shares(rates, ["unusual rate", "integrated rate"])))
    if stream.accuracy is None:
        display(_Html("<p>No outcomes yet for these predictions.</p>", "No outcomes yet."))
    else:
        alert = " - below the CV figure" if stream.accuracy.alert else ""
        display(_Html(f"<p>Live accuracy on {stream.accuracy.outcomes:,} outcomes{alert}</p>",
                      f"Live accuracy on {stream.accuracy.outcomes} outcomes{alert}"))
        show(plot_live_accuracy(stream.accuracy, label))
        display(table(pd.DataFrame(stream.accuracy.rows()).round(3)))


class VerdictView:
    """The verdict as a table for the reader and JSON under :data:`VERDICT_MIME`."""

    def __init__(self, report: MonitorReport):
        self.verdict = report.verdict()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        v = self.verdict
        status = "ALERT" if v["alert"] else "OK"
        lines = [f"{status}: {v['records']:,} records"]
        lines += [f"drifted {k}: {', '.join(names)}" for k, names in v["drifted"].items()]
        lines += [f"live accuracy below CV: {k}" for k in v["accuracy_alerts"]]
        lines += [f"level mix shifted {k}: {', '.join(kinds)}"
                  for k, kinds in v.get("level_mix_shifts", {}).items()]
        html = "<br>".join(lines)
        return {"text/plain": "\n".join(lines), "text/html": f"<p>{html}</p>",
                VERDICT_MIME: v}


def verdict_view(report: MonitorReport) -> VerdictView:
    return VerdictView(report)
