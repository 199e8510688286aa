"""kill -9 in the middle of dbt-sync run, then run again: the CRM ends up equal to the model.

``dbt-sync run`` runs as a subprocess against emulators living in this test
process (with latency, so the kill lands while batches are being sent). The
kill time is drawn from a seeded RNG; each trial then reruns at once (the
killed holder was a process of this machine, so its lock is taken over
without waiting ``--lock-stale-seconds``, and its ``running`` rows are closed
as ``abandoned``),
settles any IN_DOUBT creates the way a user would (look in the CRM, record
the id), and checks: every model row once in the CRM, no duplicates from the
create-mode sync, the state holding exactly what is in the CRM, no open
failures but the model's genuinely bad row.
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

from dbt_sync.engine import inflight
from tests.engine.conftest import Stack, stack_for
from tests.engine.test_create_mode import CREATE_FILES, GOOD, SYNC, model_emails
from tests.fixtures.warehouses import DbtProject

pytestmark = pytest.mark.slow

ACCOUNTS = "accounts_to_salesforce"
ACCOUNT_KEYS = {f"A-100{i}" for i in range(1, 7)}
TRIALS = 5
SEED = 20240607


def reset_everything(stack: Stack) -> None:
    stack.sandbox.salesforce.reset()
    stack.sandbox.salesforce.faults.latency = 0.12
    with stack.project.warehouse() as wh:
        for name in (SYNC, ACCOUNTS):
            wh.reset(name)
            for table in ("dbt_sync_failures", "dbt_sync_locks"):
                wh.execute(f"delete from {wh.table(table)} where sync_name = {wh._lit(name)}")
        inflight.forget(wh, SYNC)


def settle_in_doubt(stack: Stack, emails: dict[str, str]) -> int:
    """What the IN_DOUBT message asks of a user: look each record up in the CRM and record what was found."""
    by_email = {str(r["Email"]): str(r["Id"]) for r in stack.sandbox.salesforce.records("Contact")}
    with stack.project.warehouse() as wh:
        rows = wh.query(f"select distinct record_key from {wh.table('dbt_sync_inflight')}")
        for row in rows:
            key = str(row["record_key"])
            inflight.resolve(wh, SYNC, key, by_email.get(emails[key]))
    return len(rows)


def test_kill_9_then_rerun_converges(dbt_project_factory: Any) -> None:
    project: DbtProject = dbt_project_factory("duckdb", "engine_crash", extra_files=CREATE_FILES)
    rng = random.Random(SEED)
    started = time.monotonic()
    with stack_for(project) as stack:
        emails = model_emails(stack)
        env = {**os.environ, **project.env, **stack.sandbox.env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        killed_mid_send = 0
        for trial in range(TRIALS):
            reset_everything(stack)
            proc = subprocess.Popen(
                [sys.executable, "-m", "dbt_sync", "run", "--project-dir", str(project.path),
                 "--profiles-dir", str(project.path), "--all", "--select", SYNC, "--select", ACCOUNTS,
                 "--threads", "1", "--recapture", "--json"],
                env=env, cwd=project.path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            # wait for the first request to reach the CRM, then kill at a random point of the sending
            deadline = time.monotonic() + 60
            while not stack.sandbox.salesforce.request_log and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 1.6))
            sent_before_kill = len(stack.sandbox.salesforce.request_log)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            killed_mid_send += proc.returncode == -signal.SIGKILL and sent_before_kill > 0

            stack.sandbox.salesforce.faults.latency = 0.0
            rerun = stack.run(all_syncs=True, select=[SYNC, ACCOUNTS], threads=1)
            assert all("already running" not in (s.message or "") for s in rerun.syncs), trial
            assert stack.query("select * from {schema}.dbt_sync_runs where status = 'running'") == [], trial
            if settle_in_doubt(stack, emails):
                stack.run(all_syncs=True, select=[SYNC])

            contacts = Counter(str(r["Email"]) for r in stack.sandbox.salesforce.records("Contact"))
            assert {emails[k]: 1 for k in GOOD} == dict(contacts), (trial, contacts)
            accounts = Counter(str(r["External_Id__c"]) for r in stack.sandbox.salesforce.records("Account"))
            assert dict(accounts) == {k: 1 for k in ACCOUNT_KEYS}, trial
            state = stack.query("select sync_name, record_key, destination_id from {schema}.dbt_sync_state")
            assert {r["record_key"] for r in state if r["sync_name"] == SYNC} == GOOD
            assert {r["record_key"] for r in state if r["sync_name"] == ACCOUNTS} == ACCOUNT_KEYS
            ids = {str(r["Id"]) for r in stack.sandbox.salesforce.records("Contact")}
            assert {str(r["destination_id"]) for r in state if r["sync_name"] == SYNC} == ids
            failures = stack.query(
                "select sync_name, record_key, error_code from {schema}.dbt_sync_open_failures")
            assert [(f["sync_name"], f["record_key"]) for f in failures] == [(SYNC, "C-2006")], (trial, failures)
            assert stack.query("select * from {schema}.dbt_sync_inflight") == []
        assert killed_mid_send >= TRIALS - 1  # the kills really landed while the run was sending
    assert time.monotonic() - started < 180
