"""One run per sync at a time, with the lock kept in the warehouse.

Two ``dbt-sync run`` on the same sync would send the same changes twice and
race on the state. The lock is a row in ``dbt_sync_locks``, taken under a
table lock so two processes cannot both win, refreshed by a heartbeat while
the sync runs, and considered abandoned when its heartbeat is older than
``stale_seconds`` (its holder died, e.g. ``kill -9``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from dbt_sync.errors import DbtSyncError
from dbt_sync.warehouse import coordination

if TYPE_CHECKING:
    from dbt_sync.warehouse import Warehouse


class LockHeld(DbtSyncError):
    """Another process is running this sync."""


class SyncLock:
    def __init__(self, warehouse: Warehouse, sync_name: str, holder: str, stale_seconds: float = 600.0) -> None:
        self.warehouse = warehouse
        self.sync_name = sync_name
        self.holder = holder
        self.stale_seconds = stale_seconds
        self.held = False
        self._last_beat = 0.0

    def acquire(self, wait_seconds: float = 0.0, poll_seconds: float = 2.0) -> None:
        deadline = time.monotonic() + wait_seconds
        while True:
            current = coordination.try_lock(self.warehouse, self.sync_name, self.holder, self.stale_seconds)
            if current is None:
                self.held = True
                self._last_beat = time.monotonic()
                return
            if time.monotonic() >= deadline:
                holder, since = current
                raise LockHeld(
                    f"sync {self.sync_name} is already running (held by {holder} since {since}); "
                    f"it was not run again. Wait for it to finish, or pass --wait to queue behind it. "
                    f"A lock whose holder died is freed after {int(self.stale_seconds)} s without heartbeat."
                )
            time.sleep(min(poll_seconds, max(0.05, deadline - time.monotonic())))

    def heartbeat(self, every_seconds: float = 30.0) -> None:
        if self.held and time.monotonic() - self._last_beat >= every_seconds:
            coordination.heartbeat_lock(self.warehouse, self.sync_name, self.holder)
            self._last_beat = time.monotonic()

    def release(self) -> None:
        if self.held:
            try:
                coordination.release_lock(self.warehouse, self.sync_name, self.holder)
            finally:
                self.held = False
