"""Alerts people trust: one when a sync starts failing, one when it recovers.

Public API:

* :func:`evaluate_alerts` (``dbt_sync.alerts.evaluate``): called by the run
  after each non-dry run; never raises.
* :func:`send_test`: what ``dbt-sync alerts test --channel NAME`` does.

See docs/alerts.md for the rules, the tables and each channel's settings.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from dbt_sync.alerts.channels import deliver
from dbt_sync.alerts.evaluate import evaluate_alerts
from dbt_sync.alerts.health import TEST, OpenFailures
from dbt_sync.alerts.render import build_payload
from dbt_sync.alerts.store import SENT, AlertRow, AlertStore, alert_id
from dbt_sync.clock import utcnow
from dbt_sync.engine.results import PARTIAL, OperationCounts, RunResult, SyncResult
from dbt_sync.errors import ConfigError, did_you_mean
from dbt_sync.secrets import redact

TEST_SYNC = "dbt_sync_alerts_test"


#: what a test alert sent without the warehouse shows where a real one has its SQL
NO_WAREHOUSE_SQL = "(the query listing the sync's records in dbt_sync_open_failures; a test alert recorded " \
    "in the warehouse shows it)"


def sample_payload(now: dt.datetime, run_id: str, failures_sql: str = NO_WAREHOUSE_SQL) -> dict[str, Any]:
    """A realistic, obviously fake alert: every part of a real one is exercised.

    ``failures_sql``: what the alert gives to paste (the warehouse renders it
    for the sample sync when there is one).
    """
    sync = SyncResult(name=TEST_SYNC, model="example_model", destination="example_destination",
                      object="ExampleObject", mode="upsert", status=PARTIAL, failed=2, updated=98,
                      started_at=now.isoformat(), finished_at=now.isoformat())
    sync.operations["upsert"] = OperationCounts(attempted=100, succeeded=98, failed=2)
    sync.count_error("EXAMPLE_ERROR", "This is what a sample error message looks like.")
    sync.count_error("EXAMPLE_ERROR", "This is what a sample error message looks like.")
    run = RunResult(run_id=run_id, started_at=now.isoformat(), finished_at=now.isoformat(), target="example_target")
    example = {"error_code": "EXAMPLE_ERROR", "error_message": "This is what a sample error message looks like."}
    open_failures = OpenFailures(
        count=2, records=100, by_code={"EXAMPLE_ERROR": 2},
        sample=({"record_key": "example-2", **example}, {"record_key": "example-1", **example}),
    )
    return build_payload(
        TEST, sync, run,
        reason="test alert: nothing is failing",
        failures_sql=failures_sql,
        failing_since=None, failing_seconds=None, dominant_error="EXAMPLE_ERROR", created_at=now,
        open_failures=open_failures, failing_kind=None,
    )


def send_test(
    project: Any,
    channel_name: str,
    *,
    warehouse: Any = None,
    now: dt.datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Send a test alert to one channel, with the channel's usual retries.

    Raises :class:`~dbt_sync.errors.ConfigError` for an unknown channel name;
    otherwise returns ``{sync, kind: "test", channel, status, attempts, error}``
    and never raises. With ``warehouse``, the delivery is also recorded in
    ``dbt_sync_alerts`` (kind ``test``); recording problems are reported in
    ``error`` without changing ``status``.
    """
    config = project.config
    channel = config.channels.get(channel_name)
    if channel is None:
        known = ", ".join(sorted(config.channels)) or "none defined"
        raise ConfigError(
            f"unknown channel '{channel_name}'.{did_you_mean(channel_name, config.channels)} "
            f"Channels in {config.path or 'dbt_sync.yml'}: {known}."
        )
    now = now or utcnow()
    run_id = f"test-{now.strftime('%Y%m%dT%H%M%S%f')}"
    payload = sample_payload(
        now, run_id, AlertStore(warehouse).failures_sql(TEST_SYNC) if warehouse is not None else NO_WAREHOUSE_SQL
    )
    key = alert_id(TEST_SYNC, run_id, TEST, channel_name)
    delivery = deliver(channel, payload, key, sleep)
    error = delivery.error
    if warehouse is not None:
        try:
            store = AlertStore(warehouse)
            store.ensure_tables()
            row = AlertRow(key, TEST_SYNC, run_id, TEST, channel_name, "pending", 0, None, payload, now)
            store.insert_test(row)
            store.record_delivery(row, delivery.status, delivery.attempts, delivery.error,
                                  utcnow() if delivery.status == SENT else None)
        except Exception as exc:
            error = f"{error + '; ' if error else ''}could not record the test alert: {type(exc).__name__}: {exc}"
    return {"sync": TEST_SYNC, "kind": TEST, "channel": channel_name, "status": delivery.status,
            "attempts": delivery.attempts, "error": redact(error) if error else None}


__all__ = ["evaluate_alerts", "send_test"]
