"""Errors a person can act on, and the exit codes the CLI maps them to.

Every error raised for bad input says what is wrong, where (file, model,
yaml path) and what is allowed. The CLI prints the message without a
traceback unless ``--debug`` is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: every record synced
EXIT_OK = 0
#: the run finished but some records failed
EXIT_RECORD_FAILURES = 1
#: a sync failed as a whole, or the command was used wrongly / input was bad
EXIT_ERROR = 2
#: a selected sync did not run because another dbt-sync run holds its lock (nothing failed)
EXIT_LOCKED = 3


class DbtSyncError(Exception):
    """Base class for errors reported to the user as a clear message."""

    exit_code = EXIT_ERROR


class ConfigError(DbtSyncError):
    """``dbt_sync.yml`` is missing, unreadable or invalid."""


class ProjectError(DbtSyncError):
    """The dbt project or its artifacts (manifest, run results) cannot be used."""


class SelectionError(DbtSyncError):
    """A ``--select`` / ``--exclude`` expression is invalid."""


class PlanError(DbtSyncError):
    """The syncs cannot be ordered, e.g. because of a dependency cycle."""


class ProfileError(DbtSyncError):
    """dbt's profile cannot be used: the profiles directory, ``profiles.yml``,
    the profile or target named, or an environment variable it needs."""


class WarehouseError(DbtSyncError):
    """The warehouse cannot be opened: the server refuses the connection, or
    another process holds the DuckDB database file."""


class UnreachableError(DbtSyncError):
    """A destination's login or API URL cannot be reached from this machine
    (DNS, refused connection, no route, proxy, timeout)."""


class FileError(DbtSyncError):
    """A file or folder dbt-sync reads or writes cannot be used (permissions,
    disk full, a missing or read-only directory)."""


class PortInUseError(DbtSyncError):
    """A local port dbt-sync was asked to listen on (``dbt-sync sandbox``) is taken by another process."""


@dataclass(frozen=True)
class Problem:
    """One problem found while validating specs, located precisely."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class SpecError(DbtSyncError):
    """One or more sync specs are invalid; carries every problem at once."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        lines = [f"{len(self.problems)} problem(s) in dbt-sync specs:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


def yaml_problem(exc: Exception) -> str:
    """A YAML parse error on one line: ``line L, column C: problem`` (PyYAML's marks are 0-based).

    PyYAML's own text spans several lines (the context, the problem, a caret
    under the source), which does not fit a one-line error.
    """
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return one_line(f"{where}{problem}" + (f" ({context})" if context else ""))


def one_line(text: str) -> str:
    """``text`` on one line: dbt's multi-line messages (a title line such as
    "Runtime Error", then indented lines and ``- item`` lists) joined with
    spaces and commas."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].endswith(" Error") and len(lines[0].split()) <= 3:
        lines = lines[1:]  # dbt's "Runtime Error" / "Parsing Error" / "Database Error" title
    out = ""
    for line in lines:
        if line.startswith("- ") and out:
            out += (", " if not out.endswith(":") else " ") + line[2:].strip()
        else:
            out += (" " if out else "") + line
    return out


def classify(exc: BaseException) -> DbtSyncError | None:
    """The user-facing error for a configuration or environment problem
    raised by dbt, a database driver, the network or the file system; None
    when ``exc`` looks like a bug (the CLI then reports an internal error).

    The places that know which file or setting is at fault (the warehouse
    loader, the destinations) raise precise errors themselves; this is the
    safety net for the rest.
    """
    if isinstance(exc, DbtSyncError):
        return exc
    names = {klass.__name__ for klass in type(exc).__mro__}
    message = one_line(getattr(exc, "msg", None) or str(exc))
    if "EnvVarMissingError" in names:
        return ProfileError(f"{message}. Set it, or give env_var() a default in the file that reads it.")
    if names & {"DbtProfileError"}:
        return ProfileError(f"profiles.yml: {message}")
    if names & {"DbtProjectError", "DbtConfigError", "ParsingError", "DbtValidationError"}:
        return ProjectError(f"dbt cannot load the project: {message}")
    if "CompilationError" in names and message.startswith("dbt_sync:"):
        return ProjectError(message)  # raised on purpose by the package's macros, about the user's project
    if "FailedToConnectError" in names:  # other database errors are SQL dbt-sync sent: a bug, said as one
        return WarehouseError(f"cannot connect to the warehouse: {message}")
    if type(exc).__module__.startswith(("duckdb", "_duckdb")) and "lock" in message.lower():
        return WarehouseError(f"the DuckDB database file is in use by another process: {message}")
    code = getattr(exc, "code", None)
    if "TransientError" in names and code in ("LOGIN_UNREACHABLE", "CONNECTION_ERROR", "TIMEOUT"):
        return UnreachableError(message)
    if "DestinationError" in names:
        return DbtSyncError(message)
    if isinstance(exc, OSError) and exc.filename:
        return FileError(f"{exc.filename}: {exc.strerror or message}")
    return None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A ' Did you mean X?' suffix when ``word`` looks like a typo of a candidate."""
    import difflib

    pool = sorted(set(candidates))
    close = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in pool}
        if word.lower() in lowered:
            close = [lowered[word.lower()]]
    return f" Did you mean '{close[0]}'?" if close else ""
