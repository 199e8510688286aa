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
