"""Finding HubSpot ids by a unique property, many values per request.

Used for association targets and for deleting rows whose HubSpot id this
sync never learned. One batch read (``idProperty``) per 100 values; values
that match nothing are simply absent from the answer (HubSpot reports them
as 207 errors, which we do not need).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dbt_sync.destinations.hubspot.errors import ErrorDetail, error_detail
from dbt_sync.destinations.hubspot.transport import Transport
from dbt_sync.destinations.hubspot.values import normalize_email, to_wire

READ_BATCH = 100


class LookupFailed(Exception):
    """The whole lookup request was refused (unknown object, non-unique property...)."""

    def __init__(self, detail: ErrorDetail) -> None:
        super().__init__(detail.message)
        self.detail = detail


def match_key(value: Any, prop: str | None) -> str | None:
    """A match value as HubSpot compares it (emails case-insensitively)."""
    if value is None:
        return None
    text = to_wire(value, None, clearing=False)
    if not isinstance(text, str) or text == "":
        return None
    return normalize_email(text) if prop == "email" else text


def find_ids(transport: Transport, object_type: str, prop: str, values: Sequence[str]) -> dict[str, str]:
    """Map each found value (as :func:`match_key` renders it) to its HubSpot id."""
    ids: dict[str, str] = {}
    unique = sorted(set(values))
    for start in range(0, len(unique), READ_BATCH):
        chunk = unique[start : start + READ_BATCH]
        # ``propertiesWithHistory`` is required in BatchReadInputSimplePublicObjectId (CRM objects v3 spec)
        body = {"idProperty": prop, "inputs": [{"id": v} for v in chunk], "properties": [prop],
                "propertiesWithHistory": []}
        reply = transport.call(
            "objects_batch",
            "read",
            object_type=object_type,
            batch_read_input_simple_public_object_id=body,
            archived=False,
        )
        if not reply.ok:
            detail = error_detail(reply.body)
            raise LookupFailed(
                ErrorDetail(
                    "LOOKUP_FAILED",
                    f"looking up {object_type} by {prop} failed ({reply.status}): {detail.message}",
                    category=detail.category,
                )
            )
        for result in reply.body.get("results") or []:
            if not isinstance(result, Mapping):
                continue
            value = match_key((result.get("properties") or {}).get(prop), prop)
            if value is not None and result.get("id") is not None:
                ids[value] = str(result["id"])
    return ids
