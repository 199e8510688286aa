"""Retrying whole requests that failed for reasons a later try may fix.

The engine, not the destinations, owns this policy: exponential backoff
with full jitter, capped per wait, inside a time budget for the whole call.
A server's ``Retry-After`` hint wins over the computed backoff. Errors that
a retry cannot fix are never retried: only :class:`TransientError` is.

The waits grow by :func:`dbt_sync.backoff.backoff_delay`, as in every other
retry loop of dbt-sync.

Rate limiting is not a failure: a rate-limited request (HTTP 429, Salesforce
``REQUEST_LIMIT_EXCEEDED``) only waits, bounded by the time budget alone,
never by ``max_attempts``. When the budget is spent, :class:`RetriesExhausted`
tells the engine to stop the sync as a whole (see docs/engine.md, Faults).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from dbt_sync.backoff import backoff_delay
from dbt_sync.destinations.base import TransientError

T = TypeVar("T")



@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often to retry one request.

    ``budget_seconds`` bounds the total time spent waiting on one request, so
    a destination that stays down fails the sync instead of hanging the run.
    ``max_attempts`` bounds the tries of a request that failed (5xx, timeout,
    dropped connection); rate-limited tries do not count against it.
    """

    max_attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 30.0
    budget_seconds: float = 300.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.max_delay) + rng.uniform(0, 0.05)
        ceiling = backoff_delay(self.base_delay, attempt, cap=self.max_delay)
        return rng.uniform(0, ceiling)


class RetriesExhausted(TransientError):
    """The last transient error, after the policy gave up.

    ``spent_seconds``: time from the first try to giving up.
    """

    def __init__(self, last: TransientError, attempts: int, spent_seconds: float = 0.0) -> None:
        super().__init__(
            f"{last} (gave up after {attempts} attempts in {spent_seconds:.0f} s)",
            code=last.code,
            rate_limited=last.rate_limited,
        )
        self.last = last
        self.attempts = attempts
        self.spent_seconds = spent_seconds


def call_with_retries(
    fn: Callable[[], T],
    policy: RetryPolicy = RetryPolicy(),
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
    on_retry: Callable[[TransientError, int, float], None] | None = None,
) -> T:
    """Call ``fn`` until it returns, retrying :class:`TransientError` only.

    Raises :class:`RetriesExhausted` when ``policy.max_attempts`` failed tries
    (rate-limited tries excluded) or ``policy.budget_seconds`` are used up.
    """
    rng = rng or random.Random()
    started = clock()
    attempt = 0
    failed = 0  # tries that failed for another reason than a rate limit
    while True:
        attempt += 1
        try:
            return fn()
        except TransientError as exc:
            if not exc.rate_limited:
                failed += 1
            wait = policy.delay(max(1, failed) if not exc.rate_limited else attempt, exc.retry_after, rng)
            spent = clock() - started
            if failed >= policy.max_attempts or spent + wait > policy.budget_seconds:
                raise RetriesExhausted(exc, attempt, spent) from exc
            if on_retry is not None:
                on_retry(exc, attempt, wait)
            sleep(wait)
