"""Lifecycle events to webhook channels: ``sync.completed`` as each sync ends, ``run.completed`` once per run.

Opt-in per channel (``channels.<name>.events`` in dbt_sync.yml, webhook
channels only), so a monitoring system receives every run's figures without
polling. Each event is one JSON POST signed exactly as alerts are
(:func:`dbt_sync.alerts.channels.webhook.post_signed`: HMAC-SHA256 of the
raw body in ``X-DbtSync-Signature``) and carries ``X-DbtSync-Event`` (the
event name) and ``X-DbtSync-Event-Id`` (the same on every retry). The body
follows docs/lifecycle-event.schema.json.

Bodies hold names and figures only: no record values (no error samples, no
dry-run samples, no per-record messages; a sync's ``message`` only when it
failed or was skipped as a whole, redacted) and no secrets.

Delivery never fails a run and is bounded in time: ``sync.completed`` goes
from a background thread while the next syncs run, each within
:data:`DELIVERY_BUDGET_SECONDS` of its sync's end (the channel's
``attempts``, ``backoff_seconds``, ``timeout_seconds`` apply inside it);
at the end of the run, :meth:`LifecycleEvents.finish` waits at most that
budget for what is still going and for ``run.completed``. An event a
channel did not accept becomes a warning in the run's results.
Dry runs send nothing.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from typing import Any

from dbt_sync.alerts.channels import Delivery
from dbt_sync.alerts.channels.base import Settings, with_retries
from dbt_sync.alerts.channels.webhook import post_signed
from dbt_sync.clock import utcnow_iso
from dbt_sync.engine.events import RunListener, RunStarted
from dbt_sync.engine.results import CANCELLED, ERROR, SKIPPED, RunResult, SkipCause, SyncResult
from dbt_sync.project.config import ChannelConfig, SyncConfig
from dbt_sync.secrets import redact, redact_obj

SCHEMA_VERSION = 1
RUN_COMPLETED = "run.completed"
SYNC_COMPLETED = "sync.completed"
EVENT_HEADER = "X-DbtSync-Event"
EVENT_ID_HEADER = "X-DbtSync-Event-Id"
#: seconds each event may take to be delivered, retries included (and what the end of a run waits at most)
DELIVERY_BUDGET_SECONDS = 5.0

#: the figures of a sync sent in events (no record values: no error_samples, samples, failures_sql)
_FIGURES = ("planned", "created", "updated", "deleted", "failed", "skipped", "retries", "duration_seconds")


def subscribed(config: SyncConfig) -> dict[str, list[ChannelConfig]]:
    """The webhook channels that asked for each lifecycle event: ``{event: [channel, ...]}``."""
    out: dict[str, list[ChannelConfig]] = {}
    for channel in config.channels.values():
        if channel.type != "webhook":
            continue
        for event in channel.settings.get("events") or ():
            out.setdefault(str(event), []).append(channel)
    return out


def event_id(run_id: str, event: str, channel: str, sync: str = "") -> str:
    """The event's id: the same for every retry of one event to one channel (32 hex characters)."""
    return hashlib.sha256(f"{run_id}\x00{event}\x00{sync}\x00{channel}".encode()).hexdigest()[:32]


def sync_figures(result: SyncResult) -> dict[str, Any]:
    """One sync's figures as the events carry them: names, status, counts, error codes, API usage."""
    whole = result.status in (ERROR, SKIPPED, CANCELLED)
    data: dict[str, Any] = {
        "name": result.name,
        "model": result.model,
        "destination": result.destination,
        "object": result.object,
        "mode": result.mode,
        "status": str(result.status),
        "skip_cause": str(result.skip_cause) if result.skip_cause is not None else None,
        "message": redact(result.message) if whole and result.message else None,
        "attempted": result.attempted,
        "succeeded": result.succeeded,
        **{key: getattr(result, key) for key in _FIGURES},
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "error_codes": dict(result.error_codes),
        "operations": {
            op: {"attempted": c.attempted, "succeeded": c.succeeded, "failed": c.failed}
            for op, c in result.operations.items()
        },
        "api_usage": {k: v for k, v in result.api_usage.items() if isinstance(v, (int, float)) or v is None},
    }
    return data


class LifecycleEvents(RunListener):
    """Sends the run's lifecycle events to the channels that asked for them (see the module docstring).

    Add it to the run's listeners, then call :meth:`finish` once the run's
    result has its alerts (before the results file is written: the
    warnings it adds belong there); :meth:`shutdown` in any case.
    """

    def __init__(
        self,
        channels: Mapping[str, list[ChannelConfig]],
        budget_seconds: float = DELIVERY_BUDGET_SECONDS,
        sleep: Any = time.sleep,
    ) -> None:
        self.channels = {event: list(found) for event, found in channels.items() if found}
        self.budget_seconds = budget_seconds
        self.sleep = sleep
        self.run: dict[str, Any] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[tuple[str, str, str, Future[Delivery]]] = []
        self._guard = threading.Lock()

    @classmethod
    def for_config(cls, config: SyncConfig, **kwargs: Any) -> LifecycleEvents | None:
        """A sender for ``config``'s subscribed channels; None when no channel asked for an event."""
        channels = subscribed(config)
        return cls(channels, **kwargs) if channels else None

    # -- run listener ---------------------------------------------------------------------------------------

    def run_started(self, event: RunStarted) -> None:
        self.run = {
            "run_id": event.run_id,
            "dbt_invocation_id": event.invocation_id,
            "target": event.target,
            "started_at": event.started_at,
            "dry_run": event.dry_run,
        }

    def sync_finished(self, result: SyncResult) -> None:
        if result.skip_cause is SkipCause.PLAN or not self.run:
            return  # left out by the plan: it did not run (run.completed lists it)
        body = {"run": dict(self.run), "sync": sync_figures(result)}
        for channel in self.channels.get(SYNC_COMPLETED, ()):
            self._submit(SYNC_COMPLETED, channel, body, result.name, time.monotonic() + self.budget_seconds)

    # -- the end of the run -------------------------------------------------------------------------------

    def finish(self, result: RunResult) -> list[dict[str, Any]]:
        """Send ``run.completed``, wait (at most the budget) for every delivery; add a warning to
        ``result.warnings`` for each event a channel did not accept. Returns each delivery as
        ``{event, channel, sync, status, attempts, error}``."""
        deadline = time.monotonic() + self.budget_seconds
        if self.run:
            run = {
                **self.run,
                "finished_at": result.finished_at,
                "exit_code": result.exit_code,
                "cancelled": (result.cancelled_by_name or "cancelled") if result.cancelled else None,
                "totals": {
                    key: sum(getattr(s, key) for s in result.syncs)
                    for key in ("planned", "created", "updated", "deleted", "failed", "skipped")
                },
            }
            body = {"run": run, "syncs": [sync_figures(s) for s in result.syncs]}
            for channel in self.channels.get(RUN_COMPLETED, ()):
                self._submit(RUN_COMPLETED, channel, body, "", deadline)
        with self._guard:
            pending = list(self._pending)
        wait_for([future for *_, future in pending], timeout=max(deadline - time.monotonic(), 0) + 1)
        outcomes = []
        for event, name, sync, future in pending:
            if future.done() and not future.cancelled():
                delivery = future.result()
            else:
                delivery = Delivery("failed", 0, f"not sent within {self.budget_seconds:g} s")
            outcomes.append({"event": event, "channel": name, "sync": sync or None, "status": delivery.status,
                             "attempts": delivery.attempts, "error": delivery.error})
            if delivery.status != "sent":
                what = f"{event} of sync {sync}" if sync else event
                result.warnings.append(redact(
                    f"lifecycle event {what} was not delivered to webhook channel {name}: {delivery.error}"
                ))
        self.shutdown()
        return outcomes

    def shutdown(self) -> None:
        """Stop the delivery thread (what is still queued is dropped)."""
        with self._guard:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    # -- delivery -------------------------------------------------------------------------------------------

    def _submit(self, event: str, channel: ChannelConfig, body: dict[str, Any], sync: str, deadline: float) -> None:
        key = event_id(self.run.get("run_id", ""), event, channel.name, sync)
        document = {
            "schema_version": SCHEMA_VERSION,
            "event": event,
            "event_id": key,
            "channel": channel.name,
            "created_at": utcnow_iso(),
            **body,
        }
        raw = json.dumps(redact_obj(document), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                         default=str).encode("utf-8")
        with self._guard:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dbt-sync-events")
            future = self._pool.submit(self._deliver, channel, raw, event, key, deadline)
            self._pending.append((event, channel.name, sync, future))

    def _deliver(self, channel: ChannelConfig, body: bytes, event: str, key: str, deadline: float) -> Delivery:
        def once() -> None:
            post_signed(Settings(channel, deadline), body, {EVENT_HEADER: event, EVENT_ID_HEADER: key})

        return with_retries(channel, once, self.sleep, deadline=deadline)
