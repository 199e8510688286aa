"""The rate limiter's rolling window, server hints and pauses, on a fake clock; and how the engine
attaches one limiter (pacer) per destination account."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from dbt_sync.destinations.base import Operation, Record
from dbt_sync.engine.pacing import paced
from dbt_sync.engine.ratelimit import Limits, RateLimiter
from tests.engine_unit.clock import FakeClock
from tests.fixtures.fake_destination import FakeDestination


def limiter(requests: int | None, per_seconds: float = 10.0, clock: FakeClock | None = None) -> RateLimiter:
    clock = clock or FakeClock()
    return RateLimiter(Limits(requests=requests, per_seconds=per_seconds), clock=clock, sleep=clock.sleep)


def starts(limit: RateLimiter, clock: FakeClock, n: int, gaps: list[float] | None = None) -> list[float]:
    out = []
    for i in range(n):
        limit.acquire()
        out.append(clock())
        if gaps:
            clock.advance(gaps[i % len(gaps)])
    return out


def max_in_window(times: list[float], window: float) -> int:
    return max((sum(1 for u in times if t <= u < t + window) for t in times), default=0)


@settings(max_examples=60, deadline=None)
@given(
    requests=st.integers(1, 40),
    per_seconds=st.sampled_from([1.0, 10.0, 60.0]),
    n=st.integers(0, 120),
    gaps=st.lists(st.floats(0, 3), min_size=1, max_size=5),
)
def test_no_window_holds_more_than_the_allowance(
    requests: int, per_seconds: float, n: int, gaps: list[float]
) -> None:
    clock = FakeClock()
    limit = limiter(requests, per_seconds, clock)
    times = starts(limit, clock, n, gaps)
    allowance = max(1, requests - max(1, math.ceil(requests / 100)))
    assert max_in_window(times, per_seconds) <= allowance
    assert limit.requests == n


def test_a_start_one_float_step_inside_the_window_still_counts() -> None:
    """Regression: the window was left by ``now - start >= window`` but the wait computed as
    ``start + window - now``; where float rounding made the wait 0 while the start still counted, every
    request at that instant went through, over the allowance (3 in 60 s with an allowance of 2 here)."""
    clock = FakeClock()
    limit = limiter(3, 60.0, clock)
    times = starts(limit, clock, 5, [1.596034663067417, 0.0, 0.0, 0.0])
    assert max_in_window(times, 60.0) <= 2, times


def test_it_runs_at_the_limit_not_below_it() -> None:
    """100 per 10 s: the first 99 (1 request of headroom) start at once, the next waits for the oldest to leave."""
    clock = FakeClock()
    limit = limiter(100, 10.0, clock)
    times = starts(limit, clock, 100)
    assert times[:99] == [times[0]] * 99
    assert times[99] == times[0] + 10.0
    assert limit.waited_seconds == 10.0


def test_no_limit_never_waits() -> None:
    clock = FakeClock()
    limit = limiter(None, clock=clock)
    starts(limit, clock, 1000)
    assert clock.sleeps == []


def test_the_servers_remaining_count_slows_us_down() -> None:
    """Another client shares the account: the server says 3 left although we made only 2 of our 9.

    We make 2 more (one is kept in reserve for the request in flight), and the next waits for the window.
    """
    clock = FakeClock()
    limit = limiter(10, 10.0, clock)
    first = starts(limit, clock, 2)[0]
    limit.observe(remaining=3)
    assert starts(limit, clock, 2) == [first, first]
    limit.acquire()
    assert clock() - first == 10.0, "the next request waits for the window to roll over"


def test_a_pause_stops_every_request_for_the_hint_only() -> None:
    clock = FakeClock()
    limit = limiter(10, 10.0, clock)
    starts(limit, clock, 9)
    limit.observe(remaining=0)  # a 429's headers: nothing left
    limit.pause(1.0)
    before = clock()
    limit.acquire()
    assert clock() - before == 1.0, "the server's Retry-After wins over our 10 s window estimate"


def test_the_engine_attaches_one_limiter_with_the_destinations_limits() -> None:
    dest = FakeDestination(rate_limit=50, rate_interval=2.0, concurrency=3)
    assert paced(dest) is dest
    pacer = dest.pacer
    assert isinstance(pacer, RateLimiter)
    assert pacer.limits == Limits(requests=50, per_seconds=2.0, concurrency=3)
    paced(dest)
    assert dest.pacer is pacer, "one limiter per destination account, kept"
    dest.write("contacts", Operation.UPSERT, [Record("a", {"email": "a@x"})], match="email", options={})
    assert pacer.requests == 1, "every request waits on the limiter"
