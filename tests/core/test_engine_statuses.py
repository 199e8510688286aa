"""Sync statuses are a StrEnum with the audit tables' words; skip propagation decides on causes, not messages."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from dbt_sync.engine.results import RunResult, SkipCause, SyncResult, SyncStatus
from dbt_sync.engine.scheduler import Engine


def test_statuses_keep_the_strings_of_the_audit_tables_and_json() -> None:
    assert [s.value for s in SyncStatus] == [
        "success", "partial", "error", "skipped", "dry_run", "cancelled", "running", "abandoned",
    ]
    for status in SyncStatus:
        assert status == status.value and str(status) == status.value and f"{status}" == status.value
    run = RunResult(run_id="r", started_at="t")
    run.syncs.append(SyncResult(name="a", model="m", destination="d", object="o", mode="upsert",
                                status=SyncStatus.SKIPPED, skip_cause=SkipCause.LOCKED))
    data = json.loads(json.dumps(run.to_dict(), default=str))
    assert data["syncs"][0]["status"] == "skipped" and data["syncs"][0]["skip_cause"] == "locked"


def _spec(name: str, block: bool = False) -> Any:
    return SimpleNamespace(name=name, block_on_upstream_failures=block)


def _result(status: SyncStatus, cause: SkipCause | None = None, failed: int = 0, message: str = "") -> SyncResult:
    return SyncResult(name="up", model="m", destination="d", object="o", mode="upsert", status=status,
                      skip_cause=cause, failed=failed, message=message)


@pytest.mark.parametrize(
    ("upstream", "block", "expected"),
    [
        (_result(SyncStatus.ERROR, message="boom"), False, SkipCause.UPSTREAM_FAILED),
        (_result(SyncStatus.SKIPPED, SkipCause.LOCKED), False, SkipCause.UPSTREAM_SKIPPED),
        (_result(SyncStatus.SKIPPED, SkipCause.UPSTREAM_FAILED), False, SkipCause.UPSTREAM_SKIPPED),
        # a sync the plan left out (not built, disabled) does not hold its dependants back
        (_result(SyncStatus.SKIPPED, SkipCause.PLAN), False, None),
        (_result(SyncStatus.SKIPPED, SkipCause.CANCELLED), False, None),
        (_result(SyncStatus.PARTIAL, failed=2), False, None),
        (_result(SyncStatus.PARTIAL, failed=2), True, SkipCause.UPSTREAM_RECORD_FAILURES),
        (_result(SyncStatus.SUCCESS), True, None),
    ],
)
def test_skip_propagation_reads_the_upstream_cause_not_its_message(
    upstream: SyncResult, block: bool, expected: SkipCause | None
) -> None:
    # a message that reads like a lock must not matter: only status and skip_cause do
    upstream.message = upstream.message or "upstream sync x is being run by another dbt-sync run"
    plan = SimpleNamespace(upstream_of=lambda name: ("up",) if name == "down" else ())
    engine = Engine(plan=plan, warehouse=None, config=None, all_specs=[])  # type: ignore[arg-type]
    blocked = engine._blocked_by_upstream(_spec("down", block), {"up": upstream})
    assert (blocked[0] if blocked else None) is expected
