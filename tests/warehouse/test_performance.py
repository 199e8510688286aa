"""Measured figures for docs/warehouse.md: hook overhead on a large model and
bounded memory while reading a large changeset (DuckDB).

Row counts: DBT_SYNC_BENCH_ROWS (default 1,000,000) for the hook overhead,
200,000 for the chunked read. Figures are printed (pytest -s) and asserted
against loose bounds so a regression fails the suite.
"""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path
from typing import Any

import pytest

ROWS = int(os.environ.get("DBT_SYNC_BENCH_ROWS", "1000000"))
READ_ROWS = 200_000

BIG_SQL = """
select
    i as id,
    'name ' || cast(i as varchar) as name,
    cast(i * 1.5 as decimal(18, 2)) as amount,
    i % 2 = 0 as flag,
    timestamp '2024-01-01' + to_seconds(i) as ts,
    'not synced' as notes
from range({rows}) as t(i)
"""
BENCH_YML = """
version: 2
models:
  - name: big_synced
    config:
      meta:
        dbt_sync:
          name: big_sync
          destination: hubspot
          object: contacts
          primary_key: id
          fields: {name: name, amount: amount, flag: flag, ts: ts}
  - name: mid_synced
    config:
      meta:
        dbt_sync:
          name: mid_sync
          destination: hubspot
          object: contacts
          primary_key: id
          fields: {name: name, amount: amount, flag: flag, ts: ts}
"""


@pytest.fixture(scope="module")
def bench_project(dbt_project_factory: Any) -> Any:
    return dbt_project_factory("duckdb", name="bench", extra_files={
        "models/bench/big_plain.sql": BIG_SQL.format(rows=ROWS),
        "models/bench/big_synced.sql": BIG_SQL.format(rows=ROWS),
        "models/bench/mid_synced.sql": BIG_SQL.format(rows=READ_ROWS),
        "models/bench/bench.yml": BENCH_YML,
    })


def model_seconds(project: Any, model: str) -> float:
    project.dbt("run", "--select", model)
    results = json.loads((Path(project.path) / "target" / "run_results.json").read_text())
    (result,) = [r for r in results["results"] if r["unique_id"].endswith("." + model)]
    return float(result["execution_time"])


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@pytest.mark.slow
def test_hook_overhead_on_a_large_model(bench_project: Any) -> None:
    plain = statistics.median(model_seconds(bench_project, "big_plain") for _ in range(3))
    first = model_seconds(bench_project, "big_synced")  # every row is an insert
    with bench_project.warehouse() as wh:
        assert wh.claim_changeset("big_sync") == {"insert": ROWS}
        pending = wh.changes_table("big_sync", "pending")
        wh.execute(f"insert into {wh.table('dbt_sync_state')} select 'big_sync', _dbt_sync_key, _dbt_sync_hash, "
                   f"null, current_timestamp from analytics_dbt_sync.{pending}")
        assert "dbt_sync_changes__big_plain" not in wh._table_names()
    steady = statistics.median(model_seconds(bench_project, "big_synced") for _ in range(3))
    with bench_project.warehouse() as wh:
        assert wh.claim_changeset("big_sync") == {}  # nothing changed
    print(f"\nhook overhead, {ROWS} rows: plain {plain:.2f}s, first capture {first:.2f}s, "
          f"steady state {steady:.2f}s (median of 3)")
    assert steady < plain * 5 + 3


@pytest.mark.slow
def test_chunked_read_memory_stays_flat(bench_project: Any) -> None:
    with bench_project.warehouse() as wh:
        wh.reset("mid_sync")
        wh.capture("model.dbt_sync_integration_tests.mid_synced")
        assert wh.claim_changeset("mid_sync") == {"insert": READ_ROWS}
        start = rss_mb()
        peak, pages, total, largest = start, 0, 0, 0
        keys_in_order = True
        last_key = ""
        for page in wh.iter_changes("mid_sync", page_size=5000):
            pages += 1
            total += len(page)
            largest = max(largest, len(page))
            keys_in_order &= all(last_key < r["_dbt_sync_key"] for r in page[:1])
            last_key = page[-1]["_dbt_sync_key"]
            peak = max(peak, rss_mb())
        print(f"\nchunked read, {READ_ROWS} rows: {pages} pages, largest {largest} rows, "
              f"peak RSS delta {peak - start:.1f} MB")
    assert total == READ_ROWS and largest == 5000 and keys_in_order
    assert peak - start < 200
