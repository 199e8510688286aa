"""Per-test fault injection: make the next N matching requests misbehave.

Faults are queued rules consumed in order by requests whose path contains the
rule's ``path_contains`` (any path when None). Everything is guarded by one
lock because the server answers requests on many threads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class Fault:
    """One queued misbehaviour; ``remaining`` counts down as requests consume it."""

    kind: str  # fail | timeout | drop | rate_limit | reject_batch | locked
    remaining: int
    path_contains: str | None = None
    status: int = 500
    seconds: float = 0.0
    policy: str = "TEN_SECONDLY_ROLLING"
    retry_after: int | None = None

    def matches(self, path: str) -> bool:
        if self.kind == "reject_batch" and "/batch/" not in path:
            return False
        return self.path_contains is None or self.path_contains in path


class Faults:
    """The fault queue behind ``emu.faults``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[Fault] = []
        self.latency: float = 0.0

    def _add(self, fault: Fault) -> None:
        if fault.remaining <= 0:
            return
        with self._lock:
            self._queue.append(fault)

    def fail_next(self, n: int = 1, status: int = 500, path_contains: str | None = None) -> None:
        """Answer the next ``n`` requests with a 5xx (500 JSON; 502/503 an HTML gateway page)."""
        self._add(Fault("fail", n, path_contains, status=status))

    def timeout_next(self, n: int = 1, seconds: float = 5.0, path_contains: str | None = None) -> None:
        """Hang ``seconds`` before answering, so a client read timeout fires first."""
        self._add(Fault("timeout", n, path_contains, seconds=seconds))

    def drop_next(self, n: int = 1, path_contains: str | None = None) -> None:
        """Close the connection without sending any response."""
        self._add(Fault("drop", n, path_contains))

    def rate_limit_next(
        self,
        n: int = 1,
        policy: str = "TEN_SECONDLY_ROLLING",
        retry_after: int | None = None,
        path_contains: str | None = None,
    ) -> None:
        """Answer 429 with ``policy`` regardless of the real limiter; ``Retry-After`` only if given."""
        self._add(Fault("rate_limit", n, path_contains, policy=policy, retry_after=retry_after))

    def reject_batch_next(self, n: int = 1, path_contains: str | None = None) -> None:
        """A whole-batch 400 that names no input (nothing to attribute per record)."""
        self._add(Fault("reject_batch", n, path_contains))

    def locked_next(self, n: int = 1, path_contains: str | None = None) -> None:
        """Answer 423 Locked, which HubSpot sends during heavy syncs (retry after ~2 s)."""
        self._add(Fault("locked", n, path_contains, status=423))

    def take(self, path: str) -> Fault | None:
        """Consume one use of the first queued fault matching ``path``."""
        with self._lock:
            for fault in self._queue:
                if fault.matches(path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._queue.remove(fault)
                    return fault
        return None

    def pending(self) -> int:
        """How many faulty answers are still queued (lets a test assert they were used up)."""
        with self._lock:
            return sum(f.remaining for f in self._queue)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self.latency = 0.0
