"""The prediction log's records: one row per scored athlete, as Parquet.

:class:`RecordBatch` is what one scoring call hands the log; :func:`records_table` turns
batches into the Arrow table of docs/monitoring.md's "Prediction log" (the schema is
:func:`recruit_reveal.artifacts.record_format.arrow_schema`, which the monitoring reader
reads by), and :func:`parquet_bytes` into the bytes of one file.  Writing and buffering are
:mod:`.prediction_log`'s.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..artifacts.record_format import (
    FOLDER,
    INPUT_PREFIX,
    PROBABILITY_PREFIX,
    arrow_schema,
    input_column,
)
from ..catalog import PositionSpec
from ..modeling import probabilities
from .predictions import Scored, arrays

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["FOLDER", "RecordBatch", "arrow_schema", "parquet_bytes", "records_table"]


@dataclass(frozen=True)
class RecordBatch:
    """One :meth:`PredictionLog.record` call: rows sharing time, request and model."""

    time_ms: int
    request_id: str
    route: str
    release_id: int | None
    scored: Scored
    integrated: Sequence[Sequence[str]]
    unusual: Sequence[Sequence[str]]

    @property
    def rows(self) -> int:
        return len(self.scored.athletes)

    @property
    def date(self) -> str:
        return dt.datetime.fromtimestamp(self.time_ms / 1000, dt.timezone.utc).date().isoformat()


def records_table(batches: list[RecordBatch]) -> pa.Table:
    """The rows of ``batches`` as one table of :func:`arrow_schema` (grouped by position)."""
    import pyarrow as pa

    by_position: dict[str, list[RecordBatch]] = {}
    for b in batches:
        by_position.setdefault(b.scored.served.position, []).append(b)
    schema = arrow_schema(tuple(dict.fromkeys(g[0].scored.served.spec
                                              for g in by_position.values())))
    return pa.concat_tables([_position_table(group, schema) for group in by_position.values()])


def _inputs(position: PositionSpec, group: list[RecordBatch],
            columns_wanted: Sequence[str]) -> dict[str, Any]:
    """The in_<column> arrays of ``group`` (one position), from the arrays scoring built."""
    import pyarrow as pa

    xs, states = [], []
    for b in group:
        x, state = b.scored.x, b.scored.state
        if x is None or state is None:
            x, state = arrays(position, [a.values for a in b.scored.athletes])
        xs.append(x)
        states.append(state)
    x = np.vstack(xs)
    at = {name: j for j, name in enumerate(probabilities.numeric_names(position))}
    missing = pa.nulls(len(x), pa.float64())
    columns: dict[str, Any] = {}
    state_inputs = {c.name for c in position.inputs if c.kind == "state"}
    for c in columns_wanted:
        if c in state_inputs:
            columns[input_column(c)] = pa.array(np.concatenate(states), pa.string(),
                                                from_pandas=True)  # NaN or None: missing
        else:
            columns[input_column(c)] = pa.array(x[:, at[c]], pa.float64(), from_pandas=True) \
                if c in at else missing
    return columns


def _lists(group: list[RecordBatch], name: str) -> pa.Array:
    """The list<string> column ``name`` (integrated or unusual) of ``group``."""
    import pyarrow as pa

    lengths = np.zeros(sum(b.rows for b in group), dtype=np.int32)
    values: list[str] = []
    at = 0
    for b in group:
        for i, row in enumerate(getattr(b, name) or ()):
            lengths[at + i] = len(row)
            values.extend(row)
        at += b.rows
    offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int32)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, pa.string()))


def _position_table(group: list[RecordBatch], schema: pa.Schema) -> pa.Table:
    """The rows of one position's batches (all scored by one spec's model)."""
    import pyarrow as pa

    spec = group[0].scored.served.spec
    position = spec.key
    counts = [b.rows for b in group]

    def repeated(values: list[Any]) -> np.ndarray:
        return np.repeat(np.array(values, dtype=object), counts)

    columns: dict[str, Any] = {
        "time": np.repeat(np.array([b.time_ms for b in group], dtype=np.int64), counts),
        "request_id": repeated([b.request_id for b in group]),
        "athlete_ref": [a.ref for b in group for a in b.scored.athletes],
        "route": repeated([b.route for b in group]),
        "position": pa.array([position] * sum(counts), pa.string()),
        "release_id": repeated([b.release_id for b in group]),
        "version": repeated([b.scored.served.version for b in group]),
        **_inputs(spec, group, [n[len(INPUT_PREFIX):] for n in schema.names
                        if n.startswith(INPUT_PREFIX)]),
        "integrated_inputs": _lists(group, "integrated"),
        "unusual_inputs": _lists(group, "unusual"),
    }
    # Rounded as the answers round them, so a record shows the probabilities answered.
    proba = np.round(np.vstack([b.scored.proba for b in group]).astype(float), 6)
    own = spec.ladder.probability_columns()
    for column in (n for n in schema.names if n.startswith(PROBABILITY_PREFIX)):
        columns[column] = proba[:, own.index(column)] if column in own else \
            pa.nulls(len(proba), pa.float64())
    columns["predicted"] = [p for b in group for p in b.scored.predicted]
    return pa.Table.from_pydict(columns, schema=schema)


def parquet_bytes(table: pa.Table) -> bytes:
    import pyarrow.parquet as pq

    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd")
    return out.getvalue()
