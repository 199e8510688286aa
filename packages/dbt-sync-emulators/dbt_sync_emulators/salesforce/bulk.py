"""Bulk API 2.0 ingest jobs: state machine, CSV parsing and result files.

The real service processes a closed job asynchronously, in internal batches
of 10,000 rows, and a client learns the outcome only by polling and then
downloading result CSVs. The emulator does the same: closing a job starts a
worker thread, polls report ``InProgress`` at least
``min_in_progress_polls`` times, and result rows come back shuffled (with a
seeded RNG) because Salesforce does not keep input order either.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from . import csvfile
from .errors import ApiError, RecordError, not_found
from .faults import Faults
from .fields import FieldMeta, ObjectMeta, TypeMismatch, format_datetime, id18
from .store import Changes, Store, WriteOutcome

DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
INTERNAL_BATCH = 10_000
TERMINAL = ("JobComplete", "Failed", "Aborted")


@dataclass
class _Column:
    name: str
    field: FieldMeta
    parent: ObjectMeta | None = None
    parent_field: FieldMeta | None = None


@dataclass
class Job:
    """One ingest job and everything needed to answer polls and result downloads."""

    id: str
    operation: str
    object: str
    external_id_field: str | None
    column_delimiter: str
    line_ending: str
    api_version: str
    created: str
    state: str = "Open"
    data: bytes | None = None
    error_message: str | None = None
    processed: int = 0
    failed: int = 0
    finished: bool = False
    final_state: str = "JobComplete"
    in_progress_polls: int = 0
    processing_ms: int = 0
    header: list[str] = field(default_factory=list)
    successes: list[tuple[str, bool, list[str]]] = field(default_factory=list)
    failures: list[tuple[str, str, list[str]]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    modstamp: str = ""

    def info(self, full: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": "0055g0000000001AAA",
            "createdDate": self.created,
            "systemModstamp": self.modstamp or self.created,
            "state": self.state,
            "externalIdFieldName": self.external_id_field or "Id",
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version),
            "contentUrl": f"services/data/v{self.api_version}/jobs/ingest/{self.id}/batches",
            "lineEnding": self.line_ending,
            "columnDelimiter": self.column_delimiter,
        }
        if full:
            out.update({
                "jobType": "V2Ingest",
                "numberRecordsProcessed": self.processed,
                "numberRecordsFailed": self.failed,
                "retries": 0,
                "totalProcessingTime": self.processing_ms,
                "apiActiveProcessingTime": self.processing_ms,
                "apexProcessingTime": 0,
            })
            if self.state == "Failed" and self.error_message:
                out["errorMessage"] = self.error_message
        return out


def _now() -> str:
    return format_datetime(dt.datetime.now(dt.timezone.utc))


def _job_error(message: str, status: int = 400, code: str = "INVALIDJOB") -> ApiError:
    return ApiError(status, code, message)


class BulkIngest:
    """All ingest jobs of one emulator."""

    def __init__(self, store: Store, faults: Faults, seed: int = 1234) -> None:
        self.store = store
        self.faults = faults
        self.seed = seed
        #: polls that must see ``InProgress`` before a finished job reports its final state
        self.min_in_progress_polls = 1
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._seq = 0

    def reset(self) -> None:
        with self._lock:
            self._jobs.clear()

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    # ---- job lifecycle ----

    def create(self, body: dict[str, Any], version: str) -> dict[str, Any]:
        operation = body.get("operation")
        if operation not in OPERATIONS:
            raise _job_error(f"InvalidJob : Invalid operation: {operation}")
        meta = self.store.meta(str(body.get("object") or ""))
        if meta is None:
            raise _job_error(f"InvalidJob : Unable to find object: {body.get('object')}")
        delimiter = body.get("columnDelimiter") or "COMMA"
        if delimiter not in DELIMITERS:
            raise _job_error(f"InvalidJob : Invalid column delimiter: {delimiter}")
        line_ending = body.get("lineEnding") or "LF"
        if line_ending not in ("LF", "CRLF"):
            raise _job_error(f"InvalidJob : Invalid line ending: {line_ending}")
        if (body.get("contentType") or "CSV") != "CSV":
            raise _job_error(f"InvalidJob : Invalid content type: {body.get('contentType')}")
        ext = body.get("externalIdFieldName")
        if operation == "upsert":
            if not ext:
                raise _job_error("InvalidJob : External ID field is required for upsert")
            fm = meta.field(ext)
            if fm is None or not (fm.external_id or fm.id_lookup or fm.type == "id"):
                raise _job_error(
                    f"InvalidJob : Field name provided, {ext} does not match an External ID, "
                    f"Salesforce Id, or indexed field for {meta.name}"
                )
            ext = fm.name
        with self._lock:
            self._seq += 1
            job_id = id18(f"7505g{self._seq + 48271:010d}")
            job = Job(job_id, operation, meta.name, ext, delimiter, line_ending, version, _now())
            self._jobs[job_id] = job
        return job.info(full=False)

    def _job(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None and len(job_id) == 15:
            job = self._jobs.get(id18(job_id))
        if job is None:
            raise not_found()
        return job

    def upload(self, job_id: str, data: bytes) -> None:
        with self._lock:
            job = self._job(job_id)
            if job.state != "Open":
                raise _job_error(f"Job {job.id} is not open for data upload: {job.state}", 409,
                                 "INVALIDJOBSTATE")
            if job.data is not None:
                raise _job_error(
                    f"Found multiple contents for job: <{job.id}>, please 'Close' / 'Abort' / 'Delete' the "
                    "current Job then create a new Job and make sure you only do 'PUT' once on a given Job.",
                    400, "INVALIDJOBSTATE")
            job.data = data

    def set_state(self, job_id: str, state: str) -> dict[str, Any]:
        with self._lock:
            job = self._job(job_id)
            if state == "UploadComplete":
                if job.state != "Open":
                    raise _job_error(f"Job {job.id} is not open: {job.state}", 409, "INVALIDJOBSTATE")
                job.state = "UploadComplete"
                job.modstamp = _now()
                info = job.info(full=False)
                threading.Thread(target=self._process, args=(job,), daemon=True,
                                 name=f"sf-bulk-{job.id}").start()
                return info
            if state == "Aborted":
                if job.state in TERMINAL:
                    raise _job_error(f"Job {job.id} is already {job.state}", 409, "INVALIDJOBSTATE")
                job.state = "Aborted"
                job.final_state = "Aborted"
                job.modstamp = _now()
                return job.info(full=False)
            raise _job_error(f"InvalidJob : Invalid state: {state}")

    def get(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            job = self._job(job_id)
            if job.state == "InProgress":
                if job.finished and job.in_progress_polls >= self.min_in_progress_polls:
                    job.state = job.final_state
                    job.modstamp = _now()
                else:
                    job.in_progress_polls += 1
            return job.info()

    def delete(self, job_id: str) -> None:
        with self._lock:
            job = self._job(job_id)
            if job.state not in (*TERMINAL, "UploadComplete", "Open"):
                raise _job_error(f"Job {job.id} cannot be deleted while {job.state}", 409, "INVALIDJOBSTATE")
            del self._jobs[job.id]

    def list_jobs(self) -> dict[str, Any]:
        with self._lock:
            return {"done": True, "records": [j.info(full=False) for j in self._jobs.values()],
                    "nextRecordsUrl": None}

    # ---- processing ----

    def _process(self, job: Job) -> None:
        started = time.monotonic()
        with self._lock:
            if job.state == "Aborted":
                return
            job.state = "InProgress"
        try:
            self._run(job)
        except Exception as exc:  # a bug or a raising validation rule: fail the job, keep serving
            self._fail(job, f"InternalServerError : {type(exc).__name__}: {exc}")
        with self._lock:
            job.processing_ms = int((time.monotonic() - started) * 1000)
            job.finished = True

    def _fail(self, job: Job, message: str) -> None:
        with self._lock:
            job.final_state = "Failed"
            job.error_message = message
            job.processed = 0
            job.failed = 0

    def _run(self, job: Job) -> None:
        text = (job.data or b"").decode("utf-8-sig", errors="replace")
        parsed = csvfile.parse(text, DELIMITERS[job.column_delimiter])
        if not parsed:
            self._fail(job, "InvalidBatch : Records not processed; the job has no data")
            return
        bad = next(((n, r.error) for n, r in enumerate(parsed, start=1) if r.error), None)
        if bad is not None:
            self._fail(job, f"InvalidBatch : Failed to parse CSV. Row {bad[0]}: {bad[1]}")
            return
        job.header, body = parsed[0].cells, [r.cells for r in parsed[1:]]
        job.unprocessed = body
        forced = self.faults.take_bulk_failure()
        if forced is not None:
            self._fail(job, forced)
            return
        meta = self.store.meta(job.object)
        assert meta is not None
        columns = self._columns(meta, job)
        if isinstance(columns, str):
            self._fail(job, columns)
            return
        key_index = self._key_index(job, columns)
        if isinstance(key_index, str):
            self._fail(job, key_index)
            return
        duplicates = self._duplicate_keys(job, columns, key_index, body)
        width = len(job.header)
        for start in range(0, len(body), INTERNAL_BATCH):
            chunk = body[start:start + INTERNAL_BATCH]
            with self.store.lock:
                results = [self._row(job, meta, columns, key_index, duplicates, row, width) for row in chunk]
            with self._lock:
                if job.state == "Aborted":
                    job.unprocessed = body[start:]
                    return
                for row, outcome in zip(chunk, results, strict=True):
                    if outcome.success:
                        job.successes.append((outcome.id or "", outcome.created, row))
                    else:
                        job.failures.append((outcome.id or "", _bulk_error(outcome.errors[0]), row))
                job.processed += len(chunk)
                job.failed += sum(1 for o in results if not o.success)
                job.unprocessed = body[start + len(chunk):]

    def _columns(self, meta: ObjectMeta, job: Job) -> list[_Column] | str:
        cols: list[_Column] = []
        for name in job.header:
            col = _resolve_column(self.store, meta, name.strip())
            if col is None:
                return f"InvalidBatch : Field name not found : {name}"
            cols.append(col)
        return cols

    @staticmethod
    def _key_index(job: Job, columns: list[_Column]) -> int | str | None:
        if job.operation == "insert":
            return None
        key = job.external_id_field if job.operation == "upsert" else "Id"
        assert key is not None
        for i, col in enumerate(columns):
            if col.parent is None and col.field.name == key:
                return i
        if job.operation == "upsert":
            return f"InvalidBatch : Field name not found : {key}"
        return None if job.operation == "update" else f"InvalidBatch : Field name not found : {key}"

    @staticmethod
    def _duplicate_keys(job: Job, columns: list[_Column], key_index: int | str | None,
                        body: list[list[str]]) -> set[str]:
        if job.operation != "upsert" or not isinstance(key_index, int):
            return set()
        fm = columns[key_index].field
        seen: set[str] = set()
        dups: set[str] = set()
        for row in body:
            if key_index < len(row) and row[key_index] not in ("", "#N/A"):
                k = fm.norm(row[key_index])
                if k in seen:
                    dups.add(k)
                seen.add(k)
        return dups

    def _row(self, job: Job, meta: ObjectMeta, columns: list[_Column], key_index: int | str | None,
             duplicates: set[str], row: list[str], width: int) -> WriteOutcome:
        if len(row) < width:
            row.extend([""] * (width - len(row)))
        key = row[key_index] if isinstance(key_index, int) else ""
        if key == "#N/A":
            key = ""
        op = job.operation
        if op in ("delete", "hardDelete"):
            if not key:
                return WriteOutcome(None, errors=[RecordError("MISSING_ARGUMENT", "Id not specified")])
            return self.store.delete(meta, key)
        changes: Changes = {}
        errors: list[RecordError] = []
        for i, col in enumerate(columns):
            raw = row[i]
            if raw == "" or (i == key_index and op == "update"):
                continue
            fm = col.field
            if raw == "#N/A":
                changes[fm] = None
                continue
            if col.parent is not None:
                assert col.parent_field is not None
                resolved = self.store.resolve_parent(col.parent, col.parent_field, raw)
                if isinstance(resolved, RecordError):
                    errors.append(resolved)
                else:
                    changes[fm] = resolved
                continue
            try:
                value = fm.convert(fm, raw, True)
            except TypeMismatch as exc:
                errors.append(exc.record_error())
                continue
            if isinstance(value, RecordError):
                errors.append(value)
            else:
                changes[fm] = value
        if op == "insert":
            return self.store.create(meta, changes, errors)
        if op == "update":
            if not key:
                return WriteOutcome(None, errors=[RecordError("MISSING_ARGUMENT",
                                                              "Id not specified in an update call")])
            return self.store.update(meta, key, changes, errors)
        assert isinstance(key_index, int)
        key_field = columns[key_index].field
        if key and key_field.norm(key) in duplicates:
            return WriteOutcome(None, errors=[RecordError(
                "DUPLICATE_VALUE", f"Duplicate external id specified: {key}", (key_field.name,))])
        if key_field.type == "id":
            changes.pop(key_field, None)
        return self.store.upsert(meta, key_field, key, changes, errors)

    # ---- results ----

    def results(self, job_id: str, kind: str) -> str:
        with self._lock:
            job = self._job(job_id)
            delim = DELIMITERS[job.column_delimiter]
            rng = random.Random(self.seed * 1_000_003 + int.from_bytes(job.id.encode(), "big") % 1_000_003)
            out = io.StringIO()
            writer = csv.writer(out, delimiter=delim, lineterminator="\n")
            kind = kind.lower()
            if kind == "successfulresults":
                lines = [_quoted(["sf__Id", "sf__Created"], delim) + _tail(job.header, delim)]
                rows = [_quoted([rid, "true" if created else "false"], delim) + _row_text(writer, out, r, delim)
                        for rid, created, r in job.successes]
            elif kind == "failedresults":
                lines = [_quoted(["sf__Id", "sf__Error"], delim) + _tail(job.header, delim)]
                rows = [_quoted([rid, err], delim) + _row_text(writer, out, r, delim)
                        for rid, err, r in job.failures]
            elif kind == "unprocessedrecords":
                lines = [_row_text(writer, out, job.header, delim, lead=False)] if job.header else []
                rows = [_row_text(writer, out, r, delim, lead=False) for r in job.unprocessed]
            else:
                raise not_found()
            rng.shuffle(rows)
            return "".join(line + "\n" for line in lines + rows)


def _bulk_error(err: RecordError) -> str:
    fields = ",".join(err.fields)
    return f"{err.code}:{err.message}:{fields} --" if fields else f"{err.code}:{err.message}:--"


def _quoted(values: list[str], delim: str) -> str:
    return delim.join('"' + v.replace('"', '""') + '"' for v in values)


def _tail(header: list[str], delim: str) -> str:
    return "".join(delim + _csv_cell(h, delim) for h in header)


def _csv_cell(value: str, delim: str) -> str:
    if any(c in value for c in (delim, '"', "\n", "\r")):
        return '"' + value.replace('"', '""') + '"'
    return value


def _row_text(writer: Any, buf: io.StringIO, row: list[str], delim: str, lead: bool = True) -> str:
    text = delim.join(_csv_cell(v, delim) for v in row)
    return (delim + text) if lead and row else text


def _resolve_column(store: Store, meta: ObjectMeta, name: str) -> _Column | None:
    """A CSV header: a field name, or ``Relationship.ExternalIdField`` (``Type:Rel.Field`` if polymorphic)."""
    if "." not in name:
        fm = meta.field(name)
        return _Column(name, fm) if fm is not None else None
    rel_part, _, parent_field_name = name.partition(".")
    type_hint, _, rel_name = rel_part.rpartition(":")
    rel = meta.relationships.get(rel_name.lower())
    if rel is None or not rel.reference_to:
        return None
    parent = store.meta(type_hint or rel.reference_to[0])
    if parent is None or parent.name not in rel.reference_to:
        return None
    pf = parent.field(parent_field_name)
    if pf is None or not (pf.external_id or pf.id_lookup):
        return None
    return _Column(name, rel, parent, pf)
