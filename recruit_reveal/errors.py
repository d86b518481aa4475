"""One exception hierarchy for every problem a user can fix.

The CLI turns a :class:`RecruitRevealError` into a short message and exit
code 2; the API turns it into a 4xx response naming the field.  Anything
that is *not* a ``RecruitRevealError`` is a bug and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


class RecruitRevealError(Exception):
    """Base class for problems the user can fix (bad input, missing model, ...)."""


@dataclass(frozen=True)
class Problem:
    """One finding about an input file or request.

    ``row`` is the row number as a spreadsheet shows it (the header is row 1),
    or ``None`` when the problem concerns the whole file or a whole column.
    """

    message: str
    file: str | None = None
    row: int | None = None
    column: str | None = None
    expected: str | None = None

    def __str__(self) -> str:
        where = [part for part in (
            self.file,
            f"row {self.row}" if self.row is not None else None,
            f"column '{self.column}'" if self.column is not None else None,
        ) if part]
        text = f"{', '.join(where)}: {self.message}" if where else self.message
        if self.expected:
            text += f" (expected {self.expected})"
        return text


class DataValidationError(RecruitRevealError, ValueError):
    """A training CSV or a request failed validation.

    ``problems`` holds every finding (up to a cap), not just the first.
    """

    def __init__(self, problems: list[Problem] | Problem | str, *, truncated: int = 0):
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        self.truncated = truncated
        lines = [str(p) for p in self.problems]
        if truncated:
            lines.append(f"... and {truncated} more problem(s) not shown")
        head = f"{len(self.problems) + truncated} problem(s) found"
        super().__init__(head + ":\n  " + "\n  ".join(lines) if len(lines) > 1 else lines[0])


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
