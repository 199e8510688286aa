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

The codes are the CRMs' own: Salesforce's ``StatusCode`` values
(https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_concepts_core_data_objects.htm)
and HubSpot's error categories / sub-categories.
"""

from __future__ import annotations

from dbt_sync.destinations.base import RecordOutcome

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
