"""Sending one batch until every record has a final outcome.

The destination makes the API calls; this module decides what happens when
they fail. Whole-request transient errors are retried with backoff inside a
time budget; a request that keeps failing with ``shrink`` is split in halves;
records that failed for a reason a retry can fix (row locks, rolled back
with a sibling) are sent again a few times; everything else is final and
goes to the audit table, to be retried on the next run.

A destination that stays down (5xx, timeouts, dropped connections) or keeps
rate limiting past the retry budget is not the records' fault: the records
it never answered come back ``unsent``, the sender remembers the error in
:attr:`Sender.down` and sends nothing more, and the engine stops the sync as
a whole, leaving those records in the changeset for the next run.

With ``resend_unanswered=False`` (creates without a match key, which the
destination cannot recognise on a resend) a request that timed out is never
sent again: the destination may have applied it after the client gave up.
Its records come back as ``IN_DOUBT`` failures (see engine/inflight.py).

Creates with a match key (``resend_unanswered=True``) are not resent
blindly either: a create request that timed out, lost its connection or
got a 5xx may have been applied, so its records come back as
``UNKNOWN_OUTCOME`` and the engine finds out by the match key.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dbt_sync.destinations import metering
from dbt_sync.destinations.base import Destination, Operation, Record, RecordOutcome, TransientError
from dbt_sync.engine.inflight import IN_DOUBT
from dbt_sync.engine.retry import RetriesExhausted, RetryPolicy, call_with_retries

#: error codes of a request that may have been applied although no answer came back
UNANSWERED_CODES = frozenset({"TIMEOUT", "BULK_TIMEOUT"})
#: whole-request errors after which the destination may or may not have applied the request
AMBIGUOUS_CODES = frozenset({"TIMEOUT", "BULK_TIMEOUT", "CONNECTION_ERROR"})
#: outcome code of a create whose request may have been applied: never resent blindly
UNKNOWN_OUTCOME = "UNKNOWN_OUTCOME"


def ambiguous(code: str | None) -> bool:
    """Whether a request that failed with ``code`` may still have been applied (timeouts, dropped
    connections, 5xx answers)."""
    return code is not None and (code in AMBIGUOUS_CODES or code.startswith("HTTP_5"))


@dataclass
class SendStats:
    requests: int = 0
    retries: int = 0
    splits: int = 0
    #: retries that waited out a rate limit (HTTP 429, REQUEST_LIMIT_EXCEEDED)
    rate_limited: int = 0
    transient_codes: dict[str, int] = field(default_factory=dict)


@dataclass
class Sender:
    destination: Destination
    object_name: str
    match: str | None
    options: Mapping[str, Any]
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    record_attempts: int = 3
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    stats: SendStats = field(default_factory=SendStats)
    #: the error that spent the retry budget; once set, nothing more is sent
    down: RetriesExhausted | None = None
    #: False for creates without a match key: a timed-out request is in doubt, never resent
    resend_unanswered: bool = True

    def send(self, operation: Operation, records: Sequence[Record]) -> list[RecordOutcome]:
        """Exactly one final outcome per record, in the order given.

        Records the destination never answered within the retry budget come
        back with ``unsent=True`` (and :attr:`down` is set).
        """
        final: dict[str, RecordOutcome] = {}
        pending = list(records)
        for attempt in range(1, self.record_attempts + 1):
            outcomes = self._send_splitting(operation, pending)
            retry: list[Record] = []
            by_key = {o.key: o for o in outcomes}
            for record in pending:
                outcome = by_key.get(record.key) or RecordOutcome.failed(
                    record.key, "NO_OUTCOME", "the destination returned no result for this record", retryable=True
                )
                if outcome.unsent:
                    final[record.key] = outcome
                elif not outcome.success and not self.resend_unanswered and outcome.error_code in UNANSWERED_CODES:
                    final[record.key] = self._in_doubt(record, outcome.message or "")
                elif operation is Operation.CREATE and not outcome.success and (
                    outcome.error_code == UNKNOWN_OUTCOME or ambiguous(outcome.error_code)
                ):
                    # the create may have happened: resending could duplicate it (the engine finds out)
                    final[record.key] = _unknown(record.key, outcome.message or outcome.error_code or "")
                elif not outcome.success and outcome.retryable and attempt < self.record_attempts:
                    retry.append(record)
                elif not outcome.success and outcome.category == "TRANSIENT":
                    # its request kept failing as a whole: the destination's fault, not the record's
                    final[record.key] = self._unsent(record, outcome.error_code or "TRANSIENT", outcome.message or "")
                else:
                    final[record.key] = outcome
            if not retry or self.down is not None:
                for record in retry:
                    final[record.key] = self._unsent(record, "TRANSIENT", "not sent: the destination is down")
                break
            self.stats.retries += 1
            metering.count("retries")
            self.sleep(self.policy.delay(attempt, None, self.rng))
            pending = retry
        return [final[r.key] for r in records]

    def _unsent(self, record: Record, code: str, message: str) -> RecordOutcome:
        if self.down is None:
            self.down = RetriesExhausted(TransientError(message, code=code), self.record_attempts)
        return RecordOutcome.failed(record.key, code, message, retryable=True, category="TRANSIENT", unsent=True)

    def _in_doubt(self, record: Record, message: str) -> RecordOutcome:
        return RecordOutcome.failed(
            record.key,
            IN_DOUBT,
            f"the destination may have applied it after the client gave up: {message}",
            category=IN_DOUBT,
        )

    def _send_splitting(self, operation: Operation, records: list[Record]) -> list[RecordOutcome]:
        if self.down is not None:  # another batch of this sync spent the budget: send nothing more
            return [self._unsent(r, self.down.code, str(self.down)) for r in records]
        try:
            return self._send_with_retries(operation, records)
        except _Unknown as exc:
            return [_unknown(r.key, str(exc)) for r in records]
        except _Shrink:
            self.stats.splits += 1
            half = len(records) // 2
            return self._send_splitting(operation, records[:half]) + self._send_splitting(operation, records[half:])
        except _Unanswered as exc:
            return [self._in_doubt(r, str(exc.error)) for r in records]
        except RetriesExhausted as exc:
            if self.down is None:
                self.down = exc
            return [self._unsent(r, exc.code, str(exc)) for r in records]

    def _send_with_retries(self, operation: Operation, records: list[Record]) -> list[RecordOutcome]:
        def attempt() -> list[RecordOutcome]:
            self.stats.requests += 1
            try:
                return self.destination.write(
                    self.object_name, operation, records, match=self.match, options=self.options
                )
            except TransientError as exc:
                if not self.resend_unanswered and exc.code in UNANSWERED_CODES:
                    raise _Unanswered(exc) from exc
                if operation is Operation.CREATE and ambiguous(exc.code):
                    raise _Unknown(str(exc)) from exc
                if exc.shrink and len(records) > 1:
                    raise _Shrink(str(exc)) from exc
                raise

        def on_retry(exc: TransientError, attempt_no: int, wait: float) -> None:
            self.stats.retries += 1
            metering.count("retries")
            if exc.rate_limited:
                self.stats.rate_limited += 1
            self.stats.transient_codes[exc.code] = self.stats.transient_codes.get(exc.code, 0) + 1

        return call_with_retries(
            attempt, self.policy, sleep=self.sleep, clock=self.clock, rng=self.rng, on_retry=on_retry
        )


class _Unanswered(Exception):
    """A request that must not be resent timed out: its records are in doubt."""

    def __init__(self, error: TransientError) -> None:
        super().__init__(str(error))
        self.error = error


class _Shrink(Exception):
    """The destination asked for smaller requests: split instead of retrying as is."""


class _Unknown(Exception):
    """A create request whose outcome is unknown: not retried (it may have been applied)."""


def _unknown(key: str, detail: str) -> RecordOutcome:
    return RecordOutcome.failed(
        key,
        UNKNOWN_OUTCOME,
        f"the create request's outcome is unknown ({detail}); it was not sent again, to avoid a duplicate",
    )
