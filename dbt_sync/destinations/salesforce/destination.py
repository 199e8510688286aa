"""``SalesforceDestination``: the engine's view of one Salesforce org.

It routes each batch: Bulk API 2.0 above ``bulk_threshold`` records,
sObject Collections (200 a request) below, and returns exactly one outcome
per input record whatever happened underneath. Inside a Bulk batch, the
records holding a text value ``#N/A`` (Bulk's null marker, which has no
escape) go through Collections, so a value is stored the same whatever the
batch size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dbt_sync.destinations.base import (
    AssociationCheck,
    DestinationError,
    FieldSpec,
    MappingProblem,
    Operation,
    Pacer,
    Record,
    RecordOutcome,
    TransientError,
    Usage,
)
from dbt_sync.destinations.salesforce.bulk import BulkWriter
from dbt_sync.destinations.salesforce.check import check_mapping
from dbt_sync.destinations.salesforce.client import SalesforceClient
from dbt_sync.destinations.salesforce.config import SalesforceConfig, parse_bulk_threshold, parse_config
from dbt_sync.destinations.salesforce.describe import DescribeCache, ObjectInfo
from dbt_sync.destinations.salesforce.resolve import resolve_ids
from dbt_sync.destinations.salesforce.rest import COLLECTION_LIMIT, CollectionsWriter
from dbt_sync.destinations.salesforce.rules import WRITE_OPTIONS
from dbt_sync.destinations.salesforce.shape import Row, failure, prepare
from dbt_sync.destinations.salesforce.values import double_exact

#: the window a rate limit would be counted in; Salesforce has none (``rate_limit`` is None)
RATE_INTERVAL_SECONDS = 10.0

#: batch size offered to the engine when Bulk may be used (one ingest job)
BULK_BATCH_SIZE = 10_000
_BULK_OPERATIONS = {
    Operation.UPSERT: "upsert",
    Operation.CREATE: "insert",
    Operation.UPDATE: "update",
    Operation.DELETE: "delete",
}


class SalesforceDestination:
    """A named Salesforce connection built from a ``dbt_sync.yml`` entry.

    Constructing it validates the entry but does not log in; the first call
    that needs the API does. Safe to share between engine threads.
    """

    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        self.name = name
        self.config: SalesforceConfig = parse_config(name, config)
        self._client = SalesforceClient(self.config)
        self._describe = DescribeCache(self._client)
        self._rest = CollectionsWriter(self._client, self.config.concurrency)
        self._bulk = BulkWriter(self._client, self.config.bulk_timeout)

    def __repr__(self) -> str:
        return f"SalesforceDestination(name={self.name!r}, auth={self.config.auth!r})"

    # -- engine contract ------------------------------------------------------

    @property
    def pacer(self) -> Pacer | None:
        """The engine's rate limiter; every request waits on it."""
        return self._client.pacer

    @pacer.setter
    def pacer(self, value: Pacer | None) -> None:
        self._client.pacer = value

    @property
    def rate_limit(self) -> int | None:
        """No rolling window: Salesforce limits requests per day and long requests in flight (``concurrency``)."""
        return None

    @property
    def rate_interval(self) -> float:
        return RATE_INTERVAL_SECONDS

    @property
    def concurrency(self) -> int:
        """Requests in flight at once (the entry's ``concurrency``, default 1)."""
        return self.config.concurrency

    def max_batch_size(self, operation: Operation, options: Mapping[str, Any]) -> int:
        """Without Bulk, 200 per concurrent request; with Bulk, big enough to cross the threshold.

        With Bulk enabled the engine gets ``max(10000, bulk_threshold + 1)``;
        a batch at or under the threshold is split into 200-record
        Collections requests here, a larger one becomes one Bulk job.
        """
        threshold = self._threshold(options)
        if options.get("all_or_none"):
            return COLLECTION_LIMIT
        if threshold is None:
            # one Collections request per concurrent slot, sent in parallel
            return COLLECTION_LIMIT * max(1, self.config.concurrency)
        return max(BULK_BATCH_SIZE, threshold + 1)

    def usage(self) -> Usage:
        return self._client.usage()

    def close(self) -> None:
        self._client.close()

    def check_mapping(
        self,
        object_name: str,
        operation: Operation,
        match: str | None,
        fields: Sequence[FieldSpec],
        path: str,
        associations: Sequence[AssociationCheck] = (),
    ) -> list[MappingProblem]:
        """Salesforce has no associations (spec validation refuses them); ``associations`` is ignored."""
        return check_mapping(self._describe, object_name, Operation(operation), match, fields, path)

    def write(
        self,
        object_name: str,
        operation: Operation,
        records: Sequence[Record],
        *,
        match: str | None,
        options: Mapping[str, Any],
    ) -> list[RecordOutcome]:
        """Send one batch; exactly one outcome per input record, in input order."""
        operation = Operation(operation)
        self._check_options(options)
        if not records:
            return []
        all_or_none = bool(options.get("all_or_none", False))
        threshold = self._threshold(options)
        use_bulk = threshold is not None and len(records) > threshold and not all_or_none
        # describe is needed for relationship names and polymorphic lookups, and to tell
        # whether a number no double holds exactly is going to a number field
        needs_describe = any(r.lookups or any(not double_exact(v) for v in r.fields.values()) for r in records)
        info = self._describe.get(object_name) if needs_describe else None
        overrides = dict(options.get("lookup_relationships") or {})
        rows, outcomes = prepare(records, info, overrides)
        if match and match.lower() == "id":
            match = None
        if operation is Operation.UPSERT and match is None:
            outcomes.update(self._upsert_by_id(object_name, rows, all_or_none, use_bulk))
        elif operation is Operation.UPSERT:
            rows = self._require_match_value(rows, match, outcomes)  # type: ignore[arg-type]
            outcomes.update(self._send(object_name, operation, rows, match, all_or_none, use_bulk))
        elif operation is Operation.CREATE:
            outcomes.update(self._send(object_name, operation, rows, None, all_or_none, use_bulk))
        else:
            if match is None:
                rows = self._require_ids(object_name, rows, outcomes)
            else:
                # the Id this sync got back earlier wins; look up by the match value only the others
                known = [r for r in rows if r.record_id]
                unknown = [r for r in rows if not r.record_id]
                if unknown:
                    if info is None:
                        info = self._describe.get(object_name)
                    unknown, missing = resolve_ids(self._client, object_name, match, unknown, info)
                    outcomes.update(missing)
                rows = known + unknown
            outcomes.update(self._send(object_name, operation, rows, None, all_or_none, use_bulk))
        result = []
        for index, record in enumerate(records):
            outcome = outcomes.get(index) or failure(record.key, "NO_RESULT", "no result for this record")
            result.append(outcome)
        self._raise_if_all_locked(result)
        return result

    def find(self, object_name: str, match: str | None, records: Sequence[Record]) -> dict[str, str]:
        """Ids of existing records by ``match`` (SOQL ``WHERE match IN (...)``).

        Returns record key -> Id for the records whose value matches exactly
        one record; without a match field (or ``Id``) nothing is found.
        """
        if not match or match.lower() == "id" or not records:
            return {}
        info = self._describe.get(object_name)
        rows, failed = prepare([Record(key=r.key, fields=r.fields) for r in records], None, {})
        rows = [r for r in rows if r.index not in failed]
        found, _ = resolve_ids(self._client, object_name, match, rows, info)
        return {row.record.key: str(row.record_id) for row in found if row.record_id}

    # -- routing ----------------------------------------------------------------

    def _send(
        self,
        object_name: str,
        operation: Operation,
        rows: list[Row],
        match: str | None,
        all_or_none: bool,
        use_bulk: bool,
    ) -> dict[int, RecordOutcome]:
        if not rows:
            return {}
        if use_bulk:
            literal = [r for r in rows if r.holds_null_marker()]
            if not literal:
                return self._bulk.run(object_name, _BULK_OPERATIONS[operation], rows, match)
            # Collections first: a failure there raises before Bulk has written anything.
            outcomes = self._send(object_name, operation, literal, match, all_or_none, use_bulk=False)
            bulk_rows = [r for r in rows if not r.holds_null_marker()]
            if bulk_rows:
                try:
                    outcomes.update(self._bulk.run(object_name, _BULK_OPERATIONS[operation], bulk_rows, match))
                except (TransientError, DestinationError) as exc:
                    # The Collections records are written: report, don't raise (a resend would repeat them).
                    for row in bulk_rows:
                        outcomes[row.index] = failure(row.record.key, exc.code, str(exc), retryable=True)
            return outcomes
        if operation is Operation.UPSERT:
            return self._rest.upsert(object_name, match or "", rows, all_or_none)
        if operation is Operation.CREATE:
            return self._rest.create(object_name, rows, all_or_none)
        if operation is Operation.UPDATE:
            return self._rest.update(object_name, rows, all_or_none)
        return self._rest.delete(rows, all_or_none)

    def _upsert_by_id(
        self, object_name: str, rows: list[Row], all_or_none: bool, use_bulk: bool
    ) -> dict[int, RecordOutcome]:
        """Collections upsert takes external ids only: update known Ids, create the rest."""
        known = [r for r in rows if r.record_id]
        new = [r for r in rows if not r.record_id]
        outcomes = self._send(object_name, Operation.UPDATE, known, None, all_or_none, use_bulk)
        created = self._send(object_name, Operation.CREATE, new, None, all_or_none, use_bulk)
        for _index, outcome in created.items():
            if outcome.success:
                outcome.created = True
        outcomes.update(created)
        return outcomes

    @staticmethod
    def _require_match_value(rows: list[Row], match: str, outcomes: dict[int, RecordOutcome]) -> list[Row]:
        kept = []
        for row in rows:
            value = next((v for k, v in row.values.items() if k.lower() == match.lower()), None)
            if value is None or value == "":
                outcomes[row.index] = failure(
                    row.record.key, "REQUIRED_FIELD_MISSING", f"Upsert needs a value for {match}", [match]
                )
            else:
                kept.append(row)
        return kept

    @staticmethod
    def _require_ids(object_name: str, rows: list[Row], outcomes: dict[int, RecordOutcome]) -> list[Row]:
        kept = []
        for row in rows:
            row.record_id = row.record_id or _str_or_none(row.values.get("Id"))
            if row.record_id:
                kept.append(row)
            else:
                outcomes[row.index] = failure(
                    row.record.key, "NOT_FOUND", f"No {object_name} Id is known for this record yet", ["Id"]
                )
        return kept

    @staticmethod
    def _raise_if_all_locked(outcomes: list[RecordOutcome]) -> None:
        """A batch where every record hit a row lock: retry it later, smaller."""
        if len(outcomes) > 1 and all(o.error_code == "UNABLE_TO_LOCK_ROW" for o in outcomes):
            raise TransientError(
                f"every record of the batch ({len(outcomes)}) failed with UNABLE_TO_LOCK_ROW",
                code="UNABLE_TO_LOCK_ROW",
                shrink=True,
            )

    def _threshold(self, options: Mapping[str, Any]) -> int | None:
        if "bulk_threshold" in options:
            return parse_bulk_threshold(self.name, options["bulk_threshold"])
        return self.config.bulk_threshold

    def _check_options(self, options: Mapping[str, Any]) -> None:
        unknown = sorted(set(options) - WRITE_OPTIONS)
        if unknown:
            raise DestinationError(
                f"destination '{self.name}': unknown write option(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(sorted(WRITE_OPTIONS))}",
                code="INVALID_OPTIONS",
            )
        overrides = options.get("lookup_relationships")
        if overrides is not None and not isinstance(overrides, Mapping):
            raise DestinationError(
                f"destination '{self.name}': 'lookup_relationships' must map lookup fields to relationship names",
                code="INVALID_OPTIONS",
            )


def _str_or_none(value: Any) -> str | None:
    return str(value) if value else None


__all__ = ["ObjectInfo", "SalesforceDestination"]
