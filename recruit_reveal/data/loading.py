"""Read and validate a training CSV into a clean frame plus target.

:func:`load_training_data` reads the file (:mod:`recruit_reveal.data.reading`),
names its columns (:mod:`recruit_reveal.data.mapping`), validates every cell
of the requested position's rows against :mod:`recruit_reveal.schema`
(:mod:`recruit_reveal.data.validation`) and reports what it finds by file,
spreadsheet row (the header is row 1) and column
(:mod:`recruit_reveal.data.findings`).  Problems are collected, not raised one
at a time, so a user fixes a file in one pass; with ``invalid_rows="quarantine"``
the rows with problems are set aside instead (:mod:`recruit_reveal.data.quarantine`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import schema
from ..catalog import PositionSpec
from ..errors import Problem, ProblemGroup, group_problems
from . import production, quarantine, source_cells, sources, validation
from .findings import Findings
from .mapping import ColumnMapping, ColumnsSpec, read_column_mapping, resolve
from .quarantine import (
    RowCounts,
)
from .reading import (
    Cells,
    Header,
    Text,
    blank_rows,
    decode,
    detect_separator,
    parse,
    read_bytes,
    read_header,
    sniff,
)

logger = logging.getLogger(__name__)

#: At most this many warnings are listed; the rest are counted.
MAX_PROBLEMS = 50


def _no_rejected() -> pd.DataFrame:
    return pd.DataFrame(columns=[quarantine.ROW_COLUMN, quarantine.PROBLEMS_COLUMN])


@dataclass(frozen=True, eq=False)
class TrainingData:
    """A validated training set for one position.

    ``frame`` holds exactly the position's inputs (``spec.feature_names``) in that order:
    numeric columns as float64 with NaN for missing, ``state`` as an upper-case
    code or NaN.  ``target`` holds canonical division labels on the same index.
    ``source_rows`` gives, for each row of ``frame``, its row number in the
    file as a spreadsheet shows it, so any later finding can be traced back.

    How the file was read: ``encoding`` and ``separator``; ``column_mapping``
    (each header read through the explicit mapping or a built-in spelling ->
    its canonical column) and ``mapping_file``; ``invalid_rows``, the policy.
    Where every row went: ``row_counts`` (used + rejected + skipped = the
    file's data rows).  Rows set aside by ``invalid_rows="quarantine"``:
    ``rejected`` (spreadsheet row, every column as written, ``problems``),
    ``rejected_problems`` (every finding, structured) and ``problem_groups``
    (those findings counted per column and rule).
    """

    frame: pd.DataFrame
    target: pd.Series
    position: str
    path: Path
    sha256: str
    warnings: list[Problem] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)
    source_rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64),
                                    repr=False)
    encoding: str = "UTF-8"
    separator: str = ","
    column_mapping: dict[str, str] = field(default_factory=dict)
    mapping_file: str | None = None
    invalid_rows: str = "fail"
    row_counts: RowCounts = field(default_factory=lambda: RowCounts(0, 0))
    rejected: pd.DataFrame = field(default_factory=_no_rejected, repr=False)
    rejected_problems: list[Problem] = field(default_factory=list, repr=False)
    problem_groups: list[ProblemGroup] = field(default_factory=list)
    #: The spec the file was validated against (its ladder orders the divisions).
    spec: PositionSpec | None = field(default=None, repr=False)
    #: Where the rows came from (:mod:`.sources`: kind, spec, version, rows read) and the
    #: digest of the validated rows, the same for the same rows in any format.
    source: dict[str, object] = field(default_factory=dict)
    content_digest: str = ""

    @property
    def rows_per_division(self) -> dict[str, int]:
        """Row count per division, in ladder order (zeros included)."""
        counts = self.target.value_counts()
        levels = (self.spec or schema.spec_of(self.position)).levels
        return {d: int(counts.get(d, 0)) for d in levels}

    def validation_summary(self) -> dict[str, object]:
        """JSON-ready account of the reading, for metadata."""
        return _validation_summary(self)

    def report_rows(self) -> list[tuple[str, object]]:
        """(check, result) rows for a validation report."""
        return _report_rows(self)

    def __len__(self) -> int:
        return len(self.frame)


def _rows_text(rows: Iterable[int], limit: int = 10) -> str:
    rows = list(rows)
    text = ", ".join(str(r) for r in rows[:limit])
    return text + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def load_training_data(csv_path: str | Path | sources.Source, position: schema.PositionLike, *,
                       min_rows_per_division: int = 5,
                       max_problems: int | None = None, columns: ColumnsSpec = None,
                       invalid_rows: schema.InvalidRows = "fail",
                       max_invalid_fraction: float = schema.DEFAULT_MAX_INVALID_FRACTION
                       ) -> TrainingData:
    """Read a training CSV and return the validated rows of one position.

    The file may hold several positions, told apart by a ``position`` column
    (any spelling: ``QB``, ``Quarterback``, ``Running Back``): rows of other
    positions (``TE``, ``ATH``, ...) are skipped and counted, never validated.
    A file without a position column holds the requested position only.
    Headers are matched ignoring case, spaces and punctuation, through the
    built-in spellings (``Ht``, ``40 Time``, ``Level``) and ``columns``, an
    explicit mapping ``{"their header": "canonical column"}`` (a dict, or a
    JSON file) that wins over the built-in spellings.

    Every problem is collected and raised as one :class:`DataValidationError`
    whose ``problems`` name the file, the row as a spreadsheet shows it
    (header = row 1), the column, the rule and the cell, and whose message
    groups them per column and rule.  ``max_problems`` caps how many are
    listed (``None``: all; quarantine always looks at all).  With ``invalid_rows="quarantine"``, rows with an
    invalid value are set aside in ``TrainingData.rejected`` instead, unless
    more than ``max_invalid_fraction`` of the position's rows are invalid;
    problems about the file as a whole (no header, a required column missing,
    too few rows per division) still raise.  Recoverable findings (duplicated
    rows, unknown or ignored columns, blank rows, a file read as Windows-1252)
    are returned in ``warnings`` and logged.

    ``position`` is a key of the active catalog, a spec or its plain data; its ladder
    decides the labels: a label not on it is a problem of its row, and the file is
    refused with a line listing every such label and its row count (quarantined rows
    instead with ``invalid_rows="quarantine"``).  ``min_rows_per_division`` is the
    fewest rows each level of the ladder needs for cross-validation.  ``csv_path`` may be
    any source spec (Parquet, Delta, SQL, ``s3://``; :mod:`recruit_reveal.data.sources`),
    read into the same cells.
    """
    spec = schema.spec_of(position)
    invalid_rows = schema.check_invalid_rows(invalid_rows)
    max_invalid_fraction = schema.check_invalid_fraction(max_invalid_fraction)
    mapping = read_column_mapping(columns)
    source, path, label = _named(csv_path)
    # Quarantine must see every invalid cell to set every invalid row aside.
    problems = Findings(label, None if invalid_rows == "quarantine" else max_problems)
    warnings = Findings(label, MAX_PROBLEMS)
    read = _read_table(source, label, mapping, max_problems, problems, warnings, spec)
    cells = Cells(read.table, read.header)
    validation.required_present(cells, spec, problems)
    selection = validation.select_position(cells, spec, problems, warnings)
    if not selection.mask.any():
        raise problems.error()
    target, converted = _convert(cells, selection.mask, spec, problems)
    unknown = validation.unknown_labels(cells, selection.mask, spec)
    if invalid_rows == "fail" or problems.about_file() or target is None:
        if unknown:
            problems.add(validation.unknown_labels_message(unknown, spec),
                         column=cells.raw_name(schema.TARGET_COLUMN),
                         expected=validation.division_expected(spec), stage=0)
        kept = _fail_on_problems(cells, selection.mask, target, spec, min_rows_per_division,
                                 problems, warnings)
    else:
        if unknown:
            warnings.add(validation.unknown_labels_message(unknown, spec) + "; set aside "
                         "(invalid_rows='quarantine')",
                         column=cells.raw_name(schema.TARGET_COLUMN),
                         expected=validation.division_expected(spec), stage=1)
        kept = _quarantine(cells, read.header, selection, target, spec,
                           min_rows_per_division, max_invalid_fraction, problems, warnings)
    shown = _log_warnings(warnings, label)
    return _assemble(read, cells, selection, kept, converted, spec, path, mapping,
                     invalid_rows, shown)


def _named(csv_path: str | Path | sources.Source) -> tuple[sources.Source, Path, str]:
    """The source, its path and how messages name it: a local CSV keeps the name it was
    given (as it always has), other sources their credential-free label."""
    if isinstance(csv_path, sources.Source):
        return csv_path, Path(csv_path.name), csv_path.label
    source = sources.parse(str(csv_path))
    if source.kind == "csv" and "://" not in str(csv_path) and not str(csv_path).startswith(
            "csv:"):
        return source, Path(csv_path), str(csv_path)
    return source, Path(source.name), source.label


@dataclass(frozen=True)
class _Read:
    """The file as read: its label, checksum, encoding, separator, table and header."""

    label: str
    source: dict[str, object]
    digest: str
    decoded: Text
    separator: str
    table: pd.DataFrame
    header: Header
    data_rows: int
    blank: np.ndarray


@dataclass(frozen=True)
class _Kept:
    """Which of the position's rows train (``keep``), their target, and the rows set aside."""

    keep: np.ndarray
    target: pd.Series
    rejected: pd.DataFrame
    rejected_problems: list[Problem]


def _read_table(source: sources.Source, label: str, mapping: ColumnMapping,
                max_problems: int | None, problems: Findings, warnings: Findings,
                position: PositionSpec | None = None) -> _Read:
    """Bytes (or an Arrow table) to a table with a known header; blank rows dropped."""
    digest, decoded, sep, version = "", Text("", "UTF-8"), "", None
    typed: set[int] = set()
    if source.kind == "csv":
        raw = (read_bytes(Path(source.uri), label) if "://" not in source.uri
               else sources.read_csv_bytes(source))
        digest = hashlib.sha256(raw).hexdigest()
        decoded = decode(raw, label)
        sniff(decoded.text, label)
        sep = detect_separator(decoded.text)
        table = parse(raw, decoded.text, label, max_problems, sep)
        if decoded.note():
            warnings.add(decoded.note() or "", row=decoded.line,
                         expected="UTF-8 text ('CSV UTF-8' in Excel)")
    else:
        arrow, version = sources.read_arrow(source)
        names = [str(n).strip() for n in arrow.column_names]
        table, typed = source_cells.text_cells(arrow, source,
                                               resolve(names, mapping, position).names)
    header = read_header(table, label, problems, warnings, mapping, position)
    header.typed = typed
    if schema.POSITION_COLUMN in header.duplicated:
        raise problems.error()  # which rows belong to which position is unknowable
    data_rows = len(table) - 1
    blank = blank_rows(table)
    if blank.any():
        skipped = table.index.to_numpy()[1:][blank] + 1
        warnings.add(f"skipped {len(skipped)} blank row(s): {_rows_text(skipped)}",
                     stage=1, row=int(skipped[0]))
        table = table.drop(index=table.index[1:][blank])
    if len(table) == 1:
        problems.add("the file has a header but no data rows",
                     expected="at least one data row below the header", stage=0)
        raise problems.error()
    return _Read(label, _source_record(source, version, data_rows), digest, decoded, sep,
                 table, header, data_rows, blank)


def _source_record(source: sources.Source, version: str | None, rows: int) -> dict[str, object]:
    """What the metadata says of the source: its spec pinned to the version read."""
    if version is not None:
        source = dataclasses.replace(source, pin=version)
    return {"kind": source.kind, "uri": source.uri, "spec": source.spec, "version": version,
            "table": source.table, "query": source.query, "rows_read": rows}


def _convert(cells: Cells, sel: np.ndarray, spec: PositionSpec,
             problems: Findings) -> tuple[pd.Series | None, dict[str, object]]:
    """The target and every feature column of the selected rows, problems collected."""
    target = validation.convert_target(cells, sel, spec, problems)
    converted: dict[str, object] = {}
    rule = production.rate_of(spec)
    for col in spec.inputs:
        if col.kind == "state":
            converted[col.name] = validation.convert_state(cells, sel, col, problems).to_numpy()
        elif rule is None or col.name != rule.rate:
            converted[col.name] = validation.convert_numeric(cells, sel, col, problems)
    if rule is not None:  # after the total and games: the rate may be derived from them
        converted[rule.rate] = validation.convert_rate(cells, sel, spec, rule, converted,
                                                       problems)
    return target, converted


def _fail_on_problems(cells: Cells, sel: np.ndarray, target: pd.Series | None,
                      spec: PositionSpec,
                      min_rows_per_division: int, problems: Findings,
                      warnings: Findings) -> _Kept:
    """``invalid_rows="fail"`` (or a problem about the whole file): any problem raises."""
    if target is not None:
        validation.check_division_counts(target, spec, min_rows_per_division, problems)
    validation.warn_duplicates(cells, sel, warnings)
    if problems or target is None:  # a missing target column is always among the problems
        _raise(problems, problems.file)
    assert target is not None
    return _Kept(np.ones(int(sel.sum()), dtype=bool), target, _no_rejected(), [])


def _quarantine(cells: Cells, header: Header, selection: validation.Selection,
                target: pd.Series, spec: PositionSpec, min_rows_per_division: int,
                max_invalid_fraction: float, problems: Findings, warnings: Findings) -> _Kept:
    """``invalid_rows="quarantine"``: rows with an invalid cell are set aside."""
    label, sel = problems.file, selection.mask
    bad = np.isin(cells.rows, problems.cell_rows())
    keep = ~bad[sel]
    _refuse_too_many_invalid(problems, int(bad.sum()), int(sel.sum() + selection.unattributed.sum()),
           spec.key, max_invalid_fraction)
    rejected_problems, _ = problems.problems()
    rejected = quarantine.rejected_frame(cells.body, cells.rows, header.original, bad,
                                         rejected_problems)
    target = target[keep]
    after = Findings(label)
    validation.check_division_counts(target, spec, min_rows_per_division, after)
    validation.warn_duplicates(cells, _subset(sel, keep), warnings)
    if after:
        after.add(f"counted after setting aside {len(rejected):,} invalid row(s) "
                  "(invalid_rows='quarantine')", stage=3)
        _raise(after, label)
    if len(rejected):
        logger.warning("%s: %d %s row(s) set aside as invalid", label, len(rejected), spec.key)
    return _Kept(keep, target, rejected, rejected_problems)


def _log_warnings(warnings: Findings, label: str) -> list[Problem]:
    """Log the warnings (ignored columns at INFO) and return those kept for the caller."""
    shown, more = warnings.problems()
    if more:
        shown.append(Problem(f"... and {more} more warning(s) not shown", label))
    for w in shown:
        ignored = w.column is not None and (
            schema.resolve_header(w.column) in schema.IGNORED_COLUMNS)
        logger.log(logging.INFO if ignored else logging.WARNING, "%s", w)
    return shown


def _assemble(read: _Read, cells: Cells, selection: validation.Selection, kept: _Kept,
              converted: dict[str, object], spec: PositionSpec, path: Path,
              mapping: ColumnMapping, invalid_rows: str, shown: list[Problem]) -> TrainingData:
    """The validated frame and target of the kept rows, and how every row was accounted."""
    sel, keep = selection.mask, kept.keep
    frame = pd.DataFrame({name: np.asarray(values)[keep] for name, values in converted.items()},
                         columns=spec.feature_names)
    target_series = pd.Series(kept.target.to_numpy(dtype=object), name=schema.TARGET_COLUMN,
                              index=frame.index, dtype=object)
    counts = RowCounts(data_rows=read.data_rows, used=len(frame), rejected=len(kept.rejected),
                       blank=int(read.blank.sum()), other_positions=selection.other)
    logger.info("loaded %d %s rows from %s (%s); %s", len(frame), spec.key, read.label,
                ", ".join(f"{d}: {n}" for d, n in
                          target_series.value_counts().reindex(spec.levels, fill_value=0)
                          .items()), counts)
    return TrainingData(
        frame=frame, target=target_series, position=spec.key, path=path, sha256=read.digest,
        warnings=shown, unknown_columns=list(read.header.unknown),
        source_rows=cells.rows[sel][keep].copy(), encoding=read.decoded.encoding,
        separator=read.separator, column_mapping=dict(read.header.applied),
        mapping_file=mapping.source, invalid_rows=invalid_rows, row_counts=counts,
        rejected=kept.rejected, rejected_problems=kept.rejected_problems,
        problem_groups=group_problems(kept.rejected_problems), spec=spec,
        source=read.source, content_digest=source_cells.content_digest(frame, target_series),
    )


def _subset(sel: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``sel`` narrowed to the selected rows ``keep`` marks."""
    out = sel.copy()
    out[np.flatnonzero(sel)[~keep]] = False
    return out


def _refuse_too_many_invalid(problems: Findings, invalid: int, total: int, position: str,
           max_fraction: float) -> None:
    """Refuse to quarantine more than ``max_fraction`` of the position's rows."""
    if total and invalid / total > max_fraction:
        problems.add(f"{invalid:,} of {total:,} {position} rows ({invalid / total:.0%}) are "
                     f"invalid, more than max_invalid_fraction allows ({max_fraction:.0%}); "
                     "nothing was set aside", expected="a file whose rows are mostly valid, "
                     "or a higher max_invalid_fraction", stage=-1)
        _raise(problems, problems.file)


def _raise(problems: Findings, label: str) -> None:
    error = problems.error()
    logger.debug("validation of %s failed with %d problem(s)", label,
                 len(error.problems) + error.truncated)
    raise error


def _validation_summary(data: TrainingData) -> dict[str, object]:
    """JSON-ready account of how the file was read, for metadata and audit records."""
    return {
        "file": str(data.path),
        "sha256": data.sha256,
        "source": dict(data.source),
        "content_digest": data.content_digest,
        "encoding": data.encoding,
        "separator": data.separator,
        "column_mapping": dict(data.column_mapping),
        "column_mapping_file": data.mapping_file,
        "invalid_rows": data.invalid_rows,
        "rows": data.row_counts.as_dict(),
        "rejected_by_rule": [
            {"column": g.column, "rule": g.rule, "count": g.count} for g in data.problem_groups
        ],
    }


def _report_rows(data: TrainingData) -> list[tuple[str, object]]:
    """(check, result) rows for a validation report: how the file was read and where
    every row went, rejected rows counted per (column, rule)."""
    counts = data.row_counts
    mapping = ", ".join(f"{h} -> {c}" for h, c in data.column_mapping.items()) or "none"
    rows: list[tuple[str, object]] = [
        ("source", data.source.get("spec", str(data.path))),
        ("content digest", data.content_digest),
        ("encoding, separator", f"{data.encoding}, {_SEPARATOR_NAMES.get(data.separator, data.separator)}"),
        ("column mapping", mapping + (f" (file {data.mapping_file})" if data.mapping_file else "")),
        ("invalid rows", data.invalid_rows),
        ("rows in file", str(counts)),
        ("rows skipped: other positions",
         ", ".join(f"{p} {n:,}" for p, n in counts.other_positions.items()) or "none"),
        ("rows rejected", counts.rejected),
    ]
    rows += [(f"rejected: {_group_name(g)}", g.count) for g in data.problem_groups]
    return rows


_SEPARATOR_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs"}


def _group_name(group: ProblemGroup) -> str:
    return f"{group.column}, {group.rule}" if group.column else group.rule
