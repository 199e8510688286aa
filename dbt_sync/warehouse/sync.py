"""One sync's handle on the warehouse: its lock, changeset, state, runs and records in flight.

``Warehouse.sync(name)`` returns a :class:`SyncHandle`; the engine and the
CLI reach a sync's rows only through it, and every statement it runs is a
named macro of the ``dbt_sync`` package (``macros/locks.sql``,
``macros/inflight.sql``, ``macros/state.sql``), dispatched per adapter and
called with the values as arguments::

    sync = wh.sync("contacts_to_hubspot")
    if sync.lock(holder, stale_seconds=60) is None:
        counts = sync.claim()
        for page in sync.pages(5000):
            ...
            sync.commit(run_id, successes, deletions, failures)
        sync.release(holder)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from dbt_sync.clock import utcnow

if TYPE_CHECKING:
    from dbt_sync.warehouse.warehouse import Confirmed, FailureRow, Warehouse

_IN_LIST_SIZE = 1000
#: keys per in-flight insert statement
_INFLIGHT_CHUNK = 500
#: what an abandoned run's row says
ABANDONED_MESSAGE = "the run stopped without closing this row (killed or lost); see the next run"


class KeyStatus(str, Enum):
    """Where a record key of a create-mode sync stands, for ``dbt-sync resolve``."""

    IN_DOUBT = "in_doubt"  # in dbt_sync_inflight: sent by a run that stopped before recording the outcome
    CREATED = "created"  # in dbt_sync_state: the CRM confirmed it (or it was resolved with its id)
    UNKNOWN = "unknown"  # neither: nothing is in doubt under this key


@dataclass(frozen=True)
class KeyState:
    status: KeyStatus
    destination_id: str | None = None
    #: the sync's keys in doubt, when this one is not (at most 10, sorted)
    in_doubt: tuple[str, ...] = ()


@dataclass(frozen=True)
class ColumnResolution:
    """The built relation's column names, and for each asked name the column it refers to (None: none)."""

    columns: list[str]
    resolved: dict[str, str | None]
    #: each relation column's type as the adapter reports it (``get_columns_in_relation``), lower-cased
    types: dict[str, str] = field(default_factory=dict)

    def type_of(self, name: str) -> str | None:
        """The type of the column ``name`` refers to, or None when it refers to none."""
        column = self.resolved.get(name)
        return self.types.get(column) if column is not None else None

    @property
    def missing(self) -> list[str]:
        return [name for name, column in self.resolved.items() if column is None]


class SyncHandle:
    """Everything a run does in the warehouse for one sync (``name``).

    Cheap to make (``Warehouse.sync(name)``) and safe to share between
    threads, as the :class:`~dbt_sync.warehouse.Warehouse` is.
    """

    def __init__(self, warehouse: Warehouse, name: str) -> None:
        self._wh = warehouse
        self.name = name

    def _no_tables(self) -> bool:
        """A dry run on a warehouse where dbt-sync never ran: nothing to read, and nothing may be created."""
        return self._wh.read_only and not self._wh.has_audit_tables()

    # -- the run lock (dbt_sync_locks) ------------------------------------------

    def lock(
        self, holder: str, stale_seconds: float, is_dead: Callable[[str], bool] | None = None
    ) -> tuple[str, str] | None:
        """Take the sync's lock; None when taken, else (holder, acquired_at) of the live holder.

        A holder is live while its heartbeat is younger than ``stale_seconds``
        and ``is_dead(holder)`` (when given) is False.
        """
        wh = self._wh
        wh._ensure_once()
        now = utcnow()
        with wh._transaction():
            lock_sql = str(wh._template("lock_table_sql", relation=wh.table("dbt_sync_locks")))
            if lock_sql:
                wh._execute(lock_sql)
            for row in wh._fetch(wh._macro("lock_rows_sql", sync_name=self.name)):
                beat = row["heartbeat_at"]
                alive = beat is not None and (now - beat).total_seconds() < stale_seconds
                if alive and is_dead is not None and is_dead(str(row["holder"])):
                    alive = False
                if alive and row["holder"] != holder:
                    return str(row["holder"]), str(row["acquired_at"])
            wh._run("lock_take_sql", sync_name=self.name, holder=holder, now=now)
        return None

    def heartbeat(self, holder: str) -> bool:
        """Refresh ``holder``'s heartbeat; False when the lock is no longer ``holder``'s."""
        self._wh.run_macro("lock_heartbeat_sql", sync_name=self.name, holder=holder, now=utcnow())
        return bool(self._wh.query_macro("lock_held_sql", sync_name=self.name, holder=holder))

    def release(self, holder: str) -> None:
        """Delete ``holder``'s lock row."""
        self._wh.run_macro("lock_release_sql", sync_name=self.name, holder=holder)

    # -- runs (dbt_sync_runs) ---------------------------------------------------

    def abandon_runs(self, run_id: str) -> int:
        """Close as ``abandoned`` the ``running`` rows other runs left for this sync; how many.

        Called by the holder of the sync's lock: no other run can be running
        the sync, so a ``running`` row of another run belongs to a run that died
        (``kill -9``, a lost machine) before it could close it.
        """
        rows = self._wh.query_macro("running_runs_sql", sync_name=self.name, run_id=run_id)
        if rows:
            self._wh.run_macro(
                "abandon_runs_sql", sync_name=self.name, run_id=run_id, finished_at=utcnow(), message=ABANDONED_MESSAGE
            )
        return len(rows)

    def start_run(self, run_id: str, **kwargs: Any) -> None:
        """:meth:`Warehouse.start_run` for this sync."""
        self._wh.start_run(run_id, self.name, **kwargs)

    def finish_run(self, run_id: str, status: str, **kwargs: Any) -> None:
        """:meth:`Warehouse.finish_run` for this sync."""
        self._wh.finish_run(run_id, self.name, status, **kwargs)

    def failures_sql(self, run_id: str) -> str:
        """The SQL that lists the failures run ``run_id`` recorded for this sync, ready to paste."""
        return self._wh.render_macro("run_failures_sql", sync_name=self.name, run_id=run_id)

    # -- the changeset ----------------------------------------------------------

    def has_capture(self) -> bool:
        """Whether a capture newer than the last claimed one exists (the post-hook's, not yet claimed)."""
        wh = self._wh
        wh._ensure_once()
        with wh._transaction():
            tables = wh._table_names()
        return wh.changes_table(self.name, "changes") in tables

    def claim(self) -> dict[str, int]:
        """:meth:`Warehouse.claim_changeset` for this sync."""
        return self._wh.claim_changeset(self.name)

    def peek(self, model_unique_id: str, *, capture: bool = False, fresh: bool = False) -> dict[str, int]:
        """:meth:`Warehouse.peek_changeset` for this sync (``--dry-run``)."""
        return self._wh.peek_changeset(self.name, model_unique_id, capture=capture, fresh=fresh)

    def pages(self, page_size: int = 5000) -> Iterator[list[dict[str, Any]]]:
        """:meth:`Warehouse.iter_changes` for this sync."""
        return self._wh.iter_changes(self.name, page_size)

    # -- the state (dbt_sync_state) and failures --------------------------------

    def commit(
        self,
        run_id: str,
        successes: Sequence[Confirmed] = (),
        deletions: Sequence[str] = (),
        failures: Sequence[FailureRow] = (),
        resolved: Sequence[str] = (),
    ) -> None:
        """:meth:`Warehouse.commit` for this sync."""
        self._wh.commit(self.name, run_id, successes, deletions, failures, resolved)

    def unsettle(self, keys: Sequence[str]) -> None:
        """:meth:`Warehouse.unsettle` for this sync."""
        self._wh.unsettle(self.name, keys)

    def holders(self, destination_ids: Sequence[str]) -> dict[str, set[str]]:
        """:meth:`Warehouse.holders` for this sync."""
        return self._wh.holders(self.name, destination_ids)

    def full_refresh(self) -> None:
        """:meth:`Warehouse.full_refresh` for this sync."""
        self._wh.full_refresh(self.name)

    def reset(self) -> None:
        """:meth:`Warehouse.reset` for this sync."""
        self._wh.reset(self.name)

    def state_count(self) -> int:
        """Records this sync has written and not deleted (the delete guard's denominator)."""
        self._wh._ensure_once()
        if self._no_tables():
            return 0
        rows = self._wh.query_macro("state_count_sql", sync_name=self.name)
        return int(rows[0]["n"]) if rows else 0

    def destination_ids(self, keys: Sequence[str]) -> dict[str, str | None]:
        """Destination ids that this sync recorded for the given record keys."""
        self._wh._ensure_once()
        if self._no_tables():
            return {}
        out: dict[str, str | None] = {}
        for i in range(0, len(keys), _IN_LIST_SIZE):
            rows = self._wh.query_macro(
                "state_destination_ids_sql", sync_name=self.name, keys=list(keys[i : i + _IN_LIST_SIZE])
            )
            for row in rows:
                out[str(row["record_key"])] = row["destination_id"]
        return out

    # -- create batches in flight (dbt_sync_inflight; see engine/inflight.py) ---

    def mark_in_flight(self, run_id: str, keys: Sequence[str]) -> str:
        """Record a batch's keys as in flight (committed before the batch is sent); returns the batch id."""
        wh = self._wh
        wh._ensure_inflight()
        batch_id = uuid.uuid4().hex
        now = utcnow()
        with wh._transaction():
            for i in range(0, len(keys), _INFLIGHT_CHUNK):
                wh._run("inflight_mark_sql", sync_name=self.name, run_id=run_id, batch_id=batch_id,
                        keys=list(keys[i : i + _INFLIGHT_CHUNK]), sent_at=now)
        return batch_id

    def clear_in_flight(self, batch_id: str, keep: Sequence[str] = ()) -> None:
        """The batch's outcomes are committed: its keys are no longer in flight, but for ``keep``.

        ``keep``: keys whose fate is still unknown (their create timed out), left
        in flight so every later run reports them in doubt until resolved.
        """
        self._wh.run_macro("inflight_clear_sql", sync_name=self.name, batch_id=batch_id, keep=list(keep))

    def left_in_flight(self, run_id: str) -> set[str]:
        """Keys another run left in flight, minus those whose outcome did reach the state."""
        self._wh._ensure_inflight()
        self._wh.run_macro("inflight_settled_sql", sync_name=self.name)
        rows = self._wh.query_macro("inflight_left_sql", sync_name=self.name, run_id=run_id)
        return {str(r["record_key"]) for r in rows}

    def key_state(self, record_key: str) -> KeyState:
        """Whether ``record_key`` is in doubt, already created, or neither."""
        wh = self._wh
        wh._ensure_inflight()
        if wh.query_macro("inflight_keys_sql", sync_name=self.name, record_key=record_key):
            return KeyState(KeyStatus.IN_DOUBT)
        rows = wh.query_macro("state_destination_ids_sql", sync_name=self.name, keys=[record_key])
        if rows:
            dest = rows[0]["destination_id"]
            return KeyState(KeyStatus.CREATED, str(dest) if dest is not None else None)
        others = wh.query_macro("inflight_keys_sql", sync_name=self.name, limit=10)
        return KeyState(KeyStatus.UNKNOWN, in_doubt=tuple(str(r["record_key"]) for r in others))

    def resolve_in_doubt(self, record_key: str, destination_id: str | None = None) -> None:
        """Settle an in-doubt record after checking the CRM.

        With the ``destination_id`` found in the CRM the record counts as created
        (it enters the state and is never created again); without it, it is sent
        on the next run.
        """
        self._wh._ensure_inflight()
        if destination_id is not None:
            from dbt_sync.warehouse.warehouse import Confirmed

            self.commit("resolved-in-doubt", [Confirmed(record_key, None, destination_id)])
        self._wh.run_macro("inflight_forget_sql", sync_name=self.name, record_key=record_key)

    def forget_in_flight(self) -> None:
        """--full-refresh and reset: the sync's history is gone, and so is what it had in flight."""
        self._wh._ensure_inflight()
        self._wh.run_macro("inflight_forget_sql", sync_name=self.name)
