"""The REST data API under ``/services/data/vNN.N/``: sObjects, Collections, query, limits, Bulk routes.

Handlers return :class:`Reply` or raise :class:`ApiError`; HTTP plumbing,
auth and usage counting live in :mod:`server`. Status codes and body shapes
follow what simple-salesforce parses (see docs/emulators-salesforce.md).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any
from urllib.parse import unquote

from .bulk import BulkIngest
from .errors import ROLLED_BACK, ApiError, RecordError, not_found
from .fields import FieldMeta, ObjectMeta, TypeMismatch, id18
from .soql import run_query
from .store import Changes, Store, WriteOutcome

JSON_TYPE = "application/json;charset=UTF-8"
CSV_TYPE = "text/csv"
COLLECTION_LIMIT = 200
#: records per query page (REST "Execute a SOQL Query": results come in batches of 2,000 by default)
QUERY_BATCH = 2000


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str | None = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(status: int, obj: Any) -> Reply:
    return Reply(status, dumps(obj).encode())


def dumps(obj: Any) -> str:
    """JSON text with each ``Decimal`` written as a number, digit for digit."""
    marker = "\u0001dec:"

    def mark(value: Any) -> Any:
        if isinstance(value, Decimal):
            return marker + format(value, "f")
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [mark(v) for v in value]
        return value

    text = json.dumps(mark(obj))
    escaped = json.dumps(marker)[1:-1]
    if escaped not in text:
        return text
    return re.sub('"' + re.escape(escaped) + r'(-?[0-9.]+)"', r"\1", text)


@dataclass
class RestConfig:
    """Behaviour switches for details the reference notes mark UNVERIFIED."""

    #: status for a REST upsert that updated a record: 200 + ``created:false`` (v46+) or 204 (older)
    upsert_update_status: int = 200
    #: a JSON value of the wrong type: "request" → whole-request 400 JSON_PARSER_ERROR,
    #: "record" → per-record INVALID_TYPE_ON_FIELD_IN_RECORD
    type_errors: str = "request"
    #: numbers beyond a field's scale: "as_sent" (the API stores them unrounded) or "round_half_up" (the UI's rule)
    number_scale: str = "as_sent"
    #: the 400 error for a Collections request with more than 200 records
    collection_limit_code: str = "EXCEEDED_ID_LIMIT"
    collection_limit_message: str = "record limit reached. cannot submit more than 200 records into this call"


@dataclass
class Call:
    """One data API request, already authenticated."""

    method: str
    version: str
    segments: list[str]
    query: dict[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null", parse_float=Decimal)
        except ValueError:
            raise ApiError(400, "JSON_PARSER_ERROR",
                           "Unexpected character: was expecting a JSON value at [line:1, column:1]") from None


class DataApi:
    """Routes and handlers of the data API."""

    def __init__(self, store: Store, bulk: BulkIngest, config: RestConfig,
                 limits: Callable[[], dict[str, Any]]) -> None:
        self.store = store
        self.bulk = bulk
        self.config = config
        self.limits = limits
        self._cursor_lock = threading.Lock()
        self._cursors: dict[str, list[Any]] = {}
        self._cursor_seq = 0

    def handle(self, call: Call) -> Reply:
        seg = call.segments
        head = seg[0] if seg else ""
        m = call.method
        if head == "":
            return json_reply(200, {"sobjects": f"/services/data/v{call.version}/sobjects",
                                    "query": f"/services/data/v{call.version}/query",
                                    "limits": f"/services/data/v{call.version}/limits",
                                    "composite": f"/services/data/v{call.version}/composite",
                                    "jobs": f"/services/data/v{call.version}/jobs"})
        if head == "sobjects":
            return self._sobjects(call, seg[1:])
        if head == "composite" and len(seg) >= 2 and seg[1] == "sobjects":
            return self._collections(call, seg[2:])
        if head in ("query", "queryAll") and m == "GET" and len(seg) == 1:
            if "q" not in call.query:
                raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
            with self.store.lock:
                result = run_query(self.store, call.query["q"], call.version)
            return json_reply(200, self._first_page(result, f"/services/data/v{call.version}/{head}"))
        if head in ("query", "queryAll") and m == "GET" and len(seg) == 2:
            return json_reply(200, self._next_page(seg[1], f"/services/data/v{call.version}/{head}"))
        if head == "limits" and m == "GET":
            return json_reply(200, self.limits())
        if head == "jobs" and len(seg) >= 2 and seg[1] == "ingest":
            return self._bulk(call, seg[2:])
        raise not_found()

    # ---- query paging ----

    def _first_page(self, result: dict[str, Any], base: str) -> dict[str, Any]:
        """Up to ``QUERY_BATCH`` records; the rest stay behind a query locator."""
        records = result["records"]
        if len(records) <= QUERY_BATCH:
            return result
        with self._cursor_lock:
            self._cursor_seq += 1
            locator = id18(f"01g5g{self._cursor_seq:010d}")
            self._cursors[locator] = records
        return self._page(locator, records, 0, result["totalSize"], base)

    def _next_page(self, token: str, base: str) -> dict[str, Any]:
        locator, _, offset = token.rpartition("-")
        with self._cursor_lock:
            records = self._cursors.get(locator)
        if records is None or not offset.isdigit() or int(offset) >= len(records):
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(locator, records, int(offset), len(records), base)

    def _page(self, locator: str, records: list[Any], start: int, total: int, base: str) -> dict[str, Any]:
        end = start + QUERY_BATCH
        page: dict[str, Any] = {"totalSize": total, "done": end >= len(records)}
        if end < len(records):
            page["nextRecordsUrl"] = f"{base}/{locator}-{end}"
        else:
            with self._cursor_lock:
                self._cursors.pop(locator, None)
        page["records"] = records[start:end]
        return page

    # ---- sObject REST ----

    def _meta(self, name: str) -> ObjectMeta:
        meta = self.store.meta(name)
        if meta is None:
            raise not_found()
        return meta

    def _sobjects(self, call: Call, seg: list[str]) -> Reply:
        m = call.method
        if not seg:
            if m != "GET":
                raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{m}' not allowed. Allowed are GET")
            return json_reply(200, self._describe_global(call.version))
        meta = self._meta(seg[0])
        rest = [unquote(s) for s in seg[1:]]
        if not rest:
            if m == "POST":
                return self._create_one(call, meta)
            if m == "GET":
                return json_reply(200, {"objectDescribe": _summary(meta.describe, call.version),
                                        "recentItems": []})
        elif len(rest) == 1 and rest[0] == "describe" and m == "GET":
            return json_reply(200, self._describe(meta, call.version))
        elif len(rest) == 1:
            return self._by_id(call, meta, rest[0])
        elif len(rest) == 2:
            return self._by_external_id(call, meta, rest[0], rest[1])
        raise not_found()

    def _describe_global(self, version: str) -> dict[str, Any]:
        return {"encoding": "UTF-8", "maxBatchSize": 200,
                "sobjects": [_summary(m.describe, version) for m in self.store.all_meta()]}

    @staticmethod
    def _describe(meta: ObjectMeta, version: str) -> dict[str, Any]:
        out = dict(meta.describe)
        out["urls"] = _summary(meta.describe, version)["urls"]
        return out

    def _prepare(self, meta: ObjectMeta, body: Any) -> tuple[Changes, list[RecordError]]:
        if not isinstance(body, dict):
            raise ApiError(400, "JSON_PARSER_ERROR",
                           "Cannot deserialize instance of sObject from non-object value at [line:1, column:1]")
        try:
            return self.store.prepare_json(meta, body)
        except TypeMismatch as exc:
            if self.config.type_errors == "record":
                return {}, [exc.record_error()]
            raise ApiError(400, "JSON_PARSER_ERROR", exc.parser_message()) from None

    @staticmethod
    def _single_errors(outcome: WriteOutcome) -> ApiError:
        first = outcome.errors[0]
        extra = [e.as_rest_error() for e in outcome.errors[1:]]
        return ApiError(400, first.code, first.message, list(first.fields), extra)

    def _create_one(self, call: Call, meta: ObjectMeta) -> Reply:
        body = call.json()
        with self.store.lock:
            changes, errors = self._prepare(meta, body)
            outcome = self.store.create(meta, changes, errors)
        if not outcome.success:
            raise self._single_errors(outcome)
        return json_reply(201, {"id": outcome.id, "success": True, "errors": []})

    def _by_id(self, call: Call, meta: ObjectMeta, record_id: str) -> Reply:
        m = call.method
        with self.store.lock:
            rec = self.store.get(meta, record_id)
            if m == "GET":
                if rec is None:
                    raise not_found()
                return json_reply(200, self._render(meta, rec, call))
            if m == "PATCH":
                if rec is None:
                    raise not_found()
                changes, errors = self._prepare(meta, call.json())
                outcome = self.store.update(meta, rec["Id"], changes, errors)
                if not outcome.success:
                    raise self._single_errors(outcome)
                return Reply(204, content_type=None)
            if m == "DELETE":
                outcome = self.store.delete(meta, record_id)
                if not outcome.success:
                    err = outcome.errors[0]
                    if err.code == "ENTITY_IS_DELETED":
                        raise ApiError(404, err.code, err.message, [])
                    if err.code == "UNABLE_TO_LOCK_ROW":
                        raise self._single_errors(outcome)
                    raise not_found()
                return Reply(204, content_type=None)
        raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{m}' not allowed. Allowed are GET,PATCH,DELETE")

    def _key_field(self, meta: ObjectMeta, name: str) -> FieldMeta:
        fm = meta.field(name)
        if fm is None or not (fm.external_id or fm.type == "id"):
            raise not_found()
        return fm

    def _by_external_id(self, call: Call, meta: ObjectMeta, field_name: str, value: str) -> Reply:
        m = call.method
        fm = self._key_field(meta, field_name)
        with self.store.lock:
            ids = self.store.find(meta, fm, value)
            if len(ids) > 1:
                urls = [f"/services/data/v{call.version}/sobjects/{meta.name}/{i}" for i in ids]
                return json_reply(300, urls)
            if m == "GET":
                if not ids:
                    raise not_found()
                return json_reply(200, self._render(meta, self.store.get(meta, ids[0]) or {}, call))
            if m == "DELETE":
                if not ids:
                    raise not_found()
                outcome = self.store.delete(meta, ids[0])
                if not outcome.success:
                    raise self._single_errors(outcome)
                return Reply(204, content_type=None)
            if m not in ("PATCH", "POST"):
                raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{m}' not allowed.")
            if not ids and call.query.get("updateOnly", "").lower() == "true":
                raise not_found()
            changes, errors = self._prepare(meta, call.json())
            outcome = self.store.upsert(meta, fm, value, changes, errors)
        if not outcome.success:
            raise self._single_errors(outcome)
        if not outcome.created and self.config.upsert_update_status == 204:
            return Reply(204, content_type=None)
        return json_reply(201 if outcome.created else 200,
                          {"id": outcome.id, "success": True, "errors": [], "created": outcome.created})

    def _render(self, meta: ObjectMeta, rec: dict[str, Any], call: Call) -> dict[str, Any]:
        wanted = call.query.get("fields")
        names = ([f.name for f in (meta.field(n.strip()) for n in wanted.split(",")) if f]
                 if wanted else [f.name for f in meta.ordered])
        out: dict[str, Any] = {"attributes": {
            "type": meta.name, "url": f"/services/data/v{call.version}/sobjects/{meta.name}/{rec.get('Id')}"}}
        for n in names:
            out[n] = rec.get(n)
        return out

    # ---- Collections ----

    def _collections(self, call: Call, seg: list[str]) -> Reply:
        m = call.method
        if m == "DELETE" and not seg:
            ids = [i for i in call.query.get("ids", "").split(",") if i]
            all_or_none = call.query.get("allOrNone", "false").lower() == "true"
            self._check_size(len(ids))
            ops: list[Callable[[], WriteOutcome]] = [partial(self.store.delete, None, i) for i in ids]
            return self._run_batch(ops, all_or_none, "delete", list(ids))
        body = call.json()
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise ApiError(400, "JSON_PARSER_ERROR", "The request body must contain a 'records' array")
        records: list[Any] = body["records"]
        all_or_none = bool(body.get("allOrNone", False))
        self._check_size(len(records))
        if not all(isinstance(r, dict) for r in records):
            raise ApiError(400, "JSON_PARSER_ERROR", "Each record must be a JSON object")
        if m == "POST" and not seg:
            ops = [self._collection_create(r) for r in records]
            return self._run_batch(ops, all_or_none, "create", [None] * len(records))
        if m == "PATCH" and not seg:
            given = [str(r.get("id") or r.get("Id") or "") or None for r in records]
            ops = [self._collection_update(r) for r in records]
            return self._run_batch(ops, all_or_none, "update", given)
        if m == "PATCH" and len(seg) == 2:
            return self._collection_upsert(self._meta(seg[0]), seg[1], records, all_or_none)
        raise not_found()

    def _check_size(self, n: int) -> None:
        if n > COLLECTION_LIMIT:
            raise ApiError(400, self.config.collection_limit_code, self.config.collection_limit_message)

    def _type_of(self, record: dict[str, Any], default: str | None = None) -> ObjectMeta:
        name = (record.get("attributes") or {}).get("type") or default
        if not name:
            raise ApiError(400, "INVALID_INPUT",
                           "When creating or updating an sObject, the attributes.type field is required")
        meta = self.store.meta(str(name))
        if meta is None:
            raise ApiError(400, "INVALID_TYPE", f"sObject type '{name}' is not supported.")
        return meta

    def _collection_create(self, record: dict[str, Any]) -> Callable[[], WriteOutcome]:
        meta = self._type_of(record)

        def op() -> WriteOutcome:
            if record.get("id") or record.get("Id"):
                return WriteOutcome(None, errors=[RecordError("INVALID_FIELD", "cannot specify Id in an insert call",
                                                              ("Id",))])
            changes, errors = self._prepare(meta, record)
            return self.store.create(meta, changes, errors)
        return op

    def _collection_update(self, record: dict[str, Any]) -> Callable[[], WriteOutcome]:
        rid = str(record.get("id") or record.get("Id") or "")
        guess = self.store.object_for_id(rid) if rid else None
        meta = self._type_of(record, guess.name if guess else None)

        def op() -> WriteOutcome:
            if not rid:
                return WriteOutcome(None, errors=[RecordError("MISSING_ARGUMENT",
                                                              "Id not specified in an update call")])
            body = {k: v for k, v in record.items() if k not in ("id", "Id")}
            changes, errors = self._prepare(meta, body)
            return self.store.update(meta, rid, changes, errors)
        return op

    def _collection_upsert(self, meta: ObjectMeta, field_name: str, records: list[dict[str, Any]],
                           all_or_none: bool) -> Reply:
        fm = meta.field(field_name)
        if fm is None or not (fm.external_id or fm.id_lookup) or fm.type == "id":
            raise ApiError(400, "INVALID_FIELD",
                           f"Field name provided, {field_name} is not an External ID or indexed field "
                           f"for {meta.name}")
        for r in records:
            if self._type_of(r, meta.name).name != meta.name:
                raise ApiError(400, "INVALID_TYPE",
                               f"All records must be of type {meta.name} for this upsert request")
        keys: list[Any] = []
        for r in records:
            value = next((v for k, v in r.items() if k.lower() == fm.name.lower()), None)
            keys.append(value)
        seen: dict[str, int] = {}
        for k in keys:
            if k not in (None, ""):
                seen[fm.norm(k)] = seen.get(fm.norm(k), 0) + 1

        def make(r: dict[str, Any], key: Any) -> Callable[[], WriteOutcome]:
            def op() -> WriteOutcome:
                if key not in (None, "") and seen[fm.norm(key)] > 1:
                    return WriteOutcome(None, errors=[RecordError(
                        "DUPLICATE_VALUE", f"Duplicate external id specified: {key}", ())])
                if r.get("id") or r.get("Id"):
                    return WriteOutcome(None, errors=[RecordError(
                        "INVALID_FIELD", "Cannot specify Id in an upsert call with an external ID field",
                        ("Id",))])
                changes, errors = self._prepare(meta, r)
                return self.store.upsert(meta, fm, key, changes, errors)
            return op

        return self._run_batch([make(r, k) for r, k in zip(records, keys, strict=True)], all_or_none, "upsert",
                               [None] * len(records))

    def _run_batch(self, ops: Sequence[Callable[[], WriteOutcome]], all_or_none: bool, kind: str,
                   given_ids: Sequence[str | None]) -> Reply:
        with self.store.lock, self.store.transaction() as rollback:
            try:
                outcomes = [op() for op in ops]
            except ApiError:
                rollback()
                raise
            failed = any(not o.success for o in outcomes)
            if all_or_none and failed:
                rollback()
        results = []
        for outcome, given in zip(outcomes, given_ids, strict=True):
            res: dict[str, Any]
            if all_or_none and failed:
                errors = outcome.errors or [ROLLED_BACK]
                res = {"success": False, "errors": [e.as_collection_error() for e in errors]}
                if kind in ("update", "delete"):
                    res = {"id": given, **res}
            elif outcome.success:
                res = {"id": outcome.id, "success": True, "errors": []}
                if kind == "upsert":
                    res["created"] = outcome.created
            else:
                res = {"success": False, "errors": [e.as_collection_error() for e in outcome.errors]}
                if kind in ("update", "delete"):
                    res = {"id": given, **res}
            results.append(res)
        return json_reply(200, results)

    # ---- Bulk API 2.0 ingest ----

    def _bulk(self, call: Call, seg: list[str]) -> Reply:
        m = call.method
        if not seg:
            if m == "POST":
                body = call.json()
                if not isinstance(body, dict):
                    raise ApiError(400, "JSON_PARSER_ERROR", "Job definition must be a JSON object")
                return json_reply(200, self.bulk.create(body, call.version))
            if m == "GET":
                return json_reply(200, self.bulk.list_jobs())
            raise not_found()
        job_id = seg[0]
        if len(seg) == 1:
            if m == "GET":
                return json_reply(200, self.bulk.get(job_id))
            if m == "PATCH":
                body = call.json()
                state = body.get("state") if isinstance(body, dict) else None
                return json_reply(200, self.bulk.set_state(job_id, str(state)))
            if m == "DELETE":
                self.bulk.delete(job_id)
                return Reply(204, content_type=None)
            raise not_found()
        if len(seg) == 2 and seg[1] == "batches" and m == "PUT":
            self.bulk.upload(job_id, call.body)
            return Reply(201, content_type=None)
        if len(seg) == 2 and m == "GET" and seg[1].lower() in (
                "successfulresults", "failedresults", "unprocessedrecords"):
            return Reply(200, self.bulk.results(job_id, seg[1]).encode(), CSV_TYPE)
        raise not_found()


def _summary(describe: dict[str, Any], version: str) -> dict[str, Any]:
    name = describe["name"]
    base = f"/services/data/v{version}/sobjects/{name}"
    keys = ("name", "label", "labelPlural", "keyPrefix", "custom", "createable", "updateable", "deletable",
            "queryable", "searchable", "retrieveable", "undeletable", "triggerable", "layoutable")
    out = {k: describe.get(k) for k in keys}
    out["urls"] = {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}
    return out
