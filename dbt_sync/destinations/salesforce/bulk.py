"""Bulk API 2.0 ingest jobs for batches above ``bulk_threshold``.

The CSV is written here (not by ``sf.bulk2``, whose column order comes
from a ``set`` and which never renews an expired session): RFC 4180 with
every field quoted that needs it (a bare CR included), fixed column order,
``#N/A`` for nulls, ``Relationship.ExtField`` columns for lookups, exact
decimals. One job per upload of at most ~90 MB. The caller keeps rows
holding a literal ``#N/A`` text out of Bulk (see ``destination``).

Results come back as three CSV files in any row order; each is read by
header name and tied back to the input by a correlation key:

* upsert: the external id value (``match`` column);
* update and delete: the ``Id`` column;
* insert: the whole row as uploaded (every original column). Rows with
  identical content are interchangeable, so handing their outcomes out in
  any order is still a correct one-to-one mapping.

A ``Failed`` job is read like a finished one: its unprocessed rows fail
as retryable (code ``UNPROCESSED``, message = the job's ``errorMessage``),
except after an ``InvalidBatch`` (a bad column), which no retry fixes
(code ``INVALID_BATCH``, not retryable). Rows missing from every file fail
as retryable ``NO_RESULT``. A delete whose row fails ``ENTITY_IS_DELETED``
(already deleted) counts as done, exactly as on the Collections path. Only when a failed job's result files cannot
be read at all does the batch raise ``TransientError``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from typing import Any

from dbt_sync.backoff import tries
from dbt_sync.destinations.base import DestinationError, RecordOutcome, TransientError
from dbt_sync.destinations.salesforce.client import SalesforceClient
from dbt_sync.destinations.salesforce.shape import Row, failure
from dbt_sync.destinations.salesforce.values import CSV_NULL, csv_text, wire_to_csv

MAX_UPLOAD_BYTES = 90 * 1024 * 1024
_TERMINAL = ("JobComplete", "Failed", "Aborted")


def parse_sf_error(text: str) -> tuple[str, str, list[str]]:
    """Split ``CODE:message:Field1,Field2 --`` into its parts."""
    text = text.strip()
    if text.endswith("--"):
        text = text[:-2].rstrip()
    code, sep, rest = text.partition(":")
    if not sep:
        return "UNKNOWN_ERROR", text, []
    message, sep, fields = rest.rpartition(":")
    if not sep:
        return code, rest, []
    return code, message, [f.strip() for f in fields.split(",") if f.strip()]


class BulkWriter:
    """Runs one or more ingest jobs for one batch and maps every row back."""

    def __init__(self, client: SalesforceClient, poll_timeout: float) -> None:
        self._client = client
        self._poll_timeout = poll_timeout

    def run(
        self,
        object_name: str,
        operation: str,
        rows: Sequence[Row],
        match: str | None = None,
    ) -> dict[int, RecordOutcome]:
        """``operation`` is the Bulk name: insert, update, upsert or delete."""
        header, lines = self._table(operation, rows, match)
        if operation == "upsert":
            key_columns = [match or ""]
        elif operation in ("update", "delete"):
            key_columns = ["Id"]
        else:
            key_columns = header
        outcomes: dict[int, RecordOutcome] = {}
        started = 0
        for part_rows, part_lines in self._split(rows, header, lines):
            try:
                outcomes.update(self._job(object_name, operation, match, header, key_columns, part_rows, part_lines))
                started += 1
            except (TransientError, DestinationError) as exc:
                if not started:
                    raise
                # Earlier jobs wrote data: report, don't raise (see module doc).
                for row in part_rows:
                    outcomes[row.index] = failure(row.record.key, exc.code, str(exc), retryable=True)
                    if isinstance(exc, TransientError):
                        outcomes[row.index].category = "TRANSIENT"
        if operation in ("delete", "hardDelete"):
            for index, outcome in outcomes.items():
                # Deleting what is already deleted leaves the intended state, as on the Collections path.
                if outcome.error_code == "ENTITY_IS_DELETED":
                    row_id = outcome.destination_id or next(r.record_id for r in rows if r.index == index)
                    outcomes[index] = RecordOutcome.ok(outcome.key, row_id)
        return outcomes

    # -- CSV -----------------------------------------------------------------

    def _table(self, operation: str, rows: Sequence[Row], match: str | None) -> tuple[list[str], list[list[str]]]:
        if operation == "delete":
            return ["Id"], [[str(r.record_id)] for r in rows]
        columns: dict[str, None] = {}
        if operation == "update":
            columns["Id"] = None
        if match and operation == "upsert":
            columns[match] = None
        for row in rows:
            for name in row.values:
                if not (operation == "update" and name.lower() == "id"):
                    columns.setdefault(name, None)
            for lk in row.lookups:
                if lk.value is None:  # clearing the lookup sets the Id field to #N/A
                    columns.setdefault(lk.field, None)
                else:
                    columns.setdefault(_lookup_column(lk.relationship, lk.match, lk.parent_type), None)
        header = list(columns)
        lines = []
        for row in rows:
            # row.values and lookup values are wire values already (shape.prepare)
            cells: dict[str, str] = {name: wire_to_csv(value) for name, value in row.values.items()}
            for lk in row.lookups:
                if lk.value is None:
                    cells[lk.field] = CSV_NULL
                else:
                    cells[_lookup_column(lk.relationship, lk.match, lk.parent_type)] = wire_to_csv(lk.value)
            if operation == "update":
                cells["Id"] = str(row.record_id)
            # A missing cell stays empty: Bulk leaves that field unchanged.
            lines.append([cells.get(name, "") for name in header])
        return header, lines

    @staticmethod
    def _split(
        rows: Sequence[Row], header: list[str], lines: list[list[str]]
    ) -> list[tuple[list[Row], list[list[str]]]]:
        parts: list[tuple[list[Row], list[list[str]]]] = []
        size = len(",".join(header)) + 1
        current_rows: list[Row] = []
        current_lines: list[list[str]] = []
        for row, line in zip(rows, lines, strict=False):
            line_size = sum(len(c.encode("utf-8")) + 3 for c in line) + 1
            if current_rows and size + line_size > MAX_UPLOAD_BYTES:
                parts.append((current_rows, current_lines))
                current_rows, current_lines, size = [], [], len(",".join(header)) + 1
            current_rows.append(row)
            current_lines.append(line)
            size += line_size
        if current_rows:
            parts.append((current_rows, current_lines))
        return parts

    # -- one job --------------------------------------------------------------

    def _job(
        self,
        object_name: str,
        operation: str,
        match: str | None,
        header: list[str],
        key_columns: list[str],
        rows: list[Row],
        lines: list[list[str]],
    ) -> dict[int, RecordOutcome]:
        spec: dict[str, Any] = {
            "object": object_name,
            "operation": operation,
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        }
        if operation == "upsert":
            spec["externalIdFieldName"] = match
        job = self._client.json("POST", "jobs/ingest", _json(spec))
        job_id = str(job["id"])
        self._client.count("bulk_jobs")
        try:
            self._client.request(
                "PUT",
                f"jobs/ingest/{job_id}/batches",
                data=csv_text([header, *lines]),
                content_type="text/csv; charset=UTF-8",
            )
            self._client.json("PATCH", f"jobs/ingest/{job_id}", _json({"state": "UploadComplete"}))
            info = self._wait(job_id)
        except BaseException:
            self._abort(job_id)
            raise
        state = str(info.get("state"))
        error_message = str(info.get("errorMessage") or f"Bulk job {job_id} ended {state}")
        invalid = state == "Failed" and "InvalidBatch" in error_message
        try:
            return self._results(job_id, key_columns, rows, lines, header, state, error_message, invalid)
        except (TransientError, DestinationError):
            if state == "JobComplete":
                raise
        # A failed job whose result files cannot be read: nothing to map.
        if invalid:
            return {r.index: failure(r.record.key, "INVALID_BATCH", error_message, retryable=False) for r in rows}
        raise TransientError(
            f"Salesforce Bulk job {job_id} for {object_name} ended {state}: {error_message}",
            code="BULK_JOB_FAILED",
        )

    def _wait(self, job_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + self._poll_timeout
        for _ in tries(None, 0.05, factor=1.6, cap=5.0, deadline=deadline):
            info = self._client.json("GET", f"jobs/ingest/{job_id}")
            if info.get("state") in _TERMINAL:
                return dict(info)
        raise TransientError(
            f"Salesforce Bulk job {job_id} did not finish within {self._poll_timeout:g}s (aborted)",
            code="BULK_TIMEOUT",
        )

    def _abort(self, job_id: str) -> None:
        # Best effort: the error that led here is the one to report.
        with contextlib.suppress(TransientError, DestinationError):
            self._client.json("PATCH", f"jobs/ingest/{job_id}", _json({"state": "Aborted"}))

    def _csv(self, job_id: str, kind: str) -> list[dict[str, str]]:
        response = self._client.request("GET", f"jobs/ingest/{job_id}/{kind}/", accept="text/csv")
        # NUL is dropped (Python 3.10's csv refuses it); keys are compared without it too.
        text = response.content.decode("utf-8-sig").replace("\x00", "")
        return list(csv.DictReader(io.StringIO(text, newline="")))

    def _results(
        self,
        job_id: str,
        key_columns: list[str],
        rows: list[Row],
        lines: list[list[str]],
        header: list[str],
        state: str,
        error_message: str,
        invalid: bool,
    ) -> dict[int, RecordOutcome]:
        positions = [header.index(c) for c in key_columns]
        waiting: dict[tuple[str, ...], deque[Row]] = defaultdict(deque)
        keys: list[tuple[tuple[str, ...], Row]] = []
        for row, line in zip(rows, lines, strict=False):
            key = tuple([line[p].replace("\x00", "") for p in positions])
            waiting[key].append(row)
            keys.append((key, row))
        #: the same rows by case-folded key, built on the first result whose key is not as sent
        folded: dict[tuple[str, ...], deque[Row]] = defaultdict(deque)
        done: dict[int, RecordOutcome] = {}

        def take(result: dict[str, str]) -> Row | None:
            key = tuple([result.get(c, "") or "" for c in key_columns])
            exact = waiting.get(key)
            if exact:  # the usual case: the key as sent
                while exact:
                    row = exact.popleft()
                    if row.index not in done:
                        return row
            if not folded:
                for sent, row in keys:
                    folded[tuple([k.casefold() for k in sent])].append(row)
            queue = folded.get(tuple([k.casefold() for k in key]))
            while queue:
                row = queue.popleft()
                if row.index not in done:
                    return row
            return None

        for result in self._csv(job_id, "successfulResults"):
            if (hit := take(result)) is not None:
                created = (result.get("sf__Created") or "").lower()
                done[hit.index] = RecordOutcome.ok(
                    hit.record.key, result.get("sf__Id") or hit.record_id, created == "true" if created else None
                )
        for result in self._csv(job_id, "failedResults"):
            if (hit := take(result)) is not None:
                code, message, fields = parse_sf_error(result.get("sf__Error", ""))
                done[hit.index] = failure(
                    hit.record.key, code, message, fields, destination_id=result.get("sf__Id") or None
                )
        for result in self._csv(job_id, "unprocessedrecords"):
            if (hit := take(result)) is not None:
                done[hit.index] = failure(
                    hit.record.key,
                    "INVALID_BATCH" if invalid else "UNPROCESSED",
                    f"Bulk job {job_id} ({state}) did not process this record: {error_message}",
                    retryable=not invalid,
                )
        for row in rows:
            if row.index not in done:
                done[row.index] = failure(
                    row.record.key,
                    "NO_RESULT",
                    f"Bulk job {job_id} ({state}) returned no result for this record",
                    retryable=True,
                )
        return done


def _lookup_column(relationship: str, match: str, parent_type: str | None) -> str:
    return f"{parent_type}:{relationship}.{match}" if parent_type else f"{relationship}.{match}"


def _json(value: Any) -> str:
    return json.dumps(value)
