"""The prediction log's record format: one row per scored athlete, as Parquet.

:class:`RecordBatch` is what one scoring call hands the log; :func:`records_table` turns
batches into the Arrow table of docs/monitoring.md's "Prediction log" (:func:`arrow_schema`),
and :func:`parquet_bytes` into the bytes of one file.  Writing and buffering are
:mod:`.prediction_log`'s.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..catalog import PositionSpec, default_catalog
from ..modeling import explanations as insights
from .predictions import Scored, arrays

if TYPE_CHECKING:
    import pyarrow as pa

#: The folder of the records below PREDICTION_LOG.
FOLDER = "predictions"


def _with_default(specs: Sequence[PositionSpec]) -> list[PositionSpec]:
    """The default catalog's positions, then ``specs``: the default columns come first
    and are always there, so a default deployment's files all have one schema."""
    return [*default_catalog().positions.values(), *specs]


def input_columns(specs: Sequence[PositionSpec] = ()) -> tuple[str, ...]:
    """Every input column of the default positions and of ``specs``, first appearance order."""
    return tuple(dict.fromkeys(c for spec in _with_default(specs) for c in spec.feature_names))


def probability_columns(specs: Sequence[PositionSpec] = ()) -> tuple[str, ...]:
    """The probability column of every level of the default ladder and of ``specs``'."""
    return tuple(dict.fromkeys(c for spec in _with_default(specs)
                               for c in spec.ladder.probability_columns()))


@functools.cache
def arrow_schema(specs: tuple[PositionSpec, ...] = ()) -> pa.Schema:
    """The schema of a prediction file holding rows of ``specs`` (docs/monitoring.md,
    "Prediction log"): a probability column may be null only when a position in the file
    has no such level."""
    import pyarrow as pa

    text = pa.string()
    fields = [pa.field("time", pa.timestamp("ms", tz="UTC"), nullable=False),
              pa.field("request_id", text, nullable=False),
              pa.field("athlete_ref", text),
              pa.field("route", text, nullable=False),
              pa.field("position", text, nullable=False),
              pa.field("release_id", pa.int64()),
              pa.field("version", text, nullable=False)]
    fields += [pa.field(f"in_{c}", text if c == "state" else pa.float64())
               for c in input_columns(specs)]
    fields += [pa.field("integrated_inputs", pa.list_(text), nullable=False),
               pa.field("unusual_inputs", pa.list_(text), nullable=False)]
    everywhere = set.intersection(*(set(s.ladder.probability_columns()) for s in specs)) \
        if specs else set(probability_columns())
    fields += [pa.field(p, pa.float64(), nullable=p not in everywhere)
               for p in probability_columns(specs)]
    fields.append(pa.field("predicted", text, nullable=False))
    return pa.schema(fields)


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
    at = {name: j for j, name in enumerate(insights.numeric_names(position))}
    missing = pa.nulls(len(x), pa.float64())
    columns: dict[str, Any] = {}
    for c in columns_wanted:
        if c == "state":
            columns["in_state"] = pa.array(np.concatenate(states), pa.string(),
                                           from_pandas=True)  # NaN or None: missing
        else:
            columns[f"in_{c}"] = pa.array(x[:, at[c]], pa.float64(), from_pandas=True) \
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
        **_inputs(spec, group, [n[3:] for n in schema.names if n.startswith("in_")]),
        "integrated_inputs": _lists(group, "integrated"),
        "unusual_inputs": _lists(group, "unusual"),
    }
    # Rounded as the answers round them, so a record shows the probabilities answered.
    proba = np.round(np.vstack([b.scored.proba for b in group]).astype(float), 6)
    own = spec.ladder.probability_columns()
    for column in (n for n in schema.names if n.startswith("p_")):
        columns[column] = proba[:, own.index(column)] if column in own else \
            pa.nulls(len(proba), pa.float64())
    columns["predicted"] = [p for b in group for p in b.scored.predicted]
    return pa.Table.from_pydict(columns, schema=schema)


def parquet_bytes(table: pa.Table) -> bytes:
    import pyarrow.parquet as pq

    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd")
    return out.getvalue()
