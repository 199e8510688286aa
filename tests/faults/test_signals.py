"""SIGTERM / SIGINT at a random point of ``dbt-sync run``: a clean stop, nothing stranded.

``dbt-sync run`` runs as a subprocess against emulators living in this test
process (with latency, so the signal lands while batches are being sent).
It must stop sending, commit what the CRM confirmed (nothing left in doubt,
even for creates without a match key), release its locks, close its run rows
as ``cancelled`` and exit with 128 + the signal (143 SIGTERM, 130 SIGINT),
printing no traceback. The next run converges: every model row in the CRM
exactly once.

One trial per signal in CI; ``DBT_SYNC_SIGNAL_TRIALS=N`` runs N each.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import pytest

from tests.engine.conftest import stack_for
from tests.engine.test_crash import ACCOUNT_KEYS, ACCOUNTS, reset_everything
from tests.engine.test_create_mode import CREATE_FILES, GOOD, SYNC, model_emails
from tests.fixtures.warehouses import DbtProject

pytestmark = pytest.mark.slow

SEED = 1414
TRIALS = int(os.environ.get("DBT_SYNC_SIGNAL_TRIALS", "1"))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_mid_run_stops_cleanly_and_the_next_run_converges(dbt_project_factory: Any, signum: int) -> None:
    project: DbtProject = dbt_project_factory("duckdb", "engine_crash", extra_files=CREATE_FILES)
    rng = random.Random(SEED + signum)
    with stack_for(project) as stack:
        emails = model_emails(stack)
        env = {**os.environ, **project.env, **stack.sandbox.env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        for trial in range(TRIALS):
            reset_everything(stack)
            proc = subprocess.Popen(
                [sys.executable, "-m", "dbt_sync", "run", "--project-dir", str(project.path),
                 "--profiles-dir", str(project.path), "--all", "--select", SYNC, "--select", ACCOUNTS,
                 "--threads", "1", "--recapture"],
                env=env, cwd=project.path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            deadline = time.monotonic() + 60
            while not stack.sandbox.salesforce.request_log and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 1.0))
            landed = proc.poll() is None
            proc.send_signal(signum)
            out, err = proc.communicate(timeout=60)
            if landed:
                assert proc.returncode == 128 + signum, (trial, proc.returncode, out, err)
                assert "cancelled" in out, out
            assert "Traceback" not in err and "Internal error" not in err, err
            # nothing stranded: no lock, no run left 'running', nothing in doubt
            assert stack.query("select * from {schema}.dbt_sync_locks") == [], trial
            statuses = {r["status"] for r in stack.query("select status from {schema}.dbt_sync_runs")}
            assert "running" not in statuses, statuses
            assert stack.query("select * from {schema}.dbt_sync_inflight") == [], trial

            stack.sandbox.salesforce.faults.latency = 0.0
            rerun = stack.run(all_syncs=True, select=[SYNC, ACCOUNTS], threads=1)
            assert all(s.status in ("success", "partial") for s in rerun.syncs), [
                (s.name, s.status, s.message) for s in rerun.syncs]
            contacts = Counter(str(r["Email"]) for r in stack.sandbox.salesforce.records("Contact"))
            assert {emails[k]: 1 for k in GOOD} == dict(contacts), (trial, contacts)
            accounts = Counter(str(r["External_Id__c"]) for r in stack.sandbox.salesforce.records("Account"))
            assert dict(accounts) == {k: 1 for k in ACCOUNT_KEYS}, trial
            failures = stack.query("select sync_name, record_key from {schema}.dbt_sync_open_failures")
            assert [(f["sync_name"], f["record_key"]) for f in failures] == [(SYNC, "C-2006")], failures
