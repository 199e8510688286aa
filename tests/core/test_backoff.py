"""One backoff schedule for every retry loop; each caller keeps the waits it had."""

from __future__ import annotations

import pytest

from dbt_sync.backoff import backoff_delay
from dbt_sync.engine.retry import RetryPolicy


def test_each_callers_schedule() -> None:
    # alert deliveries and lock release: 1 s doubling
    assert [backoff_delay(1.0, a) for a in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    # a Salesforce Bulk job is polled from 50 ms, growing by 1.6, never more than 5 s apart
    polls = [backoff_delay(0.05, a, factor=1.6, cap=5.0) for a in range(1, 40)]
    assert polls[0] == 0.05 and polls[1] == pytest.approx(0.08) and max(polls) == 5.0
    assert polls == sorted(polls)


def test_request_retries_stay_under_the_cap_however_long_a_storm_lasts() -> None:
    import random

    policy = RetryPolicy(base_delay=0.5, max_delay=30.0)
    rng = random.Random(1)
    assert all(0 <= policy.delay(a, None, rng) <= 30.0 for a in (1, 2, 10, 2_000, 100_000))


def test_tries_sleeps_between_tries_only() -> None:
    from dbt_sync.backoff import tries

    slept: list[float] = []
    assert list(tries(4, 1.0, sleep=slept.append)) == [1, 2, 3, 4]
    assert slept == [1.0, 2.0, 4.0]  # none after the last try


def test_tries_stops_without_sleeping_when_the_next_wait_reaches_the_deadline() -> None:
    from dbt_sync.backoff import tries

    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    seen = list(tries(None, 1.0, deadline=6.5, sleep=sleep, clock=lambda: now[0]))
    assert seen == [1, 2, 3] and slept == [1.0, 2.0]  # the wait after try 3 (4 s) would end at 7 s


def test_leftover_locks_released_at_once_wait_for_nothing() -> None:
    """Releasing the locks a lost warehouse kept: no wait once they are all released."""
    import time

    from dbt_sync.engine.scheduler import Engine

    class _Lock:
        sync_name = "s"
        released = False

        def release(self) -> None:
            self.released = True

        def forget(self) -> None:
            raise AssertionError("released, not forgotten")

    class _Warehouse:
        def reconnect_if_lost(self) -> bool:
            return False

    engine = Engine(plan=None, warehouse=_Warehouse(), config=None, all_specs=[])  # type: ignore[arg-type]
    lock = _Lock()
    engine._unreleased = [lock]  # type: ignore[list-item]
    started = time.monotonic()
    engine._release_leftover_locks(attempts=5, first_wait=1.0)
    assert lock.released and engine._unreleased == [] and time.monotonic() - started < 0.5
