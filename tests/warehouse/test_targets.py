"""End to end on DuckDB, PostgreSQL and Redshift (through the wire proxy):
dbt build with the capture hook, commit a subset, change the model, and the
next changeset holds exactly the failed subset plus the new changes."""

from __future__ import annotations

from typing import Any

import pytest
import sqlglot

from dbt_sync.warehouse import FailureRow
from tests.warehouse.helpers import changeset

TARGETS = [
    "duckdb",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("redshift", marks=pytest.mark.redshift),
]


def record_sql(wh: Any) -> list[str]:
    """Record every statement the Warehouse sends: its own (``_execute``, batch writes' included) and dbt's."""
    seen: list[str] = []
    conns = wh.adapter.connections
    original = conns.add_query
    execute = wh._execute

    def add_query(sql: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(sql)
        return original(sql, *args, **kwargs)

    def own(sql: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(sql)
        return execute(sql, *args, **kwargs)

    conns.add_query = add_query
    wh._execute = own
    return seen


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_hook_changeset_partial_commit_and_next_changeset(dbt_project_factory: Any, target: str) -> None:
    project = dbt_project_factory(target, name="e2e")
    with project.warehouse() as wh:
        statements = record_sql(wh)
        assert wh.audit_schema == "analytics_dbt_sync"
        wh.ensure_tables()
        wh.ensure_tables()  # idempotent
        versions = wh.query(f"select version from {wh.table('dbt_sync_schema_version')}")
        assert sorted(v["version"] for v in versions) == [1, 2, 3]
        rows = changeset(wh, "accounts_to_hubspot", page_size=4)
        assert {r["_dbt_sync_op"] for r in rows} == {"insert"} and len(rows) == 6
        ok, bad = rows[:4], rows[4:]
        wh.start_run("run-1", "accounts_to_hubspot", model="dim_accounts", destination="hubspot",
                     object="companies", mode="upsert", planned=6)
        wh.commit("accounts_to_hubspot", "run-1",
                  successes=[(r["_dbt_sync_key"], r["_dbt_sync_hash"], f"hs-{r['_dbt_sync_key']}") for r in ok],
                  failures=[FailureRow(r["_dbt_sync_key"], "insert", "INVALID_DOMAIN", "domain 'x' ✗", ["domain"],
                                       {"domain": r["domain"]}) for r in bad])
        wh.finish_run("run-1", "accounts_to_hubspot", "partial", created=4, failed=2)
        (run,) = wh.query(f"select status, created, failed from {wh.table('dbt_sync_runs')}")
        assert run == {"status": "partial", "created": 4, "failed": 2}
        sf = wh.claim_changeset("accounts_to_salesforce")
        wh.commit("accounts_to_salesforce", "run-1",
                  successes=[(r["_dbt_sync_key"], r["_dbt_sync_hash"], "sf")
                             for p in wh.iter_changes("accounts_to_salesforce") for r in p])
        assert sf == {"insert": 6}

    header, data = project.read_seed("raw_accounts")
    name, website = header.index("account_name"), header.index("website")
    synced = {r["_dbt_sync_key"] for r in ok}
    renamed = next(d for d in data if d[0] in synced)
    renamed[name] = renamed[name] + " (renamed)"
    moved = next(d for d in data if d[0] in synced and d is not renamed)
    moved[website] = "https://moved.example"          # only Salesforce maps Website
    data.append(["A-9999", "Newco 東京 'quoted'", "newco.example", "Technology", "1.00", "1", "",
                 "2024-05-01 00:00:00"])
    project.write_seed("raw_accounts", header, data)
    project.dbt("build", "--full-refresh", "--select", "raw_accounts", "dim_accounts")

    with project.warehouse() as wh:
        statements += record_sql(wh)
        hubspot = {r["_dbt_sync_key"]: r for r in changeset(wh, "accounts_to_hubspot")}
        expected = {renamed[0]: "update", "A-9999": "insert", **{r["_dbt_sync_key"]: "insert" for r in bad}}
        assert {k: r["_dbt_sync_op"] for k, r in hubspot.items()} == expected
        assert hubspot[renamed[0]]["_dbt_sync_destination_id"] == f"hs-{renamed[0]}"
        assert hubspot["A-9999"]["account_name"] == "Newco 東京 'quoted'"
        salesforce = {r["_dbt_sync_key"]: r["_dbt_sync_op"] for r in changeset(wh, "accounts_to_salesforce")}
        assert salesforce == {renamed[0]: "update", moved[0]: "update", "A-9999": "insert"}
        # the dry run's read path: the claimed changeset in place, and the capture computed by a query
        accounts = "model.dbt_sync_integration_tests.dim_accounts"
        wh.read_only = True
        assert wh.peek_changeset("accounts_to_salesforce", accounts) == {"update": 2, "insert": 1}
        assert wh.peek_changeset("accounts_to_salesforce", accounts, capture=True) == {"update": 2, "insert": 1}
        assert {r["_dbt_sync_key"]: r["_dbt_sync_op"]
                for p in wh.iter_changes("accounts_to_salesforce", page_size=2) for r in p} == salesforce
        # --full-refresh sends every row again, by the ids the state keeps (so updates, not inserts)
        assert wh.peek_changeset("accounts_to_salesforce", accounts, fresh=True) == {"update": 6, "insert": 1}
        wh.read_only = False
        failures = wh.query(f"select record_key, error_message, payload from {wh.table('dbt_sync_open_failures')}")
        assert {f["record_key"] for f in failures} == {r["_dbt_sync_key"] for r in bad}
        assert all(f["error_message"] == "domain 'x' ✗" for f in failures)
        wh.reset("accounts_to_hubspot")
        assert wh.query(f"select count(*) as n from {wh.table('dbt_sync_state')} "
                        "where sync_name = 'accounts_to_hubspot'") == [{"n": 0}]

    if target == "redshift":
        assert statements
        for sql in statements:
            sqlglot.parse(sql, read="redshift")  # raises on anything Redshift's grammar rejects
