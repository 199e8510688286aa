"""One run per sync at a time, with the lock kept in the warehouse.

Two ``dbt-sync run`` on the same sync would send the same changes twice and
race on the state. The lock is a row in ``dbt_sync_locks``, taken under a
table lock so two processes cannot both win. While the sync runs, a
background thread refreshes its heartbeat every ``heartbeat_seconds`` (10 s)
on its own warehouse connection, whatever the sync is doing (a long Bulk
job, a slow CRM, a long page). A lock is considered abandoned when its
heartbeat is older than ``stale_seconds``, which must be at least
:data:`STALE_MULTIPLE` heartbeats, so a live holder is never taken over; or
at once when its holder is a process of this machine that no longer exists
(``kill -9``, a crash), or a run of this very process that is over (a run
that lost the warehouse could not delete its row).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import TYPE_CHECKING

from dbt_sync.errors import ConfigError, DbtSyncError

if TYPE_CHECKING:
    from dbt_sync.warehouse import Warehouse

log = logging.getLogger("dbt_sync.engine")

#: seconds between two heartbeats of a held lock
HEARTBEAT_SECONDS = 10.0
#: a lock is stale after this many missed heartbeats, no fewer
STALE_MULTIPLE = 3
#: the default --lock-stale-seconds
DEFAULT_STALE_SECONDS = 600.0


class LockHeld(DbtSyncError):
    """Another process is running this sync."""


class LockLost(DbtSyncError):
    """Another run took this sync's lock over (our heartbeat could not be written for too long)."""


def check_stale_seconds(stale_seconds: float, heartbeat_seconds: float = HEARTBEAT_SECONDS) -> None:
    """Refuse a stale threshold a live holder could cross between two heartbeats.

    Raises :class:`~dbt_sync.errors.ConfigError` when ``stale_seconds`` is
    below ``STALE_MULTIPLE * heartbeat_seconds``.
    """
    minimum = STALE_MULTIPLE * heartbeat_seconds
    if stale_seconds < minimum:
        raise ConfigError(
            f"--lock-stale-seconds {stale_seconds:g} is too short: a lock's heartbeat is written every "
            f"{heartbeat_seconds:g} s, so a live run's lock could be taken over. Use at least {minimum:g} "
            f"({STALE_MULTIPLE} heartbeats); the default is {DEFAULT_STALE_SECONDS:g}."
        )


#: holders of the locks this process holds right now, with how many locks each
_held: dict[str, int] = {}
_held_guard = threading.Lock()


def holder_name(run_id: str) -> str:
    """``host:pid:run_id``: who holds a lock, and enough to tell whether it is still alive."""
    return f"{socket.gethostname()}:{os.getpid()}:{run_id}"


def holder_is_dead(holder: str) -> bool:
    """True only when ``holder`` is a process of this machine that no longer exists,
    or a run of this process that no longer holds any lock.

    Holders on other machines, or whose process cannot be checked (not
    POSIX), count as alive: only their heartbeat's age can free their lock.
    """
    parts = holder.split(":")
    if os.name != "posix" or len(parts) < 3 or parts[0] != socket.gethostname():
        return False
    try:
        pid = int(parts[1])
    except ValueError:
        return False
    if pid == os.getpid():
        with _held_guard:
            return holder not in _held
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by someone else
        return False
    return False


class SyncLock:
    """A sync's lock in ``dbt_sync_locks``; see the module doc.

    ``acquire()`` takes it (or raises :class:`LockHeld`) and starts the
    heartbeat thread; ``release()`` stops the thread and deletes the row.
    ``lost`` becomes True if the heartbeat finds that another holder took
    the lock; the engine then stops sending (:meth:`check`).
    """

    def __init__(
        self,
        warehouse: Warehouse,
        sync_name: str,
        holder: str,
        stale_seconds: float = DEFAULT_STALE_SECONDS,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> None:
        check_stale_seconds(stale_seconds, heartbeat_seconds)
        self.warehouse = warehouse
        self.sync_name = sync_name
        self.holder = holder
        self.stale_seconds = stale_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.held = False
        self.lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self, wait_seconds: float = 0.0, poll_seconds: float = 2.0) -> None:
        deadline = time.monotonic() + wait_seconds
        while True:
            current = self.warehouse.sync(self.sync_name).lock(
                self.holder, self.stale_seconds, is_dead=holder_is_dead
            )
            if current is None:
                self.held = True
                with _held_guard:
                    _held[self.holder] = _held.get(self.holder, 0) + 1
                self._start_heartbeat()
                return
            if time.monotonic() >= deadline:
                holder, since = current
                raise LockHeld(
                    f"sync {self.sync_name} is already running (held by {holder} since {since}); "
                    f"it was not run again. Wait for it to finish, or pass --wait to queue behind it. "
                    f"A lock whose holder died is freed at once on the same machine, else after "
                    f"{self.stale_seconds:g} s without heartbeat."
                )
            time.sleep(min(poll_seconds, max(0.05, deadline - time.monotonic())))

    def _start_heartbeat(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._beat, name=f"dbt-sync-heartbeat-{self.sync_name}", daemon=True
        )
        self._thread.start()

    def _beat(self) -> None:
        """Every ``heartbeat_seconds``: refresh the heartbeat (this thread's own warehouse connection)."""
        try:
            while not self._stop.wait(self.heartbeat_seconds):
                try:
                    if not self.warehouse.sync(self.sync_name).heartbeat(self.holder):
                        self.lost = True
                        log.error(
                            "sync %s: another run took its lock over; this run stops sending", self.sync_name
                        )
                        return
                except Exception as exc:  # the warehouse is away: try again at the next beat
                    log.warning("sync %s: could not write the lock heartbeat: %s", self.sync_name, exc)
        finally:
            self.warehouse.release_connection()

    def check(self) -> None:
        """Raise :class:`LockLost` if another run took the lock over."""
        if self.lost:
            raise LockLost(
                f"sync {self.sync_name}: another run took its lock over (no heartbeat could be written for "
                f"{self.stale_seconds:g} s); this run stopped sending."
            )

    def release(self) -> None:
        """Stop the heartbeat and delete the lock row; raises if the warehouse cannot be reached (still held)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self.held:
            self.warehouse.sync(self.sync_name).release(self.holder)
            self.forget()

    def forget(self) -> None:
        """This run is done with the lock (released, or left for the next run to take over)."""
        if self.held:
            self.held = False
            with _held_guard:
                left = _held.pop(self.holder, 1) - 1
                if left > 0:
                    _held[self.holder] = left
