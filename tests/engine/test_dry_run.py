"""``--dry-run`` leaves the warehouse exactly as it found it, and says the true number of changes.

Every table of the audit schema (state, runs, failures, locks, in-flight,
health, alerts and each sync's changeset tables), names and contents, is
compared before and after dry runs on DuckDB and PostgreSQL, in the states a
team meets: a fresh capture not yet claimed, a changeset claimed by an
earlier run, syncs whose model was built without the capture hook, and
``--recapture`` / ``--full-refresh``.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from dbt_sync.engine.progress import Progress
from tests.engine.conftest import stack_for
from tests.engine.test_end_to_end import edit_contacts

pytestmark = pytest.mark.slow


AUDIT_SCHEMA = "analytics_dbt_sync"


def take_snapshot(project: Any) -> dict[str, list[str]]:
    """Every relation of the audit schema with its rows (as sorted JSON lines), read with the
    database's own driver, not through dbt-sync."""
    if project.target == "duckdb":
        import duckdb

        conn: Any = duckdb.connect(project.env["DBT_SYNC_DUCKDB_PATH"], read_only=True)
    else:
        import psycopg2

        env = project.env
        conn = psycopg2.connect(host=env["DBT_SYNC_PG_HOST"], port=int(env["DBT_SYNC_PG_PORT"]),
                                user=env["DBT_SYNC_PG_USER"], password=env["DBT_SYNC_PG_PASSWORD"],
                                dbname=env["DBT_SYNC_PG_DBNAME"])
    try:
        cur = conn.cursor()
        cur.execute(f"select table_name from information_schema.tables where table_schema = '{AUDIT_SCHEMA}'")
        out: dict[str, list[str]] = {}
        for (name,) in cur.fetchall():
            cur.execute(f'select * from "{AUDIT_SCHEMA}"."{name}"')
            columns = [d[0] for d in cur.description]
            out[name] = sorted(json.dumps(dict(zip(columns, row, strict=True)), default=str, sort_keys=True)
                               for row in cur.fetchall())
        return out
    finally:
        conn.close()


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_dry_run_changes_nothing(dbt_project_factory: Any, target: str) -> None:
    project = dbt_project_factory(target, "dry_run")
    with stack_for(project) as stack:
        # state, runs, failures, health; these syncs' changesets claimed, the others' captures left unclaimed
        first = stack.run(select=["accounts_to_salesforce", "contacts_to_salesforce"])
        assert first.exit_code == 1
        results_file = project.path / "target" / "dbt_sync_results.json"
        real_results = results_file.read_text()

        # a new capture, not claimed yet: two contacts fixed, one edited
        edit_contacts(project, {"C-2006": {"email": "chloe.dubois@elan-etudes.example"},
                                "C-2007": {"tier": "Gold"}, "C-2002": {"first_name": "Gracie"}})
        stack.dbt("build")
        before = take_snapshot(project)
        assert {"dbt_sync_state", "dbt_sync_runs", "dbt_sync_failures", "dbt_sync_health"} <= set(before)
        assert before["dbt_sync_state"] and before["dbt_sync_failures"] and before["dbt_sync_runs"]
        assert any(name.startswith("dbt_sync_changes__") for name in before)
        assert any(name.startswith("dbt_sync_pending__") for name in before)
        requests = (len(stack.sandbox.salesforce.request_log), len(stack.sandbox.hubspot.request_log))

        dry = stack.run(dry_run=True)
        assert take_snapshot(project) == before
        contacts = dry.sync("contacts_to_salesforce")
        assert contacts.status == "dry_run" and contacts.planned == 3
        assert sorted(s["key"] for s in contacts.samples) == ["C-2002", "C-2006", "C-2007"]
        assert dry.sync("accounts_to_salesforce").planned == 0

        recaptured = stack.run(dry_run=True, recapture=True, select=["contacts_to_salesforce"])
        assert recaptured.sync("contacts_to_salesforce").planned == 3
        full = stack.run(dry_run=True, full_refresh=True, all_syncs=True)
        assert full.sync("contacts_to_salesforce").planned == 8  # every row, as a full refresh would send
        assert take_snapshot(project) == before

        # nothing was sent, the real run's results are untouched, the dry run has its own file
        assert (len(stack.sandbox.salesforce.request_log), len(stack.sandbox.hubspot.request_log)) == requests
        assert results_file.read_text() == real_results
        dry_file = json.loads((project.path / "target" / "dbt_sync_dry_run.json").read_text())
        assert dry_file["metadata"]["dry_run"] is True

        # the real run then sends exactly what the dry run showed
        real = stack.run(select=["contacts_to_salesforce"])
        assert real.sync("contacts_to_salesforce").planned == 3
        assert real.sync("contacts_to_salesforce").failed == 0


def test_start_line_counts_only_what_is_left_to_send(dbt_project_factory: Any) -> None:
    """After a run that died part-way, START says how many changes are really left (not the claimed rows)."""
    project = dbt_project_factory("duckdb", "dry_run")
    with stack_for(project) as stack:
        with project.warehouse() as wh:
            wh.reset("accounts_to_salesforce")  # whatever ran before: a fresh capture of all six accounts
            wh.capture("model.dbt_sync_integration_tests.dim_accounts")
            counts = wh.claim_changeset("accounts_to_salesforce")
            assert sum(counts.values()) == 6
            pages = [row for page in wh.iter_changes("accounts_to_salesforce") for row in page]
            confirmed = pages[:4]  # the CRM confirmed four before the run was killed
            wh.commit("accounts_to_salesforce", "killed-run",
                      [(r["_dbt_sync_key"], r["_dbt_sync_hash"], f"001{i:015d}") for i, r in enumerate(confirmed)])
            assert sum(wh.claim_changeset("accounts_to_salesforce").values()) == 2

        for dry_run in (True, False):
            log = io.StringIO()
            result = stack.run(dry_run=dry_run, select=["accounts_to_salesforce"], progress=Progress(log))
            assert "START accounts_to_salesforce: 2 change(s) to send" in log.getvalue(), log.getvalue()
            assert result.sync("accounts_to_salesforce").planned == 2
