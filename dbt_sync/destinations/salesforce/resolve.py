"""Finding record Ids by external id, for update and delete by ``match``.

A Collections upsert would *create* the records that do not exist, which
an update must never do, so the Ids are looked up first with SOQL
(``SELECT Id, match FROM obj WHERE match IN (...)``, in chunks that keep
the URL short) and records without a match fail as ``NOT_FOUND``.
External id text fields compare case-insensitively unless describe marks
them case sensitive, as Salesforce matches them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from dbt_sync.destinations.base import RecordOutcome
from dbt_sync.destinations.salesforce.client import SalesforceClient
from dbt_sync.destinations.salesforce.describe import ObjectInfo
from dbt_sync.destinations.salesforce.shape import Row, failure
from dbt_sync.destinations.salesforce.values import Raw

_MAX_VALUES = 200
_MAX_QUERY_CHARS = 6000


def soql_literal(value: Any) -> str:
    """A SOQL literal: numbers bare, everything else a quoted, escaped string."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    text = text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f"'{text}'"


def normalize(value: Any, case_sensitive: bool) -> str:
    """A comparable form of an external id value as sent and as returned."""
    if isinstance(value, Raw):
        value = value.text
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        try:
            return str(Decimal(str(value)).normalize())
        except InvalidOperation:
            return str(value)
    text = str(value)
    return text if case_sensitive else text.casefold()


def resolve_ids(
    client: SalesforceClient,
    object_name: str,
    match: str,
    rows: Sequence[Row],
    info: ObjectInfo | None,
) -> tuple[list[Row], dict[int, RecordOutcome]]:
    """Set ``record_id`` on rows found by ``match``; fail the others."""
    field = info.field(match) if info else None
    case_sensitive = bool(field and field.get("caseSensitive"))
    failed: dict[int, RecordOutcome] = {}
    wanted: dict[str, Any] = {}
    for row in rows:
        value = row.values.get(match)
        if value is None or value == "":
            failed[row.index] = failure(row.record.key, "NOT_FOUND", f"The record has no {match} value to find it by")
        else:
            wanted.setdefault(normalize(value, case_sensitive), value)
    found: dict[str, list[str]] = defaultdict(list)
    for chunk in _chunks(list(wanted.values())):
        soql = f"SELECT Id, {match} FROM {object_name} WHERE {match} IN ({', '.join(chunk)})"
        for rec in client.query_all(soql):
            found[normalize(rec.get(match), case_sensitive)].append(str(rec["Id"]))
    resolved: list[Row] = []
    for row in rows:
        if row.index in failed:
            continue
        value = row.values[match]
        shown = value.text if isinstance(value, Raw) else value
        ids = found.get(normalize(value, case_sensitive), [])
        if not ids:
            failed[row.index] = failure(
                row.record.key, "NOT_FOUND", f"No {object_name} with {match} = {shown}", [match]
            )
        elif len(ids) > 1:
            failed[row.index] = failure(
                row.record.key,
                "DUPLICATE_EXTERNAL_ID",
                f"{match} = {shown} matches {len(ids)} {object_name} records: {', '.join(ids[:5])}",
                [match],
            )
        else:
            row.record_id = ids[0]
            resolved.append(row)
    return resolved, failed


def _chunks(values: list[Any]) -> list[list[str]]:
    chunks: list[list[str]] = []
    current: list[str] = []
    size = 0
    for value in values:
        literal = soql_literal(value)
        if current and (len(current) >= _MAX_VALUES or size + len(literal) > _MAX_QUERY_CHARS):
            chunks.append(current)
            current, size = [], 0
        current.append(literal)
        size += len(literal) + 2
    if current:
        chunks.append(current)
    return chunks
