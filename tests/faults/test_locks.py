"""Locks: contention is not a failure; a live lock cannot be stolen; a dead one is reclaimed at once."""

from __future__ import annotations

import json
import os
import socket

import pytest

from dbt_sync.engine.results import SkipCause
from dbt_sync.warehouse import coordination
from tests.engine.test_faults import FaultStack, fresh

pytestmark = pytest.mark.slow


def health(stack: FaultStack, sync: str) -> list[dict[str, object]]:
    return stack.query(
        f"select state, since, last_run_id, dominant_error from {{schema}}.dbt_sync_health where sync_name = '{sync}'"
    )


def alerts(stack: FaultStack, sync: str) -> list[dict[str, object]]:
    return stack.query(f"select kind, run_id from {{schema}}.dbt_sync_alerts where sync_name = '{sync}'")


def test_lock_contention_is_reported_not_failed(stack: FaultStack) -> None:
    """issue 13: the second of two overlapping runs is refused, exits 3, and leaves health and alerts alone."""
    fresh(stack, ["faults_hs"])
    assert stack.run(all_syncs=True, select=["faults_hs"], recapture=True).exit_code == 0
    before = health(stack, "faults_hs")
    alerts_before = alerts(stack, "faults_hs")
    # the first run, still going: a live holder on this machine
    holder = f"{socket.gethostname()}:{os.getpid()}:the-first-run"
    assert coordination.try_lock(stack.wh, "faults_hs", holder, 600) is None
    try:
        second = stack.run(all_syncs=True, select=["faults_hs"], recapture=True)
    finally:
        coordination.release_lock(stack.wh, "faults_hs", holder)
    res = second.sync("faults_hs")
    assert res.status == "skipped" and res.skip_cause is SkipCause.LOCKED
    assert "already running" in (res.message or "") and "the-first-run" in (res.message or "")
    assert res.error_codes == {}
    assert second.exit_code == 3
    assert json.loads(json.dumps(second.to_dict(), default=str))["syncs"][0]["skip_cause"] == "locked"
    assert health(stack, "faults_hs") == before  # no FAILURE
    assert alerts(stack, "faults_hs") == alerts_before
    assert stack.query(
        f"select * from {{schema}}.dbt_sync_runs where run_id = '{second.run_id}'"
    ) == []  # the refused run did not run
    # and when the first run is over, nothing "recovers"
    third = stack.run(all_syncs=True, select=["faults_hs"])
    assert third.exit_code == 0
    assert [h["state"] for h in health(stack, "faults_hs")] == [h["state"] for h in before]
    assert alerts(stack, "faults_hs") == alerts_before
