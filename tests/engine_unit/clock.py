"""A fake monotonic clock whose ``sleep`` moves time forward at once (thread safe)."""

from __future__ import annotations

import threading


class FakeClock:
    """``clock()`` reads the time; ``sleep(s)`` advances it by ``s`` and records the wait."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
