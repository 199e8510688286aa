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
