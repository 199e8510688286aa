"""Records to Salesforce rows, and Salesforce results to outcomes.

Shared by the Collections (JSON) and Bulk (CSV) paths so both send the same
values and report errors the same way. A record whose value cannot be
converted fails alone, before any request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dbt_sync.destinations.base import Lookup, Record, RecordOutcome
from dbt_sync.destinations.salesforce.describe import ObjectInfo
from dbt_sync.destinations.salesforce.values import (
    DOUBLE_TYPES,
    ValueConversionError,
    check_double,
    is_null_marker,
    to_wire,
)

#: per-record codes a later try may fix without a data change
RETRYABLE_CODES = frozenset(
    {
        "UNABLE_TO_LOCK_ROW",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "REQUEST_LIMIT_EXCEEDED",
        "SERVER_UNAVAILABLE",
        "UNPROCESSED",
        "NO_RESULT",
    }
)
_CATEGORIES = {
    "UNABLE_TO_LOCK_ROW": "row_lock",
    "ALL_OR_NONE_OPERATION_ROLLED_BACK": "rolled_back",
    "REQUEST_LIMIT_EXCEEDED": "rate_limit",
}


@dataclass
class LookupValue:
    """A lookup resolved to its relationship name (``Account``) for the wire."""

    field: str
    relationship: str
    match: str
    value: Any
    parent_type: str | None = None  # set for polymorphic fields


@dataclass
class Row:
    """One record ready to send. ``index`` ties it back to the input batch."""

    index: int
    record: Record
    values: dict[str, Any]
    lookups: list[LookupValue] = field(default_factory=list)
    record_id: str | None = None

    def holds_null_marker(self) -> bool:
        """Whether a text value is ``#N/A``, which Bulk API 2.0 would store as NULL."""
        return any(is_null_marker(v) for v in self.values.values()) or any(
            is_null_marker(lk.value) for lk in self.lookups
        )

    def json_body(self, object_name: str, with_id: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"attributes": {"type": object_name}}
        if with_id:
            body["id"] = self.record_id
        for name, value in self.values.items():
            if not (with_id and name.lower() == "id"):
                body[name] = value
        for lk in self.lookups:
            if lk.value is None:
                body[lk.field] = None
                continue
            parent: dict[str, Any] = {lk.match: lk.value}
            if lk.parent_type:
                parent = {"attributes": {"type": lk.parent_type}, **parent}
            body[lk.relationship] = parent
        return body


def relationship_for(lookup: Lookup, info: ObjectInfo | None, overrides: Mapping[str, str]) -> str:
    """The relationship name of a lookup field: option, Lookup, describe, then convention."""
    if lookup.field in overrides:
        return overrides[lookup.field]
    if lookup.relationship:
        return lookup.relationship
    if info is not None and (name := info.relationship_name(lookup.field)):
        return name
    if lookup.field.endswith("__c"):
        return lookup.field[:-3] + "__r"
    return lookup.field[:-2] if lookup.field.endswith("Id") else lookup.field


def prepare(
    records: Iterable[Record],
    info: ObjectInfo | None,
    overrides: Mapping[str, str],
) -> tuple[list[Row], dict[int, RecordOutcome]]:
    """Convert every record; return the sendable rows and the failures."""
    rows: list[Row] = []
    failed: dict[int, RecordOutcome] = {}
    for index, record in enumerate(records):
        try:
            values = {name: to_wire(name, value) for name, value in record.fields.items()}
            if info is not None:
                for name, value in record.fields.items():
                    if (meta := info.field(name)) is not None and meta.get("type") in DOUBLE_TYPES:
                        check_double(name, value)
            lookups = [
                LookupValue(
                    field=lk.field,
                    relationship=relationship_for(lk, info, overrides),
                    match=lk.match,
                    value=to_wire(lk.field, lk.value),
                    parent_type=lk.object if info is not None and info.is_polymorphic(lk.field) else None,
                )
                for lk in record.lookups
            ]
        except ValueConversionError as exc:
            failed[index] = RecordOutcome.failed(record.key, exc.code, str(exc), [exc.field])
            continue
        rows.append(Row(index, record, values, lookups, record.destination_id))
    return rows, failed


def failure(
    key: str,
    code: str,
    message: str,
    fields: Iterable[str] = (),
    retryable: bool | None = None,
    destination_id: str | None = None,
) -> RecordOutcome:
    """A failed outcome with dbt-sync's retryable/category rules for Salesforce codes."""
    return RecordOutcome.failed(
        key,
        code,
        message,
        list(fields),
        retryable=code in RETRYABLE_CODES if retryable is None else retryable,
        category=_CATEGORIES.get(code),
        destination_id=destination_id,
    )


def outcome_from_result(key: str, result: Mapping[str, Any], created: bool | None) -> RecordOutcome:
    """A Collections SaveResult/UpsertResult/DeleteResult as an outcome."""
    rid = result.get("id") or None
    if result.get("success"):
        return RecordOutcome.ok(key, rid, result.get("created", created))
    errors = [e for e in result.get("errors") or [] if isinstance(e, Mapping)]
    if not errors:
        return failure(key, "UNKNOWN_ERROR", "Salesforce reported a failure without an error", destination_id=rid)
    codes = [str(e.get("statusCode") or e.get("errorCode") or "UNKNOWN_ERROR") for e in errors]
    # A real error beats the collateral "rolled back" marker when both appear.
    primary = next((i for i, c in enumerate(codes) if c != "ALL_OR_NONE_OPERATION_ROLLED_BACK"), 0)
    message = "; ".join(str(e.get("message", "")) for e in errors)
    fields: list[str] = []
    for e in errors:
        fields.extend(str(f) for f in e.get("fields") or [] if str(f) not in fields)
    code = codes[primary]
    retryable = all(c in RETRYABLE_CODES for c in codes)
    return failure(key, code, message, fields, retryable=retryable, destination_id=rid)
