"""In-memory CRM objects: types, records, unique-value indexes and validation.

One re-entrant lock guards everything, and batch handlers hold it for a whole
request; that keeps a batch atomic (as HubSpot's whole-batch 400s are) and is
cheap enough for thousands of records per second.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .errors import api_error, not_found_object_type
from .schema import ObjectTypeDef, PropertyDef, custom_object_type, standard_object_types
from .values import CLEAR, iso_ms, issue, normalize

FIRST_ID = 1001


@dataclass
class StoredObject:
    """One CRM record; property values are kept as the strings HubSpot returns."""

    id: str
    type_id: str
    properties: dict[str, str]
    created_at: datetime
    updated_at: datetime
    archived: bool = False
    archived_at: datetime | None = None

    def to_json(self, otype: ObjectTypeDef, names: Iterable[str] | None = None) -> dict[str, Any]:
        """Render as HubSpot's SimplePublicObject; ``names`` limits properties like ``?properties=``."""
        if names is None:
            props: dict[str, str | None] = dict(self.properties)
        else:
            props = {n: self.properties.get(n) for n in names}
            for n in otype.echo:
                props[n] = self.properties.get(n)
        body: dict[str, Any] = {
            "id": self.id,
            "properties": props,
            "createdAt": iso_ms(self.created_at),
            "updatedAt": iso_ms(self.updated_at),
            "archived": self.archived,
        }
        if self.archived_at is not None:
            body["archivedAt"] = iso_ms(self.archived_at)
        return body


def now() -> datetime:
    return datetime.now(timezone.utc)


class Store:
    """Object types, records and the indexes that make unique-value lookups O(1)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.types: dict[str, ObjectTypeDef] = {}
        self._names: dict[str, str] = {}
        self.objects: dict[str, dict[str, StoredObject]] = {}
        # (type_id, property) -> value -> record id, for live records only.
        self._indexes: dict[tuple[str, str], dict[str, str]] = {}
        self._ids = itertools.count(FIRST_ID)
        for t in standard_object_types():
            self.add_type(t)

    # ---- types and properties -------------------------------------------------

    def add_type(self, otype: ObjectTypeDef) -> None:
        with self.lock:
            self.types[otype.type_id] = otype
            self.objects.setdefault(otype.type_id, {})
            for name in otype.all_names():
                self._names[name.lower()] = otype.type_id
            for p in otype.properties.values():
                self._ensure_index(otype, p)

    def define_object_type(self, type_id: str, name: str, properties: Iterable[PropertyDef]) -> ObjectTypeDef:
        otype = custom_object_type(type_id, name, properties)
        self.add_type(otype)
        return otype

    def resolve(self, name: str) -> ObjectTypeDef:
        """Find an object type by id (``0-1``, ``2-123``), plural/singular name or ``p_name``."""
        type_id = self._names.get(name.lower())
        if type_id is None:
            raise not_found_object_type(name)
        return self.types[type_id]

    def define_property(self, otype: ObjectTypeDef, prop: PropertyDef) -> None:
        with self.lock:
            otype.properties[prop.name] = prop
            self._ensure_index(otype, prop)

    def _indexed(self, otype: ObjectTypeDef, name: str) -> bool:
        prop = otype.properties.get(name)
        return prop is not None and (prop.unique or self.is_email(otype, name))

    def _ensure_index(self, otype: ObjectTypeDef, prop: PropertyDef) -> None:
        key = (otype.type_id, prop.name)
        if self._indexed(otype, prop.name) and key not in self._indexes:
            self._indexes[key] = {
                o.properties[prop.name]: o.id
                for o in self.objects[otype.type_id].values()
                if not o.archived and prop.name in o.properties
            }

    @staticmethod
    def is_email(otype: ObjectTypeDef, name: str) -> bool:
        return otype.type_id == "0-1" and name == "email"

    def can_be_id_property(self, otype: ObjectTypeDef, name: str) -> bool:
        """Upsert/update by ``idProperty`` needs a unique property (or a contact's email)."""
        return self._indexed(otype, name)

    # ---- validation -------------------------------------------------------------

    def validate(
        self, otype: ObjectTypeDef, properties: Mapping[str, Any] | None
    ) -> tuple[dict[str, str | object], list[dict[str, Any]]]:
        """Normalise a write; returns (values or CLEAR, issues for the error message)."""
        values: dict[str, str | object] = {}
        issues: list[dict[str, Any]] = []
        for name, raw in (properties or {}).items():
            prop = otype.properties.get(name)
            if prop is None:
                issues.append(issue(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'))
                continue
            result = normalize(prop, raw, is_email=self.is_email(otype, name))
            if isinstance(result, dict):
                issues.append(result)
            else:
                values[name] = result
        return values, issues

    def normalize_key(self, otype: ObjectTypeDef, prop: str, value: Any) -> str:
        """The index key for an ``idProperty`` value (emails match case-insensitively)."""
        text = "" if value is None else str(value)
        return text.strip().lower() if self.is_email(otype, prop) else text

    # ---- lookups ------------------------------------------------------------------

    def get(self, otype: ObjectTypeDef, object_id: Any, *, archived: bool = False) -> StoredObject | None:
        obj = self.objects[otype.type_id].get(str(object_id))
        if obj is None or obj.archived != archived:
            return None
        return obj

    def find(
        self, otype: ObjectTypeDef, id_property: str | None, value: Any, *, archived: bool = False
    ) -> StoredObject | None:
        """Look a record up by id, or by a unique property when ``id_property`` is given."""
        if not id_property or id_property == "hs_object_id":
            return self.get(otype, value, archived=archived)
        if archived:
            key = self.normalize_key(otype, id_property, value)
            for o in self.objects[otype.type_id].values():
                if o.archived and o.properties.get(id_property) == key:
                    return o
            return None
        index = self._indexes.get((otype.type_id, id_property))
        if index is None:
            return None
        found = index.get(self.normalize_key(otype, id_property, value))
        return None if found is None else self.objects[otype.type_id][found]

    def conflicts(
        self, otype: ObjectTypeDef, values: Mapping[str, str | object], exclude_id: str | None = None
    ) -> list[tuple[str, str, str]]:
        """Unique properties whose new value another live record already holds: (prop, value, id)."""
        out = []
        for name, value in values.items():
            if value is CLEAR or not isinstance(value, str):
                continue
            index = self._indexes.get((otype.type_id, name))
            if index is None:
                continue
            holder = index.get(value)
            if holder is not None and holder != exclude_id:
                out.append((name, value, holder))
        return out

    # ---- writes ---------------------------------------------------------------------

    def create(self, otype: ObjectTypeDef, values: Mapping[str, str | object]) -> StoredObject:
        ts = now()
        object_id = str(next(self._ids))
        props = {k: v for k, v in values.items() if isinstance(v, str)}
        props["hs_object_id"] = object_id
        props["createdate"] = iso_ms(ts)
        self._touch(otype, props, ts)
        obj = StoredObject(object_id, otype.type_id, props, ts, ts)
        self.objects[otype.type_id][object_id] = obj
        self._index_add(otype, obj)
        return obj

    def update(self, otype: ObjectTypeDef, obj: StoredObject, values: Mapping[str, str | object]) -> None:
        self._index_remove(otype, obj)
        for k, v in values.items():
            if v is CLEAR:
                obj.properties.pop(k, None)
            elif isinstance(v, str):
                obj.properties[k] = v
        ts = now()
        obj.updated_at = ts
        self._touch(otype, obj.properties, ts)
        self._index_add(otype, obj)

    def archive(self, otype: ObjectTypeDef, obj: StoredObject) -> None:
        if obj.archived:
            return
        self._index_remove(otype, obj)
        obj.archived = True
        obj.archived_at = now()

    @staticmethod
    def _touch(otype: ObjectTypeDef, props: dict[str, str], ts: datetime) -> None:
        stamp = iso_ms(ts)
        for name in ("lastmodifieddate", "hs_lastmodifieddate"):
            if name in otype.properties:
                props[name] = stamp

    def _index_add(self, otype: ObjectTypeDef, obj: StoredObject) -> None:
        for (type_id, name), index in self._indexes.items():
            if type_id == otype.type_id and name in obj.properties:
                index[obj.properties[name]] = obj.id

    def _index_remove(self, otype: ObjectTypeDef, obj: StoredObject) -> None:
        for (type_id, name), index in self._indexes.items():
            value = obj.properties.get(name)
            if type_id == otype.type_id and value is not None and index.get(value) == obj.id:
                del index[value]

    def require(self, otype: ObjectTypeDef, object_id: str, id_property: str | None = None) -> StoredObject:
        """Single-object endpoints answer an unknown id with a bare 404."""
        obj = self.find(otype, id_property, object_id)
        if obj is None:
            raise api_error(404, "OBJECT_NOT_FOUND", "resource not found")
        return obj
