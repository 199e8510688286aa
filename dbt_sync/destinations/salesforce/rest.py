"""sObject Collections: up to 200 records a request, one result each.

A batch is sent as Collections requests of up to 200 records each (in
parallel up to ``concurrency``). A request Salesforce rejects whole with HTTP
400 (a JSON type error in one record fails the whole body) is split in halves
until the bad record is alone, so only that record fails. When a request
fails with a ``TransientError`` after another request of the same batch was
already written, its records become retryable failures instead of an exception:
raising would make the engine resend, and duplicate, the written creates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from dbt_sync.destinations import metering
from dbt_sync.destinations.base import DestinationError, RecordOutcome, TransientError
from dbt_sync.destinations.salesforce.client import RequestRejected, SalesforceClient
from dbt_sync.destinations.salesforce.shape import Row, failure, outcome_from_result
from dbt_sync.destinations.salesforce.values import dumps

COLLECTION_LIMIT = 200

Sender = Callable[[Sequence[Row]], list[dict[str, Any]]]


class CollectionsWriter:
    """Create, update, upsert and delete through ``composite/sobjects``."""

    def __init__(self, client: SalesforceClient, concurrency: int = 1) -> None:
        self._client = client
        self._concurrency = max(1, concurrency)

    def upsert(self, object_name: str, match: str, rows: Sequence[Row], all_or_none: bool) -> dict[int, RecordOutcome]:
        path = f"composite/sobjects/{quote(object_name, safe='')}/{quote(match, safe='')}"

        def send(chunk: Sequence[Row]) -> list[dict[str, Any]]:
            body = {"allOrNone": all_or_none, "records": [r.json_body(object_name) for r in chunk]}
            return self._client.json("PATCH", path, dumps(body)) or []

        return self._run(rows, send, created=None)

    def create(self, object_name: str, rows: Sequence[Row], all_or_none: bool) -> dict[int, RecordOutcome]:
        def send(chunk: Sequence[Row]) -> list[dict[str, Any]]:
            body = {"allOrNone": all_or_none, "records": [r.json_body(object_name) for r in chunk]}
            return self._client.json("POST", "composite/sobjects", dumps(body)) or []

        return self._run(rows, send, created=True)

    def update(self, object_name: str, rows: Sequence[Row], all_or_none: bool) -> dict[int, RecordOutcome]:
        def send(chunk: Sequence[Row]) -> list[dict[str, Any]]:
            body = {"allOrNone": all_or_none, "records": [r.json_body(object_name, with_id=True) for r in chunk]}
            return self._client.json("PATCH", "composite/sobjects", dumps(body)) or []

        return self._run(rows, send, created=False)

    def delete(self, rows: Sequence[Row], all_or_none: bool) -> dict[int, RecordOutcome]:
        def send(chunk: Sequence[Row]) -> list[dict[str, Any]]:
            params = {"ids": ",".join(str(r.record_id) for r in chunk), "allOrNone": str(all_or_none).lower()}
            return self._client.json("DELETE", "composite/sobjects", params=params) or []

        outcomes = self._run(rows, send, created=None)
        for index, outcome in outcomes.items():
            # Deleting what is already deleted leaves the intended state.
            if outcome.error_code == "ENTITY_IS_DELETED":
                outcomes[index] = RecordOutcome.ok(outcome.key, outcome.destination_id or _row(rows, index).record_id)
        return outcomes

    # -- chunking, isolation, partial progress ---------------------------------

    def _run(self, rows: Sequence[Row], send: Sender, created: bool | None) -> dict[int, RecordOutcome]:
        chunks = [rows[i : i + COLLECTION_LIMIT] for i in range(0, len(rows), COLLECTION_LIMIT)]
        if not chunks:
            return {}

        def attempt(chunk: Sequence[Row]) -> dict[int, RecordOutcome] | Exception:
            try:
                return self._send_isolating(chunk, send, created)
            except (TransientError, DestinationError) as exc:
                return exc

        if self._concurrency > 1 and len(chunks) > 1:
            with ThreadPoolExecutor(max_workers=min(self._concurrency, len(chunks))) as pool:
                futures = [metering.submit(pool, attempt, chunk) for chunk in chunks]
                results = [f.result() for f in futures]
        else:
            results = []
            for chunk in chunks:
                results.append(attempt(chunk))
                if isinstance(results[-1], DestinationError) and not isinstance(results[-1], RequestRejected):
                    # Auth or daily limit: no point sending the remaining chunks.
                    results.extend(results[-1] for _ in chunks[len(results) :])
                    break
        errors = [r for r in results if isinstance(r, Exception)]
        if len(errors) == len(results):
            raise errors[0]
        outcomes: dict[int, RecordOutcome] = {}
        for chunk, result in zip(chunks, results, strict=False):
            if isinstance(result, Exception):
                code = getattr(result, "code", "TRANSIENT")
                for row in chunk:
                    outcomes[row.index] = failure(
                        row.record.key,
                        code,
                        str(result),
                        retryable=isinstance(result, TransientError)
                        or code in ("DAILY_LIMIT_EXCEEDED", "INVALID_SESSION_ID"),
                    )
                    if isinstance(result, TransientError):
                        outcomes[row.index].category = "TRANSIENT"
            else:
                outcomes.update(result)
        return outcomes

    def _send_isolating(self, chunk: Sequence[Row], send: Sender, created: bool | None) -> dict[int, RecordOutcome]:
        try:
            results = send(chunk)
        except RequestRejected as exc:
            if len(chunk) == 1:
                row = chunk[0]
                return {row.index: failure(row.record.key, exc.code, exc.sf_message or str(exc), exc.fields)}
            middle = len(chunk) // 2
            outcomes = self._send_isolating(chunk[:middle], send, created)
            outcomes.update(self._send_isolating(chunk[middle:], send, created))
            return outcomes
        outcomes = {}
        for position, row in enumerate(chunk):
            if position < len(results) and isinstance(results[position], dict):
                outcomes[row.index] = outcome_from_result(row.record.key, results[position], created)
            else:
                outcomes[row.index] = failure(
                    row.record.key, "NO_RESULT", "Salesforce returned no result for this record"
                )
        return outcomes


def _row(rows: Sequence[Row], index: int) -> Row:
    return next(r for r in rows if r.index == index)
