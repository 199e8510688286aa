"""Object metadata from ``sobjects/{obj}/describe``, fetched once per object.

Both the write path (relationship names of lookup fields) and the mapping
check read it; caching per object keeps a run to one describe call each.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from dbt_sync.destinations.base import DestinationError
from dbt_sync.destinations.salesforce.client import SalesforceClient


@dataclass(frozen=True)
class ObjectInfo:
    """The parts of a describe result dbt-sync uses."""

    name: str
    raw: Mapping[str, Any]
    fields: Mapping[str, Mapping[str, Any]]

    def field(self, name: str) -> Mapping[str, Any] | None:
        """A field by API name, case-insensitively as Salesforce resolves them."""
        return self.fields.get(name.lower())

    def relationship_name(self, field_name: str) -> str | None:
        info = self.field(field_name)
        return str(info["relationshipName"]) if info and info.get("relationshipName") else None

    def is_polymorphic(self, field_name: str) -> bool:
        info = self.field(field_name)
        return bool(info) and len(info.get("referenceTo") or []) > 1  # type: ignore[union-attr]

    def external_id_fields(self) -> list[str]:
        return [f["name"] for f in self.fields.values() if f.get("externalId")]


class DescribeCache:
    """Thread-safe per-object describe cache; a miss is remembered too."""

    def __init__(self, client: SalesforceClient) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._objects: dict[str, ObjectInfo | None] = {}

    def get(self, object_name: str) -> ObjectInfo | None:
        """The object's metadata, or None when the org has no such object."""
        key = object_name.lower()
        with self._lock:
            if key in self._objects:
                return self._objects[key]
        try:
            raw = self._client.json("GET", f"sobjects/{quote(object_name, safe='')}/describe")
        except DestinationError as exc:
            if exc.code not in ("NOT_FOUND", "INVALID_TYPE", "HTTP_404"):
                raise
            raw = None
        info = None
        if raw:
            fields = {str(f["name"]).lower(): f for f in raw.get("fields", [])}
            info = ObjectInfo(name=str(raw.get("name", object_name)), raw=raw, fields=fields)
        with self._lock:
            self._objects[key] = info
        return info
