"""Locks: contention is not a failure; a live lock cannot be stolen; a dead one is reclaimed at once."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
from click.testing import CliRunner

from dbt_sync.cli import main
from dbt_sync.engine.results import SkipCause
from dbt_sync.errors import ConfigError
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
    # the first run, still going, on another machine (its heartbeat is fresh)
    holder = "scheduler-2:4242:the-first-run"
    assert stack.wh.sync("faults_hs").lock(holder, 600) is None
    try:
        second = stack.run(all_syncs=True, select=["faults_hs"], recapture=True)
    finally:
        stack.wh.sync("faults_hs").release(holder)
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


def test_a_live_lock_is_not_stolen_during_a_request_longer_than_the_stale_threshold(stack: FaultStack) -> None:
    """issue 14.3: the heartbeat is written by its own thread while one slow request lasts 4 heartbeats."""
    fresh(stack, ["faults_sf"])
    sf = stack.sandbox.salesforce
    sf.faults.latency = 1.0  # every request: longer than the stale threshold below
    box: dict[str, Any] = {}

    def first() -> None:
        box["result"] = stack.run(
            all_syncs=True, select=["faults_sf"], recapture=True, threads=1,
            lock_heartbeat_seconds=0.25, lock_stale_seconds=0.75,
        )

    runner_thread = threading.Thread(target=first)
    runner_thread.start()
    try:
        deadline = time.monotonic() + 60
        while not any("composite" in p for _, p, _ in sf.request_log) and time.monotonic() < deadline:
            time.sleep(0.02)
        # a second run elsewhere, with the same threshold, tries to take the lock while the request hangs
        stolen = []
        for _ in range(8):
            time.sleep(0.2)
            if runner_thread.is_alive():
                taken = stack.wh.sync("faults_sf").lock("scheduler-2:4242:thief", 0.75)
                stolen.append(taken is None)
                if taken is None:
                    stack.wh.sync("faults_sf").release("scheduler-2:4242:thief")
    finally:
        runner_thread.join()
        sf.faults.latency = 0.0
    assert stolen and not any(stolen), stolen
    assert box["result"].sync("faults_sf").status == "success"
    assert stack.query("select * from {schema}.dbt_sync_locks where sync_name = 'faults_sf'") == []


@pytest.mark.parametrize("stale", [0.5, 29.0])
def test_a_stale_threshold_under_three_heartbeats_is_refused(stack: FaultStack, stale: float) -> None:
    with pytest.raises(ConfigError, match=r"--lock-stale-seconds .* too short.*at least 30"):
        stack.run(all_syncs=True, select=["faults_sf"], lock_stale_seconds=stale)
    args = ["run", "--lock-stale-seconds", str(stale), "--project-dir", str(stack.project.path)]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 2
    assert "too short" in out.output and "Traceback" not in out.output
    assert len([line for line in out.output.splitlines() if line.strip()]) == 1


def test_a_dead_holders_lock_is_taken_over_at_once_and_its_run_marked_abandoned(stack: FaultStack) -> None:
    """issue 14.4: a run killed on this machine leaves its lock and a ``running`` row; the next run fixes both."""
    fresh(stack, ["faults_hs"])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    holder = f"{socket.gethostname()}:{gone.pid}:killed-run"
    assert stack.wh.sync("faults_hs").lock(holder, 600) is None  # heartbeat fresh, holder dead
    stack.wh.start_run("killed-run", "faults_hs", planned=6)
    result = stack.run(all_syncs=True, select=["faults_hs"], recapture=True)
    assert result.sync("faults_hs").status == "success", result.sync("faults_hs").message
    rows = stack.query("select status, error_message from {schema}.dbt_sync_runs where run_id = 'killed-run'")
    assert [r["status"] for r in rows] == ["abandoned"]
    assert stack.query("select * from {schema}.dbt_sync_locks where sync_name = 'faults_hs'") == []
