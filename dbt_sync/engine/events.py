"""The run-event hub: what a run tells its listeners, and when.

The engine calls a :class:`RunEvents` hub at five points of a run; the hub
hands each event to every :class:`RunListener` it holds (the progress lines
of :mod:`dbt_sync.engine.progress`, the JSON log lines, lifecycle webhooks,
tracing):

========================  ==============================================  ======================================
event                     when                                            called from (thread)
========================  ==============================================  ======================================
``run_started``           the plan is made, before the first sync starts  the run's thread (``Engine.execute``)
``sync_started``          a planned sync starts (before taking its lock)  the sync's thread (``SyncLifecycle``)
``sync_progress``         sending begins (``done`` 0, ``total`` rows to   the sync's thread (``SendPipeline``)
                          send), then after every answered batch
``sync_finished``         a sync ended, whatever the way; also for syncs  the sync's thread, or the run's thread
                          skipped without starting (plan, upstream,       for syncs skipped without starting
                          cancelled)
``run_finished``          the result is complete: every sync, alerts,     the caller of ``Engine.execute``
                          warnings, the results file                      (``dbt_sync.api.run``)
========================  ==============================================  ======================================

Every event of one sync is called in the thread that runs the sync, so a
listener can keep per-sync context in thread-local state; events of
different syncs arrive from different threads at once, so a listener that
shares state between syncs guards it itself. Events carry figures and names
only, never record values. A listener that raises does not fail the run: the
error is logged (once per listener and event) and the other listeners still
get the event.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dbt_sync.secrets import redact

if TYPE_CHECKING:
    from dbt_sync.engine.results import RunResult, SyncResult
    from dbt_sync.spec import SyncSpec

log = logging.getLogger("dbt_sync.engine")


@dataclass(frozen=True)
class RunStarted:
    """A run begins: its ids and the syncs it plans, in plan order (``skipped``: left out by the plan).

    ``record_failures_fatal``: False when record failures alone do not fail
    the run (``--warn-on-record-failures``).
    """

    run_id: str
    started_at: str
    invocation_id: str | None = None
    target: str | None = None
    dry_run: bool = False
    syncs: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    record_failures_fatal: bool = True


@dataclass(frozen=True)
class SyncStarted:
    """A sync of the run starts (it may still end skipped: locked by another run, cancelled)."""

    run_id: str
    name: str
    model: str
    destination: str
    object: str
    mode: str
    started_at: str

    @classmethod
    def of(cls, run_id: str, spec: SyncSpec, started_at: str) -> SyncStarted:
        return cls(run_id, spec.name, spec.model_name, spec.destination, spec.object, spec.mode, started_at)


@dataclass(frozen=True)
class SyncProgress:
    """Records of a sync answered so far: ``done`` of ``total`` (the rows its changeset holds to send).

    ``increment``: records answered since the previous progress event of
    the sync (0 on the first, sent when sending begins). ``done`` can pass
    ``total`` when records are sent again (a mirror write retried after a
    delete).
    """

    run_id: str
    name: str
    done: int
    total: int
    increment: int


class RunListener:
    """What a run tells its listeners; each method does nothing unless overridden.

    See the module docstring for when and from which thread each is called.
    ``sync_finished`` and ``run_finished`` get the live result objects:
    read them, do not change them.
    """

    def run_started(self, event: RunStarted) -> None:
        """The run begins."""

    def sync_started(self, event: SyncStarted) -> None:
        """A sync begins."""

    def sync_progress(self, event: SyncProgress) -> None:
        """A sync begins sending, or a batch of it was answered."""

    def sync_finished(self, result: SyncResult) -> None:
        """A sync ended (or was skipped without starting)."""

    def run_finished(self, result: RunResult) -> None:
        """The run's result is complete."""

    def close(self) -> None:
        """The engine is done with the run (called once, after its last ``sync_finished``)."""


@dataclass
class RunEvents(RunListener):
    """The hub: hands every event to each listener, in order; a failing listener never fails the run.

    Per-sync progress counts (``done``) are kept here, so the engine only
    reports increments.
    """

    listeners: list[RunListener] = field(default_factory=list)
    run_id: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._done: dict[str, tuple[int, int]] = {}
        self._failed: set[tuple[int, str]] = set()

    def add(self, listener: RunListener) -> None:
        """Add a listener (before the run starts)."""
        self.listeners.append(listener)

    def extend(self, listeners: Iterable[RunListener]) -> None:
        for listener in listeners:
            self.add(listener)

    # -- what the engine calls ---------------------------------------------------

    def run_started(self, event: RunStarted) -> None:
        self.run_id = event.run_id
        self._each("run_started", event)

    def sync_started(self, event: SyncStarted) -> None:
        self._each("sync_started", event)

    def sync_progress(self, event: SyncProgress) -> None:
        self._each("sync_progress", event)

    def sending(self, name: str, total: int) -> None:
        """Sync ``name`` begins sending ``total`` records: a progress event with ``done`` 0."""
        with self._lock:
            self._done[name] = (0, total)
        self.sync_progress(SyncProgress(self.run_id, name, 0, total, 0))

    def advance(self, name: str, increment: int) -> None:
        """``increment`` more records of sync ``name`` were answered: a progress event with the running count."""
        with self._lock:
            done, total = self._done.get(name, (0, 0))
            done += increment
            self._done[name] = (done, total)
        self.sync_progress(SyncProgress(self.run_id, name, done, total, increment))

    def sync_finished(self, result: SyncResult) -> None:
        with self._lock:
            self._done.pop(result.name, None)
        self._each("sync_finished", result)

    def run_finished(self, result: RunResult) -> None:
        self._each("run_finished", result)

    def close(self) -> None:
        self._each("close")

    def _each(self, method: str, *args: object) -> None:
        for listener in self.listeners:
            try:
                getattr(listener, method)(*args)
            except Exception as exc:  # a listener's bug or outage never fails the run
                key = (id(listener), method)
                with self._lock:
                    first = key not in self._failed
                    self._failed.add(key)
                if first:
                    log.warning(
                        "run event listener %s failed in %s: %s: %s",
                        type(listener).__name__, method, type(exc).__name__, redact(str(exc)),
                    )
                log.debug("run event listener %s failed in %s", type(listener).__name__, method, exc_info=True)
