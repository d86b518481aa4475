"""Reading the prediction log: one pass of a pyarrow dataset scanner, aggregates only.

The log (``predictions/date=YYYY-MM-DD/*.parquet`` of the ``PREDICTION_LOG`` store,
hive-partitioned by UTC date) is read with :mod:`pyarrow.dataset`: the date and position
filters prune files and row groups, only the needed columns are read, and every batch is
reduced at once with pyarrow compute (counts per position, version, release, day and
predicted division) and numpy (each input's histogram over its release's PSI bins and a
bounded random sample for the K-S test).  No row becomes a Python object, so memory
stays flat however long the log is; the only rows kept are the few whose key has an
outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from ..artifacts.record_format import (
    FOLDER,
    INPUT_PREFIX,
    PREDICTED,
    PROBABILITY_PREFIX,
    RECORD_COLUMNS,
    input_column,
)
from ..storage.locations import Location, open_store
from .drift import KS_SAMPLE, bin_counts, decile_edges, state_categories
from .training_profile import ReleaseReference

#: The folder of the records (the writer's, :mod:`recruit_reveal.artifacts.record_format`).
PREDICTIONS_FOLDER = FOLDER
_GROUP_KEYS = ["position", "version", "release_id", "date", PREDICTED]
#: What is kept of a record with an outcome: the writer's leading columns but the route,
#: the partition's date, and the answer.
_RECORD_COLUMNS = [*(c for c in RECORD_COLUMNS if c != "route"), "date", PREDICTED]
BATCH_ROWS = 256 * 1024


def open_dataset(log: Location, folder: str = PREDICTIONS_FOLDER) -> ds.Dataset | None:
    """The hive-partitioned Parquet files under ``folder`` of the log (None: no files yet).

    Files written while models of other catalogs were served hold other input and
    probability columns: the dataset reads every file under the union of their schemas
    (a column a file lacks reads as null there)."""
    filesystem, root = open_store(log).arrow_filesystem()
    partitioning = ds.partitioning(pa.schema([("date", pa.string())]), flavor="hive")
    try:
        dataset = ds.dataset(f"{root}/{folder}", filesystem=filesystem, format="parquet",
                             partitioning=partitioning)
    except FileNotFoundError:
        return None
    schemas = {f.physical_schema for f in dataset.get_fragments()}
    if len(schemas) <= 1:
        return dataset
    unified = pa.unify_schemas([*schemas, pa.schema([("date", pa.string())])])
    return ds.dataset(f"{root}/{folder}", filesystem=filesystem, format="parquet",
                      partitioning=partitioning, schema=unified)


def log_positions(log: Location) -> list[str]:
    """Every position with a record in the log, sorted."""
    dataset = open_dataset(log)
    if dataset is None:
        return []
    return sorted(pc.unique(dataset.to_table(columns=["position"])["position"]).to_pylist())


class _Reservoir:
    """A uniform random sample of at most ``size`` values out of every value added."""

    def __init__(self, size: int, rng: np.random.Generator):
        self.size, self.rng = size, rng
        self.keys = np.empty(0)
        self.values = np.empty(0)

    def add(self, values: np.ndarray) -> None:
        new = self.rng.random(len(values))
        if len(self.keys) >= self.size:
            # only values whose key beats the largest kept key can enter the sample
            better = new < self.keys.max()
            new, values = new[better], values[better]
        keys = np.concatenate([self.keys, new])
        kept = np.concatenate([self.values, values])
        if len(kept) > self.size:
            smallest = np.argpartition(keys, self.size)[: self.size]
            keys, kept = keys[smallest], kept[smallest]
        self.keys, self.values = keys, kept


@dataclass
class InputHistogram:
    """One input's live values: counts per reference bin, missing count, a sample."""

    edges: np.ndarray
    counts: np.ndarray
    sample: _Reservoir
    missing: int = 0
    categories: list[str] | None = None

    def add(self, column: pa.ChunkedArray | pa.Array) -> None:
        self.missing += column.null_count
        present = pc.drop_null(column)
        if self.categories is not None:
            codes = pc.index_in(present, value_set=pa.array(self.categories)).to_numpy(
                zero_copy_only=False)
            codes = np.where(np.isnan(codes.astype("float64")), len(self.categories),
                             codes).astype("int64")
            values = codes.astype("float64")
            self.counts += np.bincount(codes, minlength=len(self.categories) + 1)
        else:
            values = present.to_numpy(zero_copy_only=False).astype("float64")
            self.counts += bin_counts(values, self.edges)
        self.sample.add(values)


@dataclass
class StreamSummary:
    """The live traffic of one (position, version)."""

    position: str
    version: str
    reference: ReleaseReference
    records: int = 0
    unusual_records: int = 0
    integrated_records: int = 0
    unusual_by_input: dict[str, int] = field(default_factory=dict)
    integrated_by_input: dict[str, int] = field(default_factory=dict)
    inputs: dict[str, InputHistogram] = field(default_factory=dict)
    #: Per probability column, its sum over the records (with ``records``: the mean
    #: predicted level mix, which a calibrated model keeps at the training mix).
    probability_sums: dict[str, float] = field(default_factory=dict)


def _histograms(reference: ReleaseReference, rng: np.random.Generator
                ) -> dict[str, InputHistogram]:
    out = {}
    for name in reference.inputs:
        entry = reference.input_profile.get(name)
        if not entry:
            continue
        if "shares" in entry:  # a categorical input (the state): shares, not quantiles
            cats = state_categories(entry.get("shares") or {})
            out[name] = InputHistogram(np.empty(0), np.zeros(len(cats) + 1, dtype="int64"),
                                       _Reservoir(KS_SAMPLE, rng), categories=cats)
        elif entry.get("quantiles"):
            edges = decile_edges(entry["quantiles"])
            out[name] = InputHistogram(edges, np.zeros(len(edges) + 1, dtype="int64"),
                                       _Reservoir(KS_SAMPLE, rng))
    return out


def _count_lists(column: pa.ChunkedArray, into: dict[str, int]) -> int:
    """Add each listed input's count to ``into``; return the records listing any."""
    counts = pc.value_counts(pc.list_flatten(column))
    for item in counts.to_pylist():
        if item["values"] is not None:
            into[item["values"]] = into.get(item["values"], 0) + item["counts"]
    return int(pc.sum(pc.greater(pc.list_value_length(column), 0)).as_py() or 0)


def _add_stream(stream: StreamSummary, table: pa.Table) -> None:
    stream.records += table.num_rows
    for name in (c for c in table.column_names if c.startswith(PROBABILITY_PREFIX)):
        total = pc.sum(table[name]).as_py()
        stream.probability_sums[name] = stream.probability_sums.get(name, 0.0) + (total or 0.0)
    stream.unusual_records += _count_lists(table["unusual_inputs"], stream.unusual_by_input)
    stream.integrated_records += _count_lists(table["integrated_inputs"],
                                              stream.integrated_by_input)
    for name, histogram in stream.inputs.items():
        column = input_column(name)
        if column in table.column_names:
            histogram.add(table[column])
        else:
            histogram.missing += table.num_rows


@dataclass
class LogSummary:
    """Everything a monitoring run needs from the log."""

    streams: dict[tuple[str, str], StreamSummary]
    #: Records per position, version, release_id, date and predicted division.
    traffic: pd.DataFrame
    #: The log records whose athlete_ref or request_id has an outcome.
    keyed_records: pd.DataFrame


class _Scan:
    def __init__(self, reference_for: Callable[[str, str], ReleaseReference], seed: int,
                 refs: set[str], request_ids: set[str]):
        self.reference_for = reference_for
        self.rng = np.random.default_rng(seed)
        self.streams: dict[tuple[str, str], StreamSummary] = {}
        self.traffic: list[pa.Table] = []
        self.keyed: list[pa.Table] = []
        self.keys = {"athlete_ref": pa.array(sorted(refs), pa.string()),
                     "request_id": pa.array(sorted(request_ids), pa.string())}

    def stream(self, position: str, version: str) -> StreamSummary:
        key = (position, version)
        if key not in self.streams:
            reference = self.reference_for(position, version)
            self.streams[key] = StreamSummary(position, version, reference,
                                              inputs=_histograms(reference, self.rng))
        return self.streams[key]

    def add(self, table: pa.Table) -> None:
        counts = table.group_by(_GROUP_KEYS).aggregate([([], "count_all")])
        self.traffic.append(counts)
        pairs = counts.group_by(["position", "version"]).aggregate([])
        if pairs.num_rows == 1:
            _add_stream(self.stream(pairs["position"][0].as_py(), pairs["version"][0].as_py()),
                        table)
        else:
            for (position, version), mask in _pair_masks(table):
                stream = self.stream(position, version)
                needed = ["unusual_inputs", "integrated_inputs",
                          *(c for c in table.column_names if c.startswith(PROBABILITY_PREFIX)),
                          *(c for c in (input_column(n) for n in stream.inputs)
                            if c in table.column_names)]
                _add_stream(stream, table.select(needed).filter(mask))
        wanted = None
        for name, keys in self.keys.items():
            if len(keys):
                hit = pc.fill_null(pc.is_in(table[name], value_set=keys), False)
                wanted = hit if wanted is None else pc.or_(wanted, hit)
        if wanted is not None and pc.any(wanted).as_py():
            self.keyed.append(table.filter(wanted).select(_record_columns(table.column_names)))


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    encoded = pc.dictionary_encode(column).combine_chunks()
    return (encoded.indices.to_numpy(zero_copy_only=False),
            encoded.dictionary.to_pylist())


def _pair_masks(table: pa.Table) -> list[tuple[tuple[str, str], pa.Array]]:
    """A row mask per (position, version) of ``table``, from integer codes (string
    comparisons per pair would cost more than the histograms)."""
    positions, position_names = _codes(table["position"])
    versions, version_names = _codes(table["version"])
    combined = positions.astype("int64") * len(version_names) + versions
    return [((position_names[code // len(version_names)],
              version_names[code % len(version_names)]), pa.array(combined == code))
            for code in np.unique(combined)]


def _record_columns(names: Iterable[str]) -> list[str]:
    """The columns kept of a record with an outcome: the keys and every probability column
    the log has (their names follow the ladder of the model that answered)."""
    return [*_RECORD_COLUMNS, *(c for c in names if c.startswith(PROBABILITY_PREFIX))]


def _columns(dataset: ds.Dataset) -> list[str]:
    # Every input column the log has: the positions' inputs are the models' business (a
    # model trained with another catalog has its own), and a column of another position's
    # input holds only nulls in these rows, which Parquet reads for almost nothing.
    names = dataset.schema.names
    inputs = sorted(c for c in names if c.startswith(INPUT_PREFIX))
    wanted = [*_record_columns(names), "unusual_inputs", "integrated_inputs", *inputs]
    return [c for c in wanted if c in set(names)]


def scan_log(log: Location, positions: Iterable[str] | None,
             reference_for: Callable[[str, str], ReleaseReference], *,
             since: str | None = None, outcome_refs: Iterable[str] = (),
             outcome_request_ids: Iterable[str] = (), seed: int = 0) -> LogSummary:
    """Summarize the log's records of ``positions`` (None: every position in the log) dated
    ``since`` (YYYY-MM-DD) or later."""
    scan = _Scan(reference_for, seed, set(outcome_refs), set(outcome_request_ids))
    dataset = open_dataset(log)
    if dataset is not None:
        condition = (pc.scalar(True) if positions is None
                     else pc.field("position").isin(list(positions)))
        if since:
            condition = condition & (pc.field("date") >= since)
        scanner = dataset.scanner(columns=_columns(dataset), filter=condition,
                                  batch_size=BATCH_ROWS)
        # Files hold one flush each, often a few thousand rows: batches are pooled so each
        # reduction (a group-by, a histogram per input) runs on many rows at once.
        pending: list[pa.RecordBatch] = []
        for batch in scanner.to_batches():
            pending.append(batch)
            if sum(b.num_rows for b in pending) >= BATCH_ROWS:
                scan.add(pa.Table.from_batches(pending))
                pending = []
        if any(b.num_rows for b in pending):
            scan.add(pa.Table.from_batches(pending))
    return LogSummary(scan.streams, _traffic_frame(scan.traffic), _keyed_frame(scan.keyed))


def _traffic_frame(parts: list[pa.Table]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=[*_GROUP_KEYS, "records"])
    frame = pa.concat_tables(parts).to_pandas().rename(columns={"count_all": "records"})
    return (frame.groupby(_GROUP_KEYS, dropna=False, as_index=False)["records"].sum()
            .sort_values(["position", "version", "date"], ignore_index=True))


def _keyed_frame(parts: list[pa.Table]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=_RECORD_COLUMNS)
    return pa.concat_tables(parts).to_pandas()


@dataclass(frozen=True)
class LogExtent:
    """How many records a run would read, and the newest record date of the position at all
    (so a ``--since`` past every record shows at once)."""

    records: int
    newest: str | None


def log_extent(log: Location, position: str, since: str | None = None) -> LogExtent:
    """Count the records of ``position`` dated ``since`` or later, reading only the date
    partition column (no input values)."""
    dataset = open_dataset(log)
    if dataset is None:
        return LogExtent(0, None)
    dates = dataset.to_table(columns=["date"], filter=pc.field("position") == position)["date"]
    if len(dates) == 0:
        return LogExtent(0, None)
    newest = pc.max(dates).as_py()
    wanted = pc.sum(pc.greater_equal(dates, since)).as_py() if since else len(dates)
    return LogExtent(int(wanted or 0), newest)


def record_count_columns() -> list[str]:
    """The columns of :attr:`LogSummary.traffic`."""
    return [*_GROUP_KEYS, "records"]


def summary_inputs(summary: StreamSummary) -> dict[str, Any]:
    """Rates of unusual and integrated inputs of one stream (shares of its records)."""
    n = max(summary.records, 1)
    return {"records": summary.records,
            "unusual-input rate": summary.unusual_records / n,
            "integrated-input rate": summary.integrated_records / n}
