"""Turning changeset rows into destination records, and rows that cannot be sent into failures.

The changeset is computed in the warehouse; here each row becomes a
:class:`~dbt_sync.destinations.base.Record` named in the destination's own
field names. Rows that must never be sent (no key, a duplicated key) become
failures right away, so one bad row never blocks the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from dbt_sync import masking
from dbt_sync.destinations.base import Association, Lookup, Operation, Record, column_value
from dbt_sync.spec import SyncSpec

KEY = "_dbt_sync_key"
HASH = "_dbt_sync_hash"
OP = "_dbt_sync_op"
DESTINATION_ID = "_dbt_sync_destination_id"

#: changeset ops for rows that are reported and never sent
INVALID_OPS = {
    "invalid_null_key": ("NULL_PRIMARY_KEY", "primary key {pk} is NULL: the row cannot be identified"),
    "invalid_duplicate_key": (
        "DUPLICATE_PRIMARY_KEY",
        "primary key {pk} is not unique in the model: every row sharing it is held back",
    ),
}


@dataclass
class Change:
    """One changeset row, ready to send (``record``) or to report (``invalid``)."""

    key: str
    row_hash: str | None
    op: str
    operation: Operation | None
    record: Record | None
    payload: dict[str, Any]
    invalid: tuple[str, str] | None = None


#: changeset ops that only settle the audit tables: nothing is sent
SETTLE_OPS = {"confirmed", "gone"}


#: sync mode -> the operation a new or changed row is sent with
MODE_WRITES: Mapping[str, Operation] = {
    "upsert": Operation.UPSERT,
    "update": Operation.UPDATE,
    "create": Operation.CREATE,
    "mirror": Operation.UPSERT,
}
#: sync mode -> every operation it sends (a mirror also deletes the rows that left the model)
MODE_SENDS: Mapping[str, tuple[Operation, ...]] = {
    mode: (write, Operation.DELETE) if mode == "mirror" else (write,) for mode, write in MODE_WRITES.items()
}


def operation_for(mode: str, op: str) -> Operation | None:
    """The destination operation for a changeset op under a sync mode; None = nothing to send.

    ``confirmed`` (unchanged since the destination confirmed it, with an
    open failure to close) and ``gone`` (an open failure whose row left the
    model) send nothing; a ``create`` sync sends inserts only.
    """
    if op in SETTLE_OPS:
        return None
    if op == "delete":
        return Operation.DELETE if Operation.DELETE in MODE_SENDS.get(mode, ()) else None
    write = MODE_WRITES.get(mode)
    if write is None:
        raise ValueError(f"unknown mode {mode!r}")
    if write is Operation.CREATE and op != "insert":
        return None
    return write


def to_change(spec: SyncSpec, row: Mapping[str, Any], target_ids: Mapping[tuple[str, str], str]) -> Change:
    """Map one changeset row; ``target_ids`` resolves association targets written by other syncs."""
    op = str(column_value(row, OP))
    key_value = column_value(row, KEY)
    row_hash = column_value(row, HASH)
    payload = {col: column_value(row, col) for col in spec.sent_columns} if op not in ("delete", "gone") else {}
    if op in INVALID_OPS:
        code, template = INVALID_OPS[op]
        pk = ", ".join(spec.primary_key)
        key = str(key_value) if key_value is not None else f"<null:{row_hash}>"
        return Change(key, row_hash, op, None, None, payload, invalid=(code, template.format(pk=pk)))
    key = str(key_value)
    destination_id = column_value(row, DESTINATION_ID)
    operation = operation_for(spec.mode, op)
    if op in ("delete", "gone"):
        record = Record(key=key, fields={}, destination_id=destination_id)
        return Change(key, row_hash, op, operation, record, payload)

    fields: dict[str, Any] = {}
    lookups: list[Lookup] = []
    for mapping in spec.fields:
        if mapping.is_constant:
            fields[mapping.name] = mapping.constant
        elif mapping.lookup is not None:
            value = column_value(row, mapping.lookup.column)
            if value is None:
                fields[mapping.name] = None  # clears the relationship
            else:
                lookups.append(
                    Lookup(
                        field=mapping.name,
                        object=mapping.lookup.object,
                        match=mapping.lookup.match,
                        value=value,
                        relationship=mapping.lookup.relationship,
                    )
                )
        elif mapping.column is not None:
            fields[mapping.name] = column_value(row, mapping.column)
    associations = []
    for assoc in spec.associations:
        value = column_value(row, assoc.column)
        if value is None:
            continue
        associations.append(
            Association(
                to_object=assoc.to,
                value=value,
                match=assoc.match,
                to_id=target_ids.get((assoc.to.lower(), str(value))),
                type_id=assoc.type_id,
                category=assoc.category,
                label=assoc.label,
            )
        )
    record = Record(
        key=key, fields=fields, lookups=lookups, associations=associations, destination_id=destination_id
    )
    return Change(key, row_hash, op, operation, record, payload)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    return value


def masked_values(spec: SyncSpec, payload: Mapping[str, Any]) -> list[Any]:
    """The record's values of the sync's masked columns (``failure_payload.mask``)."""
    return masking.masked_values(spec.failure_payload.mask, payload)


def scrub(spec: SyncSpec, payload: Mapping[str, Any], text: str) -> str:
    """``text`` (a destination's message about this record) without the record's masked values."""
    return masking.scrub(text, masked_values(spec, payload))


def failure_payload(spec: SyncSpec, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The record's sent values as JSON, without excluded columns and with masked ones hidden.

    A masked value is also hidden where it appears inside another column.
    """
    exclude = {c.lower() for c in spec.failure_payload.exclude}
    mask = {c.lower() for c in spec.failure_payload.mask}
    out: dict[str, Any] = {}
    for column, value in payload.items():
        if column.lower() in exclude:
            continue
        out[column] = masking.MASK if column.lower() in mask and value is not None else _jsonable(value)
    hidden = masked_values(spec, payload)
    scrubbed: dict[str, Any] = masking.scrub_obj(out, hidden) if hidden else out
    return dict(sorted(scrubbed.items()))
