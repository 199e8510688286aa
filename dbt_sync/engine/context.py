"""What one run shares between its scheduler, its syncs' lifecycles and their send pipelines."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from dbt_sync.engine.cancel import Cancellation
from dbt_sync.engine.connections import Connections
from dbt_sync.engine.events import RunEvents
from dbt_sync.engine.locks import DEFAULT_STALE_SECONDS, HEARTBEAT_SECONDS, SyncLock
from dbt_sync.engine.progress import Progress
from dbt_sync.engine.retry import RetryPolicy
from dbt_sync.plan import Plan
from dbt_sync.spec import SyncSpec
from dbt_sync.telemetry import DISABLED, Telemetry
from dbt_sync.warehouse import Warehouse

#: changeset rows read from the warehouse per page
DEFAULT_PAGE_SIZE = 5000


@dataclass
class RunOptions:
    threads: int = 4
    full_refresh: bool = False
    dry_run: bool = False
    allow_mass_delete: bool = False
    recapture: bool = False
    page_size: int = DEFAULT_PAGE_SIZE
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    lock_wait_seconds: float = 0.0
    lock_stale_seconds: float = DEFAULT_STALE_SECONDS
    #: seconds between two heartbeats of a held lock; lock_stale_seconds must be at least 3 of them
    lock_heartbeat_seconds: float = HEARTBEAT_SECONDS
    #: False: record failures alone do not fail the run (``RunResult.exit_code_for``)
    record_failures_fatal: bool = True


@dataclass
class RunContext:
    """One run's shared state; every field is safe to use from the syncs' threads.

    ``holder``: this run's lock holder name (see engine/locks.py).
    ``captured``: models captured in this run (a capture covers every sync
    of the model, so it runs once per model per run, under
    :meth:`model_lock`). ``unreleased``: locks whose release failed (the
    warehouse was away), tried again at the end of the run.
    """

    plan: Plan
    warehouse: Warehouse
    all_specs: Sequence[SyncSpec]
    options: RunOptions
    run_id: str
    invocation_id: str | None
    progress: Progress
    #: the run's event hub (progress is one of its listeners); see engine/events.py
    events: RunEvents
    cancellation: Cancellation
    connections: Connections
    holder: str
    guard: threading.Lock = field(default_factory=threading.Lock)
    captured: set[str] = field(default_factory=set)
    unreleased: list[SyncLock] = field(default_factory=list)
    _model_locks: dict[str, threading.Lock] = field(default_factory=dict)
    #: OpenTelemetry spans and metrics of the run (dbt_sync/telemetry.py); off unless configured
    telemetry: Telemetry = DISABLED

    def model_lock(self, model_unique_id: str) -> threading.Lock:
        """The lock serialising this run's captures and column checks of one model."""
        with self.guard:
            return self._model_locks.setdefault(model_unique_id, threading.Lock())


class SyncAborted(Exception):
    """A sync stops as a whole, with a code for the audit table."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class SyncCancelled(Exception):
    """The run was cancelled (SIGTERM/SIGINT) while this sync was sending."""
