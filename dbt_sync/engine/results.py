"""What a run did, per sync and per operation, in one shape for every reader.

The terminal summary, ``--json``, ``target/dbt_sync_results.json`` and the
Python API (``dbt_sync.run``) all read these objects, so the numbers an
orchestrator sees are the numbers a person sees.
"""

from __future__ import annotations

import enum
import json
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from dbt_sync.clock import utcnow_iso
from dbt_sync.errors import EXIT_ERROR, EXIT_LOCKED, EXIT_OK, EXIT_RECORD_FAILURES
from dbt_sync.secrets import redact, redact_obj
from dbt_sync.version import __version__

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:  # pragma: no cover - Python 3.10

    class StrEnum(str, enum.Enum):
        """``enum.StrEnum`` of Python 3.11: members are their string values."""

        def __str__(self) -> str:
            return str(self.value)


class SyncStatus(StrEnum):
    """A sync's status: in ``SyncResult.status``, ``--json``, the results file and ``dbt_sync_runs.status``.

    Members are strings equal to their values, so the audit tables and JSON
    hold the same words as before (``"success"``, ``"partial"``, ...).
    """

    SUCCESS = "success"
    #: ran, some records failed
    PARTIAL = "partial"
    #: failed as a whole
    ERROR = "error"
    SKIPPED = "skipped"
    DRY_RUN = "dry_run"
    #: stopped by SIGTERM/SIGINT; what the destination confirmed is recorded
    CANCELLED = "cancelled"
    #: ``dbt_sync_runs`` only: the sync is being run (its row is written when it starts)
    RUNNING = "running"
    #: ``dbt_sync_runs`` only: a row a dead run left ``running``, closed by the next run of the sync
    ABANDONED = "abandoned"


SUCCESS = SyncStatus.SUCCESS
PARTIAL = SyncStatus.PARTIAL
ERROR = SyncStatus.ERROR
SKIPPED = SyncStatus.SKIPPED
DRY_RUN = SyncStatus.DRY_RUN
CANCELLED = SyncStatus.CANCELLED


class SkipCause(StrEnum):
    """Why a sync with status ``skipped`` did not run (``SyncResult.skip_cause``).

    None of these is a failure of the sync: a skipped sync's health and
    alerts are left as they were.
    """

    #: left out by the plan: disabled, or its model was not built by the latest dbt invocation
    PLAN = "plan"
    #: a sync it depends on failed as a whole
    UPSTREAM_FAILED = "upstream_failed"
    #: a sync it depends on was skipped for one of these causes
    UPSTREAM_SKIPPED = "upstream_skipped"
    #: a sync it depends on had failed records and it sets block_on_upstream_failures
    UPSTREAM_RECORD_FAILURES = "upstream_record_failures"
    #: another dbt-sync run holds the sync's lock (it is running there)
    LOCKED = "locked"
    #: the run was cancelled (SIGTERM/SIGINT) before the sync started
    CANCELLED = "cancelled"


@dataclass
class OperationCounts:
    attempted: int = 0
    succeeded: int = 0
    failed: int = 0


@dataclass
class SyncResult:
    name: str
    model: str
    destination: str
    object: str
    mode: str
    status: SyncStatus = SyncStatus.SUCCESS
    planned: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    failed: int = 0
    skipped: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    duration_seconds: float = 0.0
    message: str | None = None
    #: with status ``skipped``: why (data, not the message's wording)
    skip_cause: SkipCause | None = None
    error_codes: dict[str, int] = field(default_factory=dict)
    error_samples: dict[str, str] = field(default_factory=dict)
    operations: dict[str, OperationCounts] = field(default_factory=dict)
    api_usage: dict[str, Any] = field(default_factory=dict)
    retries: int = 0
    failures_sql: str | None = None
    #: with --dry-run, a few of the records that would be sent (masked as in the failures table)
    samples: list[dict[str, Any]] = field(default_factory=list)

    def count_error(self, code: str, message: str) -> None:
        self.error_codes[code] = self.error_codes.get(code, 0) + 1
        self.error_samples.setdefault(code, redact(message)[:500])

    def op(self, name: str) -> OperationCounts:
        return self.operations.setdefault(name, OperationCounts())

    @property
    def attempted(self) -> int:
        return sum(c.attempted for c in self.operations.values())

    @property
    def succeeded(self) -> int:
        return sum(c.succeeded for c in self.operations.values())

    def top_errors(self, n: int = 3) -> list[tuple[str, int]]:
        return Counter(self.error_codes).most_common(n)

    def summary_line(self) -> str:
        """The one line a person reads when the sync ends (redacted)."""
        line = (
            f"{self.status.upper():8} {self.name}: created {self.created}, updated {self.updated}, "
            f"deleted {self.deleted}, failed {self.failed} in {self.duration_seconds:.1f}s"
        )
        if self.message:
            line += f" ({self.message})"
        return redact(line)

    def to_dict(self) -> dict[str, Any]:
        """This sync as the results file's ``syncs[]`` entry holds it (not redacted: the caller redacts)."""
        return {**asdict(self), "attempted": self.attempted, "succeeded": self.succeeded}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SyncResult:
        """A sync's result read back from one entry of :meth:`RunResult.to_dict`'s ``syncs``.

        Keys that are not fields (``attempted``, ``succeeded``: computed) are
        ignored, missing ones take their defaults; ``status`` and
        ``skip_cause`` become their enums (``ValueError`` for a value that is
        not a member).
        """
        names = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in names}
        values["status"] = SyncStatus(values.get("status", SyncStatus.SUCCESS))
        cause = values.get("skip_cause")
        values["skip_cause"] = SkipCause(cause) if cause is not None else None
        values["operations"] = {
            name: OperationCounts(**counts) for name, counts in (values.get("operations") or {}).items()
        }
        return cls(**values)


@dataclass
class RunResult:
    run_id: str
    started_at: str
    finished_at: str | None = None
    invocation_id: str | None = None
    target: str | None = None
    dry_run: bool = False
    syncs: list[SyncResult] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    #: the run was cancelled; ``cancelled_by`` is the signal's number, when a signal did it
    cancelled: bool = False
    cancelled_by: int | None = None
    #: where :meth:`write` put these results (None when not written)
    results_path: Path | None = None
    #: problems that did not change what was synced (e.g. the results file could not be written)
    warnings: list[str] = field(default_factory=list)
    #: False: record failures alone do not fail the run (see :meth:`exit_code_for`)
    record_failures_fatal: bool = True

    @property
    def exit_code(self) -> int:
        """The exit code of this run: :meth:`exit_code_for` with :attr:`record_failures_fatal`."""
        return self.exit_code_for(self.record_failures_fatal)

    def exit_code_for(self, record_failures_fatal: bool = True) -> int:
        """The exit code of this run, by the one rule the CLI, the Python API and the orchestrator
        integrations share.

        Highest first: ``128 + signal`` when the run was cancelled (130 SIGINT, 143
        SIGTERM); ``2`` when a sync failed as a whole (dbt's "could not run");
        ``3`` when a selected sync was not run because another run holds it;
        ``1`` when some records failed (dbt's "a node failed": the run completed
        and each failure is in ``dbt_sync_failures``); else ``0``.

        ``record_failures_fatal=False`` makes record failures alone exit ``0``
        (``dbt-sync run --warn-on-record-failures``, ``DBT_SYNC_WARN_ON_RECORD_FAILURES``;
        what Hightouch's Airflow provider calls ``error_on_warning=False``): they
        are still printed, written to the results and recorded in the audit tables,
        and every other code is unchanged, so a sync that failed as a whole stays
        fatal. Returns an int in {0, 1, 2, 3} or 128 + a signal number.
        """
        if self.cancelled:
            return 128 + (self.cancelled_by if self.cancelled_by is not None else 2)
        if any(s.status == ERROR for s in self.syncs):
            return EXIT_ERROR
        if any(s.skip_cause is SkipCause.LOCKED for s in self.syncs):
            return EXIT_LOCKED
        if any(s.failed for s in self.syncs):
            return EXIT_RECORD_FAILURES if record_failures_fatal else EXIT_OK
        return EXIT_OK

    @property
    def cancelled_by_name(self) -> str | None:
        """``SIGTERM`` / ``SIGINT`` when a signal cancelled the run."""
        import signal

        return signal.Signals(self.cancelled_by).name if self.cancelled_by is not None else None

    def sync(self, name: str) -> SyncResult:
        for result in self.syncs:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "metadata": {
                "dbt_sync_version": __version__,
                "generated_at": utcnow_iso("auto"),
                "run_id": self.run_id,
                "dbt_invocation_id": self.invocation_id,
                "target": self.target,
                "dry_run": self.dry_run,
                "record_failures_fatal": self.record_failures_fatal,
            },
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "exit_code": self.exit_code,
            #: null, or how the run was cancelled: "SIGTERM", "SIGINT" or "cancelled"
            "cancelled": (self.cancelled_by_name or "cancelled") if self.cancelled else None,
            "totals": {
                key: sum(getattr(s, key) for s in self.syncs)
                for key in ("planned", "created", "updated", "deleted", "failed", "skipped")
            },
            "syncs": [s.to_dict() for s in self.syncs],
            "alerts": self.alerts,
            #: problems that did not change what was synced (a lifecycle webhook that refused an event, ...)
            "warnings": list(self.warnings),
        }
        redacted: dict[str, Any] = redact_obj(data)
        return redacted

    def write(self, path: Path) -> None:
        """Write :meth:`to_dict` as JSON to ``path`` atomically (a temporary file, then a rename).

        Raises ``OSError`` (unwritable folder, disk full); ``path`` is then left as it was.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        try:
            tmp.write_text(json.dumps(self.to_dict(), indent=2, default=str), encoding="utf-8")
            tmp.replace(path)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        self.results_path = path
