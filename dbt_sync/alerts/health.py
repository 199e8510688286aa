"""Each sync's health as a two-state machine: healthy or failing.

Alerts fire on *transitions*, not on runs: a sync that fails ten runs in a
row produces one failure alert, and one recovery alert when it works again.
That is the whole cure for over-alerting, so the rules live here, pure and
small, and everything else (storage, delivery) follows from a
:class:`Decision`.

A sync is *failing* when its last run failed as a whole (status ``error``:
kind ``sync``) or when its **open failures** (records whose latest attempt
failed, ``dbt_sync_open_failures``) reach a threshold (kind ``records``):
``failed_records`` (a count) **or** ``failed_share``, the share of the
sync's records that are failing: open failures / (records confirmed in
``dbt_sync_state`` plus failing records not in it). Health follows the
failing records, not one run's figures, so a retry-only run of the same
five bad records neither "recovers" a sync nor fails it again. Thresholds
come from the sync's ``alerts`` meta, else ``defaults.alerts`` in
dbt_sync.yml, else :data:`BUILTIN_FAILED_RECORDS` /
:data:`BUILTIN_FAILED_SHARE`, key by key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
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

#: what is failing: records past a threshold, or the sync as a whole
KIND_RECORDS = "records"
KIND_SYNC = "sync"


@dataclass(frozen=True)
class OpenFailures:
    """The sync's failing records after the run, read from ``dbt_sync_open_failures``.

    ``records`` is the share's denominator: the sync's records confirmed in
    ``dbt_sync_state`` plus failing records that are not there. ``by_code``
    counts open failures per error code; ``sample`` holds a few of them,
    newest first, as ``{record_key, error_code, error_message}`` (messages
    are stored masked).
    """

    count: int = 0
    records: int = 0
    by_code: Mapping[str, int] = field(default_factory=dict)
    sample: tuple[Mapping[str, Any], ...] = ()

    @property
    def share(self) -> float:
        return self.count / self.records if self.records else (1.0 if self.count else 0.0)


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
    """What one run says about a sync: failing (of a ``kind``), healthy, or nothing (None)."""

    failing: bool | None
    reason: str
    kind: str | None = None


def assess(result: SyncResult, policy: Policy, open_failures: OpenFailures | None = None,
           previous_kind: str | None = None) -> Assessment:
    """Whether the sync is failing after this run, healthy, or the run proves nothing.

    Skipped, cancelled and dry runs prove nothing. Neither does a successful run that
    attempted no records while the sync was down (kind ``sync``): it never
    reached the destination, so it cannot clear the sync (a false
    "recovered" costs more trust than a late one). Otherwise the verdict
    comes from ``open_failures``, the sync's failing records after the run.
    """
    if result.status in (SKIPPED, DRY_RUN, CANCELLED):
        return Assessment(None, f"sync {result.status}")
    if result.status == ERROR:
        return Assessment(True, "the sync failed as a whole", KIND_SYNC)
    if attempted(result) == 0 and previous_kind == KIND_SYNC:
        return Assessment(None, "no records attempted")
    open_failures = open_failures or OpenFailures()
    count, total, share = open_failures.count, open_failures.records, open_failures.share
    if count > 0:
        over_count = count >= max(policy.failed_records, 1)
        over_share = share >= policy.failed_share
        if over_count or over_share:
            return Assessment(
                True,
                f"{count} of {total} records failing ({share:.1%}); alert threshold: "
                f"{_records(policy.failed_records)} or {policy.failed_share:.1%}",
                KIND_RECORDS,
            )
    if count > 0:
        return Assessment(False, f"{count} of {total} records failing, below the alert threshold")
    return Assessment(False, "no record is failing")


def _records(n: int) -> str:
    return f"{n} record" if n == 1 else f"{n} records"


def dominant_error(result: SyncResult, open_failures: OpenFailures | None = None) -> str | None:
    """The error code behind most failures (ties: alphabetical, for stability).

    With ``open_failures`` (records failing): the code of most open failures.
    """
    if open_failures is not None and open_failures.by_code:
        return sorted(open_failures.by_code.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
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
    #: while failing: ``records`` or ``sync`` (what is failing)
    failing_kind: str | None = None


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
    open_failures: OpenFailures | None = None,
) -> Decision:
    """Apply one run to a sync's health; a sync never seen before starts healthy.

    One alert per transition: healthy -> failing (``failure``), failing ->
    healthy (``recovery``), and a change of what is failing (records failing
    -> the sync down, or back) is a new ``failure`` alert; failing -> failing
    of the same kind sends nothing but a due reminder.
    """
    was_failing = previous is not None and previous.state == FAILING
    previous_kind = (previous.failing_kind or KIND_RECORDS) if was_failing and previous is not None else None
    verdict = assess(result, policy, open_failures, previous_kind)
    if verdict.failing is None:
        return Decision(None, None, previous, None, verdict.reason)
    code = dominant_error(result, open_failures if verdict.kind == KIND_RECORDS else None)
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
        new = Health(result.name, FAILING, now, run_id, now, code, now, verdict.kind)
        return Decision(FAILURE, new, previous, None, verdict.reason)
    assert previous is not None
    failing_seconds = (now - previous.since).total_seconds()
    if verdict.kind != previous_kind:  # what is failing changed: people must hear of it
        new = replace(previous, last_run_id=run_id, last_alert_at=now, dominant_error=code, updated_at=now,
                      failing_kind=verdict.kind)
        return Decision(FAILURE, new, previous, failing_seconds, verdict.reason)
    kind: str | None = None
    last_alert = previous.last_alert_at
    if policy.remind_after_hours is not None and (
        last_alert is None or (now - last_alert).total_seconds() >= policy.remind_after_hours * 3600
    ):
        kind, last_alert = REMINDER, now
    new = replace(previous, last_run_id=run_id, last_alert_at=last_alert, dominant_error=code, updated_at=now,
                  failing_kind=verdict.kind)
    return Decision(kind, new, previous, failing_seconds, verdict.reason)
