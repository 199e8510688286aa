"""The CLI says what is true, against a real dbt project on DuckDB (issue: "The CLI says what is true").

* ``resolve`` checks the key: in doubt, already created, unknown, or a sync
  whose records are never in doubt, and says what will really happen.
* ``validate``, ``status`` and ``failures`` take ``--select`` / ``--exclude``.
* A selector that matches nothing warns as dbt does and exits 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from dbt_sync import secrets
from dbt_sync.cli import main
from dbt_sync.warehouse.warehouse import FailureRow
from tests.fixtures.warehouses import DbtProject

pytestmark = pytest.mark.slow

SYNC = "cli_contacts_create"
CREATE_YML = f"""
version: 2
models:
  - name: cli_contacts
    config:
      meta:
        dbt_sync:
          - name: {SYNC}
            destination: salesforce
            object: Contact
            mode: create
            primary_key: contact_id
            fields: {{LastName: last_name, Email: email}}
    columns:
      - {{name: contact_id, data_type: varchar}}
      - {{name: last_name, data_type: varchar}}
      - {{name: email, data_type: varchar}}
"""
FILES = {
    "models/cli/cli_contacts.sql": "select contact_id, last_name, email from {{ ref('dim_contacts') }}\n",
    "models/cli/cli_contacts.yml": CREATE_YML,
}
ENV = {"DBT_SYNC_SF_PASSWORD": "unused", "DBT_SYNC_HUBSPOT_TOKEN": "unused"}


@pytest.fixture(scope="module")
def project(dbt_project_factory: Any) -> DbtProject:
    project: DbtProject = dbt_project_factory("duckdb", "cli_truth", build=False, extra_files=FILES)
    project.dbt("parse")
    return project


@pytest.fixture
def cli(project: DbtProject) -> Iterator[Any]:
    secrets.clear()

    def invoke(*args: str, input: str | None = None) -> tuple[int, str]:
        paths = ["--project-dir", str(project.path), "--profiles-dir", str(project.path)]
        with project.environ(ENV):
            done = CliRunner().invoke(main, [*args, *paths], input=input, catch_exceptions=False)
        return done.exit_code, done.output

    yield invoke


def test_resolve_checks_the_key_and_says_what_will_happen(project: DbtProject, cli: Any) -> None:
    with project.warehouse() as wh:
        wh.ensure_tables()
        wh.reset(SYNC)
        wh.sync(SYNC).forget_in_flight()
        wh.sync(SYNC).mark_in_flight("run-that-died", ["C-2005", "C-2007"])
        wh.commit(SYNC, "run-ok", [("C-2001", "0" * 32, "003000000000001AAA")])

    # a key in doubt, settled either way
    code, out = cli("resolve", SYNC, "C-2005")
    assert code == 0 and f"{SYNC} C-2005: no longer in doubt; the next run of {SYNC} creates it" in out, out
    code, out = cli("resolve", SYNC, "C-2007", "--destination-id", "003000000000007AAA")
    assert code == 0 and "C-2007: recorded as created (003000000000007AAA)" in out, out
    # already created: nothing changes, and a different id is refused
    code, out = cli("resolve", SYNC, "C-2001")
    assert code == 0 and "C-2001: already created (003000000000001AAA)" in out and "Nothing changed" in out, out
    code, out = cli("resolve", SYNC, "C-2001", "--destination-id", "003000000000099AAA")
    assert code == 2 and "already recorded as created with id 003000000000001AAA, not 003000000000099AAA" in out
    # a key nothing knows about is not "sent on the next run"
    code, out = cli("resolve", SYNC, "C-9999")
    assert code == 2 and "C-9999 is not in doubt" in out and "Nothing changed" in out, out
    assert "next run" not in out
    # an upsert sync never has records in doubt
    code, out = cli("resolve", "contacts_to_salesforce", "C-2001")
    assert code == 2 and "is a sync in upsert mode that matches records on External_Id__c" in out, out
    code, out = cli("resolve", "contacts_to_salesforse", "C-2001")
    assert code == 2 and "Did you mean 'contacts_to_salesforce'?" in out

    with project.warehouse() as wh:
        state = {r["record_key"]: r["destination_id"] for r in wh.query(
            f"select record_key, destination_id from {wh.table('dbt_sync_state')} where sync_name = '{SYNC}'")}
        left = wh.query(f"select record_key from {wh.table('dbt_sync_inflight')} where sync_name = '{SYNC}'")
    assert state == {"C-2001": "003000000000001AAA", "C-2007": "003000000000007AAA"}
    assert left == []


def test_validate_status_and_failures_take_select(project: DbtProject, cli: Any) -> None:
    with project.warehouse() as wh:
        wh.ensure_tables()
        for sync, key in (("accounts_to_salesforce", "A-1001"), ("contacts_to_hubspot", "C-2001")):
            wh.commit(sync, "run-1", failures=[FailureRow(key, "upsert", "TEST_ERROR", f"{sync} refused {key}")])

    code, out = cli("failures", "--select", "destination:salesforce")
    assert code == 0 and "accounts_to_salesforce" in out and "contacts_to_hubspot" not in out, out
    code, out = cli("failures", "--exclude", "accounts_to_salesforce", "--json")
    assert code == 0 and "contacts_to_hubspot" in out and "accounts_to_salesforce" not in out, out
    code, out = cli("status", "--select", "accounts_to_salesforce")
    assert code == 0 and "No runs recorded yet for the selected syncs" in out, out
    code, out = cli("failures", "--select", "destination:salesforce", "--exclude", "accounts_to_salesforce")
    assert code == 0 and "No open failures of the selected syncs" in out, out
    code, out = cli("validate", "--select", "tag:nope")
    assert code == 0 and "OK: 0 selected sync(s)" in out
    code, out = cli("validate", "--select", "dim_accounts")
    assert code == 0 and "OK: 2 selected sync(s) in 1 model(s) are valid." in out, out


@pytest.mark.parametrize("command", ["plan", "run", "failures", "status", "validate"])
def test_selector_matching_nothing_warns_and_exits_0(cli: Any, command: str) -> None:
    """As dbt: "The selection criterion '...' does not match any enabled nodes", then "Nothing to do", exit 0."""
    code, out = cli(command, "--select", "tag:crm")
    assert code == 0, out
    assert "The selection criterion 'tag:crm' does not match any sync." in out
    assert "Nothing to do." in out


def test_failures_filters_say_what_they_filtered(project: DbtProject, cli: Any) -> None:
    """Regression: `failures --sync` with a misspelt name, and a `--limit` cut, both read as the whole truth.

    A misspelt sync printed "No open failures" (exit 0) although that sync had
    failures; a list cut by --limit counted only the rows shown.
    """
    sync = "contacts_to_salesforce"
    with project.warehouse() as wh:
        wh.ensure_tables()
        wh.start_run("run-limit", sync)
        wh.commit(sync, "run-limit", failures=[
            FailureRow(f"C-90{i}", "upsert", "TEST_ERROR", f"refused C-90{i}") for i in range(3)])
        total = len(wh.query(f"select record_key from {wh.table('dbt_sync_open_failures')} "
                             f"where sync_name = '{sync}'"))
    assert total >= 3

    code, out = cli("failures", "--sync", "contacts_to_salesforse")
    assert code == 0, out
    assert "--sync contacts_to_salesforse: no run of a sync named 'contacts_to_salesforse' is recorded" in out, out
    assert "Did you mean 'contacts_to_salesforce'?" in out, out
    assert "No open failures matching --sync contacts_to_salesforse in" in out, out

    code, out = cli("failures", "--sync", sync, "--code", "NO_SUCH_CODE")
    assert code == 0 and "No open failures matching --sync contacts_to_salesforce --code NO_SUCH_CODE" in out, out
    assert "no run of a sync named" not in out

    code, out = cli("failures", "--sync", sync, "--limit", "2")
    assert code == 0 and f"2 of {total} open failure(s) shown (--limit)." in out, out
    code, out = cli("failures", "--sync", sync)
    assert code == 0 and f"\n{total} open failure(s)." in out, out
