"""A source's rows as a CSV's cells, and the digest of the validated rows.

:func:`text_cells` turns an Arrow table (Parquet, Delta, SQL;
:mod:`recruit_reveal.data.sources`) into the text cells a CSV gives, so the one
column mapping, validation and quarantine of :mod:`recruit_reveal.data.loading`
read every kind.  :func:`content_digest` fingerprints the rows after that shared
typing step, which is what makes it the same for the same rows in any format.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import sources
from .sources import Source

if TYPE_CHECKING:
    import pyarrow as pa


def text_cells(table: pa.Table, source: Source, canonical: list[str]) -> tuple[Any, set[int]]:
    """An Arrow table as the cells a CSV gives: row 0 the header, then every value as text
    ('' for null), so one validation reads every kind; and the positions of the numeric
    columns kept as numbers instead (:func:`is_typed`).  ``canonical`` names each column
    as the shared column mapping resolves it; a numeric column holding dates, booleans,
    bytes or nested values is refused here, by name, in one line."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from .. import schema

    numeric = {c.name for p in schema.POSITIONS for c in schema.numeric_columns(p)}
    cells: dict[int, Any] = {}
    typed: set[int] = set()
    for i, (name, column) in enumerate(zip(table.column_names, table.columns, strict=True)):
        kind = column.type
        if pa.types.is_dictionary(kind):
            column, kind = column.cast(kind.value_type), kind.value_type
        if canonical[i] in numeric and not _numeric_or_text(kind):
            raise source.fail(f"column {name!r} ({canonical[i]}) holds {kind} values",
                              "numbers (or text holding numbers)")
        if canonical[i] in numeric and is_typed(kind):
            cells[i] = _numbers(column, name)
            typed.add(i)
            continue
        try:
            text = pc.fill_null(column.cast(pa.string()), "")
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise source.fail(f"column {name!r} holds {kind} values, which cannot be read "
                              "as text", "numbers or text") from None
        encoded = pc.dictionary_encode(text.combine_chunks())
        cells[i] = _shared(name, encoded.dictionary.to_numpy(zero_copy_only=False),
                           encoded.indices.to_numpy(zero_copy_only=False))
    return pd.DataFrame(cells), typed


def _shared(name: str, distinct: Any, codes: Any) -> Any:
    """The header, then each row's value as one shared object per distinct value (code -1:
    ''), as the CSV reader shares repeated strings: far fewer objects, far less memory."""
    import numpy as np

    objects = np.empty(len(distinct) + 1, dtype=object)
    objects[:-1], objects[-1] = distinct, ""
    out = np.empty(len(codes) + 1, dtype=object)
    out[0], out[1:] = name, objects[codes]
    return out


def is_typed(kind: pa.DataType) -> bool:
    """Whether a numeric column is kept as numbers: integers and float64 convert exactly,
    so they give the values a CSV's text would (float32 and decimals go through text,
    whose shortest form is what a CSV of them holds)."""
    import pyarrow as pa

    return bool(pa.types.is_integer(kind) or pa.types.is_float64(kind))


def _numbers(column: Any, name: str) -> Any:
    """The header, then the column's numbers as Python numbers and '' where missing (null
    or NaN): what validation reads without parsing text, which is what makes it fast."""
    import pandas as pd

    values = column.to_numpy()  # integers with nulls arrive as float64 with NaN
    codes, distinct = pd.factorize(values, use_na_sentinel=True)  # NaN: -1
    return _shared(name, distinct, codes)


def _numeric_or_text(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind)
                or pa.types.is_decimal(kind) or pa.types.is_string(kind)
                or pa.types.is_large_string(kind) or pa.types.is_null(kind))


def content_digest(frame: Any, target: Any) -> str:
    """sha256 of the validated rows: canonical column names, then each column's values.

    Taken after the shared mapping and typing, so the same rows give the same digest
    whatever the format ("4.50" in a CSV and 4.5 in Parquet are both float 4.5).
    Numbers are hashed as little-endian float64 (one NaN for every missing value),
    text joined with a unit separator; the row order counts, as it does for training.
    """
    import hashlib

    import numpy as np
    import pandas as pd

    digest = hashlib.sha256()
    columns = [(str(name), frame[name]) for name in frame.columns]
    columns.append((str(target.name), target))
    for name, values in columns:
        digest.update(name.encode() + b"\x1e")
        if pd.api.types.is_numeric_dtype(values.dtype):
            numbers = np.ascontiguousarray(values.to_numpy(dtype="float64"), dtype="<f8")
            numbers = np.where(np.isnan(numbers), np.nan, numbers) + 0.0  # one NaN, no -0.0
            digest.update(numbers.tobytes())
        else:
            text = ["\x00" if v is None or v != v else str(v) for v in values.tolist()]
            digest.update("\x1f".join(text).encode())
        digest.update(b"\x1d")
    return digest.hexdigest()


def check_types(source: Source, canonical: Callable[[list[str]], list[str]]) -> None:
    """Refuse a numeric column of the wrong type in a source's first rows, before training.
    ``canonical`` resolves the source's column names (the shared column mapping)."""
    if source.kind != "csv":
        head, _ = sources.read_arrow(source, limit=100)
        text_cells(head, source, canonical([str(n).strip() for n in head.column_names]))
