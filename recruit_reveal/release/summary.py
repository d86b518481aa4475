"""The outcome of a training run: one :class:`PositionRun` per position and the closing report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..reporting.tables import format_metric, format_table
from .contract import PositionResult, display_path, join_location, same_path
from .records import exists


@dataclass
class PositionRun:
    """What happened to one position in a run."""

    position: str
    version: str
    status: str = "pending"  # "succeeded" | "failed"
    duration: float = 0.0
    #: Paths in a local models folder; URLs (str) in an object store.  ``artifact`` is the
    #: file served (skops); ``pickle`` the pkl written beside it for the earlier system.
    artifact: Path | str | None = None
    pickle: Path | str | None = None
    metadata_path: Path | str | None = None
    sha256: str | None = None
    #: Paths in a local runs folder; URLs (str) in an object store.
    record: Path | str | None = None
    html: Path | str | None = None
    exact_accuracy: float | None = None
    within_one_accuracy: float | None = None
    rows_rejected: int = 0
    rejected_rows: Path | str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    def succeed(self, result: PositionResult) -> None:
        """Take what the run made from its result."""
        self.status = "succeeded"
        self.artifact = _location(result.skops or result.artifact)
        self.pickle = _location(result.artifact) if result.skops else None
        self.metadata_path = _location(result.metadata)
        self.sha256 = result.sha256
        self.exact_accuracy = result.exact_accuracy
        self.within_one_accuracy = result.within_one_accuracy
        self.rows_rejected = result.rows_rejected
        self.rejected_rows = _location(result.rejected_rows) if result.rejected_rows else None

    def fail(self, error: str) -> None:
        self.status, self.error = "failed", error


@dataclass
class RunSummary:
    """The outcome of :func:`~.runner.train`: one :class:`PositionRun` per requested position."""

    version: str
    engine: str
    models_dir: Path | str
    runs_dir: Path | str | None
    runs: list[PositionRun] = field(default_factory=list)
    promoted: bool = False
    duration: float = 0.0
    csv: Path | None = None
    #: How the CSV was read, repeated in the retry command.
    columns: Path | None = None
    invalid_rows: str = "fail"

    HEADERS = ("position", "version", "status", "exact", "within-one", "served", "record",
               "duration")

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(run.ok for run in self.runs)

    @property
    def failed(self) -> list[PositionRun]:
        return [run for run in self.runs if not run.ok]

    @property
    def succeeded(self) -> list[PositionRun]:
        return [run for run in self.runs if run.ok]

    def _models_option(self) -> str:
        if same_path(self.models_dir, "models"):
            return ""
        return f" --models-dir {display_path(self.models_dir)}"

    def promote_command(self) -> str | None:
        """The exact command that promotes the positions that succeeded, when some failed."""
        if self.ok or not self.succeeded:
            return None
        return " && ".join(f"recruit-reveal models promote {run.position} {run.version}"
                           f"{self._models_option()}" for run in self.succeeded)

    def retry_command(self) -> str | None:
        """The command that re-runs only the failed positions with the same version."""
        if self.ok or self.csv is None:
            return None
        options = self._models_option()
        if self.runs_dir is not None and not same_path(self.runs_dir, "runs"):
            options += f" --runs-dir {display_path(self.runs_dir)}"
        if self.engine != "notebook":
            options += f" --engine {self.engine}"
        if self.columns is not None:
            options += f" --columns {display_path(self.columns)}"
        if self.invalid_rows != "fail":
            options += f" --invalid-rows {self.invalid_rows}"
        return " && ".join(
            f"recruit-reveal train --csv {display_path(self.csv)} --position {run.position} "
            f"--version {run.version}{options}" for run in self.failed)

    def rows(self) -> list[list[str]]:
        """The summary table's rows (see :attr:`HEADERS`)."""
        return [[
            run.position,
            run.version,
            run.status,
            format_metric(run.exact_accuracy),
            format_metric(run.within_one_accuracy),
            display_path(run.artifact) if run.artifact else "-",
            display_path(run.record) if run.record else "-",
            f"{run.duration:.1f}s",
        ] for run in self.runs]

    def table(self) -> str:
        """The summary as a plain-text table."""
        return format_table(self.HEADERS, self.rows())

    def files(self) -> list[Path | str]:
        """Every file this run wrote (artifacts, metadata, records), for the closing pointer."""
        from ..artifacts.layout import artifact_name, changelog_name, metadata_name

        def at(name: str) -> Path | str:
            return join_location(self.models_dir, name)

        out: list[Path | str] = []
        for run in self.runs:
            out += [p for p in (run.artifact, run.pickle, run.metadata_path) if p]
            if run.ok and self.promoted:
                out += [at(artifact_name(run.position, "latest")),
                        at(metadata_name(run.position, "latest"))]
            if run.ok:
                out.append(at(changelog_name(run.position)))
            out += [p for p in (run.record, run.html, run.rejected_rows) if p and exists(p)]
        return out

    def report(self) -> str:
        """The closing text the CLI prints: table, what failed, where the files are."""
        lines = [self.table(), ""]
        for run in self.runs:
            if run.rejected_rows is not None:
                lines.append(f"{run.position}: {run.rows_rejected:,} invalid row(s) set aside "
                             f"in {display_path(run.rejected_rows)}")
        if self.ok:
            lines.append(f"All {len(self.runs)} position(s) trained; latest now points at "
                         f"v{self.version}" + ("." if self.promoted else " (not promoted)."))
        else:
            for run in self.failed:
                lines.append(f"FAILED {run.position}: {run.error}")
            lines.append("latest was left unchanged for every position.")
            command = self.promote_command()
            if command:
                lines.append("To promote the positions that succeeded anyway, run:")
                lines.append(f"  {command}")
            retry = self.retry_command()
            if retry:
                lines.append("To train the failed position(s) again after fixing the cause "
                             "(the failed record is kept aside), run:")
                lines.append(f"  {retry}")
        lines.append(f"Models: {display_path(self.models_dir)}/"
                     + (f"   records: "
                        f"{display_path(join_location(self.runs_dir, 'v' + self.version))}/"
                        if self.runs_dir is not None and self.engine == "notebook" else ""))
        for path in self.files():
            lines.append(f"  {display_path(path)}")
        return "\n".join(lines)


def _location(text: str) -> Path | str:
    """A local path as a Path; an object-store URL as it is (a Path would fold its //)."""
    from ..storage.locations import resolve_local

    return resolve_local(text, Path)
