"""Shared helpers for the warehouse tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dbt_sync.warehouse import Warehouse, literals

PEOPLE_COLUMNS = [
    ("org", "varchar"), ("person_id", "integer"), ("name", "varchar"), ("email", "varchar"),
    ("score", "decimal(10, 2)"), ("active", "boolean"), ("seen_at", "timestamp"),
    ("account_id", "varchar"), ("notes", "varchar"),
]
SENT = ["name", "email", "score", "active", "seen_at", "account_id"]


def set_people(wh: Warehouse, rows: Sequence[Sequence[Any]]) -> None:
    """Replace the built ``people`` table (types pinned by casts)."""
    casts = ", ".join(f"cast({c} as {t}) as {c}" for c, t in PEOPLE_COLUMNS)
    names = ", ".join(c for c, _ in PEOPLE_COLUMNS)
    if rows:
        values = ", ".join(literals.row_literal(r, wh.adapter_type) for r in rows)
        source = f"(values {values}) as v({names})"
    else:
        source = "(select " + ", ".join(f"null as {c}" for c, _ in PEOPLE_COLUMNS) + ") as v where 1 = 0"
    wh.execute(f"create or replace table analytics.people as select {casts} from {source}")


def changeset(wh: Warehouse, sync: str, page_size: int = 5000) -> list[dict[str, Any]]:
    """Claim and read a whole changeset."""
    wh.claim_changeset(sync)
    return [row for page in wh.iter_changes(sync, page_size=page_size) for row in page]


def by_key(rows: list[dict[str, Any]]) -> dict[str | None, dict[str, Any]]:
    return {r["_dbt_sync_key"]: r for r in rows}
