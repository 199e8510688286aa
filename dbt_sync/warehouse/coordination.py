"""Run locks and state lookups the engine needs besides changesets and audit rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dbt_sync.clock import utcnow
from dbt_sync.warehouse import literals

if TYPE_CHECKING:
    from dbt_sync.warehouse.warehouse import Warehouse

_IN_LIST_SIZE = 1000


def _no_tables(wh: Warehouse) -> bool:
    """A dry run on a warehouse where dbt-sync never ran: nothing to read, and nothing may be created."""
    return wh.read_only and not wh.has_audit_tables()


def try_lock(
    wh: Warehouse,
    sync_name: str,
    holder: str,
    stale_seconds: float,
    is_dead: Callable[[str], bool] | None = None,
) -> tuple[str, str] | None:
    """Take the sync's lock; None when taken, else (holder, acquired_at) of the live holder.

    A holder is live while its heartbeat is younger than ``stale_seconds``
    and ``is_dead(holder)`` (when given) is False.
    """
    wh._ensure_once()
    table = wh.table("dbt_sync_locks")
    name = wh._lit(sync_name)
    now = utcnow()
    with wh._transaction():
        lock_sql = str(wh._template("lock_table_sql", relation=table))
        if lock_sql:
            wh._execute(lock_sql)
        rows = wh._fetch(f"select holder, acquired_at, heartbeat_at from {table} where sync_name = {name}")
        for row in rows:
            beat = row["heartbeat_at"]
            alive = beat is not None and (now - beat).total_seconds() < stale_seconds
            if alive and is_dead is not None and is_dead(str(row["holder"])):
                alive = False
            if alive and row["holder"] != holder:
                return str(row["holder"]), str(row["acquired_at"])
        wh._execute(f"delete from {table} where sync_name = {name}")
        values = literals.row_literal((sync_name, holder, now, now), wh.adapter_type)
        wh._execute(f"insert into {table} (sync_name, holder, acquired_at, heartbeat_at) values {values}")
    return None


def heartbeat_lock(wh: Warehouse, sync_name: str, holder: str) -> bool:
    """Refresh ``holder``'s heartbeat; False when the lock is no longer ``holder``'s."""
    table = wh.table("dbt_sync_locks")
    where = f"sync_name = {wh._lit(sync_name)} and holder = {wh._lit(holder)}"
    wh.execute(f"update {table} set heartbeat_at = {wh._lit(utcnow())} where {where}")
    return bool(wh.query(f"select holder from {table} where {where}"))


def abandon_runs(wh: Warehouse, sync_name: str, run_id: str) -> int:
    """Close as ``abandoned`` the ``running`` rows other runs left for this sync; how many.

    Called by the holder of the sync's lock: no other run can be running
    the sync, so a ``running`` row of another run belongs to a run that died
    (``kill -9``, a lost machine) before it could close it.
    """
    table = wh.table("dbt_sync_runs")
    where = f"sync_name = {wh._lit(sync_name)} and status = 'running' and run_id <> {wh._lit(run_id)}"
    rows = wh.query(f"select run_id from {table} where {where}")
    if rows:
        assignments = {
            "status": wh._lit("abandoned"),
            "finished_at": wh._lit(utcnow()),
            "error_message": wh._lit("the run stopped without closing this row (killed or lost); see the next run"),
        }
        with wh._transaction():
            wh._execute(str(wh._macro("update_sql", table="dbt_sync_runs", assignments=assignments, where=where)))
    return len(rows)


def release_lock(wh: Warehouse, sync_name: str, holder: str) -> None:
    table = wh.table("dbt_sync_locks")
    wh.execute(f"delete from {table} where sync_name = {wh._lit(sync_name)} and holder = {wh._lit(holder)}")


def state_count(wh: Warehouse, sync_name: str) -> int:
    """Records this sync has written and not deleted (the delete guard's denominator)."""
    wh._ensure_once()
    if _no_tables(wh):
        return 0
    rows = wh.query(f"select count(*) as n from {wh.table('dbt_sync_state')} where sync_name = {wh._lit(sync_name)}")
    return int(rows[0]["n"]) if rows else 0


def destination_ids(wh: Warehouse, sync_name: str, keys: Sequence[str]) -> dict[str, str | None]:
    """Destination ids that ``sync_name`` recorded for the given record keys."""
    wh._ensure_once()
    if _no_tables(wh):
        return {}
    out: dict[str, str | None] = {}
    table = wh.table("dbt_sync_state")
    for i in range(0, len(keys), _IN_LIST_SIZE):
        in_list = literals.list_literal(keys[i : i + _IN_LIST_SIZE], wh.adapter_type)
        rows = wh.read(
            f"select record_key, destination_id from {table} "
            f"where sync_name = {wh._lit(sync_name)} and record_key in ({in_list})"
        )
        for row in rows:
            out[str(row["record_key"])] = row["destination_id"]
    return out


def pending_retry_syncs(wh: Warehouse) -> set[str]:
    """Syncs with records whose latest attempt failed: planned even if their model was not rebuilt."""
    wh._ensure_once()
    if _no_tables(wh):
        return set()
    rows = wh.query(f"select distinct sync_name from {wh.table('dbt_sync_open_failures')}")
    return {str(r["sync_name"]) for r in rows}


def has_changeset(wh: Warehouse, sync_name: str) -> bool:
    """Whether a capture (new or still pending from an earlier run) exists for this sync."""
    wh._ensure_once()
    with wh._transaction():
        tables = wh._table_names()
    return bool({wh.changes_table(sync_name, "changes"), wh.changes_table(sync_name, "pending")} & tables)


def has_capture(wh: Warehouse, sync_name: str) -> bool:
    """Whether a capture newer than the last claimed one exists (the post-hook's, not yet claimed)."""
    wh._ensure_once()
    with wh._transaction():
        tables = wh._table_names()
    return wh.changes_table(sync_name, "changes") in tables


def resolve_columns(wh: Warehouse, model_unique_id: str, names: Sequence[str]) -> ColumnResolution | None:
    """Which columns of the built relation ``names`` refer to, as the warehouse resolves them.

    Runs the ``dbt_sync.resolve_columns`` macro (the capture's own rule:
    the name as written, else its lower-case form on PostgreSQL and
    Redshift, else any one column equal ignoring case on DuckDB). None when
    the model has not been built.
    """
    node = wh.manifest.nodes[model_unique_id]
    with wh._transaction():  # the adapter's metadata queries open one; end it
        relation = wh.adapter.get_relation(node.database, node.schema, node.alias or node.name)
        if relation is None:
            return None
        found = wh._macro("resolve_columns", relation=relation, names=list(names))
    return ColumnResolution(
        columns=[str(c) for c in found["columns"]],
        resolved={str(k): (None if v is None else str(v)) for k, v in found["resolved"].items()},
    )


@dataclass(frozen=True)
class ColumnResolution:
    """The built relation's column names, and for each asked name the column it refers to (None: none)."""

    columns: list[str]
    resolved: dict[str, str | None]

    @property
    def missing(self) -> list[str]:
        return [name for name, column in self.resolved.items() if column is None]
