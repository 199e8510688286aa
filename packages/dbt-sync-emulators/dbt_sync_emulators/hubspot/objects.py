"""CRM object endpoints: v3 batch create/update/upsert/read/archive and single-object calls.

The status codes are the contract: hubspot-api-client deserialises only the
statuses in its generated map (create 201; update/upsert/read 200; 207 for
partial results) and silently returns None for any other 2xx, so every
handler returns exactly the status HubSpot does.

Per-input failures become 207 errors keyed by ``objectWriteTraceId`` when
every input carries one. Without trace ids, batch create fails the whole
batch (400, or 409 for an existing contact email), as HubSpot documents;
update/upsert follow ``settings.partial_updates_without_trace_ids``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .associations import HUBSPOT_DEFINED, AssociationGraph, AssocType
from .errors import ApiError, api_error, error_body, java_list, standard_error, validation_message
from .schema import ObjectTypeDef
from .settings import EmulatorSettings
from .store import Store, StoredObject, now
from .values import iso_ms

Response = tuple[int, Any]


@dataclass
class Failure:
    """Why one input failed; rendered as a 207 error item or a whole-batch error body."""

    status: int
    category: str
    message: str
    context: dict[str, list[str]] = field(default_factory=dict)
    sub_category: str | None = None

    def as_item(self) -> dict[str, Any]:
        return standard_error(self.category, self.message, self.context, self.sub_category)

    def as_api_error(self) -> ApiError:
        return ApiError(
            self.status,
            error_body(self.category, self.message, context=self.context or None, sub_category=self.sub_category),
        )


def inputs_of(body: Any, limit: int) -> list[dict[str, Any]]:
    """Pull ``inputs`` out of a batch body, enforcing the per-request input limit."""
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise api_error(400, "VALIDATION_ERROR", "Invalid input JSON: expected an object with an inputs array")
    inputs = body["inputs"]
    if len(inputs) > limit:
        raise api_error(
            400,
            "VALIDATION_ERROR",
            f"Batch input size of {len(inputs)} exceeds the maximum of {limit} inputs",
            context={"maxInputs": [str(limit)]},
        )
    for item in inputs:
        if not isinstance(item, dict):
            raise api_error(400, "VALIDATION_ERROR", "Invalid input JSON: each input must be an object")
    return inputs


def trace_of(item: Mapping[str, Any]) -> str | None:
    t = item.get("objectWriteTraceId")
    return None if t in (None, "") else str(t)


def all_traced(inputs: list[dict[str, Any]]) -> bool:
    """207 needs a unique trace id on every input; otherwise nothing could be attributed."""
    traces = [trace_of(i) for i in inputs]
    return bool(inputs) and all(traces) and len(set(traces)) == len(traces)


def envelope(results: list[dict[str, Any]], failures: list[Failure], started: str) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "COMPLETE", "results": results}
    if failures:
        body["numErrors"] = len(failures)
        body["errors"] = [f.as_item() for f in failures]
    body.update({"startedAt": started, "completedAt": iso_ms(now()), "links": {}})
    return body


class ObjectHandlers:
    """Implements the object routes against a :class:`Store` and :class:`AssociationGraph`."""

    def __init__(self, store: Store, graph: AssociationGraph, settings: EmulatorSettings) -> None:
        self.store = store
        self.graph = graph
        self.settings = settings

    # ---- shared checks ----------------------------------------------------------------

    def _context(self, item: Mapping[str, Any], with_id: bool) -> dict[str, list[str]]:
        ctx: dict[str, list[str]] = {}
        trace = trace_of(item)
        if trace:
            ctx["objectWriteTraceId"] = [trace]
        if with_id and item.get("id") is not None:
            ctx["ids"] = [str(item["id"])]
        return ctx

    def _check_values(
        self,
        otype: ObjectTypeDef,
        item: Mapping[str, Any],
        values: dict[str, str | object],
        issues: list[dict[str, Any]],
        exclude_id: str | None,
        claimed: dict[tuple[str, str], str],
        with_id: bool,
    ) -> Failure | None:
        """Validation, then unique-value conflicts against stored records and earlier inputs."""
        ctx = self._context(item, with_id)
        if issues:
            return Failure(400, "VALIDATION_ERROR", validation_message(issues), ctx)
        marker = exclude_id or f"input:{id(item)}"
        stored = self.store.conflicts(otype, values, exclude_id)
        if stored:
            name, value, holder = stored[0]
            return self._conflict(otype, name, value, holder, ctx)
        unique = self._unique_names(otype)
        keyed = [(n, v) for n, v in values.items() if isinstance(v, str) and n in unique]
        for name, value in keyed:
            earlier = claimed.get((name, value))
            if earlier is not None and earlier != marker:
                return self._conflict(otype, name, value, earlier, ctx)
        for name, value in keyed:
            claimed[(name, value)] = marker
        return None

    def _unique_names(self, otype: ObjectTypeDef) -> set[str]:
        return {n for n in otype.properties if self.store.can_be_id_property(otype, n)}

    def _conflict(self, otype: ObjectTypeDef, name: str, value: str, holder: str, ctx: dict[str, list[str]]) -> Failure:
        if self.store.is_email(otype, name):
            existing = holder if holder.isdigit() else "(created earlier in this batch)"
            return Failure(409, "CONFLICT", f"Contact already exists. Existing ID: {existing}", ctx)
        issue = {
            "isValid": False,
            "message": f"{value} already has that value.",
            "error": "OBJECT_ALREADY_EXISTS",
            "name": name,
        }
        return Failure(400, "VALIDATION_ERROR", validation_message([issue]), ctx)

    def _check_id_property(self, otype: ObjectTypeDef, id_property: str | None) -> None:
        if id_property and id_property != "hs_object_id" and not self.store.can_be_id_property(otype, id_property):
            raise api_error(
                400,
                "VALIDATION_ERROR",
                f"Unable to perform update/upsert by non-unique {otype.type_id} property {id_property} "
                f"in portal ID {self.settings.portal_id}",
            )

    def _check_duplicates(self, otype: ObjectTypeDef, inputs: list[dict[str, Any]]) -> None:
        seen: set[str] = set()
        dupes: list[str] = []
        for item in inputs:
            key = self.store.normalize_key(otype, item.get("idProperty") or "", item.get("id"))
            if key in seen and key not in dupes:
                dupes.append(key)
            seen.add(key)
        if dupes:
            raise api_error(
                400,
                "VALIDATION_ERROR",
                f"Duplicate IDs found in batch input: {java_list(dupes)}. IDs must be unique",
                context={"ids": dupes},
            )

    def _associations(
        self, otype: ObjectTypeDef, item: Mapping[str, Any]
    ) -> tuple[list[tuple[AssocType, str]], Failure | None]:
        """Inline ``associations`` of a create input: resolve the type ids and check targets exist."""
        links: list[tuple[AssocType, str]] = []
        for assoc in item.get("associations") or []:
            to_id = str((assoc.get("to") or {}).get("id", ""))
            for spec in assoc.get("types") or []:
                category = spec.get("associationCategory", HUBSPOT_DEFINED)
                t = self.graph.types.get(category, int(spec.get("associationTypeId", -1)))
                if t is None or t.from_type != otype.type_id:
                    msg = (
                        f"{category} {spec.get('associationTypeId')} is not a valid "
                        f"association type id for {otype.name}"
                    )
                    return [], Failure(400, "VALIDATION_ERROR", msg, self._context(item, False))
                if self.store.get(self.store.types[t.to_type], to_id) is None:
                    msg = f"{self.store.types[t.to_type].label} {to_id} does not exist"
                    return [], Failure(400, "VALIDATION_ERROR", msg, self._context(item, False))
                links.append((t, to_id))
        return links, None

    # ---- batch endpoints ------------------------------------------------------------------

    def _required(self, items: list[dict[str, Any]], field: str) -> None:
        """``settings.require_spec_request_fields``: refuse a body without a field the spec requires."""
        if self.settings.require_spec_request_fields and any(field not in item for item in items):
            raise api_error(
                400, "VALIDATION_ERROR",
                f"Invalid input JSON on line 1, column 1: Some required fields were not set: [{field}]",
            )

    def batch_create(self, otype: ObjectTypeDef, body: Any) -> Response:
        started = iso_ms(now())
        inputs = inputs_of(body, self.settings.max_batch_inputs)
        self._required(inputs, "associations")
        partial = all_traced(inputs)
        with self.store.lock:
            plan: list[tuple[dict[str, Any], dict[str, str | object], list[tuple[AssocType, str]]]] = []
            failures: list[Failure] = []
            claimed: dict[tuple[str, str], str] = {}
            for item in inputs:
                values, issues = self.store.validate(otype, item.get("properties"))
                failure = self._check_values(otype, item, values, issues, None, claimed, False)
                links: list[tuple[AssocType, str]] = []
                if failure is None:
                    links, failure = self._associations(otype, item)
                if failure is not None:
                    if not partial:
                        raise failure.as_api_error()
                    failures.append(failure)
                else:
                    plan.append((item, values, links))
            results = []
            for item, values, links in plan:
                obj = self.store.create(otype, values)
                for t, to_id in links:
                    self.graph.add(t, obj.id, to_id)
                results.append(self._result(otype, obj, item))
        return (207 if failures else 201), envelope(results, failures, started)

    def batch_update(self, otype: ObjectTypeDef, body: Any) -> Response:
        return self._write_existing(otype, body, upsert=False)

    def batch_upsert(self, otype: ObjectTypeDef, body: Any) -> Response:
        return self._write_existing(otype, body, upsert=True)

    def _write_existing(self, otype: ObjectTypeDef, body: Any, *, upsert: bool) -> Response:
        started = iso_ms(now())
        inputs = inputs_of(body, self.settings.max_batch_inputs)
        for item in inputs:
            self._check_id_property(otype, item.get("idProperty"))
        self._check_duplicates(otype, inputs)
        partial = all_traced(inputs) or self.settings.partial_updates_without_trace_ids
        with self.store.lock:
            plan: list[tuple[dict[str, Any], StoredObject | None, dict[str, str | object]]] = []
            failures: list[Failure] = []
            claimed: dict[tuple[str, str], str] = {}
            for item in inputs:
                id_property = item.get("idProperty")
                failure: Failure | None = None
                obj = self.store.find(otype, id_property, item.get("id"))
                props = dict(item.get("properties") or {})
                if obj is None and upsert and id_property and id_property != "hs_object_id":
                    props[id_property] = item.get("id")
                values, issues = self.store.validate(otype, props)
                if obj is None and not (upsert and id_property and id_property != "hs_object_id"):
                    failure = Failure(
                        404 if not partial else 400,
                        "OBJECT_NOT_FOUND",
                        f"Object not found. objectId are usually numeric. ({otype.label} {item.get('id')})",
                        self._context(item, True),
                    )
                else:
                    failure = self._check_values(otype, item, values, issues, obj.id if obj else None, claimed, True)
                if failure is not None:
                    if not partial:
                        raise failure.as_api_error()
                    failures.append(failure)
                else:
                    plan.append((item, obj, values))
            results = []
            for item, found, values in plan:
                if found is None:
                    obj = self.store.create(otype, values)
                else:
                    obj = found
                    self.store.update(otype, obj, values)
                result = self._result(otype, obj, item)
                if upsert:
                    result["new"] = found is None
                results.append(result)
        return (207 if failures else 200), envelope(results, failures, started)

    def batch_read(self, otype: ObjectTypeDef, body: Any, archived: bool) -> Response:
        started = iso_ms(now())
        inputs = inputs_of(body, self.settings.max_batch_inputs)
        self._required([body], "propertiesWithHistory")
        names = self._requested(otype, body.get("properties"))
        id_property = body.get("idProperty")
        self._check_id_property(otype, id_property)
        results, missing = [], []
        with self.store.lock:
            for item in inputs:
                obj = self.store.find(otype, id_property, item.get("id"), archived=archived)
                if obj is None:
                    missing.append(str(item.get("id")))
                else:
                    results.append(obj.to_json(otype, names))
        failures = []
        if missing:
            failures.append(
                Failure(
                    404,
                    "OBJECT_NOT_FOUND",
                    f"Could not get some {otype.label} objects, they may be deleted or not exist. "
                    "Check that ids are valid.",
                    {"ids": missing},
                )
            )
        return (207 if failures else 200), envelope(results, failures, started)

    def batch_archive(self, otype: ObjectTypeDef, body: Any) -> Response:
        inputs = inputs_of(body, self.settings.max_batch_inputs)
        with self.store.lock:
            for item in inputs:
                obj = self.store.get(otype, item.get("id"))
                if obj is not None:
                    self.store.archive(otype, obj)
                    self.graph.drop_object(otype.type_id, obj.id)
        return 204, None

    # ---- single-object endpoints -------------------------------------------------------------

    def create_one(self, otype: ObjectTypeDef, body: Any) -> Response:
        if not isinstance(body, dict):
            raise api_error(400, "VALIDATION_ERROR", "Invalid input JSON: expected an object")
        with self.store.lock:
            values, issues = self.store.validate(otype, body.get("properties"))
            failure = self._check_values(otype, body, values, issues, None, {}, False)
            links: list[tuple[AssocType, str]] = []
            if failure is None:
                links, failure = self._associations(otype, body)
            if failure is not None:
                raise failure.as_api_error()
            obj = self.store.create(otype, values)
            for t, to_id in links:
                self.graph.add(t, obj.id, to_id)
            return 201, obj.to_json(otype)

    def get_one(self, otype: ObjectTypeDef, object_id: str, query: Mapping[str, list[str]]) -> Response:
        props = [p for v in query.get("properties", []) for p in v.split(",") if p]
        archived = query.get("archived", ["false"])[0] == "true"
        id_property = query.get("idProperty", [None])[0]
        with self.store.lock:
            obj = self.store.find(otype, id_property, object_id, archived=archived)
            if obj is None:
                raise api_error(404, "OBJECT_NOT_FOUND", "resource not found")
            return 200, obj.to_json(otype, self._requested(otype, props))

    def update_one(self, otype: ObjectTypeDef, object_id: str, body: Any, id_property: str | None) -> Response:
        self._check_id_property(otype, id_property)
        with self.store.lock:
            obj = self.store.require(otype, object_id, id_property)
            values, issues = self.store.validate(otype, (body or {}).get("properties"))
            failure = self._check_values(otype, body or {}, values, issues, obj.id, {}, False)
            if failure is not None:
                raise failure.as_api_error()
            self.store.update(otype, obj, values)
            return 200, obj.to_json(otype)

    def archive_one(self, otype: ObjectTypeDef, object_id: str) -> Response:
        with self.store.lock:
            obj = self.store.get(otype, object_id)
            if obj is not None:
                self.store.archive(otype, obj)
                self.graph.drop_object(otype.type_id, obj.id)
        return 204, None

    def list_page(self, otype: ObjectTypeDef, query: Mapping[str, list[str]]) -> Response:
        limit = min(100, int(query.get("limit", ["10"])[0]))
        after = int(query.get("after", ["0"])[0] or 0)
        props = [p for v in query.get("properties", []) for p in v.split(",") if p]
        archived = query.get("archived", ["false"])[0] == "true"
        with self.store.lock:
            live = sorted(
                (o for o in self.store.objects[otype.type_id].values() if o.archived == archived),
                key=lambda o: int(o.id),
            )
            page = [o for o in live if int(o.id) > after][:limit]
            body: dict[str, Any] = {"results": [o.to_json(otype, self._requested(otype, props)) for o in page]}
            if page and len([o for o in live if int(o.id) > after]) > limit:
                body["paging"] = {"next": {"after": page[-1].id, "link": ""}}
        return 200, body

    def search(self, otype: ObjectTypeDef, body: Any) -> Response:
        """``POST /search`` with EQ / IN / HAS_PROPERTY filters: enough to look records up by key."""
        body = body or {}
        limit = min(200, int(body.get("limit") or 10))
        after = int(body.get("after") or 0)
        groups = body.get("filterGroups") or []
        names = self._requested(otype, body.get("properties"))
        with self.store.lock:
            matches = [
                o
                for o in sorted(self.store.objects[otype.type_id].values(), key=lambda o: int(o.id))
                if not o.archived and (not groups or any(self._matches(otype, o, g) for g in groups))
            ]
            page = matches[after : after + limit]
            out: dict[str, Any] = {"total": len(matches), "results": [o.to_json(otype, names) for o in page]}
        if after + limit < len(matches):
            out["paging"] = {"next": {"after": str(after + limit)}}
        return 200, out

    def _matches(self, otype: ObjectTypeDef, obj: StoredObject, group: Mapping[str, Any]) -> bool:
        for f in group.get("filters") or []:
            name, op = f.get("propertyName"), f.get("operator", "EQ")
            actual = obj.id if name == "hs_object_id" else obj.properties.get(name)
            fold = self.store.is_email(otype, name) or name == "email"
            norm = (lambda v: str(v).lower()) if fold else (lambda v: str(v))
            if op == "EQ" and (actual is None or norm(actual) != norm(f.get("value"))):
                return False
            if op == "IN" and (actual is None or norm(actual) not in {norm(v) for v in f.get("values") or []}):
                return False
            if op == "HAS_PROPERTY" and actual is None:
                return False
            if op == "NOT_HAS_PROPERTY" and actual is not None:
                return False
        return True

    # ---- rendering -------------------------------------------------------------------------------

    @staticmethod
    def _requested(otype: ObjectTypeDef, props: Any) -> list[str]:
        return [str(p) for p in props] if props else list(otype.read_defaults)

    @staticmethod
    def _result(otype: ObjectTypeDef, obj: StoredObject, item: Mapping[str, Any]) -> dict[str, Any]:
        """A write result: the properties written plus the echoed system ones (and the trace id)."""
        written = [k for k, v in (item.get("properties") or {}).items() if k in otype.properties]
        id_property = item.get("idProperty")
        if id_property and id_property in otype.properties:
            written.append(id_property)
        result = obj.to_json(otype, written)
        trace = trace_of(item)
        if trace:
            result["objectWriteTraceId"] = trace
        return result
