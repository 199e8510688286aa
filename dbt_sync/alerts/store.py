"""The alert tables in the warehouse: ``dbt_sync_health`` and ``dbt_sync_alerts``.

Health lives in the warehouse, not on the machine that ran dbt-sync, so
"failing since" holds across runs, laptops and orchestrator workers. Every
delivery is a row in ``dbt_sync_alerts`` written as ``pending`` *before* it is
sent, keyed by a deterministic ``alert_id`` (sync, run, kind, channel): a
rerun after a crash finds the row and never sends what was already ``sent``.

Every statement is a macro of ``macros/alert_tables.sql`` run through the
warehouse layer (:meth:`dbt_sync.warehouse.Warehouse.run_macro` /
``query_macro``); the tables are created by the ``dbt_sync.ensure_alert_tables``
macro.
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

if TYPE_CHECKING:
    from dbt_sync.warehouse.warehouse import Warehouse


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
        self.wh.ensure_alert_tables()

    def table(self, identifier: str) -> str:
        return self.wh.table(identifier)

    # -- health ----------------------------------------------------------------

    def load_health(self, sync_names: Iterable[str]) -> dict[str, Health]:
        names = sorted(set(sync_names))
        out: dict[str, Health] = {}
        for i in range(0, len(names), _IN_LIST_SIZE):
            rows = self.wh.query_macro("health_rows_sql", sync_names=names[i:i + _IN_LIST_SIZE])
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
        by_code = {
            str(r["error_code"]): int(r["failures"])
            for r in self.wh.query_macro("open_failures_by_code_sql", sync_name=sync_name)
        }
        records = self.wh.query_macro("sync_records_count_sql", sync_name=sync_name)
        sample = self.wh.query_macro(
            "open_failures_sample_sql", sync_name=sync_name, size=sample_size
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
        return self.wh.render_macro("open_failures_listing_sql", sync_name=sync_name)

    def save_health(self, health: Health) -> None:
        """Replace the sync's row (delete + insert in one transaction: portable upsert)."""
        self.wh.run_macro("health_save_sql", health={c: getattr(health, c) for c in _HEALTH_COLUMNS})

    # -- alerts ----------------------------------------------------------------

    def add_pending(self, rows: Sequence[AlertRow]) -> None:
        """Insert rows that do not exist yet; an existing alert_id is left as it is."""
        if not rows:
            return
        alerts = [
            dict(zip(_ALERT_COLUMNS, (
                row.alert_id, row.sync_name, row.run_id, row.kind, row.channel, PENDING, 0, None,
                json.dumps(redact_obj(row.payload), sort_keys=True, default=str), row.created_at, None,
            ), strict=True))
            for row in rows
        ]
        self.wh.run_macros([("alert_add_sql", {"alert": alert}) for alert in alerts])

    def undelivered(self, sync_name: str, since: dt.datetime | None, run_id: str) -> list[AlertRow]:
        """Rows of the sync's current episode (or of this run) not yet sent, oldest first."""
        return self._rows(self.wh.query_macro(
            "alert_rows_sql", sync_name=sync_name, undelivered_of_run=run_id, since=since
        ))

    def rows_for(self, sync_name: str | None = None) -> list[AlertRow]:
        """Every alert row (of one sync), oldest first: for reports and tests."""
        return self._rows(self.wh.query_macro("alert_rows_sql", sync_name=sync_name))

    @staticmethod
    def _rows(rows: list[dict[str, Any]]) -> list[AlertRow]:
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
        self.wh.run_macro(
            "alert_delivery_sql", alert_id=row.alert_id, status=status, attempts=row.attempts + attempts,
            error=redact(error)[:2000] if error else None, sent_at=sent_at,
        )
        row.status, row.attempts, row.error, row.sent_at = status, row.attempts + attempts, error, sent_at

    def insert_test(self, row: AlertRow) -> None:
        """A ``dbt-sync alerts test`` delivery: recorded with its outcome straight away."""
        self.add_pending([row])
