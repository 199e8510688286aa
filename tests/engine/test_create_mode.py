"""Create mode without a match key: at most once, and what is in doubt is said, not resent.

The batch's keys are recorded in dbt_sync_inflight before it is sent and
cleared when its outcomes are committed. Here the commit of the second batch
fails after the CRM created its records (the same window a ``kill -9``
hits): the next run does not create them again but reports them IN_DOUBT;
once the user has checked the CRM and resolved them, the sync converges with
every model row in the CRM exactly once.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from click.testing import CliRunner

from dbt_sync.cli import main
from dbt_sync.warehouse import Warehouse
from tests.engine.conftest import Stack, stack_for
from tests.fixtures.warehouses import DbtProject

pytestmark = pytest.mark.slow

CREATE_YML = """
version: 2
models:
  - name: new_contacts
    config:
      meta:
        dbt_sync:
          - name: new_contacts_to_salesforce
            destination: salesforce
            object: Contact
            mode: create
            primary_key: contact_id
            batch_size: 2
            options: {bulk_threshold: 0}
            fields: {LastName: last_name, FirstName: first_name, Email: email}
    columns:
      - {name: contact_id, data_type: varchar}
      - {name: last_name, data_type: varchar}
      - {name: first_name, data_type: varchar}
      - {name: email, data_type: varchar}
"""

CREATE_FILES = {
    "models/create/new_contacts.sql": (
        "select contact_id, last_name, first_name, email from {{ ref('dim_contacts') }}\n"
    ),
    "models/create/new_contacts.yml": CREATE_YML,
}
SYNC = "new_contacts_to_salesforce"
GOOD = {"C-2001", "C-2002", "C-2003", "C-2004", "C-2005", "C-2007", "C-2008"}  # C-2006: invalid email


def emails_in_crm(stack: Stack) -> Counter[str]:
    return Counter(str(r["Email"]) for r in stack.sandbox.salesforce.records("Contact"))


def model_emails(stack: Stack) -> dict[str, str]:
    header, rows = stack.project.read_seed("raw_contacts")
    return {r[0]: r[header.index("email")].strip().lower() for r in rows}


def test_create_without_match_is_at_most_once(dbt_project_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    project: DbtProject = dbt_project_factory("duckdb", "engine_create", extra_files=CREATE_FILES)
    with stack_for(project) as stack:
        emails = model_emails(stack)
        real_commit = Warehouse.commit
        calls = {"n": 0}

        def failing_commit(self: Warehouse, sync_name: str, *args: Any, **kwargs: Any) -> None:
            if sync_name == SYNC:
                calls["n"] += 1
                if calls["n"] == 2:
                    raise RuntimeError("injected: the warehouse refused the commit of batch 2")
            real_commit(self, sync_name, *args, **kwargs)

        monkeypatch.setattr(Warehouse, "commit", failing_commit)
        first = stack.run(all_syncs=True, select=[SYNC])
        monkeypatch.setattr(Warehouse, "commit", real_commit)
        res = first.sync(SYNC)
        assert res.status == "error" and "injected" in (res.message or "")
        # batch 1 confirmed, batch 2 created in the CRM but its outcome lost
        in_crm = {k for k, e in emails.items() if emails_in_crm(stack)[e]}
        assert in_crm == {"C-2001", "C-2002", "C-2003", "C-2004"}
        left = stack.query("select record_key, run_id from {schema}.dbt_sync_inflight order by record_key")
        assert [r["record_key"] for r in left] == ["C-2003", "C-2004"] and left[0]["run_id"] == first.run_id

        # the next run creates the rest and holds back what is in doubt
        second = stack.run(all_syncs=True, select=[SYNC])
        res = second.sync(SYNC)
        assert res.status == "partial" and res.error_codes == {"IN_DOUBT": 2, "INVALID_EMAIL_ADDRESS": 1}
        counts = emails_in_crm(stack)
        assert all(counts[emails[k]] == 1 for k in GOOD), counts  # nothing created twice
        failures = stack.query(
            f"select record_key, error_code, error_message from {{schema}}.dbt_sync_open_failures "
            f"where sync_name = '{SYNC}' order by record_key"
        )
        assert [(f["record_key"], f["error_code"]) for f in failures] == [
            ("C-2003", "IN_DOUBT"), ("C-2004", "IN_DOUBT"), ("C-2006", "INVALID_EMAIL_ADDRESS")]
        assert "Check the CRM" in failures[0]["error_message"]
        assert f"dbt-sync resolve {SYNC} C-2003 --destination-id" in failures[0]["error_message"]
        # still in doubt on the run after: never resent blindly
        assert stack.run(all_syncs=True, select=[SYNC]).sync(SYNC).error_codes.get("IN_DOUBT") == 2
        assert all(emails_in_crm(stack)[emails[k]] == 1 for k in GOOD)

        # the user checks the CRM: both exist, their ids are recorded
        by_email = {str(r["Email"]): str(r["Id"]) for r in stack.sandbox.salesforce.records("Contact")}
        paths = ["--project-dir", str(project.path), "--profiles-dir", str(project.path)]
        with stack.environ():
            done = CliRunner().invoke(
                main, ["resolve", SYNC, "C-2003", "--destination-id", by_email[emails["C-2003"]], *paths]
            )
        assert done.exit_code == 0 and "C-2003: recorded as created" in done.output, done.output
        with project.warehouse() as wh:
            wh.sync(SYNC).resolve_in_doubt("C-2004", by_email[emails["C-2004"]])
        third = stack.run(all_syncs=True, select=[SYNC])
        res = third.sync(SYNC)
        assert res.error_codes == {"INVALID_EMAIL_ADDRESS": 1}
        counts = emails_in_crm(stack)
        assert all(counts[emails[k]] == 1 for k in GOOD), counts
        assert stack.query("select * from {schema}.dbt_sync_inflight") == []
        state = stack.query(f"select record_key from {{schema}}.dbt_sync_state where sync_name = '{SYNC}'")
        assert {r["record_key"] for r in state} == GOOD
