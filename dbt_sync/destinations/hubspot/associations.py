"""Associating written records with other HubSpot records (v4 API).

Runs after the batch's objects are written, because associations need both
ids. Targets come from ``Association.to_id`` when the engine knows it, else
one batch read per (object, unique property) finds them. A target that does
not exist fails only its record, with ``ASSOCIATION_TARGET_NOT_FOUND`` and
the record's HubSpot id kept (the object itself was written), so the next
run retries it. Associations are only added, never removed.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dbt_sync.destinations.base import Association, Record, RecordOutcome
from dbt_sync.destinations.hubspot.errors import ErrorDetail, error_detail, summarize
from dbt_sync.destinations.hubspot.lookup import LookupFailed, find_ids, match_key
from dbt_sync.destinations.hubspot.transport import Transport

CREATE_BATCH = 100
#: the association's target id (from another sync's state) no longer exists in HubSpot
ASSOCIATION_TARGET_NOT_FOUND = "ASSOCIATION_TARGET_NOT_FOUND"


@dataclass
class Link:
    """One association to create for one written record."""

    record: Record
    from_id: str
    association: Association
    to_id: str | None = None
    type_id: int | None = None
    #: the type's category: the spec's, or the one HubSpot returned for a looked-up label
    category: str | None = None
    skip: bool = False
    #: HubSpot said the target record does not exist (archived or deleted since its id was stored)
    target_gone: bool = False


class AssociationWriter:
    """Creates the associations of one batch; problems go into the outcomes."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._labels: dict[tuple[str, str], dict[str, tuple[str, int]]] = {}
        self._lock = threading.Lock()

    def write(self, from_type: str, records: Sequence[Record], outcomes: dict[str, RecordOutcome]) -> None:
        links: list[Link] = []
        for record in records:
            outcome = outcomes.get(record.key)
            if outcome is None or not outcome.success or not outcome.destination_id:
                continue
            for assoc in record.associations:
                links.append(Link(record, outcome.destination_id, assoc, to_id=assoc.to_id, type_id=assoc.type_id,
                                  category=assoc.category))
        if not links:
            return
        problems: dict[str, list[ErrorDetail]] = defaultdict(list)
        self._resolve_targets(links, problems)
        self._resolve_labels(from_type, links, problems)
        ready = [link for link in links if link.to_id and not link.skip]
        groups: dict[tuple[str, bool], list[Link]] = defaultdict(list)
        for link in ready:
            groups[(link.association.to_object, link.type_id is not None)].append(link)
        for (to_object, typed), group in groups.items():
            for start in range(0, len(group), CREATE_BATCH):
                self._create(from_type, to_object, typed, group[start : start + CREATE_BATCH], problems)
        for key, details in problems.items():
            previous = outcomes[key]
            detail = summarize(details)
            outcome = RecordOutcome.failed(
                key,
                detail.code,
                detail.message,
                fields=detail.fields,
                category=detail.category or "ASSOCIATION",
                destination_id=previous.destination_id,
            )
            outcome.created = previous.created
            outcome.missing_targets = sorted(
                {(link.association.to_object, str(link.to_id)) for link in links
                 if link.record.key == key and link.target_gone}
            )
            outcomes[key] = outcome

    # -- targets -----------------------------------------------------------

    def _resolve_targets(self, links: Sequence[Link], problems: dict[str, list[ErrorDetail]]) -> None:
        """One batch read per (object, property) finds every target id at once."""
        wanted: dict[tuple[str, str], set[str]] = defaultdict(set)
        for link in links:
            assoc = link.association
            if link.to_id:
                continue
            if not assoc.match:
                problems[link.record.key].append(
                    ErrorDetail(
                        "ASSOCIATION_INVALID",
                        f"association to {assoc.to_object} has neither a target id nor a 'match' property",
                    )
                )
                continue
            value = match_key(assoc.value, assoc.match)
            if value is not None:
                wanted[(assoc.to_object, assoc.match)].add(value)
        found: dict[tuple[str, str], dict[str, str]] = {}
        failed: dict[tuple[str, str], ErrorDetail] = {}
        for (to_object, prop), values in wanted.items():
            try:
                found[(to_object, prop)] = find_ids(self._transport, to_object, prop, sorted(values))
            except LookupFailed as exc:
                failed[(to_object, prop)] = ErrorDetail(
                    "ASSOCIATION_LOOKUP_FAILED", exc.detail.message, category=exc.detail.category
                )
        for link in links:
            assoc = link.association
            if link.to_id or not assoc.match:
                continue
            pair = (assoc.to_object, assoc.match)
            if pair in failed:
                problems[link.record.key].append(failed[pair])
                continue
            value = match_key(assoc.value, assoc.match)
            link.to_id = found.get(pair, {}).get(value) if value is not None else None
            if link.to_id is None:
                problems[link.record.key].append(
                    ErrorDetail(
                        "ASSOCIATION_TARGET_NOT_FOUND",
                        f"no {assoc.to_object} record has {assoc.match} = {assoc.value!r}",
                        category="ASSOCIATION",
                    )
                )

    # -- labels ------------------------------------------------------------

    def _resolve_labels(self, from_type: str, links: Sequence[Link], problems: dict[str, list[ErrorDetail]]) -> None:
        """A label without a type id is looked up once per object pair.

        The link takes both the ``typeId`` and the ``category`` HubSpot returns
        for the label (``USER_DEFINED`` for labels an account made): a type id
        is only valid with its own category (CRM associations v4
        ``AssociationSpec``; ``GET /crm/v4/associations/{from}/{to}/labels``).
        """
        for link in links:
            assoc = link.association
            if link.type_id is not None or not assoc.label:
                continue
            labels = self._label_types(from_type, assoc.to_object)
            hit = labels.get(assoc.label.lower())
            if hit is None:
                link.skip = True
                problems[link.record.key].append(
                    ErrorDetail(
                        "ASSOCIATION_LABEL_NOT_FOUND",
                        f"no association label {assoc.label!r} from {from_type} to {assoc.to_object}",
                        category="ASSOCIATION",
                    )
                )
            else:
                link.category, link.type_id = hit

    def _label_types(self, from_type: str, to_type: str) -> dict[str, tuple[str, int]]:
        with self._lock:
            cached = self._labels.get((from_type, to_type))
        if cached is not None:
            return cached
        reply = self._transport.call(
            "association_labels", "get_all", from_object_type=from_type, to_object_type=to_type
        )
        labels: dict[str, tuple[str, int]] = {}
        if reply.ok:
            for item in reply.body.get("results") or []:
                if isinstance(item, Mapping) and item.get("label") and item.get("typeId") is not None:
                    labels[str(item["label"]).lower()] = (str(item.get("category")), int(item["typeId"]))
        with self._lock:
            self._labels[(from_type, to_type)] = labels
        return labels

    # -- creating ----------------------------------------------------------

    def _create(
        self,
        from_type: str,
        to_object: str,
        typed: bool,
        links: Sequence[Link],
        problems: dict[str, list[ErrorDetail]],
    ) -> None:
        """Create one group; a whole-request 4xx is isolated by binary split."""
        if typed:
            inputs: list[dict[str, Any]] = [
                {
                    "from": {"id": link.from_id},
                    "to": {"id": link.to_id},
                    "types": [
                        {
                            "associationCategory": link.category or link.association.category,
                            "associationTypeId": link.type_id,
                        }
                    ],
                }
                for link in links
            ]
            reply = self._transport.call(
                "associations_batch",
                "create",
                from_object_type=from_type,
                to_object_type=to_object,
                batch_input_public_association_multi_post={"inputs": inputs},
            )
        else:
            inputs = [{"from": {"id": link.from_id}, "to": {"id": link.to_id}} for link in links]
            reply = self._transport.call(
                "associations_batch",
                "create_default",
                from_object_type=from_type,
                to_object_type=to_object,
                batch_input_public_default_association_multi_post={"inputs": inputs},
            )
        if reply.ok:
            done = _created_pairs(reply.body)
            missing = [link for link in links if (link.from_id, str(link.to_id)) not in done]
            errors = [e for e in reply.body.get("errors") or [] if isinstance(e, Mapping)]
            if not missing:
                return
            for error in errors:
                for link in _named_by(error, missing):
                    self._fail(link, error_detail(error), problems)
                    missing.remove(link)
            if not missing:
                return
            if not errors and not reply.body.get("results"):
                return  # an answer without details: trust the 2xx
            if len(links) > 1 and len(missing) < len(links):
                self._create(from_type, to_object, typed, missing, problems)
                return
            if len(links) == 1:
                detail = error_detail(errors[0]) if errors else ErrorDetail("NO_RESULT", "no association result")
                self._fail(links[0], detail, problems)
                return
        elif len(links) == 1:
            self._fail(links[0], error_detail(reply.body), problems)
            return
        middle = len(links) // 2
        self._create(from_type, to_object, typed, links[:middle], problems)
        self._create(from_type, to_object, typed, links[middle:], problems)

    @staticmethod
    def _fail(link: Link, detail: ErrorDetail, problems: dict[str, list[ErrorDetail]]) -> None:
        if link.to_id is not None and _names_missing(detail.message, str(link.to_id)):
            link.target_gone = True
            problems[link.record.key].append(
                ErrorDetail(
                    ASSOCIATION_TARGET_NOT_FOUND,
                    f"association to {link.association.to_object} {link.to_id} failed: that record no longer "
                    f"exists in HubSpot ({detail.message}); the sync that wrote it creates it again",
                    category=detail.category or "ASSOCIATION",
                )
            )
            return
        problems[link.record.key].append(
            ErrorDetail(
                "ASSOCIATION_FAILED",
                f"association to {link.association.to_object} {link.to_id} failed: {detail.code}: {detail.message}",
                category=detail.category or "ASSOCIATION",
            )
        )


def _names_missing(message: str, to_id: str) -> bool:
    """HubSpot's answer for a target that does not exist: "No company with id 123 exists"."""
    return re.search(rf"\bNo \w+ with id {re.escape(to_id)} exists", message) is not None


def _named_by(error: Mapping[str, Any], links: Sequence[Link]) -> list[Link]:
    """Links a v4 207 error names through ``context.fromObjectId`` (and ``toObjectId``)."""
    ctx = error.get("context") or {}
    froms = {str(v) for v in ctx.get("fromObjectId") or []}
    tos = {str(v) for v in ctx.get("toObjectId") or []}
    if not froms:
        return []
    return [link for link in links if link.from_id in froms and (not tos or str(link.to_id) in tos)]


def _created_pairs(body: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(from id, to id) pairs in a v4 create (flat ids) or default (nested) answer."""
    pairs: set[tuple[str, str]] = set()
    for result in body.get("results") or []:
        if not isinstance(result, Mapping):
            continue
        if "fromObjectId" in result:
            pairs.add((str(result.get("fromObjectId")), str(result.get("toObjectId"))))
        else:
            src = result.get("from") or {}
            dst = result.get("to") or {}
            pairs.add((str(src.get("id")), str(dst.get("id"))))
    return pairs
