"""Reading a changeset page by page stays linear in its size: each page finds
its window of ``_dbt_sync_seq`` through an index on PostgreSQL (without one,
every page was a full scan of the pending table, quadratic overall), and the
Redshift variant of the index macro stays valid Redshift SQL (no indexes)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlglot

ROWS = 100_000
PAGE = 5000

PAGED_SQL = """
select i as id, 'name ' || i::text as name
from generate_series(1, {rows}) as t(i)
"""
PAGED_YML = """
version: 2
models:
  - name: paged
    config:
      meta:
        dbt_sync:
          name: paged_sync
          destination: hubspot
          object: contacts
          primary_key: id
          fields: {firstname: name}
"""


def page_seconds(wh: Any, after: int) -> float:
    started = time.perf_counter()
    rows = wh.query_macro("changes_page_sql", utc=False, sync_name="paged_sync", after_seq=after, page_size=PAGE)
    elapsed = time.perf_counter() - started
    assert len(rows) == PAGE
    return elapsed


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_pages_find_their_window_by_index(dbt_project_factory: Any) -> None:
    project = dbt_project_factory("postgres", name="paging", build=False, extra_files={
        "models/paging/paged.sql": PAGED_SQL.format(rows=ROWS),
        "models/paging/paging.yml": PAGED_YML,
    })
    project.dbt("run", "--select", "paged")  # the post-hook captures every row as an insert
    with project.warehouse() as wh:
        assert wh.claim_changeset("paged_sync") == {"insert": ROWS}
        pending = wh.changes_table("paged_sync", "pending")
        late = wh.render_macro("changes_page_sql", sync_name="paged_sync", after_seq=ROWS - PAGE, page_size=PAGE)
        plan = "\n".join(str(next(iter(r.values()))) for r in wh.query("explain " + late))
        scans = [line for line in plan.splitlines() if pending in line]
        assert scans and all("Index" in line for line in scans), plan
        assert "Seq Scan on " + pending not in plan, plan
        first = min(page_seconds(wh, 0) for _ in range(3))
        last = min(page_seconds(wh, ROWS - PAGE) for _ in range(3))
    print(f"\npage query, {ROWS} rows: first page {first * 1000:.1f} ms, last page {last * 1000:.1f} ms")
    assert last < first * 3 + 0.2


@pytest.mark.slow
@pytest.mark.redshift
def test_redshift_changeset_index_is_valid_redshift_sql(dbt_project_factory: Any) -> None:
    project = dbt_project_factory("redshift", name="paging", build=False)
    with project.warehouse() as wh:
        statements = wh._macro("changeset_index_sql", relation=wh.table("dbt_sync_state"))
        for sql in statements:
            sqlglot.parse(sql, read="redshift")
        assert not any("index" in sql.lower() for sql in statements)  # Redshift has no CREATE INDEX

