"""The HubSpot destination: the engine's entry point, wiring the parts together.

``write`` = (cached) property metadata + local conversion + the object batch
calls + the association calls for one batch. Transient trouble raises
:class:`TransientError` and the engine retries the whole ``write``; that is
harmless for upsert/update/archive, and for create the records already
created in the failed attempt are remembered and not created twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dbt_sync.destinations.base import (
    DEFAULT_CONCURRENCY,
    AssociationCheck,
    FieldSpec,
    MappingProblem,
    Operation,
    Pacer,
    Record,
    RecordOutcome,
    TransientError,
    Usage,
)
from dbt_sync.destinations.hubspot.associations import AssociationWriter
from dbt_sync.destinations.hubspot.batches import MAX_BATCH, BatchContext, BatchWriter
from dbt_sync.destinations.hubspot.check import MappingChecker
from dbt_sync.destinations.hubspot.config import RATE_INTERVAL_SECONDS, HubSpotConfig, parse_config
from dbt_sync.destinations.hubspot.lookup import LookupFailed, find_ids, match_key
from dbt_sync.destinations.hubspot.properties import PropertyCache
from dbt_sync.destinations.hubspot.targets import association_targets
from dbt_sync.destinations.hubspot.transport import Transport


class HubSpotDestination:
    """A named connection to one HubSpot account (see docs/destinations-hubspot.md)."""

    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        self.name = name
        self.config: HubSpotConfig = parse_config(name, config)
        self._transport = Transport(self.config)
        self._properties = PropertyCache(self._transport)
        self._batches = BatchWriter(self._transport)
        self._associations = AssociationWriter(self._transport)
        self._checker = MappingChecker(self._properties, self._transport)
        # (object type, record key) -> id of records created by a write that then
        # raised TransientError; the engine's retry of that write must not recreate them.
        self._created_before_retry: dict[tuple[str, str], str] = {}
        self._memo_lock = threading.Lock()

    # -- what the engine's limiter and batcher read -------------------------

    @property
    def rate_limit(self) -> int:
        """Requests allowed per :attr:`rate_interval` seconds (tier or explicit)."""
        return self.config.rate_limit

    @property
    def rate_interval(self) -> float:
        return RATE_INTERVAL_SECONDS

    @property
    def concurrency(self) -> int:
        """Requests in flight at once: HubSpot limits the rate, not concurrency; the engine's default."""
        return DEFAULT_CONCURRENCY

    @property
    def pacer(self) -> Pacer | None:
        """The engine's rate limiter; every request waits on it."""
        return self._transport.pacer

    @pacer.setter
    def pacer(self, value: Pacer | None) -> None:
        self._transport.pacer = value

    def max_batch_size(self, operation: Operation, options: Mapping[str, Any]) -> int:
        return MAX_BATCH

    def association_targets(
        self,
        associations: Sequence[Any],
        page: Sequence[Mapping[str, Any]],
        writers: Sequence[Any],
        destination_ids: Callable[[str, list[str]], Mapping[str, str | None]],
    ) -> dict[tuple[str, str], str]:
        """Ids of association targets other syncs wrote (see :mod:`~dbt_sync.destinations.hubspot.targets`)."""
        return association_targets(associations, page, writers, destination_ids)

    # -- writing -----------------------------------------------------------

    def write(
        self,
        object_name: str,
        operation: Operation,
        records: Sequence[Record],
        *,
        match: str | None,
        options: Mapping[str, Any],
    ) -> list[RecordOutcome]:
        operation = Operation(operation)
        schema = self._properties.get(object_name)
        ctx = BatchContext(
            object_type=object_name,
            operation=operation,
            schema=schema,
            id_property=self._batches.resolve_id_property(schema, operation, match),
        )
        remembered: list[Record] = []
        pending = list(records)
        if operation is Operation.CREATE:
            pending, remembered = self._take_remembered(ctx, records)
        elif operation is Operation.DELETE:
            pending = self._find_ids_to_delete(ctx, pending)
        try:
            items = self._batches.prepare(ctx, pending)
            self._batches.send(ctx, items)
            if operation is not Operation.DELETE:
                self._associations.write(object_name, [*remembered, *pending], ctx.outcomes)
        except TransientError:
            if operation is Operation.CREATE:
                self._remember_created(ctx)
            raise
        return _one_per_input(records, ctx.outcomes)

    def _take_remembered(self, ctx: BatchContext, records: Sequence[Record]) -> tuple[list[Record], list[Record]]:
        """Split records into (to create, already created by the failed attempt)."""
        pending: list[Record] = []
        remembered: list[Record] = []
        with self._memo_lock:
            for record in records:
                created = self._created_before_retry.pop((ctx.object_type, record.key), None)
                if created is None:
                    pending.append(record)
                else:
                    ctx.outcomes[record.key] = RecordOutcome.ok(record.key, created, True)
                    remembered.append(record)
        return pending, remembered

    def _remember_created(self, ctx: BatchContext) -> None:
        with self._memo_lock:
            for key, outcome in ctx.outcomes.items():
                if outcome.destination_id and outcome.created:
                    self._created_before_retry[(ctx.object_type, key)] = outcome.destination_id

    def _find_ids_to_delete(self, ctx: BatchContext, records: Sequence[Record]) -> list[Record]:
        """Give records without a HubSpot id one, looked up by ``match`` if possible.

        Without an id and without a match there is nothing this sync wrote, so
        nothing to archive: such records succeed with no id.
        """
        pending = [r for r in records if r.destination_id]
        missing = [r for r in records if not r.destination_id]
        found: dict[str, str] = {}
        prop = ctx.id_property
        if missing and prop:
            values = [v for v in (match_key(r.fields.get(prop), prop) for r in missing) if v is not None]
            if values:
                try:
                    found = find_ids(self._transport, ctx.object_type, prop, values)
                except LookupFailed as exc:
                    for record in missing:
                        ctx.outcomes[record.key] = RecordOutcome.failed(
                            record.key, exc.detail.code, exc.detail.message, category=exc.detail.category
                        )
                    return pending
        for record in missing:
            target = found.get(match_key(record.fields.get(prop), prop) or "") if prop else None
            if target:
                pending.append(_with_id(record, target))
            else:
                ctx.outcomes[record.key] = RecordOutcome.ok(record.key, None, False)
        return pending

    def find(self, object_name: str, match: str | None, records: Sequence[Record]) -> dict[str, str]:
        """HubSpot ids of existing records by a unique property (contacts: ``email`` by default).

        One batch read by ``idProperty`` per 100 values; archived records are
        not found. Returns record key -> id for the records found.
        """
        schema = self._properties.get(object_name)
        prop = match if match not in (None, "hs_object_id") else ("email" if schema.is_contacts else None)
        if prop is None:
            return {}
        values = {r.key: match_key(r.fields.get(prop), prop) for r in records}
        wanted = [v for v in values.values() if v is not None]
        if not wanted:
            return {}
        try:
            ids = find_ids(self._transport, object_name, prop, wanted)
        except LookupFailed:
            return {}
        return {key: ids[value] for key, value in values.items() if value is not None and value in ids}

    # -- metadata ----------------------------------------------------------

    def check_mapping(
        self,
        object_name: str,
        operation: Operation,
        match: str | None,
        fields: Sequence[FieldSpec],
        path: str,
        associations: Sequence[AssociationCheck] = (),
    ) -> list[MappingProblem]:
        problems = self._checker.check(object_name, Operation(operation), match, fields, path)
        return problems + self._checker.check_associations(object_name, associations)

    def usage(self) -> Usage:
        return self._transport.usage()

    def rate_limit_info(self) -> dict[str, int | None]:
        """Latest ``X-HubSpot-RateLimit-*`` values (max, remaining, interval_ms, daily...) and 429s."""
        return self._transport.rate_limit_info()

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> HubSpotDestination:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HubSpotDestination({self.name!r}, host={self.config.host!r})"


def _with_id(record: Record, destination_id: str) -> Record:
    return Record(
        key=record.key,
        fields=record.fields,
        lookups=record.lookups,
        associations=record.associations,
        destination_id=destination_id,
    )


def _one_per_input(records: Sequence[Record], outcomes: Mapping[str, RecordOutcome]) -> list[RecordOutcome]:
    """Exactly one outcome per input; a key repeated in the input fails its repeats."""
    seen: set[str] = set()
    out: list[RecordOutcome] = []
    for record in records:
        if record.key in seen:
            out.append(
                RecordOutcome.failed(record.key, "DUPLICATE_KEY_IN_BATCH", "the same key appears twice in one batch")
            )
            continue
        seen.add(record.key)
        out.append(outcomes[record.key])
    return out
