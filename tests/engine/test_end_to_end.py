"""dbt-sync run end to end: dbt build with the hook, both emulators, real warehouses.

One scenario per warehouse walks through what a team sees over days: the
first load with rejected records, an incremental change, a data fix and its
retry, --dry-run, --full-refresh and the per-sync lock.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from dbt_sync.cli.run import render_summary
from dbt_sync.engine.results import SkipCause
from tests.engine.conftest import stack_for

pytestmark = pytest.mark.slow

CONTACTS_HEADER = [
    "contact_id", "account_id", "first_name", "last_name", "email", "phone", "birthdate",
    "lead_score", "is_customer", "last_seen_at", "tier", "lifecycle_stage",
]


def by_key(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {str(r[key]): r for r in rows}


def sf_contacts(stack: Any) -> dict[str, dict[str, Any]]:
    return by_key(stack.sandbox.salesforce.records("Contact"), "External_Id__c")


def hs_contacts(stack: Any) -> dict[str, dict[str, Any]]:
    return {r["properties"]["contact_key"]: r for r in stack.sandbox.hubspot.records("contacts")}


def edit_contacts(project: Any, edits: dict[str, dict[str, str]]) -> None:
    header, rows = project.read_seed("raw_contacts")
    for row in rows:
        for column, value in edits.get(row[0], {}).items():
            row[header.index(column)] = value
    project.write_seed("raw_contacts", header, rows)


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_lifecycle(dbt_project_factory: Any, target: str) -> None:
    project = dbt_project_factory(target, "engine_lifecycle")
    with stack_for(project) as stack:
        # -- first run: everything created except the two bad contacts -----------------
        first = stack.run()
        assert first.exit_code == 1
        res = {s.name: s for s in first.syncs}
        assert res["accounts_to_salesforce"].created == 6 and res["accounts_to_hubspot"].created == 6
        assert res["contacts_to_salesforce"].created == 6 and res["contacts_to_salesforce"].failed == 2
        assert res["contacts_to_hubspot"].created == 7 and res["contacts_to_hubspot"].failed == 1
        assert res["deals_to_salesforce"].created == 4 and res["deals_to_hubspot"].created == 4
        assert res["contacts_to_salesforce"].error_codes == {
            "INVALID_EMAIL_ADDRESS": 1,
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": 1,
        }
        # the destinations hold the model, with lookups and associations resolved
        sf = sf_contacts(stack)
        assert set(sf) == {"C-2001", "C-2002", "C-2003", "C-2004", "C-2005", "C-2008"}
        accounts = by_key(stack.sandbox.salesforce.records("Account"), "External_Id__c")
        assert sf["C-2001"]["AccountId"] == accounts["A-1001"]["Id"]
        assert sf["C-2005"]["LastName"] == "Álvarez"
        hs = hs_contacts(stack)
        assert hs["C-2001"]["properties"]["email"] == "ada.lovelace@acme-robotics.example"
        companies = {r["properties"]["company_key"]: r["id"] for r in stack.sandbox.hubspot.records("companies")}
        contact_links = stack.sandbox.hubspot.associations("contacts", hs["C-2001"]["id"])
        assert ("companies", companies["A-1001"], 279) in contact_links
        deals = {r["properties"]["deal_key"]: r["id"] for r in stack.sandbox.hubspot.records("deals")}
        targets = {(t, i) for t, i, _ in stack.sandbox.hubspot.associations("deals", deals["D-3001"])}
        assert {("contacts", hs["C-2001"]["id"]), ("companies", companies["A-1001"])} <= targets

        # the audit tables tell the same story; masked columns never reach them
        failures = stack.query(
            "select sync_name, record_key, error_code, error_message, payload, attempt "
            "from {schema}.dbt_sync_failures order by sync_name, record_key"
        )
        assert [(f["sync_name"], f["record_key"], f["error_code"], f["attempt"]) for f in failures] == [
            ("contacts_to_hubspot", "C-2006", "INVALID_EMAIL", 1),
            ("contacts_to_salesforce", "C-2006", "INVALID_EMAIL_ADDRESS", 1),
            ("contacts_to_salesforce", "C-2007", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", 1),
        ]
        payload = json.loads(failures[1]["payload"])
        assert payload["email"] == "****" and payload["phone"] == "****" and payload["last_name"] == "Dubois"
        runs = stack.query("select sync_name, status, planned, created, failed from {schema}.dbt_sync_runs")
        assert {r["sync_name"]: (r["status"], r["created"], r["failed"]) for r in runs}["contacts_to_hubspot"] == (
            "partial", 7, 1)
        results_text = (project.path / "target" / "dbt_sync_results.json").read_text()
        results_file = json.loads(results_text)
        assert results_file["totals"]["failed"] == 3 and results_file["metadata"]["run_id"] == first.run_id
        # no secret reaches the results file or the audit tables
        audit_rows = stack.query("select * from {schema}.dbt_sync_failures")
        audit_rows += stack.query("select * from {schema}.dbt_sync_runs")
        audit_text = json.dumps(audit_rows, default=str)
        for secret in (stack.sandbox.sf_password, stack.sandbox.hubspot.token):
            assert secret not in results_text and secret not in audit_text

        # -- no change, no dbt run: only the failed records are retried (attempt 2) -------
        again = stack.run()
        res = {s.name: s for s in again.syncs}
        assert res["contacts_to_salesforce"].planned == 2 and res["contacts_to_salesforce"].failed == 2
        assert res["accounts_to_salesforce"].planned == 0 and res["accounts_to_salesforce"].status == "success"
        attempts = stack.query(
            "select record_key, attempt from {schema}.dbt_sync_open_failures where sync_name = 'contacts_to_salesforce'"
        )
        assert {r["record_key"]: r["attempt"] for r in attempts} == {"C-2006": 2, "C-2007": 2}

        # -- an edit to one mapped column sends one record; an unmapped one sends nothing ------
        edit_contacts(project, {"C-2002": {"first_name": "Amazing Grace"}})
        stack.dbt("build")
        incremental = stack.run()
        res = {s.name: s for s in incremental.syncs}
        assert res["contacts_to_salesforce"].updated == 1 and res["contacts_to_salesforce"].failed == 2
        assert res["contacts_to_hubspot"].updated == 1
        assert res["accounts_to_salesforce"].planned == 0
        assert sf_contacts(stack)["C-2002"]["FirstName"] == "Amazing Grace"

        # -- --dry-run sends nothing and changes nothing -----------------------------
        edit_contacts(project, {"C-2006": {"email": "chloe.dubois@elan-etudes.example"}, "C-2007": {"tier": "Gold"}})
        stack.dbt("build")
        sf_before = len(stack.sandbox.salesforce.request_log)
        hs_before = len(stack.sandbox.hubspot.request_log)
        dry = stack.run(dry_run=True)
        assert dry.dry_run and {s.name: s.status for s in dry.syncs}["contacts_to_salesforce"] == "dry_run"
        assert {s.name: s.planned for s in dry.syncs}["contacts_to_salesforce"] == 2
        samples = dry.sync("contacts_to_salesforce").samples
        assert [(x["operation"], x["key"], x["tier"], x["email"]) for x in samples] == [
            ("upsert", "C-2006", "Bronze", "****"),
            ("upsert", "C-2007", "Gold", "****"),
        ]
        assert "Would send for contacts_to_salesforce (first 2):" in render_summary(dry)
        assert stack.sandbox.salesforce.request_log[sf_before:] == []
        assert stack.sandbox.hubspot.request_log[hs_before:] == []
        assert "C-2006" not in sf_contacts(stack)

        # -- the fix reaches both CRMs: retries succeed, failures close ---------------
        fixed = stack.run()
        assert fixed.exit_code == 0
        assert {"C-2006", "C-2007"} <= set(sf_contacts(stack))
        assert hs_contacts(stack)["C-2006"]["properties"]["email"] == "chloe.dubois@elan-etudes.example"
        assert stack.query("select * from {schema}.dbt_sync_open_failures") == []

        # -- --full-refresh resends every row and rebuilds the state -------------------
        full = stack.run(full_refresh=True, select=["contacts_to_salesforce"])
        only = full.sync("contacts_to_salesforce")
        assert only.planned == 8 and only.updated == 8 and only.created == 0
        assert len(sf_contacts(stack)) == 8  # no duplicates

        # -- a second process on the same sync is refused while the first holds it ---
        with project.warehouse() as wh:
            assert wh.sync("deals_to_hubspot").lock("other-host:1:run", 600) is None
        blocked = stack.run(all_syncs=True, select=["deals_to_hubspot"])
        assert blocked.exit_code == 3  # refused, not failed: EXIT_LOCKED
        assert blocked.sync("deals_to_hubspot").skip_cause is SkipCause.LOCKED
        assert "already running (held by other-host:1:run" in (blocked.sync("deals_to_hubspot").message or "")
        # a holder that stopped heart-beating is considered dead and replaced
        with project.warehouse() as wh:
            wh.sync("deals_to_hubspot").release("other-host:1:run")
            assert wh.sync("deals_to_hubspot").lock("dead-host:1:run", 600) is None
            assert wh.sync("deals_to_hubspot").lock("me", 0) is None
            wh.sync("deals_to_hubspot").release("me")
        assert stack.run(all_syncs=True, select=["deals_to_hubspot"]).exit_code == 0
