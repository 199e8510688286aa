"""After a run: move each sync's health, and tell people only about changes.

Called by :func:`dbt_sync.api.run` after every non-dry run. For each sync:

1. read its health and its open failures from the warehouse and
   :func:`~dbt_sync.alerts.health.decide`;
2. if the decision is an alert, write one ``pending`` row per channel
   (deterministic ``alert_id``: a rerun finds the same rows);
3. save the new health;
4. deliver every row of the sync's current episode (or of this run) that is
   not ``sent`` yet, with retries, and record each outcome. Deliveries of all
   syncs and channels run concurrently within one short budget
   (:data:`DELIVERY_BUDGET_SECONDS`), so a channel that is down delays the
   run by at most that.

Step 4 also catches up: a failure alert a channel missed (it was down) is
delivered on a later run while the sync is still failing, at most
:data:`MAX_TOTAL_ATTEMPTS` times in all. A rerun for the same run id skips
steps 1-3 (the run was already applied) and only finishes step 4, so nothing
already sent is sent again.

Nothing here raises into the run: a broken channel, or even an unreachable
alerts table, becomes an entry with ``status: failed`` in the returned list,
which the CLI prints with the run summary.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dbt_sync.alerts import health as h
from dbt_sync.alerts.channels import deliver
from dbt_sync.alerts.render import build_payload
from dbt_sync.alerts.store import SENT, AlertRow, AlertStore, alert_id
from dbt_sync.clock import utcnow
from dbt_sync.engine.results import DRY_RUN, SKIPPED, RunResult, SyncResult
from dbt_sync.secrets import redact, redact_obj

log = logging.getLogger(__name__)

#: a delivery is given up after this many attempts across runs
MAX_TOTAL_ATTEMPTS = 10
#: all of a run's deliveries (every channel, with retries) end within this many seconds
DELIVERY_BUDGET_SECONDS = 5.0
#: deliveries sent at once
MAX_PARALLEL = 8


def evaluate_alerts(
    project: Any,
    warehouse: Any,
    result: RunResult,
    *,
    now: dt.datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
    budget_seconds: float = DELIVERY_BUDGET_SECONDS,
) -> list[dict[str, Any]]:
    """Apply ``result`` to every sync's health and send the alerts it calls for.

    Returns one ``{sync, kind, channel, status, error}`` per delivery tried in
    this call (``status``: ``sent`` or ``failed``), JSON-serializable and
    redacted. Deliveries run concurrently, all within ``budget_seconds``
    (what is not delivered by then is ``failed`` and caught up by a later
    run). ``now`` (naive UTC) and ``sleep`` exist for tests.
    """
    now = now or utcnow()
    out: list[dict[str, Any]] = []
    try:
        store = AlertStore(warehouse)
        store.ensure_tables()
        healths = store.load_health(s.name for s in result.syncs)
    except Exception as exc:
        return [_entry(None, None, None, "failed", f"cannot read the alert tables: {type(exc).__name__}: {exc}")]
    evaluator = _Evaluator(project, store, result, now, sleep)
    rows: list[AlertRow] = []
    for sync in result.syncs:
        try:
            rows += evaluator.sync(sync, healths.get(sync.name))
        except Exception as exc:  # one sync's trouble must not cost the others their alerts
            out.append(_entry(sync.name, None, None, "failed", f"{type(exc).__name__}: {exc}"))
    out = evaluator.deliver_all(rows, budget_seconds) + out
    redacted: list[dict[str, Any]] = redact_obj(out)
    return redacted


def _entry(sync: str | None, kind: str | None, channel: str | None, status: str, error: str | None) -> dict[str, Any]:
    return {"sync": sync, "kind": kind, "channel": channel, "status": status,
            "error": redact(error) if error else None}


class _Evaluator:
    def __init__(self, project: Any, store: AlertStore, result: RunResult, now: dt.datetime,
                 sleep: Callable[[float], None]) -> None:
        self.config = project.config
        self.specs = {s.name: s for s in getattr(project, "specs", []) or []}
        self.store = store
        self.result = result
        self.now = now
        self.sleep = sleep
        self.defaults = (self.config.defaults or {}).get("alerts") or {}

    def policy(self, name: str) -> h.Policy:
        spec = self.specs.get(name)
        return h.resolve_policy(spec.alerts if spec else None, self.defaults, tuple(self.config.channels))

    def sync(self, sync: SyncResult, previous: h.Health | None) -> list[AlertRow]:
        """Move the sync's health; the alert rows to deliver now."""
        policy = self.policy(sync.name)
        run_id = self.result.run_id
        current = previous
        if previous is None or previous.last_run_id != run_id:
            open_failures = None
            if sync.status not in (SKIPPED, DRY_RUN):
                open_failures = self.store.open_failures(sync.name)
            decision = h.decide(previous, sync, policy, run_id, self.now, open_failures)
            if decision.new is None:
                return []
            if decision.kind and policy.enabled and policy.channels:
                payload = self.payload(decision, sync, open_failures or h.OpenFailures())
                self.store.add_pending([
                    AlertRow(alert_id(sync.name, run_id, decision.kind, ch), sync.name, run_id, decision.kind,
                             ch, "pending", 0, None, payload, self.now)
                    for ch in policy.channels
                ])
            self.store.save_health(decision.new)
            current = decision.new
        if current is None or not policy.enabled:
            return []
        return [row for row in self.store.undelivered(sync.name, current.since, run_id)
                if row.attempts < MAX_TOTAL_ATTEMPTS]

    def payload(self, decision: h.Decision, sync: SyncResult, open_failures: h.OpenFailures) -> dict[str, Any]:
        assert decision.kind is not None and decision.new is not None
        since = decision.previous.since if decision.kind in (h.RECOVERY, h.REMINDER) and decision.previous \
            else decision.new.since
        code = decision.new.dominant_error if decision.kind != h.RECOVERY else (
            decision.previous.dominant_error if decision.previous else None)
        # docs/alerts.md: the SQL is null for a recovery and when no record is failing
        sql = self.store.failures_sql(sync.name) if decision.kind != h.RECOVERY and open_failures.count else None
        if decision.kind == h.RECOVERY:  # what still fails is below the threshold: counted, not listed
            open_failures = dataclasses.replace(open_failures, sample=())
        return build_payload(
            decision.kind, sync, self.result,
            reason=decision.reason,
            failures_sql=sql,
            failing_since=since,
            failing_seconds=decision.failing_seconds,
            dominant_error=code,
            created_at=self.now,
            open_failures=open_failures,
            failing_kind=decision.new.failing_kind if decision.kind != h.RECOVERY else None,
            report_url=getattr(self.config, "report_url", None),
        )

    def deliver_all(self, rows: list[AlertRow], budget_seconds: float) -> list[dict[str, Any]]:
        """Deliver every row at once (one thread per delivery), all within ``budget_seconds``; record each."""
        if not rows:
            return []
        deadline = time.monotonic() + budget_seconds
        with ThreadPoolExecutor(max_workers=min(len(rows), MAX_PARALLEL), thread_name_prefix="dbt-sync-alert") as pool:
            futures = [pool.submit(self._send, row, deadline) for row in rows]
            outcomes = [f.result() for f in futures]
        return [self._record(row, *outcome) for row, outcome in zip(rows, outcomes, strict=True)]

    def _send(self, row: AlertRow, deadline: float) -> tuple[str, int, str | None]:
        channel = self.config.channels.get(row.channel)
        if channel is None:
            known = ", ".join(sorted(self.config.channels)) or "none defined"
            return "failed", 0, f"unknown channel '{row.channel}'. Channels: {known}."
        delivery = deliver(channel, row.payload, row.alert_id, self.sleep, deadline=deadline)
        return delivery.status, delivery.attempts, delivery.error

    def _record(self, row: AlertRow, status: str, attempts: int, error: str | None) -> dict[str, Any]:
        try:
            self.store.record_delivery(row, status, attempts, error, utcnow() if status == SENT else None)
        except Exception as exc:  # delivered but not recorded: say so, the next run may resend
            error = f"{error + '; ' if error else ''}could not record the delivery: {type(exc).__name__}"
        # reported once, in the returned entry (the run summary prints it); not logged again here
        log.debug("alerts: %s alert for %s via %s: %s", row.kind, row.sync_name, row.channel, status)
        return _entry(row.sync_name, row.kind, row.channel, status, error)
