"""Which column of a file is which: built-in header spellings and an explicit column mapping.

A header names a canonical column (:func:`recruit_reveal.data.columns.canonical_columns`:
the active catalog's inputs and the structural columns) directly (``Height_Inches``),
through a catalog spelling (:func:`recruit_reveal.schema.header_spellings`: ``Ht``,
``40 Time``, ``Level``) or through the caller's explicit mapping ``{"their header":
"canonical column"}``, given as a dict or as a JSON file.  The explicit
mapping wins: a header it maps is read as it says, and a column it targets is
no longer taken from any other header.  Headers are compared ignoring case,
surrounding spaces and punctuation (:func:`recruit_reveal.schema.header_key`); the
rule itself, shared with API requests, is :mod:`recruit_reveal.data.columns`.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .. import schema
from ..errors import DataValidationError, Problem
from . import columns

#: What a caller may pass as ``columns``: a mapping, a path to a JSON object file, or nothing.
ColumnsSpec = Mapping[str, str] | str | os.PathLike[str] | None



@dataclass(frozen=True)
class ColumnMapping:
    """An explicit column mapping, checked: header key -> canonical column.

    ``written`` keeps each header as the mapping spells it; ``source`` is the
    mapping file (``None`` for a mapping given as a dict, or no mapping).
    """

    targets: dict[str, str] = field(default_factory=dict)
    written: dict[str, str] = field(default_factory=dict)
    source: str | None = None


def _mapping_problem(source: str, message: str, expected: str | None = None,
                     column: str | None = None) -> DataValidationError:
    return DataValidationError(Problem(message, source, None, column, expected))


def read_column_mapping(spec: ColumnsSpec) -> ColumnMapping:
    """Check a column mapping given as a dict or a JSON file; raise naming what is wrong.

    Every target must be a canonical column (matched ignoring case and
    surrounding spaces, but never through a built-in spelling); an unknown
    target is a :class:`DataValidationError` naming it and the mapping file.
    """
    if spec is None:
        return ColumnMapping()
    if isinstance(spec, Mapping):
        return _check(dict(spec), "column mapping", None)
    path = Path(spec)
    label = str(spec)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "file not found"
        raise _mapping_problem(label, f"column mapping {what}",
                               'a JSON object file: {"their header": "canonical column"}')
    try:
        loaded = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise _mapping_problem(label, "the column mapping is not UTF-8 text",
                               "a UTF-8 JSON file") from exc
    except json.JSONDecodeError as exc:
        raise _mapping_problem(label, f"the column mapping is not valid JSON: {exc.msg} "
                               f"(line {exc.lineno}, column {exc.colno})",
                               '{"their header": "canonical column", ...}') from exc
    except OSError as exc:
        raise _mapping_problem(label, f"column mapping cannot be read ({exc.strerror or exc})"
                               ) from exc
    if not isinstance(loaded, dict):
        raise _mapping_problem(label, f"the column mapping holds a JSON {type(loaded).__name__}"
                               ", not an object", '{"their header": "canonical column", ...}')
    return _check(loaded, label, label)


def _check(raw: dict, label: str, source: str | None) -> ColumnMapping:
    problems: list[Problem] = []
    targets: dict[str, str] = {}
    written: dict[str, str] = {}
    for header, target in raw.items():
        if not isinstance(header, str) or not header.strip():
            problems.append(Problem(f"a header to map is empty or not text: {header!r}", label,
                                    expected="the header as the file writes it"))
            continue
        if not isinstance(target, str):
            problems.append(Problem(f"{header!r} is mapped to {target!r}, which is not a "
                                    "column name", label, column=header,
                                    expected="a canonical column name as text"))
            continue
        canonical = target.strip().lower()
        known = columns.canonical_columns()
        if canonical not in known:
            close = difflib.get_close_matches(schema.resolve_header(target),
                                              sorted(known), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(Problem(f"{header!r} is mapped to {target!r}, which is not a "
                                    f"canonical column{hint}", label, column=target,
                                    expected="one of " + ", ".join(sorted(known))))
            continue
        key = schema.header_key(header)
        if key in targets and targets[key] != canonical:
            problems.append(Problem(f"{written[key]!r} and {header!r} are the same header "
                                    f"(case and spaces aside) mapped to {targets[key]!r} and "
                                    f"{canonical!r}", label, column=header,
                                    expected="each header mapped once"))
            continue
        targets[key] = canonical
        written[key] = header
    if problems:
        raise DataValidationError(problems)
    return ColumnMapping(targets, written, source)


@dataclass
class ResolvedHeader:
    """Which canonical column each header names.

    ``names[i]`` is the canonical column of header ``i``, or the header's key
    when it names none (an unknown column), or ``""`` for a blank header or a
    header whose column an explicit mapping took from it (``displaced``).
    ``applied`` is the mapping used: each header read through the explicit
    mapping or a built-in spelling, as the file writes it, -> canonical column.
    """

    names: list[str]
    applied: dict[str, str]
    displaced: dict[int, str]
    unused: list[str]


def resolve(raw: list[str], mapping: ColumnMapping,
            position: schema.PositionLike | None = None) -> ResolvedHeader:
    """Resolve a file's header row (cells trimmed) through ``mapping`` and the built-in
    spellings, those of ``position`` included (:func:`recruit_reveal.data.columns.match`)."""
    matched = columns.match(raw, position, mapping.targets)
    keys = [schema.header_key(h) if h else "" for h in raw]
    used = {k for k in keys if k in mapping.targets}
    # Only a mapping entry that names a header of this file takes its column from others.
    explicit_targets = {mapping.targets[k] for k in used}
    names: list[str] = []
    applied: dict[str, str] = {}
    displaced: dict[int, str] = {}
    for i, (header, key, name) in enumerate(zip(raw, keys, matched.names, strict=True)):
        if not header:
            names.append("")
            continue
        if key not in mapping.targets and name in explicit_targets:
            displaced[i] = name
            names.append("")
            continue
        if name != key or key in mapping.targets:
            applied[header] = name
        names.append(name)
    unused = [mapping.written[k] for k in mapping.targets if k not in used]
    return ResolvedHeader(names, applied, displaced, unused)


def suggest(name: str) -> str | None:
    """The canonical column an unknown header is closest to, if any is close."""
    aliases = schema.header_aliases()
    candidates = sorted(columns.canonical_columns() | aliases.keys())
    close = difflib.get_close_matches(schema.header_key(name), candidates, n=1, cutoff=0.8)
    return aliases.get(close[0], close[0]) if close else None
