"""One exception hierarchy for every problem a user can fix.

The CLI turns a :class:`RecruitRevealError` into a short message and exit
code 2; the API turns it into a 4xx response naming the field.  Anything
that is *not* a ``RecruitRevealError`` is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class RecruitRevealError(Exception):
    """Base class for problems the user can fix (bad input, missing model, ...)."""


@dataclass(frozen=True)
class Problem:
    """One finding about an input file or request.

    ``row`` is the row number as a spreadsheet shows it (the header is row 1),
    or ``None`` when the problem concerns the whole file or a whole column.
    ``rule`` names the check a cell failed (``"outside the plausible range"``)
    and ``value`` holds the cell's text, so that findings can be grouped by
    (column, rule) with :func:`group_problems`; both are ``None`` for findings
    about a whole file or column.
    """

    message: str
    file: str | None = None
    row: int | None = None
    column: str | None = None
    expected: str | None = None
    rule: str | None = None
    value: str | None = None

    def __str__(self) -> str:
        return self.describe(with_file=True)

    def describe(self, *, with_file: bool = True) -> str:
        """The finding on one line; ``with_file=False`` leaves the file out."""
        where = [part for part in (
            self.file if with_file else None,
            f"row {self.row}" if self.row is not None else None,
            f"column '{self.column}'" if self.column is not None else None,
        ) if part]
        text = f"{', '.join(where)}: {self.message}" if where else self.message
        if self.expected:
            text += f" (expected {self.expected})"
        return text


#: How many row numbers and example values a grouped line shows.
SHOWN_ROWS = 5
SHOWN_EXAMPLES = 3
#: At most this many groups are listed in an error message; the rest are counted.
MAX_GROUPS_SHOWN = 30


@dataclass(frozen=True)
class ProblemGroup:
    """Every finding of one rule in one column: how many, the first rows, example values.

    ``rows`` holds the first :data:`SHOWN_ROWS` row numbers (in the order the
    findings are listed), ``examples`` up to :data:`SHOWN_EXAMPLES` distinct
    cell texts.  A finding without a ``rule`` (about a whole file or column) is
    a group of its own, kept in ``first``.
    """

    column: str | None
    rule: str
    count: int
    rows: tuple[int, ...]
    examples: tuple[str, ...]
    expected: str | None
    file: str | None
    first: Problem

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: column, rule, count, first rows, examples, expected."""
        return {"column": self.column, "rule": self.rule, "count": self.count,
                "rows": list(self.rows), "examples": list(self.examples),
                "expected": self.expected}

    def describe(self, *, with_file: bool = False) -> str:
        """One line: the problem itself when it is alone, else count, rows and examples."""
        if self.count == 1:
            return self.first.describe(with_file=with_file)
        where = [part for part in (self.file if with_file else None,
                                   f"column '{self.column}'" if self.column else None) if part]
        rows = ", ".join(str(r) for r in self.rows)
        if self.count > len(self.rows):
            rows += ", ..."
        text = f"{', '.join(where)}: " if where else ""
        text += f"{self.rule}: {self.count:,} rows ({rows})" if self.rows else \
            f"{self.rule}: {self.count:,} times"
        if self.examples:
            text += ", e.g. " + ", ".join(_quote(e) for e in self.examples)
        if self.expected:
            text += f" (expected {self.expected})"
        return text


def _quote(value: str, limit: int = 40) -> str:
    if len(value) > limit:
        value = value[: limit - 3] + "..."
    return repr(value)


def group_problems(problems: Iterable[Problem]) -> list[ProblemGroup]:
    """Findings grouped by (file, column, rule), in the order each group first appears.

    A finding without a ``rule`` is grouped with identical messages only.  The
    same grouping serves error messages, the notebook's validation table and
    the counts of rejected rows.
    """
    acc: dict[tuple[str | None, str | None, str], list] = {}
    for p in problems:
        key = (p.file, p.column, p.rule if p.rule is not None else "\0" + p.message)
        entry = acc.get(key)
        if entry is None:
            acc[key] = [p, 1, [] if p.row is None else [p.row], [] if not p.value else [p.value]]
            continue
        entry[1] += 1
        if p.row is not None and len(entry[2]) < SHOWN_ROWS:
            entry[2].append(p.row)
        if p.value and len(entry[3]) < SHOWN_EXAMPLES and p.value not in entry[3]:
            entry[3].append(p.value)
    return [ProblemGroup(column=first.column, rule=first.rule or first.message, count=count,
                         rows=tuple(rows), examples=tuple(examples), expected=first.expected,
                         file=first.file, first=first)
            for first, count, rows, examples in acc.values()]


def format_problems(problems: list[Problem], groups: list[ProblemGroup] | None = None, *,
                    truncated: int = 0, max_groups: int = MAX_GROUPS_SHOWN) -> str:
    """A message a person can read: the file once, then one line per (column, rule).

    One finding alone is its own one-line message.  However many findings there
    are, at most ``max_groups`` lines are listed, so the message stays short.
    """
    if len(problems) == 1 and not truncated:
        return str(problems[0])
    groups = group_problems(problems) if groups is None else groups
    files = {g.file for g in groups}
    single_file = len(files) == 1 and None not in files
    total = len(problems) + truncated
    rows = {p.row for p in problems if p.row is not None and p.rule is not None}
    head = f"{total:,} problem(s) found"
    if rows:
        head += f" in {len(rows):,} row(s)"
    if single_file:
        head += f" {'of' if rows else 'in'} {next(iter(files))}"
    lines = [head + ":"]
    lines += ["  " + g.describe(with_file=not single_file) for g in groups[:max_groups]]
    if len(groups) > max_groups:
        rest = groups[max_groups:]
        lines.append(f"  ... and {len(rest)} more kind(s) of problem "
                     f"({sum(g.count for g in rest):,} problem(s)) not listed")
    if truncated:
        lines.append(f"  ... and {truncated:,} more problem(s) not listed")
    return "\n".join(lines)


class DataValidationError(RecruitRevealError, ValueError):
    """A training CSV or a request failed validation.

    ``problems`` holds every finding, not just the first (``truncated`` counts
    any a caller chose not to list); ``groups`` holds them grouped by (column,
    rule) as :func:`group_problems` does, which is what the message shows: the
    file once at the top, then one line per group with its count, first rows
    and example values, however many findings there are.
    """

    def __init__(self, problems: list[Problem] | Problem | str, *, truncated: int = 0):
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        self.truncated = truncated
        self.groups: list[ProblemGroup] = group_problems(self.problems)
        super().__init__(format_problems(self.problems, self.groups, truncated=truncated))


class CatalogError(RecruitRevealError, ValueError):
    """A catalog file is unreadable or inconsistent.

    ``problems`` holds one line per problem, each naming the file, the place in it
    (``positions.te.required``) and what is wrong; the message lists them all.
    """

    def __init__(self, problems: list[str] | str):
        self.problems: list[str] = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class VersionError(RecruitRevealError, ValueError):
    """A version string is not strict semver X.Y.Z (or ``latest`` where allowed)."""


class ModelNotFoundError(RecruitRevealError, LookupError):
    """No usable model exists for the requested position or version."""


class ArtifactExistsError(RecruitRevealError, FileExistsError):
    """A version is already exported; versions are never overwritten."""


class ArtifactIntegrityError(RecruitRevealError):
    """A model file does not match the sha256 recorded in its metadata, or is unreadable."""


class ArtifactLockError(RecruitRevealError):
    """Another export of the same position held the models/ lock for too long."""


class IncompatibleModelError(RecruitRevealError):
    """A model was saved with a different scikit-learn version than the one running."""


class TrainingError(RecruitRevealError):
    """Training could not proceed with the data or parameters given."""


class NotebookExecutionError(RecruitRevealError):
    """The training notebook failed or timed out; the executed notebook holds the details."""


class StorageError(RecruitRevealError):
    """A models or runs location cannot be used (an unknown URL scheme, an unreachable store)."""


class ReleaseError(RecruitRevealError):
    """A release cannot be made or read: a manifest that does not parse, nothing to roll back to,
    or a concurrent writer that kept winning."""


class SignatureError(ArtifactIntegrityError):
    """A model version's signature cannot be made or does not hold (VERIFY_KEY, SIGNING_KEY)."""


class SignatureMissingError(SignatureError):
    """VERIFY_KEY is set and the version has no signature file."""


class UntrustedSignatureError(SignatureError):
    """The signature was made with a key that is not among the trusted ones."""


class SignatureMismatchError(SignatureError):
    """A signed file changed after signing, or is missing."""


class UnsignedFileError(SignatureError):
    """A file of the version is not covered by its signature (added after signing)."""


# Problems of a request to the prediction service.  ``field`` names the request input
# each one concerns (the API's error body starts with it).

class UnknownPositionError(RecruitRevealError, LookupError):
    """A position named in a request (e.g. a /models/{position} path) does not exist."""

    field = "position"


class ModelUnavailableError(ModelNotFoundError):
    """A position has no model being served (none exported, or the one asked for cannot load)."""

    field = "position"


class VersionNotFoundError(ModelNotFoundError):
    """A model version asked for explicitly is not exported."""

    field = "version"


class VersionNotServableError(RecruitRevealError):
    """A model version is exported but cannot be served: it fails its sha256 check, was saved
    by another scikit-learn, or fails its test prediction."""

    field = "version"


class PromotionError(ReleaseError):
    """A version could not be promoted to the current release; nothing was changed."""

    field = "version"


class RecordNotFoundError(RecruitRevealError, LookupError):
    """The served model has no audit record that can be shown for it."""

    field = "position"


class SwitchDisabledError(RecruitRevealError):
    """Switching models through the API is off: the server has no admin token."""

    field = "Authorization"


class AdminAuthError(RecruitRevealError):
    """A request that needs the admin token came without it, or with another one."""

    field = "Authorization"
