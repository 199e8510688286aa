"""The alert tables in the warehouse: ``dbt_sync_health`` and ``dbt_sync_alerts``.

Health lives in the warehouse, not on the machine that ran dbt-sync, so
"failing since" holds across runs, laptops and orchestrator workers. Every
delivery is a row in ``dbt_sync_alerts`` written as ``pending`` *before* it is
sent, keyed by a deterministic ``alert_id`` (sync, run, kind, channel): a
rerun after a crash finds the row and never sends what was already ``sent``.

SQL goes through the user's dbt adapter (see :mod:`dbt_sync.warehouse`); the
tables are created by the ``dbt_sync.ensure_alert_tables`` macro.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dbt_sync.alerts.health import Health, OpenFailures
from dbt_sync.secrets import redact, redact_obj
from dbt_sync.warehouse import literals

if TYPE_CHECKING:
    from dbt_sync.warehouse.warehouse import Warehouse

HEALTH_TABLE = "dbt_sync_health"
ALERTS_TABLE = "dbt_sync_alerts"

PENDING = "pending"
SENT = "sent"

_HEALTH_COLUMNS = (
    "sync_name", "state", "since", "last_run_id", "last_alert_at", "dominant_error", "updated_at", "failing_kind",
)
#: open failures an alert shows, newest first
SAMPLE_SIZE = 10
_ALERT_COLUMNS = (
    "alert_id", "sync_name", "run_id", "kind", "channel", "status", "attempts", "error", "payload",
    "created_at", "sent_at",
)
_IN_LIST_SIZE = 500


def alert_id(sync_name: str, run_id: str, kind: str, channel: str) -> str:
    """Deterministic id: the same alert for the same run is the same row."""
    key = "\x1f".join((sync_name, run_id, kind, channel))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


@dataclass
class AlertRow:
    """One delivery of one alert to one channel."""

    alert_id: str
    sync_name: str
    run_id: str
    kind: str
    channel: str
    status: str
    attempts: int
    error: str | None
    payload: dict[str, Any]
    created_at: dt.datetime
    sent_at: dt.datetime | None = None


class AlertStore:
    """Reads and writes the alert tables through a :class:`Warehouse`."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.wh = warehouse

    def ensure_tables(self) -> None:
        """Create the audit schema (shared migration) and the alert tables; idempotent."""
        self.wh.ensure_tables()
        with self.wh._connection():
            try:
                self.wh._macro("ensure_alert_tables")
            except Exception:
                self.wh.adapter.connections.rollback_if_open()
                raise

    def table(self, identifier: str) -> str:
        return self.wh.table(identifier)

    def _in(self, values: Sequence[str]) -> str:
        return "(" + literals.list_literal(values, self.wh.adapter_type) + ")"

    # -- health ----------------------------------------------------------------

    def load_health(self, sync_names: Iterable[str]) -> dict[str, Health]:
        names = sorted(set(sync_names))
        out: dict[str, Health] = {}
        table = self.table(HEALTH_TABLE)
        for i in range(0, len(names), _IN_LIST_SIZE):
            rows = self.wh.query(
                f"select {', '.join(_HEALTH_COLUMNS)} from {table} "
                f"where sync_name in {self._in(names[i:i + _IN_LIST_SIZE])}"
            )
            for row in rows:
                out[str(row["sync_name"])] = Health(
                    sync_name=str(row["sync_name"]),
                    state=str(row["state"]),
                    since=row["since"],
                    last_run_id=row["last_run_id"],
                    last_alert_at=row["last_alert_at"],
                    dominant_error=row["dominant_error"],
                    updated_at=row["updated_at"],
                    failing_kind=row["failing_kind"],
                )
        return out

    def open_failures(self, sync_name: str, sample_size: int = SAMPLE_SIZE) -> OpenFailures:
        """The sync's failing records now (``dbt_sync_open_failures``): counts per code and a sample."""
        name = self.wh._lit(sync_name)
        by_code = {
            str(r["error_code"]): int(r["failures"])
            for r in self.wh.query(str(self.wh._macro("open_failures_by_code_sql", sync_name_sql=name)))
        }
        records = self.wh.query(str(self.wh._macro("sync_records_count_sql", sync_name_sql=name)))
        sample = self.wh.query(
            str(self.wh._macro("open_failures_sample_sql", sync_name_sql=name, size=sample_size))
        ) if by_code else []
        return OpenFailures(
            count=sum(by_code.values()),
            records=int(records[0]["n"]) if records else 0,
            by_code=by_code,
            sample=tuple(
                {"record_key": r["record_key"], "error_code": r["error_code"],
                 "error_message": redact(r["error_message"] or "")}
                for r in sample
            ),
        )

    def failures_sql(self, sync_name: str) -> str:
        """The SQL that lists every open failure of the sync, ready to paste."""
        return str(self.wh._macro("open_failures_listing_sql", sync_name_sql=self.wh._lit(sync_name)))

    def save_health(self, health: Health) -> None:
        """Replace the sync's row (delete + insert in one transaction: portable upsert)."""
        table = self.table(HEALTH_TABLE)
        values = literals.row_literal([getattr(health, c) for c in _HEALTH_COLUMNS], self.wh.adapter_type)
        with self.wh._transaction():
            self.wh._execute(f"delete from {table} where sync_name = {self.wh._lit(health.sync_name)}")
            self.wh._execute(f"insert into {table} ({', '.join(_HEALTH_COLUMNS)}) values {values}")

    # -- alerts ----------------------------------------------------------------

    def add_pending(self, rows: Sequence[AlertRow]) -> None:
        """Insert rows that do not exist yet; an existing alert_id is left as it is."""
        if not rows:
            return
        table = self.table(ALERTS_TABLE)
        with self.wh._transaction():
            for row in rows:
                values = [
                    row.alert_id, row.sync_name, row.run_id, row.kind, row.channel, PENDING, 0, None,
                    json.dumps(redact_obj(row.payload), sort_keys=True, default=str), row.created_at, None,
                ]
                select = ", ".join(self.wh._lit(v) for v in values)
                self.wh._execute(
                    f"insert into {table} ({', '.join(_ALERT_COLUMNS)}) select {select} "
                    f"where not exists (select 1 from {table} where alert_id = {self.wh._lit(row.alert_id)})"
                )

    def undelivered(self, sync_name: str, since: dt.datetime | None, run_id: str) -> list[AlertRow]:
        """Rows of the sync's current episode (or of this run) not yet sent, oldest first."""
        lit = self.wh._lit
        where = f"sync_name = {lit(sync_name)} and status <> {lit(SENT)} and (run_id = {lit(run_id)}"
        if since is not None:
            where += f" or created_at >= {self.wh._lit(since)}"
        where += ")"
        return self._select(f"{where} order by created_at, channel")

    def rows_for(self, sync_name: str | None = None) -> list[AlertRow]:
        """Every alert row (of one sync), oldest first: for reports and tests."""
        where = "1 = 1" if sync_name is None else f"sync_name = {self.wh._lit(sync_name)}"
        return self._select(f"{where} order by created_at, sync_name, kind, channel")

    def _select(self, where: str) -> list[AlertRow]:
        rows = self.wh.query(f"select {', '.join(_ALERT_COLUMNS)} from {self.table(ALERTS_TABLE)} where {where}")
        out = []
        for r in rows:
            try:
                payload = json.loads(r["payload"]) if r["payload"] else {}
            except ValueError:
                payload = {}
            out.append(AlertRow(
                alert_id=str(r["alert_id"]), sync_name=str(r["sync_name"]), run_id=str(r["run_id"]),
                kind=str(r["kind"]), channel=str(r["channel"]), status=str(r["status"]),
                attempts=int(r["attempts"] or 0), error=r["error"], payload=payload,
                created_at=r["created_at"], sent_at=r["sent_at"],
            ))
        return out

    def record_delivery(self, row: AlertRow, status: str, attempts: int, error: str | None,
                        sent_at: dt.datetime | None) -> None:
        """Store a delivery's outcome; attempts accumulate across runs."""
        table = self.table(ALERTS_TABLE)
        assignments = {
            "status": status,
            "attempts": row.attempts + attempts,
            "error": redact(error)[:2000] if error else None,
            "sent_at": sent_at,
        }
        sets = ", ".join(f"{k} = {self.wh._lit(v)}" for k, v in assignments.items())
        with self.wh._transaction():
            self.wh._execute(f"update {table} set {sets} where alert_id = {self.wh._lit(row.alert_id)}")
        row.status, row.attempts, row.error, row.sent_at = status, row.attempts + attempts, error, sent_at

    def insert_test(self, row: AlertRow) -> None:
        """A ``dbt-sync alerts test`` delivery: recorded with its outcome straight away."""
        self.add_pending([row])
