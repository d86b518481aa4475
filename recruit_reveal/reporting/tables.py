"""Plain-text tables and number formatting shared by the CLI, the changelog and the summaries."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .. import schema
from ..catalog import PositionSpec


def format_metric(value: Any, *, missing: str = "-", digits: int = 3) -> str:
    """A metric as the project prints it: ``0.637``; a CV summary as ``0.637 ± 0.020``.

    ``value`` may be a number, a mapping or object with ``mean``/``std``, or
    None; anything without a finite mean prints as ``missing``.
    """
    mean, std = value, None
    if isinstance(value, dict):
        mean, std = value.get("mean"), value.get("std")
    elif hasattr(value, "mean") and hasattr(value, "std") and not hasattr(value, "dtype"):
        mean, std = value.mean, value.std
    if not isinstance(mean, int | float) or isinstance(mean, bool) or not math.isfinite(mean):
        return missing
    text = f"{mean:.{digits}f}"
    if isinstance(std, int | float) and math.isfinite(std):
        text += f" ± {std:.{digits}f}"
    return text


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table with aligned columns."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def position_spec(thing: Any) -> PositionSpec:
    """The spec of a run's data or result, or of a loaded model: the spec it carries (a
    model trained with another catalog carries its own), else its position's spec in the
    active catalog.  Resolved once here; the callers work from the spec."""
    own = getattr(thing, "spec", None)
    if own is None:
        own = getattr(getattr(thing, "metadata", None), "spec", None)
    return schema.spec_of(own if own is not None else thing.position)


def sample_inputs(spec: PositionSpec) -> dict[str, Any]:
    """The position's sample athlete (the API's example), its inputs only."""
    return {k: v for k, v in spec.example.items()
            if k not in (schema.POSITION_COLUMN, "name")}
