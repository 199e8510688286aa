"""Turning one batch of records into HubSpot batch calls and per-record outcomes.

Every record must end with its own outcome, even when HubSpot rejects a
whole request because of one input. So:

* records are checked and converted locally first (unknown or read-only
  properties, unconvertible values fail only their record, without a call);
* two records aiming at the same HubSpot record (same match value; emails
  compared lower-cased) would make HubSpot reject the whole batch with
  "Duplicate IDs found in batch input": the first one in the batch is sent,
  each later one fails with ``DUPLICATE_ID_IN_BATCH`` naming both keys;
* 207 answers are tied to inputs through ``objectWriteTraceId`` (the record
  key), falling back on the ids an error names;
* a 4xx for the whole request (400 without per-input attribution, 409 on
  contact create, ...) is isolated by binary splitting until single inputs
  fail on their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dbt_sync.destinations.base import DestinationError, Operation, Record, RecordOutcome
from dbt_sync.destinations.hubspot.errors import ErrorDetail, context_ids, error_detail, trace_ids
from dbt_sync.destinations.hubspot.lookup import match_key
from dbt_sync.destinations.hubspot.properties import ObjectSchema
from dbt_sync.destinations.hubspot.transport import Reply, Transport
from dbt_sync.destinations.hubspot.values import convert_properties

MAX_BATCH = 100
HS_OBJECT_ID = "hs_object_id"

_METHODS = {
    Operation.UPSERT: ("upsert", "batch_input_simple_public_object_batch_input_upsert"),
    Operation.CREATE: ("create", "batch_input_simple_public_object_batch_input_for_create"),
    Operation.UPDATE: ("update", "batch_input_simple_public_object_batch_input"),
    Operation.DELETE: ("archive", "batch_input_simple_public_object_id"),
}


@dataclass
class Item:
    """One record ready to send: its wire input and how results find it again."""

    record: Record
    input: dict[str, Any]
    #: value of the id in the input (HubSpot id, or the idProperty value), normalised
    ident: str | None = None

    @property
    def key(self) -> str:
        return self.record.key


@dataclass
class BatchContext:
    """What every call of one ``write`` shares."""

    object_type: str
    operation: Operation
    schema: ObjectSchema
    id_property: str | None  # None: inputs are addressed by HubSpot id
    outcomes: dict[str, RecordOutcome] = field(default_factory=dict)


def failure(record: Record, detail: ErrorDetail, destination_id: str | None = None) -> RecordOutcome:
    message = detail.message
    if detail.existing_id and detail.existing_id not in message:
        message = f"{message} (existing id {detail.existing_id})"
    return RecordOutcome.failed(
        record.key,
        detail.code,
        message,
        fields=detail.fields,
        category=detail.category,
        destination_id=destination_id,
    )


class BatchWriter:
    """Sends one object batch; see the module doc for the failure rules."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    # -- preparing -------------------------------------------------------

    def resolve_id_property(self, schema: ObjectSchema, operation: Operation, match: str | None) -> str | None:
        if operation is Operation.UPSERT:
            if match in (None, HS_OBJECT_ID):
                if schema.is_contacts and match is None:
                    return "email"
                raise DestinationError(
                    f"upsert into {schema.object_type!r} needs 'match': a property with unique values",
                    code="MATCH_REQUIRED",
                )
            return match
        if operation in (Operation.UPDATE, Operation.DELETE):
            return None if match in (None, HS_OBJECT_ID) else match
        return None

    def prepare(self, ctx: BatchContext, records: Sequence[Record]) -> list[Item]:
        """Convert records to inputs; local problems become outcomes right away."""
        items: list[Item] = []
        seen_ident: dict[str, str] = {}
        seen_keys: set[str] = set()
        schema = ctx.schema
        clearing = ctx.operation is not Operation.CREATE
        for record in records:
            if record.key in seen_keys:
                continue  # the destination's caller reports repeated keys
            seen_keys.add(record.key)
            if ctx.operation is Operation.DELETE:
                items.append(Item(record, {}, record.destination_id))
                continue
            problem = self._property_problem(ctx, record)
            if problem is not None:
                ctx.outcomes[record.key] = failure(record, problem, record.destination_id)
                continue
            properties, bad = convert_properties(
                record.fields, schema.types(), clearing=clearing, email_property=schema.email_property()
            )
            if bad:
                code = next((p.code for p in bad.values() if p.code != "INVALID_VALUE"), "INVALID_VALUE")
                detail = ErrorDetail(
                    code, "; ".join(f"{k}: {v}" for k, v in bad.items()), list(bad), "VALIDATION_ERROR"
                )
                ctx.outcomes[record.key] = failure(record, detail, record.destination_id)
                continue
            item = self._input(ctx, record, properties)
            if item is None:
                continue
            if item.ident is not None:
                first = seen_ident.get(item.ident)
                if first is not None:
                    what = ctx.id_property or "id"
                    ctx.outcomes[record.key] = RecordOutcome.failed(
                        record.key,
                        "DUPLICATE_ID_IN_BATCH",
                        f"records {first!r} and {record.key!r} share {what} {item.ident!r} in one batch; "
                        f"only {first!r} was sent",
                        fields=[ctx.id_property] if ctx.id_property else [],
                        category="VALIDATION_ERROR",
                    )
                    continue
                seen_ident[item.ident] = record.key
            items.append(item)
        return items

    def _property_problem(self, ctx: BatchContext, record: Record) -> ErrorDetail | None:
        """Unknown or read-only properties fail the record without a request."""
        props = ctx.schema.properties
        unknown = [n for n in record.fields if n not in props]
        if unknown:
            return ErrorDetail(
                "PROPERTY_DOESNT_EXIST",
                "; ".join(f'Property "{n}" does not exist on {ctx.object_type}' for n in unknown),
                unknown,
                "VALIDATION_ERROR",
            )
        locked = [n for n in record.fields if not props[n].writable and n != ctx.id_property]
        if locked:
            return ErrorDetail(
                "READ_ONLY_VALUE",
                "; ".join(f'Property "{n}" is read-only on {ctx.object_type}' for n in locked),
                locked,
                "VALIDATION_ERROR",
            )
        return None

    def _input(self, ctx: BatchContext, record: Record, properties: dict[str, str]) -> Item | None:
        op = ctx.operation
        if op is Operation.CREATE:
            # ``associations`` is required in SimplePublicObjectBatchInputForCreate (CRM objects v3 spec)
            body = {"objectWriteTraceId": record.key, "properties": properties, "associations": []}
            return Item(record, body, None)
        if op is Operation.UPDATE and record.destination_id:
            body = {"id": record.destination_id, "objectWriteTraceId": record.key, "properties": properties}
            return Item(record, body, str(record.destination_id))
        prop = ctx.id_property
        if prop is None:  # update by HubSpot id, but this record has none yet
            ctx.outcomes[record.key] = RecordOutcome.failed(
                record.key,
                "NO_DESTINATION_ID",
                f"cannot update {ctx.object_type} without a HubSpot id or a 'match' property",
                category="VALIDATION_ERROR",
            )
            return None
        ident = match_key(record.fields.get(prop), prop)
        if ident is None:
            ctx.outcomes[record.key] = RecordOutcome.failed(
                record.key,
                "MISSING_MATCH_VALUE",
                f"match property {prop!r} is empty, so the record cannot be matched in HubSpot",
                fields=[prop],
                category="VALIDATION_ERROR",
            )
            return None
        if prop in properties:
            properties[prop] = ident
        body = {"id": ident, "idProperty": prop, "objectWriteTraceId": record.key, "properties": properties}
        return Item(record, body, ident)

    # -- sending -----------------------------------------------------------

    def send(self, ctx: BatchContext, items: Sequence[Item]) -> None:
        """Send in requests of at most 100 inputs; outcomes land in ``ctx.outcomes``."""
        for start in range(0, len(items), MAX_BATCH):
            self._send(ctx, items[start : start + MAX_BATCH])

    def _call(self, ctx: BatchContext, items: Sequence[Item]) -> Reply:
        method, param = _METHODS[ctx.operation]
        if ctx.operation is Operation.DELETE:
            body: dict[str, Any] = {"inputs": [{"id": item.ident} for item in items]}
        else:
            body = {"inputs": [item.input for item in items]}
        return self._transport.call("objects_batch", method, object_type=ctx.object_type, **{param: body})

    def _send(self, ctx: BatchContext, items: Sequence[Item]) -> None:
        if not items:
            return
        reply = self._call(ctx, items)
        leftovers = self._map_reply(ctx, items, reply) if reply.ok else list(items)
        if not leftovers:
            return
        if len(items) == 1:
            item = items[0]
            ctx.outcomes[item.key] = failure(item.record, self._single_detail(reply), item.record.destination_id)
        elif len(leftovers) < len(items):
            self._send(ctx, leftovers)  # progress was made: ask again for the rest only
        else:
            middle = len(items) // 2  # nothing attributable: binary split
            self._send(ctx, items[:middle])
            self._send(ctx, items[middle:])

    @staticmethod
    def _single_detail(reply: Reply) -> ErrorDetail:
        """Why a request holding one input failed: the input's own reason."""
        errors = [e for e in reply.body.get("errors") or [] if isinstance(e, Mapping)]
        if reply.ok:
            if errors:
                return error_detail(errors[0])
            return ErrorDetail("NO_RESULT", "HubSpot returned neither a result nor an error for this record")
        if reply.body:
            return error_detail(reply.body)
        return ErrorDetail(f"HTTP_{reply.status}", f"HubSpot answered {reply.status} for this record")

    def _map_reply(self, ctx: BatchContext, items: Sequence[Item], reply: Reply) -> list[Item]:
        """Record outcomes from a 2xx answer; return the inputs it did not account for."""
        if ctx.operation is Operation.DELETE:
            for item in items:
                ctx.outcomes[item.key] = RecordOutcome.ok(item.key, item.ident)
            return []
        by_trace = {item.key: item for item in items}
        by_ident = {item.ident: item for item in items if item.ident is not None}
        done: set[str] = set()

        def find(result: Mapping[str, Any]) -> Item | None:
            trace = result.get("objectWriteTraceId")
            if trace is not None and str(trace) in by_trace:
                return by_trace[str(trace)]
            if ctx.id_property and ctx.operation is not Operation.CREATE:
                props = result.get("properties") or {}
                ident = match_key(props.get(ctx.id_property), ctx.id_property)
                if ident in by_ident:
                    return by_ident[ident]
            by_id = {item.record.destination_id: item for item in items if item.record.destination_id}
            if result.get("id") is not None and str(result["id"]) in by_id:
                return by_id[str(result["id"])]
            return None

        results = [r for r in reply.body.get("results") or [] if isinstance(r, Mapping)]
        errors = [e for e in reply.body.get("errors") or [] if isinstance(e, Mapping)]
        unplaced: list[Mapping[str, Any]] = []
        for result in results:
            found = find(result)
            if found is None or found.key in done:
                unplaced.append(result)
                continue
            done.add(found.key)
            ctx.outcomes[found.key] = RecordOutcome.ok(found.key, str(result.get("id")), self._created(ctx, result))
        # Without trace ids or ids in results, a complete answer pairs in order.
        remaining = [item for item in items if item.key not in done]
        if unplaced and not errors and len(unplaced) == len(remaining):
            for item, result in zip(remaining, unplaced, strict=False):
                done.add(item.key)
                ctx.outcomes[item.key] = RecordOutcome.ok(item.key, str(result.get("id")), self._created(ctx, result))
        for error in errors:
            targets = [by_trace[t] for t in trace_ids(error) if t in by_trace]
            if not targets:
                targets = [by_ident[i] for i in context_ids(error) if i in by_ident]
            if not targets and len(items) == 1:
                targets = list(items)
            detail = error_detail(error)
            for item in targets:
                if item.key not in done:
                    done.add(item.key)
                    ctx.outcomes[item.key] = failure(item.record, detail, item.record.destination_id)
        return [item for item in items if item.key not in done]

    @staticmethod
    def _created(ctx: BatchContext, result: Mapping[str, Any]) -> bool | None:
        if ctx.operation is Operation.CREATE:
            return True
        if ctx.operation is Operation.UPDATE:
            return False
        new = result.get("new")
        return bool(new) if new is not None else None
