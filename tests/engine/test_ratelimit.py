"""The per-account limiter: at the limit, never over it, corrected by the server."""

from __future__ import annotations

import threading

from dbt_sync.engine.ratelimit import Limits, RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def starts_per_window(starts: list[float], window: float) -> int:
    return max(sum(1 for t in starts if s <= t < s + window) for s in starts)


def test_paces_to_the_allowance_per_rolling_window() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Limits(requests=100, per_seconds=10.0), clock=clock, sleep=clock.sleep, headroom=0)
    starts = []
    for _ in range(350):
        limiter.acquire()
        starts.append(clock.now)
    assert starts_per_window(starts, 10.0) == 100
    # at the limit: 350 requests need just over 3 windows, not more
    assert 30.0 <= starts[-1] - starts[0] < 30.5
    assert limiter.requests == 350


def test_safety_margin_keeps_under_the_limit() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Limits(requests=190, per_seconds=10.0), clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(400):
        limiter.acquire()
        starts.append(clock.now)
    assert starts_per_window(starts, 10.0) == 188


def test_server_saying_fewer_remain_slows_us_down() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Limits(requests=100, per_seconds=10.0), clock=clock, sleep=clock.sleep, headroom=0)
    for _ in range(10):
        limiter.acquire()
    # another client used most of the window: the server says 5 remain
    limiter.observe(remaining=5, interval_seconds=10.0)
    before = clock.now
    for _ in range(10):
        limiter.acquire()
    assert clock.now - before >= 9.9  # had to wait for the window to roll


def test_pause_blocks_everyone_until_the_hint() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Limits(requests=None), clock=clock, sleep=clock.sleep)
    limiter.acquire()
    limiter.pause(2.5)
    limiter.acquire()
    assert sum(clock.slept) >= 2.5


def test_no_rate_limit_never_waits_and_concurrency_gate_bounds_in_flight() -> None:
    limiter = RateLimiter(Limits(requests=None, concurrency=3))
    for _ in range(1000):
        limiter.acquire()
    assert limiter.waited_seconds == 0
    gate = limiter.concurrent()
    inside = 0
    peak = 0
    lock = threading.Lock()
    release = threading.Event()

    def work() -> None:
        nonlocal inside, peak
        with gate:
            with lock:
                inside += 1
                peak = max(peak, inside)
            release.wait(0.05)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 3
