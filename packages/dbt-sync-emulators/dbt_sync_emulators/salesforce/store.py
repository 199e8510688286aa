"""In-memory records with describe metadata enforced on every write.

Every write path (single REST, Collections, Bulk) funnels through
:meth:`Store.create`, :meth:`Store.update`, :meth:`Store.upsert` and
:meth:`Store.delete`, so a rule enforced here holds for all of them. Callers
hold :attr:`Store.lock` around a whole request (or one internal Bulk batch),
which gives ``allOrNone`` a consistent view and lets :meth:`Store.transaction`
undo exactly the writes of the failed request.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .errors import ROW_LOCK, RecordError
from .fields import (
    NUMBER_TYPES,
    STRING_TYPES,
    FieldMeta,
    ObjectMeta,
    TypeMismatch,
    format_datetime,
    id18,
    normalize_id,
    round_to_scale,
)

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass
class WriteOutcome:
    """Result of writing one record; ``errors`` empty means success."""

    id: str | None
    created: bool = False
    errors: list[RecordError] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class ValidationRule:
    """A validation rule: fires (rejects the write) when ``condition(record)`` is true."""

    name: str
    condition: Callable[[dict[str, Any]], bool]
    message: str
    fields: tuple[str, ...] = ()


Changes = dict[FieldMeta, Any]


def _base62(n: int, width: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = _BASE62[r] + out
    return out.rjust(width, "0")


class Store:
    """All objects, records and secondary indexes of one emulated org."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._objects: dict[str, ObjectMeta] = {}
        self._by_prefix: dict[str, ObjectMeta] = {}
        self._data: dict[str, dict[str, dict[str, Any]]] = {}
        # object name -> field name -> normalised value -> ids
        self._index: dict[str, dict[str, dict[str, set[str]]]] = {}
        self._deleted: set[str] = set()
        self._counters: dict[str, int] = {}
        self._rules: dict[str, list[ValidationRule]] = {}
        self._undo: list[tuple[str, str, dict[str, Any] | None]] | None = None
        #: called once per record write; True means "this row is locked" (fault injection)
        self.row_locked: Callable[[], bool] = lambda: False
        #: True: numbers are rounded half up to the field's scale (the UI's rule); False: kept as sent (the API's)
        self.round_numbers: Callable[[], bool] = lambda: False

    # ---- metadata ----

    def define(self, describe: dict[str, Any]) -> ObjectMeta:
        with self.lock:
            meta = ObjectMeta(describe)
            old = self._objects.get(meta.name.lower())
            if old is not None:
                self._by_prefix.pop(old.key_prefix, None)
            self._objects[meta.name.lower()] = meta
            self._by_prefix[meta.key_prefix] = meta
            records = self._data.setdefault(meta.name, {})
            self._index[meta.name] = {f.name: {} for f in meta.indexed}
            for rid, rec in records.items():
                self._index_add(meta, rid, rec)
            return meta

    def meta(self, name: str) -> ObjectMeta | None:
        return self._objects.get(name.lower())

    def all_meta(self) -> list[ObjectMeta]:
        return list(self._objects.values())

    def used_prefixes(self) -> set[str]:
        return set(self._by_prefix)

    def object_for_id(self, record_id: str) -> ObjectMeta | None:
        return self._by_prefix.get(record_id[:3])

    def add_rule(self, object_name: str, rule: ValidationRule) -> None:
        with self.lock:
            self._rules.setdefault(object_name.lower(), []).append(rule)

    def clear(self) -> None:
        """Drop every record; metadata and validation rules stay."""
        with self.lock:
            for meta in self._objects.values():
                self._data[meta.name] = {}
                self._index[meta.name] = {f.name: {} for f in meta.indexed}
            self._deleted.clear()

    # ---- reads ----

    def records(self, meta: ObjectMeta) -> list[dict[str, Any]]:
        return list(self._data[meta.name].values())

    def get(self, meta: ObjectMeta, record_id: str) -> dict[str, Any] | None:
        norm = normalize_id(record_id)
        return self._data[meta.name].get(norm) if norm else None

    def find(self, meta: ObjectMeta, fm: FieldMeta, value: Any) -> list[str]:
        """Ids of records whose ``fm`` equals ``value`` (Id, indexed fields, or a scan)."""
        if value is None or value == "":
            return []
        if fm.type == "id":
            norm = normalize_id(str(value))
            return [norm] if norm and norm in self._data[meta.name] else []
        idx = self._index[meta.name].get(fm.name)
        if idx is not None:
            return sorted(idx.get(fm.norm(value), ()))
        key = fm.norm(value)
        return [rid for rid, rec in self._data[meta.name].items()
                if rec.get(fm.name) is not None and fm.norm(rec[fm.name]) == key]

    # ---- preparing a write from JSON ----

    def prepare_json(self, meta: ObjectMeta, body: Mapping[str, Any]) -> tuple[Changes, list[RecordError]]:
        """Map a JSON record onto fields; unknown names and missing parents become record errors.

        Raises :class:`TypeMismatch` for a value of the wrong JSON type, which the
        caller reports per request or per record.
        """
        changes: Changes = {}
        errors: list[RecordError] = []
        for key, value in body.items():
            if key == "attributes":
                continue
            if isinstance(value, dict):
                rel = meta.relationships.get(key.lower())
                if rel is None:
                    errors.append(_no_such_column(key, meta))
                    continue
                resolved = self._resolve_parent_json(rel, value)
                if isinstance(resolved, RecordError):
                    errors.append(resolved)
                else:
                    changes[rel] = resolved
                continue
            fm = meta.fields.get(key.lower())
            if fm is None:
                errors.append(_no_such_column(key, meta))
                continue
            if value is None or (value == "" and fm.type in STRING_TYPES):
                # Salesforce stores '' in a text-like field as null (Apex DML and the APIs alike)
                changes[fm] = None
                continue
            converted = fm.convert(fm, value, False)
            if isinstance(converted, RecordError):
                errors.append(converted)
            else:
                changes[fm] = converted
        return changes, errors

    def _resolve_parent_json(self, rel: FieldMeta, value: dict[str, Any]) -> str | RecordError:
        keys = [k for k in value if k != "attributes"]
        type_hint = (value.get("attributes") or {}).get("type")
        parent_name = type_hint or (rel.reference_to[0] if rel.reference_to else "")
        parent = self.meta(parent_name)
        if parent is None or len(keys) != 1:
            return RecordError("INVALID_FIELD", f"Invalid foreign key relationship name {rel.relationship_name}",
                               (rel.name,))
        pf = parent.fields.get(keys[0].lower())
        if pf is None:
            return _no_such_column(keys[0], parent)
        return self.resolve_parent(parent, pf, value[keys[0]])

    def resolve_parent(self, parent: ObjectMeta, pf: FieldMeta, value: Any) -> str | RecordError:
        """The parent id for a lookup by ``pf`` (an external id / idLookup field) = ``value``."""
        if not (pf.external_id or pf.id_lookup):
            return RecordError(
                "INVALID_FIELD",
                f"Field name provided, {pf.name} is not an External ID or indexed field for {parent.name}",
                (),
            )
        ids = self.find(parent, pf, value)
        if not ids:
            return RecordError(
                "INVALID_FIELD",
                f"Foreign key external ID: {value} not found for field {pf.name} in entity {parent.name}",
                (),
            )
        if len(ids) > 1:
            return RecordError(
                "INVALID_FIELD",
                f"Foreign key external ID: {value} matched more than one record for field "
                f"{pf.name} in entity {parent.name}",
                (),
            )
        return ids[0]

    # ---- writes ----

    def create(
        self, meta: ObjectMeta, changes: Changes, errors: list[RecordError], internal: bool = False
    ) -> WriteOutcome:
        """Insert a record; ``internal`` (test seeding) skips validation rules and injected row locks."""
        return self._write(meta, None, None, changes, errors, internal)

    def update(
        self, meta: ObjectMeta, record_id: str, changes: Changes, errors: list[RecordError]
    ) -> WriteOutcome:
        norm = normalize_id(record_id)
        if norm is None:
            return WriteOutcome(record_id, errors=[RecordError("MALFORMED_ID", f"malformed id {record_id}")])
        existing = self._data[meta.name].get(norm)
        if existing is None:
            return WriteOutcome(norm, errors=[self._missing(norm)])
        id_fm = meta.fields.get("id")
        if id_fm in changes and changes[id_fm] == norm:
            changes = {k: v for k, v in changes.items() if k is not id_fm}
        return self._write(meta, norm, existing, changes, errors)

    def upsert(
        self, meta: ObjectMeta, key: FieldMeta, value: Any, changes: Changes, errors: list[RecordError]
    ) -> WriteOutcome:
        """Update the record whose ``key`` equals ``value``, or create one carrying it."""
        ids = self.find(meta, key, value) if value not in (None, "") else []
        if len(ids) > 1:
            return WriteOutcome(None, errors=[RecordError(
                "DUPLICATE_EXTERNAL_ID",
                f"{key.name}: more than one record found for external id field: {ids}", (key.name,))])
        if ids:
            return self._write(meta, ids[0], self._data[meta.name][ids[0]], changes, errors)
        if key.type == "id":
            if value not in (None, ""):
                return WriteOutcome(None, errors=[self._missing(str(value))])
            return self._write(meta, None, None, changes, errors)
        if value in (None, ""):
            return WriteOutcome(None, errors=[RecordError(
                "MISSING_ARGUMENT", f"{key.name} not specified", (key.name,))])
        if key not in changes:
            converted = key.convert(key, value, True)
            if isinstance(converted, RecordError):
                errors = [*errors, converted]
            else:
                changes = {**changes, key: converted}
        return self._write(meta, None, None, changes, errors)

    def delete(self, meta: ObjectMeta | None, record_id: str) -> WriteOutcome:
        norm = normalize_id(record_id)
        if norm is None:
            return WriteOutcome(record_id, errors=[RecordError("MALFORMED_ID", f"malformed id {record_id}")])
        meta = meta or self.object_for_id(norm)
        if meta is None or norm not in self._data[meta.name]:
            return WriteOutcome(norm, errors=[self._missing(norm)])
        if self.row_locked():
            return WriteOutcome(norm, errors=[ROW_LOCK])
        self._put(meta, norm, None)
        self._deleted.add(norm)
        return WriteOutcome(norm)

    def _missing(self, record_id: str) -> RecordError:
        if record_id in self._deleted:
            return RecordError("ENTITY_IS_DELETED", "entity is deleted")
        return RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")

    def _write(
        self,
        meta: ObjectMeta,
        record_id: str | None,
        existing: dict[str, Any] | None,
        changes: Changes,
        errors: list[RecordError],
        internal: bool = False,
    ) -> WriteOutcome:
        creating = existing is None
        if not internal and self.row_locked():
            return WriteOutcome(record_id, errors=[ROW_LOCK])
        errors = list(errors)
        locked = [f.name for f in changes if not (f.createable if creating else f.updateable)]
        if locked:
            errors.append(RecordError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(locked)}. Please check the security settings "
                "of this field and verify that it is read/write for your profile or permission set.",
                tuple(locked),
            ))
        if errors:
            return WriteOutcome(record_id, errors=errors)

        new: dict[str, Any] = dict(existing) if existing is not None else {}
        if creating:
            for f in meta.defaults:
                new[f.name] = f.default_value
        rounding = self.round_numbers()
        for f, v in changes.items():
            if rounding and v is not None and f.type in NUMBER_TYPES:
                v = round_to_scale(f, v)
            if v is None:
                if f.type == "boolean":
                    new[f.name] = False
                else:
                    new.pop(f.name, None)
            else:
                new[f.name] = v

        checked = meta.required if creating else [f for f in changes if not f.nillable]
        missing = [f.name for f in checked if new.get(f.name) is None]
        if missing:
            errors.append(RecordError(
                "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", tuple(missing)))
        for f, v in changes.items():
            if v is None:
                continue
            if f.type == "reference":
                target = self.object_for_id(v)
                if target is None or target.name not in f.reference_to or v not in self._data[target.name]:
                    errors.append(RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id",
                                              (f.name,)))
            if f.unique:
                others = [i for i in self.find(meta, f, v) if i != record_id]
                if others:
                    errors.append(RecordError(
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {f.name} duplicates value on record with id: {others[0]}",
                        (),
                    ))
        if errors:
            return WriteOutcome(record_id, errors=errors)

        rules = None if internal else self._rules.get(meta.name.lower())
        if rules:
            view = dict(new)
            if record_id:
                view["Id"] = record_id
            for rule in rules:
                if rule.condition(view):
                    errors.append(RecordError("FIELD_CUSTOM_VALIDATION_EXCEPTION", rule.message, rule.fields))
            if errors:
                return WriteOutcome(record_id, errors=errors)

        now = format_datetime(dt.datetime.now(dt.timezone.utc))
        if record_id is None:
            record_id = self._new_id(meta)
            new["Id"] = record_id
            new["CreatedDate"] = now
        new["LastModifiedDate"] = now
        new["SystemModstamp"] = now
        self._put(meta, record_id, new)
        return WriteOutcome(record_id, created=creating)

    def _new_id(self, meta: ObjectMeta) -> str:
        n = self._counters.get(meta.key_prefix, 0) + 1
        self._counters[meta.key_prefix] = n
        # 3-char prefix, 2-char pod, 1 reserved, 9-char record number, 3-char checksum
        return id18(f"{meta.key_prefix}5g0{_base62(916132832 + n * 7919, 9)}")

    def _put(self, meta: ObjectMeta, record_id: str, record: dict[str, Any] | None) -> None:
        table = self._data[meta.name]
        old = table.get(record_id)
        if self._undo is not None:
            self._undo.append((meta.name, record_id, old))
        if old is not None:
            self._index_remove(meta, record_id, old)
        if record is None:
            table.pop(record_id, None)
        else:
            table[record_id] = record
            self._index_add(meta, record_id, record)

    def _index_add(self, meta: ObjectMeta, record_id: str, record: dict[str, Any]) -> None:
        idx = self._index[meta.name]
        for f in meta.indexed:
            v = record.get(f.name)
            if v is not None:
                idx[f.name].setdefault(f.norm(v), set()).add(record_id)

    def _index_remove(self, meta: ObjectMeta, record_id: str, record: dict[str, Any]) -> None:
        idx = self._index[meta.name]
        for f in meta.indexed:
            v = record.get(f.name)
            if v is not None:
                ids = idx[f.name].get(f.norm(v))
                if ids is not None:
                    ids.discard(record_id)
                    if not ids:
                        del idx[f.name][f.norm(v)]

    @contextmanager
    def transaction(self) -> Iterator[Callable[[], None]]:
        """Record writes made inside the block; the yielded function undoes them all.

        Used for ``allOrNone``: rollback restores records and indexes to exactly
        the state before the request. The caller must hold :attr:`lock`.
        """
        outer = self._undo
        log: list[tuple[str, str, dict[str, Any] | None]] = []
        self._undo = log

        def rollback() -> None:
            self._undo = None
            for name, rid, old in reversed(log):
                meta = self._objects[name.lower()]
                self._put(meta, rid, old)
                if old is not None:
                    self._deleted.discard(rid)
            log.clear()
            self._undo = log

        try:
            yield rollback
        finally:
            if outer is not None:
                outer.extend(log)
            self._undo = outer


def _no_such_column(name: str, meta: ObjectMeta) -> RecordError:
    return RecordError("INVALID_FIELD", f"No such column '{name}' on sobject of type {meta.name}", ())


__all__ = ["Changes", "Store", "TypeMismatch", "ValidationRule", "WriteOutcome"]
