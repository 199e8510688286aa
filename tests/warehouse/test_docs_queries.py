"""The audit queries in docs/warehouse.md run as written and answer right."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from dbt_sync.clock import utcnow
from dbt_sync.warehouse import FailureRow

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "warehouse.md"
ZONE = "Pacific/Kiritimati"  # UTC+14: a naive UTC timestamp read in this zone is 14 hours off


def audit_queries() -> list[str]:
    text = DOC.read_text().split("## Audit queries", 1)[1]
    return [q.strip().rstrip(";") for q in re.findall(r"```sql\n(.*?)```", text, flags=re.S)]


@pytest.mark.parametrize("target", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_audit_queries_run_as_written(dbt_project_factory: Any, target: str) -> None:
    project = dbt_project_factory(target, name="docs", build=False)
    by_code, stale, rate = audit_queries()
    old = utcnow() - dt.timedelta(days=3)
    with project.warehouse() as wh:
        wh.ensure_tables()
        wh.start_run("old", "s1", started_at=old)
        wh.commit("s1", "old", failures=[FailureRow("k1", "insert", "E_OLD", "m")])
        wh.finish_run("old", "s1", "partial", created=1, failed=1, finished_at=old)
        wh.execute(f"update {wh.table('dbt_sync_failures')} set first_failed_at = {wh._lit(old)} "
                   "where run_id = 'old'")
        wh.start_run("new", "s1")
        wh.commit("s1", "new", failures=[FailureRow("k1", "insert", "E_NEW", "m"),
                                         FailureRow("k2", "insert", "E_NEW", "m"),
                                         FailureRow("k3", "update", "E_OTHER", "m")])
        wh.finish_run("new", "s1", "partial", created=3, updated=0, failed=3)
        assert [tuple(r.values()) for r in wh.query(by_code)] == [("s1", "E_NEW", 2), ("s1", "E_OTHER", 1)]
        stale_rows = wh.query(stale)
        assert [(r["record_key"], r["attempt"]) for r in stale_rows] == [("k1", 2)]
        rates = wh.query(rate)
        assert len(rates) == 2
        assert float(rates[0]["success_rate_pct"]) == 50.0 and float(rates[1]["success_rate_pct"]) == 50.0


def sql_blocks(path: Path) -> list[str]:
    return [q.strip().rstrip(";") for q in re.findall(r"```sql\n(.*?)```", path.read_text(), flags=re.S)]


def _statements(block: str) -> list[str]:
    """The statements of a block, without comment lines."""
    lines = [line for line in block.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


@pytest.mark.parametrize("target", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_documented_time_queries_hold_in_any_time_zone(dbt_project_factory: Any, target: str) -> None:
    """README, docs/warehouse.md and docs/alerts.md, verbatim, in a session 14 hours ahead of UTC."""
    from dbt_sync.alerts.health import FAILING, Health
    from dbt_sync.alerts.store import AlertStore

    project = dbt_project_factory(target, name="docs_tz", build=False)
    now = utcnow()
    with project.environ({"PGTZ": ZONE}), project.warehouse() as wh:
        if target == "duckdb":
            wh.execute(f"set global TimeZone = '{ZONE}'")
        zone = wh.query("select current_setting('TimeZone') as tz")[0]["tz"]
        assert zone == ZONE
        wh.ensure_tables()
        store = AlertStore(wh)
        store.ensure_tables()
        wh.start_run("tz", "s_tz")
        wh.commit("s_tz", "tz", failures=[FailureRow("k_30h", "update", "E", "m"),
                                          FailureRow("k_20h", "update", "E", "m")])
        wh.finish_run("tz", "s_tz", "partial", failed=2)
        for key, hours in (("k_30h", 30), ("k_20h", 20)):
            wh.execute(f"update {wh.table('dbt_sync_failures')} set first_failed_at = "
                       f"{wh._lit(now - dt.timedelta(hours=hours))} where record_key = '{key}'")
        store.save_health(Health("s_tz", FAILING, now - dt.timedelta(hours=30), "tz", now, "E", now, "records"))

        readme_stale = next(q for q in sql_blocks(ROOT / "README.md") if "interval '1 day'" in q)
        docs_stale = next(q for q in audit_queries() if "interval '1 day'" in q)
        for query in (readme_stale, docs_stale):
            assert [r["record_key"] for r in wh.query(query) if r["sync_name"] == "s_tz"] == ["k_30h"], query
        # the timestamps read back are the instants written, whatever the session's zone
        row = wh.query(f"select first_failed_at from {wh.table('dbt_sync_failures')} where record_key = 'k_30h'")[0]
        assert abs((row["first_failed_at"] - (now - dt.timedelta(hours=30))).total_seconds()) < 1
        # docs/alerts.md: what is failing now and since when; alerts that did not reach someone
        alert_queries = [s for block in sql_blocks(ROOT / "docs" / "alerts.md") for s in _statements(block)
                         if "analytics_dbt_sync.dbt_sync_health" in s or "analytics_dbt_sync.dbt_sync_alerts" in s]
        assert len(alert_queries) == 2
        failing = wh.query(alert_queries[0])
        assert [(r["sync_name"], abs((r["since"] - (now - dt.timedelta(hours=30))).total_seconds()) < 1)
                for r in failing if r["sync_name"] == "s_tz"] == [("s_tz", True)]
        wh.query(alert_queries[1])
        if target == "duckdb":
            wh.execute("set global TimeZone = 'UTC'")


@pytest.mark.parametrize("target", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_naive_timestamps_of_an_older_version_become_utc_instants(dbt_project_factory: Any, target: str) -> None:
    """Audit and alert tables of an earlier version stored naive UTC: the migration keeps every instant."""
    project = dbt_project_factory(target, name="docs_tz_migrate", build=False)
    old = dt.datetime(2024, 5, 6, 8, 0, 0)
    with project.environ({"PGTZ": ZONE}), project.warehouse() as wh:
        schema = wh.audit_schema
        wh.execute(f"create schema if not exists {schema}")
        for ddl in (
            f"create table {schema}.dbt_sync_schema_version (version integer, applied_at timestamp)",
            f"create table {schema}.dbt_sync_state (sync_name varchar not null, record_key varchar not null, "
            "row_hash varchar(32), destination_id varchar, synced_at timestamp, primary key (sync_name, record_key))",
            f"create table {schema}.dbt_sync_runs (run_id varchar, invocation_id varchar, sync_name varchar, "
            "model varchar, destination varchar, object varchar, mode varchar, status varchar, started_at timestamp, "
            "finished_at timestamp, planned bigint, created bigint, updated bigint, deleted bigint, failed bigint, "
            "skipped bigint, error_message varchar)",
            f"create table {schema}.dbt_sync_failures (run_id varchar, sync_name varchar, record_key varchar, "
            "operation varchar, error_code varchar, error_message varchar, error_fields varchar, payload varchar, "
            "attempt integer, first_failed_at timestamp, failed_at timestamp)",
            f"create table {schema}.dbt_sync_locks (sync_name varchar, holder varchar, acquired_at timestamp, "
            "heartbeat_at timestamp)",
            f"create table {schema}.dbt_sync_health (sync_name varchar not null, state varchar not null, "
            "since timestamp, last_run_id varchar, last_alert_at timestamp, dominant_error varchar, "
            "updated_at timestamp)",
            f"insert into {schema}.dbt_sync_schema_version values (1, timestamp '2024-05-06 08:00:00')",
            f"insert into {schema}.dbt_sync_failures values ('r', 's', 'k', 'update', 'E', 'm', '[]', null, 1, "
            "timestamp '2024-05-06 08:00:00', timestamp '2024-05-06 08:00:00')",
            f"insert into {schema}.dbt_sync_health values ('s', 'failing', timestamp '2024-05-06 08:00:00', 'r', "
            "null, 'E', timestamp '2024-05-06 08:00:00')",
        ):
            wh.execute(ddl)
        from dbt_sync.alerts.store import AlertStore

        wh.ensure_tables()
        AlertStore(wh).ensure_tables()
        wh.ensure_tables()  # again: nothing left to convert
        failure = wh.query(f"select first_failed_at, failed_at from {schema}.dbt_sync_failures")[0]
        assert failure == {"first_failed_at": old, "failed_at": old}
        health = AlertStore(wh).load_health(["s"])["s"]
        assert (health.since, health.failing_kind) == (old, None)
        kinds = wh.query("select lower(table_name) as t, lower(column_name) as c, lower(data_type) as d "
                         "from information_schema.columns where lower(table_schema) = "
                         f"'{schema.lower()}' and lower(data_type) like 'timestamp%'")
        assert kinds and all("with time zone" in r["d"] for r in kinds), kinds
        assert wh.query(f"select record_key from {schema}.dbt_sync_open_failures") == [{"record_key": "k"}]
