"""The audit queries in docs/warehouse.md run as written and answer right."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from dbt_sync.warehouse import FailureRow, utcnow

DOC = Path(__file__).resolve().parents[2] / "docs" / "warehouse.md"


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
        wh.execute(f"update {wh.table('dbt_sync_failures')} set first_failed_at = "
                   f"cast('{old.isoformat(sep=' ')}' as timestamp) where run_id = 'old'")
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
