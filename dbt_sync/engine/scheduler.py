"""Running a plan: stage by stage, syncs of a stage side by side (as dbt's scheduler runs its graph).

For each sync: take a per-sync lock in the warehouse, claim the captured
changeset (or capture it now), read it in pages, map rows to records, send
them in batches, and commit each batch's outcomes: confirmed records
advance the state, failed ones go to the failures table and stay in the
next changeset. A sync that fails as a whole (authentication, destination
down, delete guard) is recorded as such, and the syncs depending on it are
skipped with the reason, its cause recorded as a
:class:`~dbt_sync.engine.results.SkipCause`.

The parts: :class:`Engine` (this module) schedules stages and threads and
propagates skips; :class:`~dbt_sync.engine.lifecycle.SyncLifecycle` runs one
sync from lock to run row; :class:`~dbt_sync.engine.pipeline.SendPipeline`
sends its changeset and commits the outcomes. They share a
:class:`~dbt_sync.engine.context.RunContext`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from dbt_sync.backoff import tries
from dbt_sync.clock import utcnow_iso
from dbt_sync.destinations.base import Destination
from dbt_sync.engine import inflight
from dbt_sync.engine.cancel import Cancellation
from dbt_sync.engine.connections import Connections
from dbt_sync.engine.context import RunContext, RunOptions
from dbt_sync.engine.events import RunEvents, RunListener, RunStarted
from dbt_sync.engine.lifecycle import SyncLifecycle, result_for
from dbt_sync.engine.locks import holder_name
from dbt_sync.engine.progress import Progress
from dbt_sync.engine.results import CANCELLED, ERROR, SKIPPED, RunResult, SkipCause, SyncResult
from dbt_sync.plan import Plan
from dbt_sync.project.config import SyncConfig
from dbt_sync.spec import SyncSpec
from dbt_sync.telemetry import DISABLED, Telemetry
from dbt_sync.warehouse import Warehouse

log = logging.getLogger("dbt_sync.engine")

#: skips of an upstream sync that skip its dependants too
_BLOCKING_SKIPS = (SkipCause.UPSTREAM_FAILED, SkipCause.UPSTREAM_SKIPPED, SkipCause.UPSTREAM_RECORD_FAILURES)


@dataclass
class Engine:
    """Runs a plan's stages in order, the syncs of a stage in ``options.threads`` threads.

    ``destination_factory`` (optional) builds destinations by name instead
    of the destination registry (tests pass in-memory ones). ``progress``
    and ``listeners`` receive the run's events through :attr:`events` (see
    engine/events.py); :meth:`execute` calls every event but
    ``run_finished``, which its caller calls once the result is complete
    (``dbt_sync.api.run`` does, after alerts and the results file).
    """

    plan: Plan
    warehouse: Warehouse
    config: SyncConfig
    all_specs: Sequence[SyncSpec]
    options: RunOptions = field(default_factory=RunOptions)
    invocation_id: str | None = None
    target: str | None = None
    progress: Progress = field(default_factory=Progress.auto)
    listeners: Sequence[RunListener] = ()
    destination_factory: Callable[[str], Destination] | None = None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    #: set it (e.g. from a signal handler, see engine/cancel.py) to stop the run cleanly
    cancellation: Cancellation = field(default_factory=Cancellation)
    #: OpenTelemetry spans and metrics (dbt_sync/telemetry.py: ``telemetry.start``); off by default
    telemetry: Telemetry = DISABLED

    def __post_init__(self) -> None:
        self.events = RunEvents([self.progress, *self.listeners], self.run_id)
        self.connections = Connections(self.config, self.destination_factory)
        self.context = RunContext(
            plan=self.plan,
            warehouse=self.warehouse,
            all_specs=self.all_specs,
            options=self.options,
            run_id=self.run_id,
            invocation_id=self.invocation_id,
            progress=self.progress,
            events=self.events,
            cancellation=self.cancellation,
            connections=self.connections,
            holder=holder_name(self.run_id),
            telemetry=self.telemetry,
        )
        self.lifecycle = SyncLifecycle(self.context)
        #: locks whose release failed (the warehouse was away): tried again at the end of the run
        self._unreleased = self.context.unreleased

    # -- the run ---------------------------------------------------------------

    def execute(self) -> RunResult:
        with self.telemetry.run(self.run_id, self.invocation_id, self.target, self.options.dry_run) as traced:
            result = self._execute()
            traced.finish_run(result)
        return result

    def _execute(self) -> RunResult:
        result = RunResult(
            run_id=self.run_id,
            started_at=utcnow_iso(),
            invocation_id=self.invocation_id,
            target=self.target,
            dry_run=self.options.dry_run,
            record_failures_fatal=self.options.record_failures_fatal,
        )
        self.events.run_started(
            RunStarted(
                run_id=self.run_id,
                started_at=result.started_at,
                invocation_id=self.invocation_id,
                target=self.target,
                dry_run=self.options.dry_run,
                syncs=tuple(spec.name for stage in self.plan.stages for spec in stage),
                skipped=tuple(skipped.sync.name for skipped in self.plan.skipped),
                record_failures_fatal=self.options.record_failures_fatal,
            )
        )
        for skipped in self.plan.skipped:
            result.syncs.append(result_for(skipped.sync, SKIPPED, skipped.reason, SkipCause.PLAN))
            self.events.sync_finished(result.syncs[-1])
        outcomes: dict[str, SyncResult] = {}
        try:
            if not self.options.dry_run:
                self.warehouse.ensure_tables()
                if self.options.full_refresh:
                    # resend everything (each model captured once, afresh), keeping which record each key is
                    for spec in self.plan.syncs:
                        self.warehouse.sync(spec.name).full_refresh()
                        if inflight.tracks(spec):
                            self.warehouse.sync(spec.name).forget_in_flight()
            for stage in self.plan.stages:
                runnable: list[SyncSpec] = []
                for spec in stage:
                    blocked = self._blocked_by_upstream(spec, outcomes)
                    if self.cancellation.cancelled:
                        blocked = SkipCause.CANCELLED, f"not started: {self.cancellation.describe()}"
                    if blocked:
                        cause, reason = blocked
                        outcomes[spec.name] = result_for(spec, SKIPPED, reason, cause)
                        self.events.sync_finished(outcomes[spec.name])
                    else:
                        runnable.append(spec)
                workers = max(1, min(self.options.threads, len(runnable)))
                with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dbt-sync") as pool:
                    for spec, res in zip(runnable, pool.map(self.run_sync, runnable), strict=True):
                        outcomes[spec.name] = res
                for spec in stage:
                    result.syncs.append(outcomes[spec.name])
        finally:
            self.connections.close()
            self._release_leftover_locks()
            self.events.close()
        result.finished_at = utcnow_iso()
        result.cancelled_by = self.cancellation.signal if self.cancellation.cancelled else None
        result.cancelled = self.cancellation.cancelled
        return result

    def _blocked_by_upstream(self, spec: SyncSpec, done: Mapping[str, SyncResult]) -> tuple[SkipCause, str] | None:
        return upstream_block(spec.block_on_upstream_failures, self.plan.upstream_of(spec.name), done)

    def run_sync(self, spec: SyncSpec) -> SyncResult:
        """Run one sync (see :class:`~dbt_sync.engine.lifecycle.SyncLifecycle`)."""
        return self.lifecycle.run_sync(spec)

    def _release_leftover_locks(self, attempts: int = 5, first_wait: float = 1.0) -> None:
        """Release the locks a lost warehouse kept us from releasing, waiting a little for it to come back.

        What is still held after that is taken over at once by the next run on
        this machine (its holder is gone), elsewhere after --lock-stale-seconds.
        """
        for _ in tries(attempts, first_wait):
            for lock in list(self._unreleased):
                try:
                    self.warehouse.reconnect_if_lost()
                    lock.release()
                    self._unreleased.remove(lock)
                except Exception:
                    continue
            if not self._unreleased:
                return
        for lock in self._unreleased:
            lock.forget()
            log.error(
                "could not release the lock of sync %s: the warehouse cannot be reached. The next run on this "
                "machine takes it over at once, a run elsewhere after --lock-stale-seconds.",
                lock.sync_name,
            )


def upstream_block(
    block_on_upstream_failures: bool, upstream: Sequence[str], done: Mapping[str, SyncResult]
) -> tuple[SkipCause, str] | None:
    """Why a sync must be skipped because of the syncs it needs, or None when it may run.

    ``upstream``: every sync it needs (``Plan.upstream_of``), in order;
    ``done``: the results of those that ran (one not in it is passed over).
    A sync is skipped when one it needs failed as a whole, was cancelled, was
    held by another run or was itself skipped for one of these causes, or had failed records
    and ``block_on_upstream_failures`` is set. The engine applies it between
    stages; ``dbt_sync.airflow`` between tasks.
    """
    for name in upstream:
        res = done.get(name)
        if res is None:
            continue
        if res.status == ERROR:
            return SkipCause.UPSTREAM_FAILED, f"upstream sync {name} failed: {res.message}"
        if res.status == CANCELLED:
            return SkipCause.CANCELLED, f"not started: upstream sync {name} was cancelled"
        if res.status == SKIPPED and res.skip_cause is SkipCause.LOCKED:
            return SkipCause.UPSTREAM_SKIPPED, f"upstream sync {name} is being run by another dbt-sync run"
        if res.status == SKIPPED and res.skip_cause in _BLOCKING_SKIPS:
            return SkipCause.UPSTREAM_SKIPPED, f"upstream sync {name} was skipped"
        if block_on_upstream_failures and res.failed:
            return (
                SkipCause.UPSTREAM_RECORD_FAILURES,
                f"upstream sync {name} had {res.failed} failed record(s) (block_on_upstream_failures)",
            )
    return None
