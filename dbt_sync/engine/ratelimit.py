"""Request pacing per destination account.

The aim is to run *at* the limit without a storm of 429s: a rolling-window
limiter spaces requests so that no window holds more than the account's
allowance, and the destination's own headers correct it (another client
sharing the account, a lower tier than configured). A concurrency gate
covers Salesforce, whose limit is on simultaneous long requests rather than
on a rate.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from dbt_sync.destinations.base import DEFAULT_CONCURRENCY


@dataclass(frozen=True)
class Limits:
    """What one destination account allows.

    ``requests``/``per_seconds``: a rolling window (HubSpot 100/190/250 per
    10 s by tier); ``None`` for no rate limit. ``concurrency``: requests in
    flight at once (Salesforce's setting; 8, ``DEFAULT_CONCURRENCY``, when
    a destination states none).
    """

    requests: int | None = None
    per_seconds: float = 10.0
    concurrency: int = DEFAULT_CONCURRENCY


def default_headroom(requests: int) -> int:
    """Requests per window a limiter leaves unused: 1% of the limit, at least 1 (HubSpot's 190 per 10 s -> 188)."""
    return max(1, math.ceil(requests / 100))


class RateLimiter:
    """A rolling-window limiter that also honours server hints.

    ``acquire()`` blocks until a request may start, then returns. It keeps the
    start times of the last ``requests`` requests; a new one waits until the
    oldest leaves the window. ``observe()`` takes the server's view (requests
    remaining in the current window) and ``pause()`` stops everyone for a
    while after a 429.
    """

    def __init__(
        self,
        limits: Limits,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        headroom: int | None = None,
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._starts: deque[float] = deque()
        self._paused_until = 0.0
        self._gate = threading.BoundedSemaphore(max(1, limits.concurrency))
        #: effective allowance per window: the limit less ``headroom`` requests (default
        #: :func:`default_headroom`), so a request whose latency differs from its neighbours' (it reaches
        #: the server's window a little earlier or later than it left ours) never tips us over
        self._allowance = (
            max(1, limits.requests - (default_headroom(limits.requests) if headroom is None else headroom))
            if limits.requests
            else None
        )
        self.waited_seconds = 0.0
        self.requests = 0

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                wait = self._paused_until - now
                if wait <= 0 and self._allowance is not None:
                    window = self.limits.per_seconds
                    # the same sum as the wait below: with ``now - start >= window`` instead, float rounding
                    # could keep a start whose wait computes to 0 and let requests through over the allowance
                    while self._starts and self._starts[0] + window <= now:
                        self._starts.popleft()
                    if len(self._starts) >= self._allowance:
                        wait = self._starts[0] + window - now
                if wait <= 0:
                    self._starts.append(now)
                    self.requests += 1
                    return
            self.waited_seconds += wait
            self._sleep(wait)

    def observe(self, remaining: int | None, interval_seconds: float | None = None) -> None:
        """Align with the server: if it says we have fewer requests left than we think, slow down."""
        if remaining is None or self._allowance is None:
            return
        with self._lock:
            now = self._clock()
            window = interval_seconds or self.limits.per_seconds
            ours = sum(1 for t in self._starts if t + window > now)
            ours_left = self._allowance - ours
            deficit = ours_left - max(0, remaining - 1)
            # Pretend the requests we did not see (another client) happened now.
            for _ in range(max(0, deficit)):
                self._starts.append(now)

    def pause(self, seconds: float) -> None:
        """Stop every request for ``seconds``: the server's word on when to try again.

        The hint wins over our window estimate: the starts that ``observe()``
        made up for the 429's count of 0 would otherwise keep us waiting a
        whole window (10 s on HubSpot) after a ``Retry-After: 1``. So the
        estimate is dropped; the server's next headers rebuild it.
        """
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))
            self._starts.clear()

    def window_remainder(self, interval_seconds: float | None = None) -> float | None:
        """Seconds until the oldest request still in the window (``interval_seconds``, default the limit's) leaves it.

        None when no request is in the window. Destinations use it for the wait
        a 429 without ``Retry-After`` asks for: the account's one window, the
        one this limiter paces by.
        """
        with self._lock:
            now = self._clock()
            window = interval_seconds or self.limits.per_seconds
            oldest = next((t for t in self._starts if t + window > now), None)
        return None if oldest is None else oldest + window - now

    def concurrent(self) -> threading.BoundedSemaphore:
        """Hold this while a request is in flight."""
        return self._gate
