"""The run's connections to its destinations: one per destination, opened on first use, shared by its syncs."""

from __future__ import annotations

import threading
from collections.abc import Callable

from dbt_sync.destinations import open_destination
from dbt_sync.destinations.base import Destination, DestinationError
from dbt_sync.engine.pacing import paced
from dbt_sync.project.config import SyncConfig


class Connections:
    """Destinations by name for one run.

    ``factory`` (optional) builds a destination by name instead of the
    registry (``open_destination`` of the ``dbt_sync.yml`` entry): tests
    pass an in-memory one.
    """

    def __init__(self, config: SyncConfig, factory: Callable[[str], Destination] | None = None) -> None:
        self.config = config
        self.factory = factory
        self._destinations: dict[str, Destination] = {}
        self._destination_errors: dict[str, DestinationError] = {}
        self._destination_locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, name: str) -> Destination:
        """The run's one connection to destination ``name``, opened on first use.

        Syncs of a stage run in threads: opening is guarded per destination,
        so however many syncs ask at once there is one login and one rate
        limiter (pacer) per destination account in a run. An opening that
        failed (:class:`DestinationError`) fails every later ``get`` of that
        name the same way, without trying again.
        """
        with self._guard:
            lock = self._destination_locks.setdefault(name, threading.Lock())
        with lock:
            if name in self._destination_errors:
                raise self._destination_errors[name]
            if name not in self._destinations:
                try:
                    if self.factory is not None:
                        dest = self.factory(name)
                    else:
                        dest = open_destination(self.config.destination(name))
                    self._destinations[name] = paced(dest)
                except DestinationError as exc:
                    self._destination_errors[name] = exc
                    raise
            return self._destinations[name]

    def opened(self, name: str) -> Destination | None:
        """Destination ``name`` if this run opened it, else None (never opens it)."""
        return self._destinations.get(name)

    def close(self) -> None:
        """Close every destination opened in this run."""
        for destination in self._destinations.values():
            destination.close()
