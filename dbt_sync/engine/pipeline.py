"""The send pipeline of one sync: pages of changes in, batches out, outcomes committed in order.

A page of the changeset is mapped to :class:`~dbt_sync.engine.mapping.Change`
values, grouped by operation and cut into batches; up to ``SEND_WINDOW``
batches are in flight at once (:class:`SentBatch`), each answered with one
:class:`~dbt_sync.destinations.base.RecordOutcome` per record. Outcomes are
accounted into a :class:`PendingCommit` (confirmed records as
:class:`~dbt_sync.warehouse.Confirmed`, deletions, failures) that the
:class:`~dbt_sync.engine.committer.Committer` writes, batch by batch, in the
order the batches were sent. :class:`SendState` is what every page and batch
of one sync shares.
"""

from __future__ import annotations

import logging
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from dbt_sync import masking
from dbt_sync.destinations import metering
from dbt_sync.destinations.base import (
    Associations,
    Destination,
    Operation,
    RecordOutcome,
)
from dbt_sync.engine import identity, inflight
from dbt_sync.engine.committer import Committer
from dbt_sync.engine.context import RunContext, SyncAborted, SyncCancelled
from dbt_sync.engine.locks import SyncLock
from dbt_sync.engine.mapping import SETTLE_OPS, Change, failure_payload, scrub, to_change
from dbt_sync.engine.results import SyncResult
from dbt_sync.engine.sender import UNKNOWN_OUTCOME, Sender
from dbt_sync.secrets import redact
from dbt_sync.spec import SyncSpec
from dbt_sync.warehouse import Confirmed, FailureRow

log = logging.getLogger("dbt_sync.engine")

#: records shown per sync by --dry-run
DRY_RUN_SAMPLES = 3
#: batches of one sync in flight at once; the destination's pacer still bounds its requests
SEND_WINDOW = 2


@dataclass
class SentBatch:
    """A batch handed to a send thread, with its in-flight marker (creates without a match key)."""

    batch: list[Change]
    future: Future[list[RecordOutcome]]
    inflight_batch: str | None


@dataclass
class PendingCommit:
    """What the next commit will write: confirmed records, deletions, failures, closed failures
    (rows that left the model) and linked records a dependant found gone, as ``(object, id)``."""

    successes: list[Confirmed] = field(default_factory=list)
    deletions: list[str] = field(default_factory=list)
    failures: list[FailureRow] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    gone_targets: list[tuple[str, str]] = field(default_factory=list)

    def any(self) -> bool:
        return bool(self.successes or self.deletions or self.failures or self.resolved or self.gone_targets)

    def take(self) -> tuple[list[Confirmed], list[str], list[FailureRow], list[str], list[tuple[str, str]]]:
        """Everything gathered so far, in :meth:`SendPipeline.commit`'s argument order; empties this."""
        taken = (self.successes, self.deletions, self.failures, self.resolved, self.gone_targets)
        self.successes, self.deletions, self.failures, self.resolved, self.gone_targets = [], [], [], [], []
        return taken

    def account(
        self,
        spec: SyncSpec,
        operation: Operation,
        batch: Sequence[Change],
        outcomes: Sequence[RecordOutcome],
        result: SyncResult,
    ) -> None:
        """Count one answered batch in ``result`` and gather what its commit writes.

        Records the destination never answered (``unsent``) are left for the
        next run: neither counted nor failed.
        """
        counts = result.op(operation.value)
        for change, outcome in zip(batch, outcomes, strict=True):
            if outcome.unsent:  # the destination never answered: left for the next run, not a failure
                continue
            counts.attempted += 1
            if outcome.success:
                counts.succeeded += 1
                if operation is Operation.DELETE:
                    self.deletions.append(change.key)
                    result.deleted += 1
                    continue
                previous = change.record.destination_id if change.record else None
                self.successes.append(Confirmed(change.key, change.row_hash, outcome.destination_id or previous))
                if outcome.created or (outcome.created is None and operation is Operation.CREATE):
                    result.created += 1
                else:
                    result.updated += 1
            else:
                counts.failed += 1
                code = outcome.error_code or "UNKNOWN_ERROR"
                message = scrub(spec, change.payload, redact(outcome.message or ""))
                self.gone_targets.extend(outcome.missing_targets)
                if code == inflight.IN_DOUBT:
                    message = inflight.in_doubt_message(
                        spec.name, change.key, "was sent in a create request that timed out (" + message + ")"
                    )
                result.failed += 1
                result.count_error(code, message)
                self.failures.append(failure_row(spec, change, code, message, outcome.fields, operation.value))


#: records one merged commit writes at most (a Bulk batch's 5,000 never merges with another)
MERGE_LIMIT = 5_000


@dataclass
class BatchCommit:
    """One batch's outcomes for the :class:`Committer`, which may merge it into the commit before it.

    Two commits merge (one transaction, same statements) only when neither
    settles in-flight creates or drops links to records gone from the CRM,
    they belong to the same sync, their records are all different (so the
    merged commit writes exactly what the two would, one after the other)
    and together they hold at most ``MERGE_LIMIT`` records.
    """

    pipeline: SendPipeline
    spec: SyncSpec
    successes: list[Confirmed]
    deletions: list[str]
    failures: list[FailureRow]
    resolved: list[str]
    gone_targets: list[tuple[str, str]]
    inflight_batch: str | None = None
    keep_in_flight: Sequence[str] = ()

    def __call__(self) -> None:
        self.pipeline._commit(self.spec, self.successes, self.deletions, self.failures, self.resolved,
                              self.gone_targets, self.inflight_batch, self.keep_in_flight)

    def _keys(self) -> set[str]:
        keys = {s.record_key for s in self.successes}
        keys.update(self.deletions, self.resolved)
        keys.update(f.record_key for f in self.failures if f.record_key is not None)
        return keys

    def _size(self) -> int:
        return len(self.successes) + len(self.deletions) + len(self.failures) + len(self.resolved)

    def absorb(self, later: object) -> bool:
        """Take ``later``'s outcomes into this commit if the two may merge (see the class); True if taken."""
        if (
            not isinstance(later, BatchCommit)
            or later.spec is not self.spec
            or self.inflight_batch is not None
            or later.inflight_batch is not None
            or self.gone_targets
            or later.gone_targets
            or self._size() + later._size() > MERGE_LIMIT
            or not self._keys().isdisjoint(later._keys())
        ):
            return False
        self.successes += later.successes
        self.deletions += later.deletions
        self.failures += later.failures
        self.resolved += later.resolved
        return True


@dataclass
class SendState:
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


class SendPipeline:
    """Sends the changesets of one run's syncs (one pipeline per run, one :class:`SendState` per sync)."""

    def __init__(self, run: RunContext) -> None:
        self.warehouse = run.warehouse
        self.options = run.options
        self.run_id = run.run_id
        self.events = run.events
        self.cancellation = run.cancellation
        self.all_specs = run.all_specs
        self.telemetry = run.telemetry

    def push(
        self, spec: SyncSpec, destination: Destination, result: SyncResult, lock: SyncLock | None, expected: int
    ) -> None:
        """Send the claimed changeset of ``spec`` page by page and commit every batch's outcomes, in order.

        Counts go into ``result``; ``expected`` (rows to send) sizes the
        progress line. Raises :class:`SyncCancelled` when the run is
        cancelled, :class:`SyncAborted` when the destination stays down past
        the retry budget, and ``LockLost`` when another run took the lock;
        what was confirmed before is committed first.
        """
        options = dict(spec.options)
        sender = Sender(
            destination,
            spec.object,
            spec.match,
            options,
            policy=self.options.retry_policy,
            resend_unanswered=not inflight.applies(spec),
        )
        self.events.sending(spec.name, expected)
        unsettled: set[str] = set()
        if inflight.tracks(spec) and not self.options.dry_run:
            # creates a dead run (or an unknown answer) left unconfirmed: settled before anything else
            unsettled = self.warehouse.sync(spec.name).left_in_flight(self.run_id)
        # creates without a match key go one batch at a time, committed inline: the least left in doubt
        careful = inflight.applies(spec)
        window = 1 if careful else SEND_WINDOW
        ctx = SendState(spec, destination, sender, result, window, unsettled, lock)
        try:
            with (
                Committer(spec.name, background=not careful) as committer,
                ThreadPoolExecutor(max_workers=window, thread_name_prefix=f"dbt-sync-send-{spec.name}") as senders,
            ):
                ctx.committer, ctx.senders = committer, senders
                deletes: list[Change] = []
                for page in self.warehouse.sync(spec.name).pages(self.options.page_size):
                    self._check_continue(lock)
                    result.planned += len(page)
                    masking.register(
                        v for row in page for v in masking.masked_values(spec.failure_payload.mask, row)
                    )
                    target_ids = self._association_targets(spec, destination, page)
                    changes = [to_change(spec, row, target_ids) for row in page]
                    # mirror deletes wait until every current row of this run has its destination id
                    deletes.extend(c for c in changes if c.operation is Operation.DELETE and c.invalid is None)
                    self._handle_page(ctx, [c for c in changes if c.operation is not Operation.DELETE or c.invalid])
                if deletes or ctx.conflicted:
                    self._check_continue(lock)
                    self._handle_deletes(ctx, deletes)
        finally:
            result.retries = sender.stats.retries

    def _handle_page(self, ctx: SendState, changes: list[Change]) -> None:
        """Send a page's changes and hand their outcomes to the committer, in order.

        A row with a destination id is updated by that id (the match key only
        finds a record the first time). Up to ``window`` batches are in
        flight at once, so the next batch's requests are built and sent while
        the previous one waits on the network; outcomes are still accounted
        and committed in the order the batches were sent.
        """
        spec, result = ctx.spec, ctx.result
        acc = PendingCommit()
        by_op: dict[Operation, list[Change]] = defaultdict(list)
        settle: list[Change] = []
        for change in changes:
            if change.invalid is not None:
                code, message = change.invalid
                acc.failures.append(failure_row(spec, change, code, message, ()))
                result.failed += 1
                result.count_error(code, message)
            elif change.operation is Operation.CREATE and change.key in ctx.unsettled:
                if spec.match:
                    settle.append(change)  # found by its match key, or created
                else:
                    # a dead run may have created it: never create it twice (see engine/inflight.py)
                    message = inflight.in_doubt_message(spec.name, change.key)
                    acc.failures.append(failure_row(spec, change, inflight.IN_DOUBT, message, (), "create"))
                    result.failed += 1
                    result.count_error(inflight.IN_DOUBT, message)
            elif change.operation is None:
                # nothing to send for this op under this mode (an edit in create mode, a settled failure)
                result.skipped += 1
                if change.op in SETTLE_OPS:
                    # closed explicitly: a failed delete stays open while its state row exists
                    acc.resolved.append(change.key)
                if change.op != "delete" and change.op != "gone" and change.record is not None:
                    acc.successes.append(Confirmed(change.key, change.row_hash, change.record.destination_id))
            elif (
                change.operation is Operation.UPSERT and change.record is not None and change.record.destination_id
            ):
                by_op[Operation.UPDATE].append(change)  # known record: by its id, whatever its match value now
            else:
                by_op[change.operation].append(change)

        if settle and not self.options.dry_run:
            by_op[Operation.CREATE].extend(identity.settle_unconfirmed(ctx, settle, acc))
        if not self.options.dry_run:
            # a crash before these outcomes are committed must not leave the old hash looking confirmed
            self.warehouse.sync(spec.name).unsettle(
                [c.key for op in (Operation.UPDATE, Operation.UPSERT) for c in by_op[op] if c.op == "update"]
            )
        self._send_ops(ctx, by_op, acc)

    def _handle_deletes(self, ctx: SendState, deletes: list[Change]) -> None:
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
        acc = PendingCommit()
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
            self._send_ops(ctx, {op: [c for c, _ in pairs] for op, pairs in conflicted.items()}, PendingCommit())
        else:
            for op, pairs in conflicted.items():
                acc.account(spec, op, [c for c, _ in pairs], [o for _, o in pairs], result)
            if acc.any() and not self.options.dry_run and ctx.committer is not None:
                ctx.committer.submit(BatchCommit(self, spec, *acc.take()))

    def _send_ops(self, ctx: SendState, by_op: Mapping[Operation, list[Change]], acc: PendingCommit) -> None:
        spec, result = ctx.spec, ctx.result
        committer, senders = ctx.committer, ctx.senders
        assert committer is not None and senders is not None
        for operation in sorted((op for op in by_op if by_op[op]), key=_operation_order):
            batch_size = self._batch_size(spec, ctx.destination, operation)
            pending = by_op[operation]
            send = self.telemetry.batch_sender(spec, operation, ctx.sender.send)  # one span per batch
            in_flight: deque[SentBatch] = deque()
            for i in range(0, len(pending), batch_size):
                batch = pending[i : i + batch_size]
                if self.options.dry_run:
                    result.op(operation.value).attempted += len(batch)
                    for change in batch[: max(0, DRY_RUN_SAMPLES - len(result.samples))]:
                        result.samples.append(
                            {"operation": operation.value, "key": change.key, **failure_payload(spec, change.payload)}
                        )
                    self.events.advance(spec.name, len(batch))
                    continue
                committer.raise_if_failed()  # nothing more goes out after a failed commit
                if ctx.sender.down is not None:
                    self._stop_sending(ctx, operation, in_flight, acc)
                if self.cancellation.cancelled or (ctx.lock is not None and ctx.lock.lost):
                    # what is with the CRM already is waited for and committed; nothing new goes out
                    while in_flight:
                        self._finish(ctx, operation, in_flight.popleft(), acc)
                    if acc.any():
                        committer.submit(BatchCommit(self, spec, *acc.take()))
                    self._check_continue(ctx.lock)
                records = [c.record for c in batch if c.record is not None]
                batch_id = None
                if operation is Operation.CREATE and inflight.tracks(spec):
                    batch_id = self.warehouse.sync(spec.name).mark_in_flight(self.run_id, [c.key for c in batch])
                in_flight.append(
                    SentBatch(batch, metering.submit(senders, send, operation, records), batch_id)
                )
                if len(in_flight) >= ctx.window:
                    self._finish(ctx, operation, in_flight.popleft(), acc)
            while in_flight:
                self._finish(ctx, operation, in_flight.popleft(), acc)
            if ctx.sender.down is not None:
                self._stop_sending(ctx, operation, in_flight, acc)
        if not self.options.dry_run and acc.any():
            committer.submit(BatchCommit(self, spec, *acc.take()))

    def _finish(self, ctx: SendState, operation: Operation, sent: SentBatch, acc: PendingCommit) -> None:
        """Account one sent batch and queue its commit (with anything gathered before it)."""
        outcomes = identity.repair(ctx, operation, sent.batch, sent.future.result())
        acc.account(ctx.spec, operation, sent.batch, outcomes, ctx.result)
        # creates whose outcome is still unknown stay in flight: the next run settles them first
        keep = [o.key for o in outcomes if o.error_code in (inflight.IN_DOUBT, UNKNOWN_OUTCOME)]
        assert ctx.committer is not None
        ctx.committer.submit(BatchCommit(self, ctx.spec, *acc.take(), sent.inflight_batch, keep))
        self.events.advance(ctx.spec.name, len(sent.batch))

    def _check_continue(self, lock: SyncLock | None) -> None:
        """Raise if this sync must stop sending: the run was cancelled, or another run took its lock."""
        if self.cancellation.cancelled:
            raise SyncCancelled()
        if lock is not None:
            lock.check()

    def _stop_sending(
        self, ctx: SendState, operation: Operation, in_flight: deque[SentBatch], acc: PendingCommit
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
            committer.submit(BatchCommit(self, spec, *acc.take()))
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
        successes: Sequence[Confirmed],
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
        with self.telemetry.commit(spec, len(successes), len(deletions), len(failures)):
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

    def _batch_size(self, spec: SyncSpec, destination: Destination, operation: Operation) -> int:
        limit = destination.max_batch_size(operation, spec.options)
        return max(1, min(spec.batch_size or limit, limit))

    def _association_targets(
        self, spec: SyncSpec, destination: Destination, page: Sequence[Mapping[str, Any]]
    ) -> dict[tuple[str, str], str]:
        """Ids of association targets written by other syncs (destinations that associate records)."""
        if not spec.associations or not isinstance(destination, Associations):
            return {}
        writers = [target for target in self.all_specs if target.destination == spec.destination]
        return destination.association_targets(
            spec.associations,
            page,
            writers,
            lambda sync_name, keys: self.warehouse.sync(sync_name).destination_ids(keys),
        )


def _operation_order(op: Operation) -> int:
    # deletes last: a record that moved keys is written before its old key is removed
    return {Operation.CREATE: 0, Operation.UPSERT: 0, Operation.UPDATE: 1, Operation.DELETE: 2}[op]


def failure_row(
    spec: SyncSpec,
    change: Change,
    code: str,
    message: str,
    fields: Sequence[str],
    operation: str | None = None,
) -> FailureRow:
    """The failure row of ``change``: message and fields scrubbed of masked values, payload masked per the spec."""
    return FailureRow(
        record_key=change.key,
        operation=operation or change.op,
        error_code=code,
        error_message=scrub(spec, change.payload, redact(message)),
        error_fields=[scrub(spec, change.payload, str(f)) for f in fields],
        payload=failure_payload(spec, change.payload) if change.payload else None,
    )
