"""The warehouse (PostgreSQL) restarts in the middle of a run.

The server is stopped (``pg_ctl stop -m fast``: every backend is ended, as in
a restart; ``immediate`` would also lose the last commits, as the test server
runs with ``synchronous_commit = off``)
right before the sync's second batch, and started again a moment later. The
batch the CRM confirmed while the warehouse was away cannot be committed, so
the sync fails as a whole with ``WAREHOUSE_UNAVAILABLE`` and one clear
message, no traceback and no "Internal error"; the lock it could not delete
does not block the next run, which closes the dead run's row as
``abandoned``, evaluates alerts and converges with every record once.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from dbt_sync_emulators.sandbox import Sandbox
from tests.engine.conftest import Stack
from tests.engine.test_faults import MODEL_ACCOUNTS, Arming, crm_keys, fault_files, fresh_crm, state_keys
from tests.fixtures.warehouses import DbtProject

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_warehouse_restart_mid_run_is_a_sync_failure_and_the_next_run_converges(
    dbt_project_factory: Any,
    postgres_server: Any,
    sandbox: Sandbox,
    arming: list[Arming],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project: DbtProject = dbt_project_factory("postgres", "warehouse_restart", extra_files=fault_files())
    stack = Stack(project, sandbox)
    fresh_crm(stack)
    restarted = threading.Event()

    def restart_later() -> None:
        postgres_server.stop("fast")
        # back a little later: after the run has given up on it
        threading.Timer(3.0, lambda: (postgres_server.start(), restarted.set())).start()

    armed = Arming("Account", 2, restart_later)
    arming.append(armed)
    caplog.set_level(logging.INFO, logger="dbt_sync")  # what `dbt-sync run` logs without --debug
    try:
        first = stack.run(all_syncs=True, select=["faults_sf"], threads=1, recapture=True)
    finally:
        # a project with nothing to send never reaches the second write: say so rather than wait
        assert armed.armed, f"the restart never fired ({armed.calls} Account writes)"
        assert restarted.wait(60), "the server did not come back"
    res = first.sync("faults_sf")
    assert res.status == "error", (res.status, res.message)
    assert res.error_codes == {"WAREHOUSE_UNAVAILABLE": 1}, res.error_codes
    assert "warehouse" in (res.message or "") and "INTERNAL_ERROR" not in res.error_codes
    assert first.exit_code == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "Internal error" not in captured.err
    # no traceback without --debug: nothing logged at INFO or above carries one
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    # the run waited for the warehouse to come back to release its lock (issue 14.4: not held for 600 s)
    assert stack.query("select * from {schema}.dbt_sync_locks") == []

    second = stack.run(all_syncs=True, select=["faults_sf"], threads=1)
    again = second.sync("faults_sf")
    assert again.status == "success", (again.status, again.message)
    assert crm_keys(stack, "faults_sf") == sorted(MODEL_ACCOUNTS)  # each once
    assert state_keys(stack, "faults_sf") == sorted(MODEL_ACCOUNTS)
    rows = stack.query(
        f"select status from {{schema}}.dbt_sync_runs where sync_name = 'faults_sf' and run_id = '{first.run_id}'"
    )
    # closed: by the second run as abandoned (the first could not reach the warehouse), or by the first
    assert [r["status"] for r in rows] in (["abandoned"], ["error"])
    assert stack.query("select * from {schema}.dbt_sync_locks") == []
    # alerts were evaluated on the second run (health written for it)
    health = stack.query("select last_run_id from {schema}.dbt_sync_health where sync_name = 'faults_sf'")
    assert [h["last_run_id"] for h in health] == [second.run_id]
    assert not [a for a in second.alerts if a.get("status") == "failed"], second.alerts
