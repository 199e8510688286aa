"""The in-flight record of create-mode batches: at most once, never twice.

A create cannot be repeated blindly: sending it again may make a duplicate.
Before a create batch is sent, its keys are written to ``dbt_sync_inflight``
(committed); once the batch's outcomes are committed, they are removed (keys
whose answer was unknown, a timeout, are written again). If the process dies
in between (``kill -9``, a lost warehouse), the keys stay, and the next run
settles them before anything else: with a match key it looks each record up
by it (found: its id is stored; not found: it is created); without one it
reports them as ``IN_DOUBT`` failures and does not send them until someone
checked the CRM and called :func:`resolve` (or ran ``--full-refresh`` /
``dbt-sync reset``, which forget the sync's history, or ``dbt-sync resolve``).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from dbt_sync.warehouse import Confirmed, literals

if TYPE_CHECKING:
    from dbt_sync.spec import SyncSpec
    from dbt_sync.warehouse import Warehouse

TABLE = "dbt_sync_inflight"
IN_DOUBT = "IN_DOUBT"
_CHUNK = 500
_ENSURE_LOCK = threading.Lock()


def applies(spec: SyncSpec) -> bool:
    """Creates that the destination cannot match on a resend: in doubt after a crash, one batch at a time."""
    return spec.mode == "create" and not spec.match


def tracks(spec: SyncSpec) -> bool:
    """Creates recorded in flight: a crash (or an unknown answer) leaves them for the next run to settle.

    With a match key the next run looks them up by it (found: adopted; not
    found: created); without one they are reported ``IN_DOUBT``.
    """
    return spec.mode == "create"


def in_doubt_message(sync_name: str, key: str, why: str | None = None) -> str:
    """What to do about a record in doubt; ``why`` replaces the default cause (a run that stopped)."""
    cause = why or "was being created by a run that stopped before recording the outcome"
    return (
        f"record {key} {cause}; it may or may not "
        f"exist in the CRM, so it was not sent again (that could duplicate it). Check the CRM, then run "
        f"`dbt-sync resolve {sync_name} {key} --destination-id <its id>` if it exists, or "
        f"`dbt-sync resolve {sync_name} {key}` to send it on the next run."
    )


def ensure(wh: Warehouse) -> None:
    wh._ensure_once()
    if getattr(wh, "_inflight_ready", False):
        return
    with _ENSURE_LOCK:  # syncs of one run start side by side; DuckDB refuses concurrent DDL
        if getattr(wh, "_inflight_ready", False):
            return
        sql = str(wh._macro("inflight_table_sql", relation=wh.table(TABLE))).strip()
        wh.execute(sql)
        wh._inflight_ready = True  # type: ignore[attr-defined]


def mark(wh: Warehouse, sync_name: str, run_id: str, keys: Sequence[str]) -> str:
    """Record a batch's keys as in flight (committed before the batch is sent); returns the batch id."""
    from dbt_sync.clock import utcnow

    ensure(wh)
    batch_id = uuid.uuid4().hex
    now = utcnow()
    table = wh.table(TABLE)
    rows = [literals.row_literal((sync_name, k, run_id, batch_id, now), wh.adapter_type) for k in keys]
    with wh._transaction():
        for i in range(0, len(rows), _CHUNK):
            wh._execute(
                f"insert into {table} (sync_name, record_key, run_id, batch_id, sent_at) values "
                + ", ".join(rows[i : i + _CHUNK])
            )
    return batch_id


def clear(wh: Warehouse, sync_name: str, batch_id: str, keep: Sequence[str] = ()) -> None:
    """The batch's outcomes are committed: its keys are no longer in flight, but for ``keep``.

    ``keep``: keys whose fate is still unknown (their create timed out), left
    in flight so every later run reports them in doubt until resolved.
    """
    where = f"sync_name = {wh._lit(sync_name)} and batch_id = {wh._lit(batch_id)}"
    if keep:
        where += f" and record_key not in ({literals.list_literal(list(keep), wh.adapter_type)})"
    wh.execute(f"delete from {wh.table(TABLE)} where {where}")


def left_by_dead_runs(wh: Warehouse, sync_name: str, run_id: str) -> set[str]:
    """Keys another run left in flight, minus those whose outcome did reach the state."""
    ensure(wh)
    table, name = wh.table(TABLE), wh._lit(sync_name)
    wh.execute(
        f"delete from {table} where sync_name = {name} and record_key in "
        f"(select record_key from {wh.table('dbt_sync_state')} where sync_name = {name})"
    )
    rows = wh.query(
        f"select distinct record_key from {table} where sync_name = {name} and run_id <> {wh._lit(run_id)}"
    )
    return {str(r["record_key"]) for r in rows}


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


def key_state(wh: Warehouse, sync_name: str, record_key: str) -> KeyState:
    """Whether ``record_key`` is in doubt, already created, or neither, for ``sync_name``."""
    ensure(wh)
    name, key = wh._lit(sync_name), wh._lit(record_key)
    if wh.query(f"select record_key from {wh.table(TABLE)} where sync_name = {name} and record_key = {key}"):
        return KeyState(KeyStatus.IN_DOUBT)
    rows = wh.query(
        f"select destination_id from {wh.table('dbt_sync_state')} where sync_name = {name} and record_key = {key}"
    )
    if rows:
        dest = rows[0]["destination_id"]
        return KeyState(KeyStatus.CREATED, str(dest) if dest is not None else None)
    others = wh.query(
        f"select distinct record_key from {wh.table(TABLE)} where sync_name = {name} order by record_key limit 10"
    )
    return KeyState(KeyStatus.UNKNOWN, in_doubt=tuple(str(r["record_key"]) for r in others))


def resolve(wh: Warehouse, sync_name: str, record_key: str, destination_id: str | None = None) -> None:
    """Settle an in-doubt record after checking the CRM.

    With the ``destination_id`` found in the CRM the record counts as created
    (it enters the state and is never created again); without it, it is sent
    on the next run.
    """
    ensure(wh)
    if destination_id is not None:
        wh.commit(sync_name, "resolved-in-doubt", [Confirmed(record_key, None, destination_id)])
    wh.execute(
        f"delete from {wh.table(TABLE)} where sync_name = {wh._lit(sync_name)} "
        f"and record_key = {wh._lit(record_key)}"
    )


def forget(wh: Warehouse, sync_name: str) -> None:
    """--full-refresh: the sync's history is gone, and so is what it had in flight."""
    ensure(wh)
    wh.execute(f"delete from {wh.table(TABLE)} where sync_name = {wh._lit(sync_name)}")
