"""kill -9 in the middle of dbt-sync run, then run again: the CRM ends up equal to the model.

``dbt-sync run`` runs as a subprocess against emulators living in this test
process (with latency, so the kill lands while batches are being sent). The
kill time is drawn from a seeded RNG; each trial then reruns at once (the
killed holder was a process of this machine, so its lock is taken over
without waiting ``--lock-stale-seconds``, and its ``running`` rows are closed
as ``abandoned``), settles any IN_DOUBT creates the way a user would (look
in the CRM, record the id), and counts:

* ``lost``: model rows that should be in the CRM and are not;
* ``duplicated``: extra copies of a model row in the CRM;
* ``stale``: records where the state and the CRM disagree (a state row
  without its CRM record, a CRM record the state does not point at), runs
  left ``running``, and open failures other than the model's bad row.

The campaign is also the benchmark of crash safety (docs/engine.md):

    DBT_SYNC_CRASH_TRIALS=50 DBT_SYNC_CRASH_WAREHOUSE=postgres \\
        .venv/bin/python -m pytest tests/engine/test_crash.py -s

prints ``crash campaign: trials N, kills landed K, lost 0, duplicated 0, stale 0``
(and writes it as JSON to ``DBT_SYNC_CRASH_REPORT`` when set). CI runs 5
trials on DuckDB.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import Stack, stack_for
from tests.engine.test_create_mode import CREATE_FILES, GOOD, SYNC, model_emails
from tests.fixtures.warehouses import DbtProject

pytestmark = pytest.mark.slow

ACCOUNTS = "accounts_to_salesforce"
ACCOUNT_KEYS = {f"A-100{i}" for i in range(1, 7)}
TRIALS = int(os.environ.get("DBT_SYNC_CRASH_TRIALS", "5"))
WAREHOUSE = os.environ.get("DBT_SYNC_CRASH_WAREHOUSE", "duckdb")
SEED = int(os.environ.get("DBT_SYNC_CRASH_SEED", "20240607"))


@dataclass
class Campaign:
    warehouse: str
    trials: int = 0
    kills_landed: int = 0
    lost: int = 0
    duplicated: int = 0
    stale: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"crash campaign ({self.warehouse}): trials {self.trials}, kills landed {self.kills_landed}, "
            f"lost {self.lost}, duplicated {self.duplicated}, stale {self.stale} ({self.seconds:.0f} s)"
        )


def reset_everything(stack: Stack) -> None:
    stack.sandbox.salesforce.reset()
    stack.sandbox.salesforce.faults.latency = 0.12
    with stack.project.warehouse() as wh:
        for name in (SYNC, ACCOUNTS):
            wh.reset(name)
            for table in ("dbt_sync_failures", "dbt_sync_locks"):
                wh.execute(f"delete from {wh.table(table)} where sync_name = {wh._lit(name)}")
        wh.sync(SYNC).forget_in_flight()


def settle_in_doubt(stack: Stack, emails: dict[str, str]) -> int:
    """What the IN_DOUBT message asks of a user: look each record up in the CRM and record what was found."""
    by_email = {str(r["Email"]): str(r["Id"]) for r in stack.sandbox.salesforce.records("Contact")}
    with stack.project.warehouse() as wh:
        rows = wh.query(f"select distinct record_key from {wh.table('dbt_sync_inflight')}")
        for row in rows:
            key = str(row["record_key"])
            wh.sync(SYNC).resolve_in_doubt(key, by_email.get(emails[key]))
    return len(rows)


def count_damage(stack: Stack, emails: dict[str, str], campaign: Campaign) -> None:
    """Add this trial's lost, duplicated and stale records to ``campaign``."""
    sf = stack.sandbox.salesforce
    contacts = Counter(str(r["Email"]) for r in sf.records("Contact"))
    accounts = Counter(str(r["External_Id__c"]) for r in sf.records("Account"))
    wanted_contacts = {emails[k] for k in GOOD}
    campaign.lost += sum(1 for e in wanted_contacts if contacts[e] == 0)
    campaign.lost += sum(1 for k in ACCOUNT_KEYS if accounts[k] == 0)
    campaign.duplicated += sum(n - 1 for n in contacts.values() if n > 1)
    campaign.duplicated += sum(n - 1 for n in accounts.values() if n > 1)
    state = stack.query("select sync_name, record_key, destination_id from {schema}.dbt_sync_state")
    contact_ids = {str(r["Id"]) for r in sf.records("Contact")}
    state_ids = {str(r["destination_id"]) for r in state if r["sync_name"] == SYNC}
    campaign.stale += len(contact_ids ^ state_ids)
    campaign.stale += len({r["record_key"] for r in state if r["sync_name"] == ACCOUNTS} ^ ACCOUNT_KEYS)
    campaign.stale += len(stack.query("select * from {schema}.dbt_sync_runs where status = 'running'"))
    campaign.stale += len(stack.query("select * from {schema}.dbt_sync_inflight"))
    failures = stack.query("select sync_name, record_key from {schema}.dbt_sync_open_failures")
    campaign.stale += len([f for f in failures if (f["sync_name"], f["record_key"]) != (SYNC, "C-2006")])


def test_kill_9_then_rerun_converges(dbt_project_factory: Any, request: pytest.FixtureRequest) -> None:
    if WAREHOUSE == "postgres":
        request.getfixturevalue("postgres_server")
    project: DbtProject = dbt_project_factory(WAREHOUSE, "engine_crash", extra_files=CREATE_FILES)
    rng = random.Random(SEED)
    started = time.monotonic()
    campaign = Campaign(WAREHOUSE)
    with stack_for(project) as stack:
        emails = model_emails(stack)
        env = {**os.environ, **project.env, **stack.sandbox.env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
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
            campaign.trials += 1
            campaign.kills_landed += proc.returncode == -signal.SIGKILL and sent_before_kill > 0

            stack.sandbox.salesforce.faults.latency = 0.0
            rerun = stack.run(all_syncs=True, select=[SYNC, ACCOUNTS], threads=1)
            assert all("already running" not in (s.message or "") for s in rerun.syncs), trial
            if settle_in_doubt(stack, emails):
                stack.run(all_syncs=True, select=[SYNC])
            count_damage(stack, emails, campaign)
    campaign.seconds = time.monotonic() - started
    print("\n" + campaign.line())
    report = os.environ.get("DBT_SYNC_CRASH_REPORT")
    if report:
        Path(report).write_text(json.dumps(asdict(campaign), indent=2))
    assert (campaign.lost, campaign.duplicated, campaign.stale) == (0, 0, 0), campaign.line()
    assert campaign.kills_landed >= campaign.trials - 1  # the kills really landed while the run was sending
    if TRIALS <= 5:
        assert campaign.seconds < 300
