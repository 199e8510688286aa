"""API usage counted per sync, while syncs of a run share one destination.

A destination (one login, one rate limiter per account) serves every sync of
a run that writes to it, from several threads at once, so its own counters
are the account's running total. The engine runs each sync inside
:func:`metering` with that sync's :class:`Meter`; a destination calls
:func:`count` where it counts a request, a 429, a re-login or a Bulk job,
and the figure lands on the meter of the sync whose thread made the call.
Work handed to another thread keeps the sync's meter when submitted with
:func:`submit`.

Counter names: ``requests``, ``rate_limited`` (HTTP 429 / Salesforce
``REQUEST_LIMIT_EXCEEDED`` answers), ``reauthentications`` (Salesforce
logins after an expired session), ``oauth_refreshes`` (HubSpot token
refreshes), ``bulk_jobs`` (Salesforce Bulk API 2.0 ingest jobs), ``retries`` (the
engine's request and record retries, counted by engine/sender.py).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

_current: contextvars.ContextVar[Meter | None] = contextvars.ContextVar("dbt_sync_meter", default=None)


class Meter:
    """Thread-safe counters of one sync's API usage.

    A meter with a ``parent`` (one batch's, see dbt_sync/telemetry.py) adds
    every count to its parent too, so the sync's figures stay whole.
    """

    def __init__(self, parent: Meter | None = None) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._parent = parent

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + n
        if self._parent is not None:
            self._parent.add(name, n)

    def get(self, name: str) -> int:
        with self._lock:
            return self._counts.get(name, 0)


@contextmanager
def metering(meter: Meter) -> Iterator[Meter]:
    """Count the API calls made by this thread (and work it submits) on ``meter``."""
    token = _current.set(meter)
    try:
        yield meter
    finally:
        _current.reset(token)


def current() -> Meter | None:
    """The meter the current thread counts on (None outside a sync)."""
    return _current.get()


def count(name: str, n: int = 1) -> None:
    """Add ``n`` to counter ``name`` of the current sync's meter, if any."""
    meter = _current.get()
    if meter is not None:
        meter.add(name, n)


def submit(executor: Executor, fn: Callable[..., T], *args: Any) -> Future[T]:
    """``executor.submit`` that keeps the caller's meter in the worker thread."""
    return executor.submit(contextvars.copy_context().run, fn, *args)
