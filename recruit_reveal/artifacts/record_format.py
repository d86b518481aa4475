"""The prediction log's record format: where its files live and what their columns are.

One module for both sides of the log: :mod:`recruit_reveal.api.prediction_records`
writes records of :func:`arrow_schema`, and :mod:`recruit_reveal.monitoring.logscan`
reads them by the same names (docs/monitoring.md, "Prediction log").  It sits below
``api`` and ``monitoring`` (import-linter's layers) so neither keeps its own copy.

The columns come from the catalog: an ``in_<input>`` column per input of every spec the
file holds, and a probability column per level of their ladders
(:meth:`~recruit_reveal.catalog.spec.Ladder.probability_columns`, the one naming rule).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..catalog import PositionSpec, default_catalog

if TYPE_CHECKING:
    import pyarrow as pa

#: The folder of the records below PREDICTION_LOG (hive-partitioned by UTC ``date=``).
FOLDER = "predictions"
#: An input's column is this prefix and the input's name.
INPUT_PREFIX = "in_"
#: Every probability column starts with this (``p_d3`` ..: ``Ladder.probability_columns``).
PROBABILITY_PREFIX = "p_"
#: The columns every record has before its inputs, in file order.
RECORD_COLUMNS = ("time", "request_id", "athlete_ref", "route", "position", "release_id",
                  "version")
#: The lists of input names a record carries after its inputs.
LIST_COLUMNS = ("integrated_inputs", "unusual_inputs")
#: The level the model answered, the record's last column.
PREDICTED = "predicted"
#: The columns an outcome is matched on.
KEY_COLUMNS = ("athlete_ref", "request_id")


def input_column(name: str) -> str:
    """The log column of the input ``name``."""
    return f"{INPUT_PREFIX}{name}"


def _with_default(specs: Sequence[PositionSpec]) -> list[PositionSpec]:
    """The default catalog's positions, then ``specs``: the default columns come first
    and are always there, so a default deployment's files all have one schema."""
    return [*default_catalog().positions.values(), *specs]


def input_columns(specs: Sequence[PositionSpec] = ()) -> tuple[str, ...]:
    """Every input of the default positions and of ``specs``, first appearance order
    (input names, without :data:`INPUT_PREFIX`)."""
    return tuple(dict.fromkeys(c for spec in _with_default(specs) for c in spec.feature_names))


def probability_columns(specs: Sequence[PositionSpec] = ()) -> tuple[str, ...]:
    """The probability column of every level of the default ladder and of ``specs``'."""
    return tuple(dict.fromkeys(c for spec in _with_default(specs)
                               for c in spec.ladder.probability_columns()))


@functools.cache
def arrow_schema(specs: tuple[PositionSpec, ...] = ()) -> pa.Schema:
    """The schema of a prediction file holding rows of ``specs``: a probability column
    may be null only when a position in the file has no such level."""
    import pyarrow as pa

    text = pa.string()
    not_null = {"time", "request_id", "route", "position", "version"}
    kinds = {"time": pa.timestamp("ms", tz="UTC"), "release_id": pa.int64()}
    fields = [pa.field(c, kinds.get(c, text), nullable=c not in not_null)
              for c in RECORD_COLUMNS]
    states = {c.name for spec in _with_default(specs) for c in spec.inputs if c.kind == "state"}
    fields += [pa.field(input_column(c), text if c in states else pa.float64())
               for c in input_columns(specs)]
    fields += [pa.field(c, pa.list_(text), nullable=False) for c in LIST_COLUMNS]
    everywhere = set.intersection(*(set(s.ladder.probability_columns()) for s in specs)) \
        if specs else set(probability_columns())
    fields += [pa.field(p, pa.float64(), nullable=p not in everywhere)
               for p in probability_columns(specs)]
    fields.append(pa.field(PREDICTED, text, nullable=False))
    return pa.schema(fields)
