"""Running a plan: stage by stage, syncs of a stage side by side.

For each sync: take a per-sync lock in the warehouse, claim the captured
changeset (or capture it now), read it in pages, map rows to records, send
them in batches, and commit each batch's outcomes: confirmed records
advance the state, failed ones go to the failures table and stay in the
next changeset. A sync that fails as a whole (authentication, destination
down, delete guard) is recorded as such, and the syncs depending on it are
skipped with the reason.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from dbt_sync import masking
from dbt_sync.config import SyncConfig
from dbt_sync.destinations import metering, open_destination
from dbt_sync.destinations.base import Destination, DestinationError, Operation, RecordOutcome, TransientError
from dbt_sync.engine import identity, inflight
from dbt_sync.engine.cancel import Cancellation
from dbt_sync.engine.committer import Committer
from dbt_sync.engine.locks import DEFAULT_STALE_SECONDS, HEARTBEAT_SECONDS, LockHeld, LockLost, SyncLock, holder_name
from dbt_sync.engine.mapping import SETTLE_OPS, Change, failure_payload, scrub, to_change
from dbt_sync.engine.pacing import paced
from dbt_sync.engine.progress import Progress
from dbt_sync.engine.results import (
    CANCELLED,
    DRY_RUN,
    ERROR,
    PARTIAL,
    SKIPPED,
    SUCCESS,
    RunResult,
    SkipCause,
    SyncResult,
)
from dbt_sync.engine.retry import RetryPolicy
from dbt_sync.engine.sender import UNKNOWN_OUTCOME, Sender
from dbt_sync.errors import did_you_mean
from dbt_sync.plan import Plan
from dbt_sync.secrets import redact
from dbt_sync.spec import SyncSpec
from dbt_sync.warehouse import FailureRow, Warehouse

log = logging.getLogger("dbt_sync.engine")

DEFAULT_CHUNK_SIZE = 5000
#: records shown per sync by --dry-run
DRY_RUN_SAMPLES = 3
#: batches of one sync in flight at once; the destination's pacer still bounds its requests
SEND_WINDOW = 2


class SyncAborted(Exception):
    """A sync stops as a whole, with a code for the audit table."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class SyncCancelled(Exception):
    """The run was cancelled (SIGTERM/SIGINT) while this sync was sending."""


@dataclass
class RunOptions:
    threads: int = 4
    full_refresh: bool = False
    dry_run: bool = False
    allow_mass_delete: bool = False
    recapture: bool = False
    chunk_size: int = DEFAULT_CHUNK_SIZE
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    lock_wait_seconds: float = 0.0
    lock_stale_seconds: float = DEFAULT_STALE_SECONDS
    #: seconds between two heartbeats of a held lock; lock_stale_seconds must be at least 3 of them
    lock_heartbeat_seconds: float = HEARTBEAT_SECONDS


@dataclass
class Engine:
    plan: Plan
    warehouse: Warehouse
    config: SyncConfig
    all_specs: Sequence[SyncSpec]
    options: RunOptions = field(default_factory=RunOptions)
    invocation_id: str | None = None
    target: str | None = None
    progress: Progress = field(default_factory=Progress.auto)
    destination_factory: Callable[[str], Destination] | None = None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    #: set it (e.g. from a signal handler, see engine/cancel.py) to stop the run cleanly
    cancellation: Cancellation = field(default_factory=Cancellation)

    def __post_init__(self) -> None:
        self._destinations: dict[str, Destination] = {}
        self._destination_errors: dict[str, DestinationError] = {}
        self._holder = holder_name(self.run_id)
        self._model_locks: dict[str, threading.Lock] = {}
        self._destination_locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._captured: set[str] = set()
        #: locks whose release failed (the warehouse was away): tried again at the end of the run
        self._unreleased: list[SyncLock] = []

    def _model_lock(self, model_unique_id: str) -> threading.Lock:
        with self._guard:
            return self._model_locks.setdefault(model_unique_id, threading.Lock())

    # -- the run ---------------------------------------------------------------

    def execute(self) -> RunResult:
        result = RunResult(
            run_id=self.run_id,
            started_at=_now_iso(),
            invocation_id=self.invocation_id,
            target=self.target,
            dry_run=self.options.dry_run,
        )
        for skipped in self.plan.skipped:
            result.syncs.append(_result_for(skipped.sync, SKIPPED, skipped.reason, SkipCause.PLAN))
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
                        outcomes[spec.name] = _result_for(spec, SKIPPED, reason, cause)
                    else:
                        runnable.append(spec)
                workers = max(1, min(self.options.threads, len(runnable)))
                with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dbt-sync") as pool:
                    for spec, res in zip(runnable, pool.map(self.run_sync, runnable), strict=True):
                        outcomes[spec.name] = res
                for spec in stage:
                    result.syncs.append(outcomes[spec.name])
        finally:
            for destination in self._destinations.values():
                destination.close()
            self._release_leftover_locks()
            self.progress.close()
        result.finished_at = _now_iso()
        result.cancelled_by = self.cancellation.signal if self.cancellation.cancelled else None
        result.cancelled = self.cancellation.cancelled
        return result

    def _blocked_by_upstream(self, spec: SyncSpec, done: Mapping[str, SyncResult]) -> tuple[SkipCause, str] | None:
        for upstream in self.plan.upstream_of(spec.name):
            res = done.get(upstream)
            if res is None:
                continue
            if res.status == ERROR:
                return SkipCause.UPSTREAM_FAILED, f"upstream sync {upstream} failed: {res.message}"
            if res.status == SKIPPED and res.skip_cause is SkipCause.LOCKED:
                return SkipCause.UPSTREAM_SKIPPED, f"upstream sync {upstream} is being run by another dbt-sync run"
            if res.status == SKIPPED and res.skip_cause in _BLOCKING_SKIPS:
                return SkipCause.UPSTREAM_SKIPPED, f"upstream sync {upstream} was skipped"
            if spec.block_on_upstream_failures and res.failed:
                return (
                    SkipCause.UPSTREAM_RECORD_FAILURES,
                    f"upstream sync {upstream} had {res.failed} failed record(s) (block_on_upstream_failures)",
                )
        return None

    # -- one sync --------------------------------------------------------------

    def run_sync(self, spec: SyncSpec) -> SyncResult:
        """Run one sync; its API usage is counted on its own meter (see destinations/metering.py)."""
        meter = metering.Meter()
        with metering.metering(meter):
            result = self._run_sync(spec, meter)
        return result

    def _run_sync(self, spec: SyncSpec, meter: metering.Meter) -> SyncResult:
        result = _result_for(spec, SUCCESS)
        started = time.monotonic()
        result.started_at = _now_iso()
        result.failures_sql = self.failures_sql(spec.name)
        lock: SyncLock | None = None
        run_row = False
        try:
            if self.cancellation.cancelled:
                result.status = SKIPPED
                result.skip_cause = SkipCause.CANCELLED
                result.message = f"not started: {self.cancellation.describe()}"
                return result
            if not self.options.dry_run:
                lock = SyncLock(
                    self.warehouse,
                    spec.name,
                    self._holder,
                    self.options.lock_stale_seconds,
                    self.options.lock_heartbeat_seconds,
                )
                lock.acquire(wait_seconds=self.options.lock_wait_seconds)
                abandoned = self.warehouse.sync(spec.name).abandon_runs(self.run_id)
                if abandoned:
                    log.warning("sync %s: closed %d run row(s) left running by a dead run as abandoned",
                                spec.name, abandoned)
            destination = self._destination(spec.destination)
            self._check_columns(spec)
            counts = self._claim(spec)
            # rows to send: those an earlier, interrupted run already synced are not counted
            upper_bound = sum(counts.values())
            self._guard_deletes(spec, counts)
            if not self.options.dry_run:
                self.warehouse.sync(spec.name).start_run(
                    self.run_id,
                    invocation_id=self.invocation_id,
                    model=spec.model_name,
                    destination=spec.destination,
                    object=spec.object,
                    mode=spec.mode,
                    planned=upper_bound,
                )
                run_row = True
            self._push(spec, destination, result, lock, upper_bound)
            result.status = DRY_RUN if self.options.dry_run else (PARTIAL if result.failed else SUCCESS)
        except LockHeld as exc:  # not a failure: the sync is running elsewhere; health and alerts stay as they are
            result.status = SKIPPED
            result.skip_cause = SkipCause.LOCKED
            result.message = str(exc)
        except SyncCancelled:
            result.status = CANCELLED
            result.message = (
                f"{self.cancellation.describe()}: it stopped sending; what the destination confirmed is recorded, "
                "the rest is in the next run's changeset"
            )
        except LockLost as exc:
            result.status = ERROR
            result.message = str(exc)
            result.count_error("LOCK_LOST", str(exc))
        except (DestinationError, SyncAborted) as exc:
            result.status = ERROR
            result.message = redact(str(exc))
            result.count_error(getattr(exc, "code", "SYNC_FAILED"), str(exc))
        except Exception as exc:  # a sync failing must not take the others down
            result.status = ERROR
            lost = self._warehouse_lost()
            if lost is not None:
                result.message = redact(
                    f"the warehouse connection was lost during sync {spec.name} ({lost}); what was committed "
                    f"before stays, the next run resumes from there. Last error: {type(exc).__name__}: {exc}"
                )
                result.count_error("WAREHOUSE_UNAVAILABLE", result.message)
                log.debug("sync %s: lost the warehouse", spec.name, exc_info=True)
            else:
                log.error("sync %s failed: %s: %s (--debug shows the traceback)", spec.name, type(exc).__name__,
                          redact(str(exc)))
                log.debug("sync %s failed", spec.name, exc_info=True)
                result.message = redact(f"{type(exc).__name__}: {exc}")
                result.count_error("INTERNAL_ERROR", result.message)
        finally:
            result.duration_seconds = round(time.monotonic() - started, 3)
            result.finished_at = _now_iso()
            destination_obj = self._destinations.get(spec.destination)
            if destination_obj is not None:
                result.api_usage = _usage_dict(destination_obj, meter, result.retries)
            if run_row:
                self._finish_run_row(spec, result)
            if lock is not None:
                try:
                    lock.release()
                except Exception as exc:  # the warehouse is away: tried again at the end of the run
                    log.warning("could not release the lock of sync %s yet: %s", spec.name, redact(str(exc)))
                    with self._guard:
                        self._unreleased.append(lock)
            self.progress.finish(spec.name, result)
        return result

    def _release_leftover_locks(self, attempts: int = 5, first_wait: float = 1.0) -> None:
        """Release the locks a lost warehouse kept us from releasing, waiting a little for it to come back.

        What is still held after that is taken over at once by the next run on
        this machine (its holder is gone), elsewhere after --lock-stale-seconds.
        """
        wait = first_wait
        for attempt in range(attempts):
            if not self._unreleased:
                return
            if attempt:
                time.sleep(wait)
                wait *= 2
            for lock in list(self._unreleased):
                try:
                    self.warehouse.reconnect_if_lost()
                    lock.release()
                    self._unreleased.remove(lock)
                except Exception:
                    continue
        for lock in self._unreleased:
            lock.forget()
            log.error(
                "could not release the lock of sync %s: the warehouse cannot be reached. The next run on this "
                "machine takes it over at once, a run elsewhere after --lock-stale-seconds.",
                lock.sync_name,
            )

    def _warehouse_lost(self) -> str | None:
        """After an unexpected error: a description if the warehouse connection was lost, else None."""
        try:
            return "reconnected" if self.warehouse.reconnect_if_lost() else None
        except Exception as exc:
            return f"it cannot be reached: {type(exc).__name__}: {exc}"

    def _finish_run_row(self, spec: SyncSpec, result: SyncResult) -> None:
        try:
            self.warehouse.sync(spec.name).finish_run(
                self.run_id,
                result.status,
                planned=result.planned,
                created=result.created,
                updated=result.updated,
                deleted=result.deleted,
                failed=result.failed,
                skipped=result.skipped,
                error_message=result.message,
            )
        except Exception as exc:  # the warehouse went away: say so, keep the result
            log.error("could not record the end of sync %s: %s", spec.name, redact(str(exc)))

    def _destination(self, name: str) -> Destination:
        """The run's one connection to destination ``name``, opened on first use.

        Syncs of a stage run in threads: opening is guarded per destination,
        so however many syncs ask at once there is one login and one rate
        limiter (pacer) per destination account in a run.
        """
        with self._guard:
            lock = self._destination_locks.setdefault(name, threading.Lock())
        with lock:
            if name in self._destination_errors:
                raise self._destination_errors[name]
            if name not in self._destinations:
                try:
                    if self.destination_factory is not None:
                        dest = self.destination_factory(name)
                    else:
                        dest = open_destination(self.config.destination(name))
                    self._destinations[name] = paced(dest)
                except DestinationError as exc:
                    self._destination_errors[name] = exc
                    raise
            return self._destinations[name]

    def _claim(self, spec: SyncSpec) -> dict[str, int]:
        """This run's changeset: the post-hook's capture, or one computed now.

        Capturing now happens when asked (--recapture, --full-refresh) or when
        there is no capture newer than the last run's (the model was built
        without the hook, or not rebuilt since: a sync planned for its open
        failures, or for records whose link a dependant found gone). A
        capture covers every sync of the model, so it runs once per model per
        run, under a per-model lock.
        """
        wh = self.warehouse
        if self.options.dry_run:  # read in place: claim nothing, capture nothing
            return wh.sync(spec.name).peek(spec.model_unique_id, capture=self.options.recapture,
                                           fresh=self.options.full_refresh)
        if self.options.recapture or not wh.sync(spec.name).has_capture():
            with self._model_lock(spec.model_unique_id):
                if spec.model_unique_id not in self._captured:
                    wh.capture(spec.model_unique_id)
                    self._captured.add(spec.model_unique_id)
        return wh.sync(spec.name).claim()

    def _check_columns(self, spec: SyncSpec) -> None:
        """For models without documented columns, check the spec against the built relation."""
        model = self.plan.manifest.models.get(spec.model_unique_id)
        if model is None or model.columns:
            return  # documented columns were checked when the spec was loaded
        names = list(dict.fromkeys((*spec.primary_key, *spec.sent_columns)))
        with self._model_lock(spec.model_unique_id):
            found = self.warehouse.resolve_columns(spec.model_unique_id, names)
        if found is None:
            raise SyncAborted(
                "MODEL_NOT_BUILT", f"{spec.location}: model {spec.model_name} has not been built (run dbt first)."
            )
        if found.missing:
            hints = "".join(did_you_mean(c, found.columns) for c in found.missing)
            raise SyncAborted(
                "UNKNOWN_COLUMN",
                f"{spec.location}: column(s) {', '.join(found.missing)} do not exist in model {spec.model_name}."
                f"{hints} Columns: {', '.join(found.columns)}.",
            )

    def _guard_deletes(self, spec: SyncSpec, counts: Mapping[str, int]) -> None:
        deletes = counts.get("delete", 0)
        if spec.mode != "mirror" or not deletes or self.options.allow_mass_delete:
            return
        synced = self.warehouse.sync(spec.name).state_count()
        share = deletes / synced if synced else 1.0
        if share > spec.delete_threshold:
            raise SyncAborted(
                "DELETE_GUARD",
                f"sync {spec.name} would delete {deletes} of its {synced} records ({share:.0%}), more than its "
                f"delete_threshold of {spec.delete_threshold:.0%}. If the model really lost those rows, run again "
                "with --allow-mass-delete; otherwise check the model's build.",
            )

    def _push(
        self, spec: SyncSpec, destination: Destination, result: SyncResult, lock: SyncLock | None, expected: int
    ) -> None:
        options = dict(spec.options)
        sender = Sender(
            destination,
            spec.object,
            spec.match,
            options,
            policy=self.options.retry_policy,
            resend_unanswered=not inflight.applies(spec),
        )
        self.progress.start(spec.name, expected)
        unsettled: set[str] = set()
        if inflight.tracks(spec) and not self.options.dry_run:
            # creates a dead run (or an unknown answer) left unconfirmed: settled before anything else
            unsettled = self.warehouse.sync(spec.name).left_in_flight(self.run_id)
        # creates without a match key go one batch at a time, committed inline: the least left in doubt
        careful = inflight.applies(spec)
        window = 1 if careful else SEND_WINDOW
        ctx = _SyncContext(spec, destination, sender, result, window, unsettled, lock)
        try:
            with (
                Committer(spec.name, background=not careful) as committer,
                ThreadPoolExecutor(max_workers=window, thread_name_prefix=f"dbt-sync-send-{spec.name}") as senders,
            ):
                ctx.committer, ctx.senders = committer, senders
                deletes: list[Change] = []
                for page in self.warehouse.sync(spec.name).pages(self.options.chunk_size):
                    self._check_continue(lock)
                    result.planned += len(page)
                    masking.register(
                        v for row in page for v in masking.masked_values(spec.failure_payload.mask, row)
                    )
                    target_ids = self._association_targets(spec, page)
                    changes = [to_change(spec, row, target_ids) for row in page]
                    # mirror deletes wait until every current row of this run has its destination id
                    deletes.extend(c for c in changes if c.operation is Operation.DELETE and c.invalid is None)
                    self._handle_page(ctx, [c for c in changes if c.operation is not Operation.DELETE or c.invalid])
                if deletes or ctx.conflicted:
                    self._check_continue(lock)
                    self._handle_deletes(ctx, deletes)
        finally:
            result.retries = sender.stats.retries

    def _handle_page(self, ctx: _SyncContext, changes: list[Change]) -> None:
        """Send a page's changes and hand their outcomes to the committer, in order.

        A row with a destination id is updated by that id (the match key only
        finds a record the first time). Up to ``window`` batches are in
        flight at once, so the next batch's requests are built and sent while
        the previous one waits on the network; outcomes are still accounted
        and committed in the order the batches were sent.
        """
        spec, result = ctx.spec, ctx.result
        acc = _Outcomes()
        by_op: dict[Operation, list[Change]] = defaultdict(list)
        settle: list[Change] = []
        for change in changes:
            if change.invalid is not None:
                code, message = change.invalid
                acc.failures.append(self._failure(spec, change, code, message, ()))
                result.failed += 1
                result.count_error(code, message)
            elif change.operation is Operation.CREATE and change.key in ctx.unsettled:
                if spec.match:
                    settle.append(change)  # found by its match key, or created
                else:
                    # a dead run may have created it: never create it twice (see engine/inflight.py)
                    message = inflight.in_doubt_message(spec.name, change.key)
                    acc.failures.append(self._failure(spec, change, inflight.IN_DOUBT, message, (), "create"))
                    result.failed += 1
                    result.count_error(inflight.IN_DOUBT, message)
            elif change.operation is None:
                # nothing to send for this op under this mode (an edit in create mode, a settled failure)
                result.skipped += 1
                if change.op in SETTLE_OPS:
                    # closed explicitly: a failed delete stays open while its state row exists
                    acc.resolved.append(change.key)
                if change.op != "delete" and change.op != "gone" and change.record is not None:
                    acc.successes.append((change.key, change.row_hash, change.record.destination_id))
            elif (
                change.operation is Operation.UPSERT and change.record is not None and change.record.destination_id
            ):
                by_op[Operation.UPDATE].append(change)  # known record: by its id, whatever its match value now
            else:
                by_op[change.operation].append(change)

        if settle and not self.options.dry_run:
            by_op[Operation.CREATE].extend(self._settle_unconfirmed(ctx, settle, acc))
        if not self.options.dry_run:
            # a crash before these outcomes are committed must not leave the old hash looking confirmed
            self.warehouse.sync(spec.name).unsettle(
                [c.key for op in (Operation.UPDATE, Operation.UPSERT) for c in by_op[op] if c.op == "update"]
            )
        self._send_ops(ctx, by_op, acc)

    def _handle_deletes(self, ctx: _SyncContext, deletes: list[Change]) -> None:
        """Mirror deletes, once every current row's destination id is committed.

        A CRM record that a current row maps to (a re-keyed row found it by
        its match key) is never deleted: only the old key's link goes.
        """
        spec, result = ctx.spec, ctx.result
        if ctx.committer is not None:
            ctx.committer.drain()
        doomed = {c.key for c in deletes}
        ids = [c.record.destination_id for c in deletes if c.record is not None and c.record.destination_id]
        holders = self.warehouse.sync(spec.name).holders(ids) if ids else {}
        acc = _Outcomes()
        send: list[Change] = []
        for change in deletes:
            dest = change.record.destination_id if change.record is not None else None
            if dest and any(key not in doomed for key in holders.get(str(dest), ())):
                result.skipped += 1
                acc.deletions.append(change.key)
            else:
                send.append(change)
        self._send_ops(ctx, {Operation.DELETE: send} if send else {}, acc)
        # a write that met a unique value held by a record deleted just now (a key another row left) goes again
        conflicted, ctx.conflicted = ctx.conflicted, {}
        if send and not self.options.dry_run:
            self._send_ops(ctx, {op: [c for c, _ in pairs] for op, pairs in conflicted.items()}, _Outcomes())
        else:
            for op, pairs in conflicted.items():
                self._account(spec, op, [c for c, _ in pairs], [o for _, o in pairs], result, acc)
            if acc.any() and not self.options.dry_run and ctx.committer is not None:
                ctx.committer.submit(functools.partial(self._commit, spec, *acc.take()))

    def _send_ops(self, ctx: _SyncContext, by_op: Mapping[Operation, list[Change]], acc: _Outcomes) -> None:
        spec, result = ctx.spec, ctx.result
        committer, senders = ctx.committer, ctx.senders
        assert committer is not None and senders is not None
        for operation in sorted((op for op in by_op if by_op[op]), key=_operation_order):
            batch_size = self._batch_size(spec, ctx.destination, operation)
            pending = by_op[operation]
            in_flight: deque[_InFlight] = deque()
            for i in range(0, len(pending), batch_size):
                batch = pending[i : i + batch_size]
                if self.options.dry_run:
                    result.op(operation.value).attempted += len(batch)
                    for change in batch[: max(0, DRY_RUN_SAMPLES - len(result.samples))]:
                        result.samples.append(
                            {"operation": operation.value, "key": change.key, **failure_payload(spec, change.payload)}
                        )
                    self.progress.advance(spec.name, len(batch))
                    continue
                committer.raise_if_failed()  # nothing more goes out after a failed commit
                if ctx.sender.down is not None:
                    self._stop_sending(ctx, operation, in_flight, acc)
                if self.cancellation.cancelled or (ctx.lock is not None and ctx.lock.lost):
                    # what is with the CRM already is waited for and committed; nothing new goes out
                    while in_flight:
                        self._finish(ctx, operation, in_flight.popleft(), acc)
                    if acc.any():
                        committer.submit(functools.partial(self._commit, spec, *acc.take()))
                    self._check_continue(ctx.lock)
                records = [c.record for c in batch if c.record is not None]
                batch_id = None
                if operation is Operation.CREATE and inflight.tracks(spec):
                    batch_id = self.warehouse.sync(spec.name).mark_in_flight(self.run_id, [c.key for c in batch])
                in_flight.append(
                    _InFlight(batch, metering.submit(senders, ctx.sender.send, operation, records), batch_id)
                )
                if len(in_flight) >= ctx.window:
                    self._finish(ctx, operation, in_flight.popleft(), acc)
            while in_flight:
                self._finish(ctx, operation, in_flight.popleft(), acc)
            if ctx.sender.down is not None:
                self._stop_sending(ctx, operation, in_flight, acc)
        if not self.options.dry_run and acc.any():
            committer.submit(functools.partial(self._commit, spec, *acc.take()))

    def _finish(self, ctx: _SyncContext, operation: Operation, sent: _InFlight, acc: _Outcomes) -> None:
        """Account one sent batch and queue its commit (with anything gathered before it)."""
        outcomes = self._repair(ctx, operation, sent.batch, sent.future.result())
        self._account(ctx.spec, operation, sent.batch, outcomes, ctx.result, acc)
        # creates whose outcome is still unknown stay in flight: the next run settles them first
        keep = [o.key for o in outcomes if o.error_code in (inflight.IN_DOUBT, UNKNOWN_OUTCOME)]
        assert ctx.committer is not None
        ctx.committer.submit(functools.partial(self._commit, ctx.spec, *acc.take(), sent.inflight_batch, keep))
        self.progress.advance(ctx.spec.name, len(sent.batch))

    def _repair(
        self, ctx: _SyncContext, operation: Operation, batch: Sequence[Change], outcomes: Sequence[RecordOutcome]
    ) -> list[RecordOutcome]:
        """Answers that change which CRM record a row is, handled in the same run.

        * a stored id the CRM no longer knows: written again without it (found
          by the match key, or created);
        * a delete of a record that is already gone: done;
        * a create that met its own record (match key): the record is adopted;
        * a create whose outcome is unknown: looked up by the match key; if not
          found it stays unconfirmed (in flight) and the next run settles it first.
        """
        spec = ctx.spec
        out = list(outcomes)
        if spec.mode == "mirror" and operation in (Operation.UPDATE, Operation.UPSERT):
            for i, (change, outcome) in enumerate(zip(batch, out, strict=True)):
                if identity.is_duplicate(outcome) and change.key not in ctx.retried:
                    # the value may belong to a record this run's deletes remove: decided after them
                    ctx.conflicted.setdefault(operation, []).append((change, outcome))
                    ctx.retried.add(change.key)
                    out[i] = dataclasses.replace(outcome, unsent=True)
        if operation is Operation.DELETE:
            return [RecordOutcome.ok(o.key, o.destination_id) if identity.is_gone(o) else o for o in out]
        if operation is Operation.UPDATE:
            relink = [
                i for i, (c, o) in enumerate(zip(batch, out, strict=True))
                if c.record is not None and c.record.destination_id and identity.is_gone(o)
            ]
            retry_op = Operation.UPSERT if spec.mode in ("upsert", "mirror") else Operation.UPDATE
            if relink and (retry_op is Operation.UPSERT or spec.match):
                records = [
                    dataclasses.replace(record, destination_id=None)
                    for i in relink if (record := batch[i].record) is not None
                ]
                for i, outcome in zip(relink, ctx.sender.send(retry_op, records), strict=True):
                    out[i] = outcome
            return out
        if operation is Operation.CREATE and spec.match:
            doubtful = [i for i, o in enumerate(out) if identity.is_duplicate(o) or o.error_code == UNKNOWN_OUTCOME]
            if doubtful:
                found = self._find(ctx, [batch[i] for i in doubtful])
                for i in doubtful:
                    key = batch[i].key
                    if key in found:
                        out[i] = RecordOutcome.ok(key, found[key], created=out[i].error_code == UNKNOWN_OUTCOME)
        return out

    def _settle_unconfirmed(self, ctx: _SyncContext, changes: list[Change], acc: _Outcomes) -> list[Change]:
        """Creates left unconfirmed (match key): the ones found are adopted; the rest are to be created."""
        found = self._find(ctx, changes)
        rest = []
        for change in changes:
            if change.key in found:
                acc.successes.append((change.key, change.row_hash, found[change.key]))
                ctx.result.created += 1
            else:
                rest.append(change)
        return rest

    def _find(self, ctx: _SyncContext, changes: Sequence[Change]) -> dict[str, str]:
        finder = getattr(ctx.destination, "find", None)
        records = [c.record for c in changes if c.record is not None]
        if finder is None or not records:
            return {}
        try:
            return dict(finder(ctx.spec.object, ctx.spec.match, records))
        except (TransientError, DestinationError) as exc:
            log.warning("sync %s: looking records up by %s failed: %s", ctx.spec.name, ctx.spec.match, redact(str(exc)))
            return {}

    def _check_continue(self, lock: SyncLock | None) -> None:
        """Raise if this sync must stop sending: the run was cancelled, or another run took its lock."""
        if self.cancellation.cancelled:
            raise SyncCancelled()
        if lock is not None:
            lock.check()

    def _stop_sending(
        self, ctx: _SyncContext, operation: Operation, in_flight: deque[_InFlight], acc: _Outcomes
    ) -> None:
        """The destination stayed down past the retry budget: commit what it confirmed, then stop the sync.

        Records it never answered are not failures: they stay in the pending
        changeset and the next run sends them.
        """
        spec, sender, committer = ctx.spec, ctx.sender, ctx.committer
        assert committer is not None
        while in_flight:
            self._finish(ctx, operation, in_flight.popleft(), acc)
        if acc.any():
            committer.submit(functools.partial(self._commit, spec, *acc.take()))
        down = sender.down
        assert down is not None
        budget = self.options.retry_policy.budget_seconds
        if down.rate_limited:
            code = "RATE_LIMITED"
            what = f"destination {spec.destination} kept rate limiting past the retry budget ({budget:g} s)"
        else:
            code = "DESTINATION_UNAVAILABLE"
            what = f"destination {spec.destination} did not answer within the retry budget ({budget:g} s)"
        raise SyncAborted(
            code,
            f"{what}: {redact(str(down.last))}. The sync stopped; the records it confirmed are recorded, the "
            "others stay in the changeset for the next run.",
        )

    def _commit(
        self,
        spec: SyncSpec,
        successes: Sequence[tuple[str, str | None, str | None]],
        deletions: Sequence[str],
        failures: Sequence[FailureRow],
        resolved: Sequence[str] = (),
        gone_targets: Sequence[tuple[str, str]] = (),
        inflight_batch: str | None = None,
        keep_in_flight: Sequence[str] = (),
    ) -> None:
        """Commit a batch's outcomes (the warehouse repeats it on a new connection if ours dropped).

        The batch is already in the destination: losing its outcomes would
        resend it next run (harmless for upserts; creates are in flight and
        settled first, or reported in doubt).
        """
        self.warehouse.sync(spec.name).commit(self.run_id, successes, deletions, failures, resolved)
        if gone_targets:
            self._drop_gone_links(spec, gone_targets)
        if inflight_batch is not None:
            self.warehouse.sync(spec.name).clear_in_flight(inflight_batch, keep=keep_in_flight)

    def _drop_gone_links(self, spec: SyncSpec, targets: Sequence[tuple[str, str]]) -> None:
        """Records a dependant found gone in the CRM: drop their state rows, so their syncs write them again."""
        for target in self.all_specs:
            if target.destination != spec.destination:
                continue
            ids = [dest for obj, dest in targets if obj.lower() == target.object.lower()]
            if not ids:
                continue
            for dest, keys in self.warehouse.sync(target.name).holders(ids).items():
                failures = [
                    FailureRow(
                        record_key=key,
                        operation="update",
                        error_code=identity.RECORD_GONE,
                        error_message=identity.gone_message(target.name, key, target.object, dest),
                    )
                    for key in sorted(keys)
                ]
                self.warehouse.sync(target.name).commit(self.run_id, (), sorted(keys), failures)

    def _account(
        self,
        spec: SyncSpec,
        operation: Operation,
        batch: Sequence[Change],
        outcomes: Sequence[RecordOutcome],
        result: SyncResult,
        acc: _Outcomes,
    ) -> None:
        counts = result.op(operation.value)
        for change, outcome in zip(batch, outcomes, strict=True):
            if outcome.unsent:  # the destination never answered: left for the next run, not a failure
                continue
            counts.attempted += 1
            if outcome.success:
                counts.succeeded += 1
                if operation is Operation.DELETE:
                    acc.deletions.append(change.key)
                    result.deleted += 1
                    continue
                previous = change.record.destination_id if change.record else None
                acc.successes.append((change.key, change.row_hash, outcome.destination_id or previous))
                if outcome.created or (outcome.created is None and operation is Operation.CREATE):
                    result.created += 1
                else:
                    result.updated += 1
            else:
                counts.failed += 1
                code = outcome.error_code or "UNKNOWN_ERROR"
                message = scrub(spec, change.payload, redact(outcome.message or ""))
                acc.gone_targets.extend(outcome.missing_targets)
                if code == inflight.IN_DOUBT:
                    message = inflight.in_doubt_message(
                        spec.name, change.key, "was sent in a create request that timed out (" + message + ")"
                    )
                result.failed += 1
                result.count_error(code, message)
                acc.failures.append(self._failure(spec, change, code, message, outcome.fields, operation.value))

    def _failure(
        self,
        spec: SyncSpec,
        change: Change,
        code: str,
        message: str,
        fields: Sequence[str],
        operation: str | None = None,
    ) -> FailureRow:
        return FailureRow(
            record_key=change.key,
            operation=operation or change.op,
            error_code=code,
            error_message=scrub(spec, change.payload, redact(message)),
            error_fields=[scrub(spec, change.payload, str(f)) for f in fields],
            payload=failure_payload(spec, change.payload) if change.payload else None,
        )

    def _batch_size(self, spec: SyncSpec, destination: Destination, operation: Operation) -> int:
        limit = destination.max_batch_size(operation, spec.options)
        return max(1, min(spec.batch_size or limit, limit))

    def _association_targets(self, spec: SyncSpec, page: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], str]:
        """HubSpot ids of association targets written by other syncs, read from their state."""
        out: dict[tuple[str, str], str] = {}
        for assoc in spec.associations:
            values = {str(v) for row in page if (v := _column(row, assoc.column)) is not None}
            if not values:
                continue
            for target in self.all_specs:
                if target.destination == spec.destination and target.object.lower() == assoc.to.lower():
                    known = self.warehouse.sync(target.name).destination_ids(sorted(values))
                    for key, dest_id in known.items():
                        if dest_id:
                            out.setdefault((assoc.to.lower(), key), dest_id)
        return out

    def failures_sql(self, sync_name: str) -> str:
        """The SQL listing the failures this run recorded for ``sync_name`` (for the summary)."""
        return self.warehouse.sync(sync_name).failures_sql(self.run_id)


def _column(row: Mapping[str, Any], column: str) -> Any:
    if column in row:
        return row[column]
    lowered = column.lower()
    return next((v for k, v in row.items() if k.lower() == lowered), None)


def _operation_order(op: Operation) -> int:
    # deletes last: a record that moved keys is written before its old key is removed
    return {Operation.CREATE: 0, Operation.UPSERT: 0, Operation.UPDATE: 1, Operation.DELETE: 2}[op]


#: skips of an upstream sync that skip its dependants too
_BLOCKING_SKIPS = (SkipCause.UPSTREAM_FAILED, SkipCause.UPSTREAM_SKIPPED, SkipCause.UPSTREAM_RECORD_FAILURES)


def _result_for(
    spec: SyncSpec, status: str, message: str | None = None, skip_cause: SkipCause | None = None
) -> SyncResult:
    return SyncResult(
        name=spec.name,
        model=spec.model_name,
        destination=spec.destination,
        object=spec.object,
        mode=spec.mode,
        status=status,
        message=message,
        skip_cause=skip_cause,
    )


#: per-sync counters reported in ``api_usage`` (0 when the sync made no such call)
_METERED = ("requests", "rate_limited", "reauthentications", "oauth_refreshes", "bulk_jobs")


def _usage_dict(destination: Destination, meter: metering.Meter, retries: int) -> dict[str, Any]:
    """One sync's API usage: its own requests, 429s, retries, re-logins and Bulk jobs.

    ``limit_used``/``limit_max`` and ``rate_limit_*`` are the account's
    figures as the destination last reported them (shared by every sync of
    the account), not this sync's.
    """
    data: dict[str, Any] = {name: meter.get(name) for name in _METERED}
    data["retries"] = retries
    try:
        usage = destination.usage()
    except Exception:
        return data
    data["limit_used"] = usage.limit_used
    data["limit_max"] = usage.limit_max
    data.update(
        {
            k: v
            for k, v in usage.extra.items()
            if k not in data and isinstance(v, (int, float, str, type(None)))
        }
    )
    return data


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class _InFlight:
    """A batch handed to a send thread, with its in-flight marker (creates without a match key)."""

    batch: list[Change]
    future: Future[list[RecordOutcome]]
    inflight_batch: str | None


@dataclass
class _Outcomes:
    """What the next commit will write: confirmed records, deletions, failures, closed failures
    (rows that left the model) and linked records a dependant found gone."""

    successes: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    deletions: list[str] = field(default_factory=list)
    failures: list[FailureRow] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    gone_targets: list[tuple[str, str]] = field(default_factory=list)

    def any(self) -> bool:
        return bool(self.successes or self.deletions or self.failures or self.resolved or self.gone_targets)

    def take(
        self,
    ) -> tuple[
        list[tuple[str, str | None, str | None]], list[str], list[FailureRow], list[str], list[tuple[str, str]]
    ]:
        taken = (self.successes, self.deletions, self.failures, self.resolved, self.gone_targets)
        self.successes, self.deletions, self.failures, self.resolved, self.gone_targets = [], [], [], [], []
        return taken


@dataclass
class _SyncContext:
    """What every page and batch of one sync's run shares."""

    spec: SyncSpec
    destination: Destination
    sender: Sender
    result: SyncResult
    window: int
    unsettled: set[str]
    lock: SyncLock | None = None
    committer: Committer | None = None
    senders: ThreadPoolExecutor | None = None
    #: mirror writes that met a unique value held by another record: tried again after the deletes
    conflicted: dict[Operation, list[tuple[Change, RecordOutcome]]] = field(default_factory=dict)
    retried: set[str] = field(default_factory=set)
