"""Batch writes of state and failures: rows travel as data, never as SQL literals (issue 18).

Each adapter loads a batch through its fastest path (PostgreSQL: ``COPY ... FROM STDIN``; DuckDB: the
appender; Redshift: bound parameters into a staging table), named by a ``*_batch_sql`` macro. The
first test fails if a batch's values come back as SQL text (the multi-row literal ``INSERT`` it
replaced); the second that every value reads back exactly, whatever the path.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlglot

from dbt_sync.warehouse import Confirmed, FailureRow

TARGETS = [
    "duckdb",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("redshift", marks=pytest.mark.redshift),
]
SYNC = "batch_writes_sync"

#: values a literal would have to quote, escape or cast: quotes, backslashes, unicode, '' vs NULL, JSON, long
TEXTS = ["plain", "it's \"quoted\"", "back\\slash \\' \\\\", "東京 😀 é", "", "a,b\nc\r\nd\te", "#N/A", "x" * 5000,
         '{"k": [1, 2]}', "NULL", "null", "\\N", "-- not a comment", "'); drop table x; --"]


def _statements(wh: Any) -> list[tuple[str, Any]]:
    """Every statement the warehouse runs from now on, with its bound parameters."""
    seen: list[tuple[str, Any]] = []
    execute = wh._execute

    def own(sql: str, bindings: Any = None) -> Any:
        seen.append((sql, bindings))
        return execute(sql, bindings)

    wh._execute = own
    return seen


def _batches(wh: Any) -> list[tuple[str, int]]:
    """Every batch load from now on: its plan's method and its row count (the DuckDB appender runs no SQL)."""
    loads: list[tuple[str, int]] = []
    write_rows = wh._write_rows

    def own(plan: Any, rows: Any) -> Any:
        loads.append((str(plan["method"]), len(rows)))
        return write_rows(plan, rows)

    wh._write_rows = own
    return loads


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_batch_values_are_never_sql_text(dbt_project_factory: Any, target: str) -> None:
    project = dbt_project_factory(target, name="batch_writes", build=False)
    keys = [f"batch-key-{i:04d}" for i in range(1200)]  # more than one bound chunk (1,000 rows)
    with project.warehouse() as wh:
        wh.ensure_tables()
        for name in ("state_upsert_batch_sql", "failures_insert_batch_sql"):
            assert wh._template(name)["method"] in ("copy", "appender", "bind"), name
        seen = _statements(wh)
        loads = _batches(wh)
        wh.commit(SYNC, "run-batch", successes=[Confirmed(k, f"hash-{k}", f"dest-{k}") for k in keys[:1100]],
                  failures=[FailureRow(k, "update", "ERR_CODE_X", f"message-{k}", ["field-y"], {"c": f"payload-{k}"})
                            for k in keys[1100:]])
        # both batches travelled as data, through the plan their macro names
        assert sorted(n for _, n in loads) == [100, 1100], loads
        assert seen or {m for m, _ in loads} == {"appender"}, "the commit ran no statement of its own"
        for sql, _ in seen:
            # keys may select or close earlier rows (IN lists); a row's own values are never SQL text
            values = ("hash-batch", "dest-batch", "message-batch", "payload-batch", "ERR_CODE_X")
            writes = sql.lstrip().lower().startswith(("insert", "copy", "merge", "upsert"))
            leaked = [v for v in (*values, *(("batch-key-",) if writes else ())) if v in sql]
            assert not leaked, f"a batch's values were rendered into SQL text ({leaked}): {sql[:300]}"
            if target == "redshift":
                sqlglot.parse(sql, read="redshift")
        state = wh.query(f"select count(*) as n from {wh.table('dbt_sync_state')} where sync_name = '{SYNC}'")
        failed = wh.query(f"select count(*) as n from {wh.table('dbt_sync_failures')} where sync_name = '{SYNC}'")
        assert (state[0]["n"], failed[0]["n"]) == (1100, 100)


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_batch_values_read_back_exactly(dbt_project_factory: Any, target: str) -> None:
    project = dbt_project_factory(target, name="batch_writes", build=False)
    sync = f"exact_{target}"
    # keys and ids are names (varchar(1024) on Redshift); messages and payloads take the long text
    successes = [Confirmed(f"k{i}:{t[:100]}", None if i % 2 else t[:32], None if i % 3 == 0 else t[:1000])
                 for i, t in enumerate(TEXTS)]
    failures = [FailureRow(f"f{i}:{t[:100]}", "update", "CODE", t, [t, ""], {"col": t, "none": None})
                for i, t in enumerate(TEXTS)] + [FailureRow(None, "update", "NULL_PRIMARY_KEY", "", [], None)]
    with project.warehouse() as wh:
        wh.ensure_tables()
        wh.commit(sync, "run-exact", successes=successes, failures=failures)
        state = {r["record_key"]: r for r in wh.query(
            f"select record_key, row_hash, destination_id, synced_at from {wh.table('dbt_sync_state')} "
            f"where sync_name = '{sync}'")}
        rows = wh.query(f"select record_key, error_message, error_fields, payload, attempt, first_failed_at, "
                        f"failed_at from {wh.table('dbt_sync_failures')} where sync_name = '{sync}'")
        # a second failure of the same keys carries attempt and first_failed_at over (timestamps read back)
        wh.commit(sync, "run-exact-2", failures=failures[:2])
        again = {r["record_key"]: r for r in wh.query(
            f"select record_key, attempt, first_failed_at from {wh.table('dbt_sync_failures')} "
            f"where sync_name = '{sync}' and run_id = 'run-exact-2'")}
    assert set(state) == {s.record_key for s in successes}
    for s in successes:
        got = state[s.record_key]
        assert (got["row_hash"], got["destination_id"]) == (s.row_hash, s.destination_id), s.record_key
        assert isinstance(got["synced_at"], dt.datetime)
        assert abs((got["synced_at"] - dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)).total_seconds()) < 600
    by_key = {r["record_key"]: r for r in rows}
    assert set(by_key) == {f.record_key for f in failures}
    import json

    for f in failures:
        got = by_key[f.record_key]
        assert got["error_message"] == f.error_message
        assert json.loads(got["error_fields"]) == list(f.error_fields)
        assert (json.loads(got["payload"]) if got["payload"] is not None else None) == f.payload
        assert got["attempt"] == 1 and got["first_failed_at"] == got["failed_at"]
    for f in failures[:2]:
        assert again[f.record_key]["attempt"] == 2
        assert again[f.record_key]["first_failed_at"] == by_key[f.record_key]["first_failed_at"]


@pytest.mark.slow
@pytest.mark.parametrize("target", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_failed_commit_leaves_nothing_behind(dbt_project_factory: Any, target: str) -> None:
    """A commit is one transaction: a batch whose failures cannot be written leaves no state row either.

    On PostgreSQL, dbt commits with a ``COMMIT`` statement that psycopg2 does not see; every later
    statement then committed on its own, so a state write survived the failed failures write.
    """
    project = dbt_project_factory(target, name="batch_writes", build=False)
    sync = f"atomic_{target}"
    with project.warehouse() as wh:
        wh.ensure_tables()
        wh.commit(sync, "run-0", successes=[Confirmed("before", "h", "d")])  # after dbt's own commits
        broken = dict(wh._template("failures_insert_batch_sql"))
        broken["apply"] = [*broken.get("apply", []), "select no_such_column from no_such_table"]
        wh._templates[("failures_insert_batch_sql",)] = broken
        with pytest.raises(Exception, match="no_such"):
            wh.commit(sync, "run-1", successes=[Confirmed("k1", "h", "d")],
                      failures=[FailureRow("k2", "update", "CODE", "message")])
        rows = wh.query(f"select record_key from {wh.table('dbt_sync_state')} where sync_name = '{sync}'")
        failed = wh.query(f"select record_key from {wh.table('dbt_sync_failures')} where sync_name = '{sync}'")
    assert [r["record_key"] for r in rows] == ["before"]
    assert failed == []


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_a_commit_fires_none_of_dbts_query_events(dbt_project_factory: Any, target: str) -> None:
    """dbt fires structured events for every statement it runs (``SQLQuery``, ``SQLQueryStatus``,
    ``SQLCommit``, ``ConnectionUsed``), which cost more CPU than dbt-sync's small statements; a commit
    (``BEGIN``, the batch loads, ``COMMIT``) goes through the connection's own cursor instead, and still
    commits (its rows read back from a new transaction). dbt-redshift's own begin and commit (its
    autocommit rules) are kept, so there only they fire events."""
    from dbt_common.events.event_manager_client import get_event_manager

    project = dbt_project_factory(target, name="batch_events", build=False)
    with project.warehouse() as wh:
        wh.ensure_tables()
        fired: list[tuple[str, str]] = []

        def seen(msg: Any) -> None:
            fired.append((str(msg.info.name), str(getattr(msg.data, "sql", ""))))

        manager = get_event_manager()
        manager.add_callback(seen)
        try:
            wh.commit(SYNC, "run-events", successes=[Confirmed(f"ev-{i}", f"h-{i}", f"d-{i}") for i in range(50)],
                      failures=[FailureRow("ev-x", "update", "ERR_EV", "refused", [], {"c": 1})])
        finally:
            manager.callbacks.remove(seen)
        queries = [(name, sql) for name, sql in fired if name.startswith(("SQL", "ConnectionUsed", "NewConnection"))]
        if target == "redshift":  # dbt-redshift has its own begin/commit (autocommit rules): kept, with its events
            queries = [(name, sql) for name, sql in queries
                       if not (name == "SQLQuery" and sql.strip().upper() in ("BEGIN", "COMMIT"))
                       and name not in ("SQLQueryStatus", "SQLCommit", "ConnectionUsed")]
        assert not queries, f"a commit fired dbt's query events: {queries}"
        keys = {r["record_key"] for r in wh.query(
            f"select record_key from {wh.table('dbt_sync_state')} "
            f"where sync_name = '{SYNC}' and record_key like 'ev-%'")}
        assert keys == {f"ev-{i}" for i in range(50)}
