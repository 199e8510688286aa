"""Each sync's health as a two-state machine: healthy or failing.

Alerts fire on *transitions*, not on runs: a sync that fails ten runs in a
row produces one failure alert, and one recovery alert when it works again.
That is the whole cure for over-alerting, so the rules live here, pure and
small, and everything else (storage, delivery) follows from a
:class:`Decision`.

A run makes a sync *failing* when the sync failed as a whole (status
``error``) or when its failed records reach a threshold: ``failed_records``
(a count) **or** ``failed_share`` (a share of the records the run
attempted). Thresholds come from the sync's ``alerts`` meta, else
``defaults.alerts`` in dbt_sync.yml, else :data:`BUILTIN_FAILED_RECORDS` /
:data:`BUILTIN_FAILED_SHARE`, key by key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from dbt_sync.engine.results import CANCELLED, DRY_RUN, ERROR, SKIPPED, SyncResult
from dbt_sync.spec import AlertSpec

HEALTHY = "healthy"
FAILING = "failing"

FAILURE = "failure"
RECOVERY = "recovery"
REMINDER = "reminder"
TEST = "test"

#: a run with at least this many failed records makes the sync failing
BUILTIN_FAILED_RECORDS = 10
#: ... or with at least this share of its attempted records failed
BUILTIN_FAILED_SHARE = 0.05

#: dominant error of a sync that failed as a whole without per-record codes
SYNC_ERROR_CODE = "SYNC_ERROR"


@dataclass(frozen=True)
class Policy:
    """The alert settings that apply to one sync, after layering defaults."""

    channels: tuple[str, ...]
    failed_records: int
    failed_share: float
    remind_after_hours: float | None
    enabled: bool


def resolve_policy(spec: AlertSpec | None, defaults: Mapping[str, Any] | None, all_channels: tuple[str, ...]) -> Policy:
    """Sync setting, else project default, else built-in, key by key.

    Channels: the sync's list, else ``defaults.alerts.channels``, else every
    channel in dbt_sync.yml.
    """
    spec = spec or AlertSpec()
    defaults = defaults or {}

    def pick(key: str, builtin: Any) -> Any:
        own = getattr(spec, key)
        if own is not None:
            return own
        value = defaults.get(key)
        return builtin if value is None else value

    raw_channels = spec.channels if spec.channels is not None else defaults.get("channels")
    if isinstance(raw_channels, str):
        raw_channels = (raw_channels,)
    channels = tuple(raw_channels) if raw_channels is not None else all_channels
    enabled = spec.enabled and defaults.get("enabled", True) is not False
    return Policy(
        channels=channels,
        failed_records=int(pick("failed_records", BUILTIN_FAILED_RECORDS)),
        failed_share=float(pick("failed_share", BUILTIN_FAILED_SHARE)),
        remind_after_hours=pick("remind_after_hours", None),
        enabled=enabled,
    )


def attempted(result: SyncResult) -> int:
    """Records the run tried to write: the share's denominator."""
    return max(result.attempted, result.created + result.updated + result.deleted + result.failed)


@dataclass(frozen=True)
class Assessment:
    """What one run says about a sync: failing, healthy, or nothing (None)."""

    failing: bool | None
    reason: str


def assess(result: SyncResult, policy: Policy) -> Assessment:
    """Whether this run shows the sync failing, healthy, or proves nothing.

    Skipped, cancelled and dry runs prove nothing. Neither does a successful run that
    attempted no records: it never reached the destination, so it cannot
    clear a failing sync (a false "recovered" costs more trust than a late one).
    """
    if result.status in (SKIPPED, DRY_RUN, CANCELLED):
        return Assessment(None, f"sync {result.status}")
    if result.status == ERROR:
        return Assessment(True, "the sync failed as a whole")
    total = attempted(result)
    failed = result.failed
    if failed > 0:
        share = failed / total if total else 1.0
        over_count = failed >= max(policy.failed_records, 1)
        over_share = share >= policy.failed_share
        if over_count or over_share:
            return Assessment(
                True,
                f"{failed} of {total} records failed ({share:.1%}); alert threshold: "
                f"{_records(policy.failed_records)} or {policy.failed_share:.1%}",
            )
        return Assessment(False, f"{failed} of {total} records failed, below the alert threshold")
    if total == 0:
        return Assessment(None, "no records attempted")
    return Assessment(False, f"all {total} records succeeded")


def _records(n: int) -> str:
    return f"{n} record" if n == 1 else f"{n} records"


def dominant_error(result: SyncResult) -> str | None:
    """The error code behind most failures (ties: alphabetical, for stability)."""
    if result.error_codes:
        return sorted(result.error_codes.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    if result.status == ERROR:
        return SYNC_ERROR_CODE
    return None


@dataclass(frozen=True)
class Health:
    """One row of ``dbt_sync_health``."""

    sync_name: str
    state: str
    since: dt.datetime
    last_run_id: str | None
    last_alert_at: dt.datetime | None
    dominant_error: str | None
    updated_at: dt.datetime


@dataclass(frozen=True)
class Decision:
    """The outcome of one run for one sync: the alert to send (if any) and the new health.

    ``new`` is None when the run changes nothing (skipped, dry run, nothing
    attempted): the stored row is left alone. ``failing_seconds`` is how long
    the episode that just ended or continues has lasted.
    """

    kind: str | None
    new: Health | None
    previous: Health | None
    failing_seconds: float | None
    reason: str


def decide(
    previous: Health | None,
    result: SyncResult,
    policy: Policy,
    run_id: str,
    now: dt.datetime,
) -> Decision:
    """Apply one run to a sync's health; a sync never seen before starts healthy."""
    verdict = assess(result, policy)
    if verdict.failing is None:
        return Decision(None, None, previous, None, verdict.reason)
    code = dominant_error(result)
    was_failing = previous is not None and previous.state == FAILING
    if not verdict.failing:
        if was_failing:
            assert previous is not None
            new = Health(result.name, HEALTHY, now, run_id, now, None, now)
            return Decision(RECOVERY, new, previous, (now - previous.since).total_seconds(), verdict.reason)
        since = previous.since if previous is not None else now
        last_alert = previous.last_alert_at if previous is not None else None
        return Decision(None, Health(result.name, HEALTHY, since, run_id, last_alert, None, now),
                        previous, None, verdict.reason)
    if not was_failing:
        new = Health(result.name, FAILING, now, run_id, now, code, now)
        return Decision(FAILURE, new, previous, 0.0, verdict.reason)
    assert previous is not None
    failing_seconds = (now - previous.since).total_seconds()
    kind: str | None = None
    last_alert = previous.last_alert_at
    if policy.remind_after_hours is not None and (
        last_alert is None or (now - last_alert).total_seconds() >= policy.remind_after_hours * 3600
    ):
        kind, last_alert = REMINDER, now
    new = replace(previous, last_run_id=run_id, last_alert_at=last_alert, dominant_error=code, updated_at=now)
    return Decision(kind, new, previous, failing_seconds, verdict.reason)
