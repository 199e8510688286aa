"""Which CRM record a model row is: the answers that change what dbt-sync knows.

Once a sync has a destination id for a record key (in ``dbt_sync_state``),
the record is updated and deleted by that id; the match key only finds a
record the first time. The destination's answers below change that link:

* **gone**: the stored id names a record that no longer exists (deleted or
  archived in the CRM). The link is dropped and the record is found again by
  its match key, or created (see docs/engine.md).
* **duplicate** (create mode with a match key): the record exists already,
  for example because a crashed run created it before recording its id. It
  is adopted: looked up by the match key and its id stored.

:func:`repair`, :func:`settle_unconfirmed` and :func:`find_existing` act on
those answers in the same run (the send pipeline calls them for every
answered batch).

The codes are the CRMs' own: Salesforce's ``StatusCode`` values
(https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_concepts_core_data_objects.htm)
and HubSpot's error categories / sub-categories.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dbt_sync.destinations.base import DestinationError, Lookups, Operation, RecordOutcome, TransientError
from dbt_sync.engine.mapping import MODE_WRITES, Change
from dbt_sync.engine.sender import UNKNOWN_OUTCOME
from dbt_sync.secrets import redact
from dbt_sync.warehouse import Confirmed

if TYPE_CHECKING:
    from dbt_sync.engine.pipeline import PendingCommit, SendState

log = logging.getLogger("dbt_sync.engine")

#: a stored id that names no live record
GONE_CODES = frozenset({"ENTITY_IS_DELETED", "OBJECT_NOT_FOUND", "NOT_FOUND"})
#: a create that met an existing record with the same unique value
DUPLICATE_CODES = frozenset({"DUPLICATE_VALUE", "DUPLICATE_EXTERNAL_ID", "CONFLICT", "OBJECT_ALREADY_EXISTS"})
#: open failure written for a record whose id a dependant found gone (so its sync writes it again)
RECORD_GONE = "DESTINATION_RECORD_GONE"


def is_gone(outcome: RecordOutcome) -> bool:
    """The write or delete by a stored id failed because no such record exists (any more).

    Salesforce answers ``ENTITY_IS_DELETED`` (in the recycle bin) or
    ``INVALID_CROSS_REFERENCE_KEY`` on the Id itself (no such record);
    HubSpot answers ``OBJECT_NOT_FOUND``.
    """
    if outcome.success or outcome.error_code is None:
        return False
    if outcome.error_code in GONE_CODES:
        return True
    return outcome.error_code == "INVALID_CROSS_REFERENCE_KEY" and all(f.lower() == "id" for f in outcome.fields)


def is_duplicate(outcome: RecordOutcome) -> bool:
    """A create refused because a record with the same unique value exists."""
    return not outcome.success and outcome.error_code in DUPLICATE_CODES


def gone_message(sync_name: str, key: str, object_name: str, destination_id: str) -> str:
    return (
        f"{object_name} {destination_id}, written by sync {sync_name} for record {key}, no longer exists in the "
        f"CRM (deleted or archived there); the link was dropped and the record is written again by this sync's "
        f"next run"
    )


def repair(
    ctx: SendState, operation: Operation, batch: Sequence[Change], outcomes: Sequence[RecordOutcome]
) -> list[RecordOutcome]:
    """Answers that change which CRM record a row is, handled in the same run.

    * a stored id the CRM no longer knows: written again without it (found
      by the match key, or created);
    * a delete of a record that is already gone: done;
    * a create that met its own record (match key): the record is adopted;
    * a create whose outcome is unknown: looked up by the match key; if not
      found it stays unconfirmed (in flight) and the next run settles it first.
    """
    spec = ctx.spec
    out = list(outcomes)
    if spec.mode == "mirror" and operation in (Operation.UPDATE, Operation.UPSERT):
        for i, (change, outcome) in enumerate(zip(batch, out, strict=True)):
            if is_duplicate(outcome) and change.key not in ctx.retried:
                # the value may belong to a record this run's deletes remove: decided after them
                ctx.conflicted.setdefault(operation, []).append((change, outcome))
                ctx.retried.add(change.key)
                out[i] = dataclasses.replace(outcome, unsent=True)
    if operation is Operation.DELETE:
        return [RecordOutcome.ok(o.key, o.destination_id) if is_gone(o) else o for o in out]
    if operation is Operation.UPDATE:
        relink = [
            i for i, (c, o) in enumerate(zip(batch, out, strict=True))
            if c.record is not None and c.record.destination_id and is_gone(o)
        ]
        retry_op = Operation.UPSERT if MODE_WRITES[spec.mode] is Operation.UPSERT else Operation.UPDATE
        if relink and (retry_op is Operation.UPSERT or spec.match):
            records = [
                dataclasses.replace(record, destination_id=None)
                for i in relink if (record := batch[i].record) is not None
            ]
            for i, outcome in zip(relink, ctx.sender.send(retry_op, records), strict=True):
                out[i] = outcome
        return out
    if operation is Operation.CREATE and spec.match:
        doubtful = [i for i, o in enumerate(out) if is_duplicate(o) or o.error_code == UNKNOWN_OUTCOME]
        if doubtful:
            found = find_existing(ctx, [batch[i] for i in doubtful])
            for i in doubtful:
                key = batch[i].key
                if key in found:
                    out[i] = RecordOutcome.ok(key, found[key], created=out[i].error_code == UNKNOWN_OUTCOME)
    return out


def settle_unconfirmed(ctx: SendState, changes: list[Change], acc: PendingCommit) -> list[Change]:
    """Creates left unconfirmed (match key): the ones found are adopted; the rest are to be created."""
    found = find_existing(ctx, changes)
    rest = []
    for change in changes:
        if change.key in found:
            acc.successes.append(Confirmed(change.key, change.row_hash, found[change.key]))
            ctx.result.created += 1
        else:
            rest.append(change)
    return rest


def find_existing(ctx: SendState, changes: Sequence[Change]) -> dict[str, str]:
    """Ids of the changes' records found by the sync's match key (destinations with ``Lookups``); {} on failure."""
    records = [c.record for c in changes if c.record is not None]
    if not isinstance(ctx.destination, Lookups) or not records:
        return {}
    try:
        return dict(ctx.destination.find(ctx.spec.object, ctx.spec.match, records))
    except (TransientError, DestinationError) as exc:
        log.warning("sync %s: looking records up by %s failed: %s", ctx.spec.name, ctx.spec.match, redact(str(exc)))
        return {}
