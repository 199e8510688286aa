"""Fault injection for tests: make the emulator fail the way Salesforce does.

Every knob is safe to flip from a test thread while the server is handling
requests. "Next n" faults are counters decremented under a lock, so exactly
n requests (or record writes) are affected even when requests run
concurrently.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Counted:
    remaining: int
    status: int = 500
    path_contains: str | None = None
    seconds: float = 0.0


class Faults:
    """Per-emulator fault switches; :meth:`clear` resets them all."""

    def __init__(self, on_expire_sessions: Callable[[], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._on_expire = on_expire_sessions
        self.clear()

    def clear(self) -> None:
        with self._lock:
            #: seconds to sleep before answering every request
            self.latency: float = 0.0
            #: answer every data request with 403 REQUEST_LIMIT_EXCEEDED (TotalRequests)
            self.daily_limit_exceeded: bool = False
            #: how many data requests may run at once; beyond that → 403 ConcurrentRequests
            self.concurrent_limit: int | None = None
            self._fail: list[_Counted] = []
            self._timeout: list[_Counted] = []
            self._drop: list[_Counted] = []
            self._row_lock = 0
            self._bulk_fail: list[str] = []

    def expire_sessions(self) -> None:
        """Invalidate every issued session: the next call gets 401 until the client logs in again."""
        if self._on_expire is not None:
            self._on_expire()

    def fail_next(self, n: int = 1, status: int = 500, path_contains: str | None = None) -> None:
        """The next ``n`` matching requests fail with ``status`` (500 or 503) and a Salesforce error body."""
        with self._lock:
            self._fail.append(_Counted(n, status=status, path_contains=path_contains))

    def timeout_next(self, n: int = 1, seconds: float = 5.0, path_contains: str | None = None) -> None:
        """The next ``n`` requests hang ``seconds`` before being answered (client read timeouts)."""
        with self._lock:
            self._timeout.append(_Counted(n, seconds=seconds, path_contains=path_contains))

    def drop_next(self, n: int = 1, path_contains: str | None = None) -> None:
        """The next ``n`` requests get their connection closed without any response."""
        with self._lock:
            self._drop.append(_Counted(n, path_contains=path_contains))

    def row_lock_next(self, n: int = 1) -> None:
        """The next ``n`` record writes fail with UNABLE_TO_LOCK_ROW."""
        with self._lock:
            self._row_lock += n

    def bulk_job_fails(self, message: str = "InternalServerError : Internal error") -> None:
        """The next Bulk job to be processed ends ``Failed`` with ``errorMessage`` = ``message``."""
        with self._lock:
            self._bulk_fail.append(message)

    # ---- consumed by the server ----

    @staticmethod
    def _take(queue: list[_Counted], path: str) -> _Counted | None:
        for item in queue:
            if item.path_contains is None or item.path_contains in path:
                item.remaining -= 1
                if item.remaining <= 0:
                    queue.remove(item)
                return item
        return None

    def take_drop(self, path: str) -> bool:
        with self._lock:
            return self._take(self._drop, path) is not None

    def take_timeout(self, path: str) -> float:
        with self._lock:
            item = self._take(self._timeout, path)
            return item.seconds if item else 0.0

    def take_failure(self, path: str) -> int | None:
        with self._lock:
            item = self._take(self._fail, path)
            return item.status if item else None

    def take_row_lock(self) -> bool:
        if not self._row_lock:  # hot path: one call per record written
            return False
        with self._lock:
            if self._row_lock > 0:
                self._row_lock -= 1
                return True
            return False

    def take_bulk_failure(self) -> str | None:
        with self._lock:
            return self._bulk_fail.pop(0) if self._bulk_fail else None
