"""What the properties API says about an object type, cached per type.

The wire format of a value depends on the property's type (a date goes out
as ``YYYY-MM-DD``, a datetime as epoch ms), and mapping checks need options,
uniqueness and writability. One ``GET /crm/v3/properties/{type}`` per object
type and destination lifetime is enough for both.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dbt_sync.destinations.base import DestinationError
from dbt_sync.destinations.hubspot.transport import Transport


@dataclass(frozen=True)
class PropertyInfo:
    """The parts of a HubSpot property definition dbt-sync uses."""

    name: str
    label: str
    type: str
    field_type: str
    options: tuple[str, ...] = ()
    unique: bool = False
    read_only: bool = False
    calculated: bool = False

    @property
    def writable(self) -> bool:
        return not (self.read_only or self.calculated or self.field_type.startswith("calculation"))

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> PropertyInfo:
        meta = raw.get("modificationMetadata") or {}
        options = tuple(
            str(o.get("value")) for o in raw.get("options") or [] if isinstance(o, Mapping) and "value" in o
        )
        return cls(
            name=str(raw.get("name")),
            label=str(raw.get("label") or raw.get("name")),
            type=str(raw.get("type") or "string"),
            field_type=str(raw.get("fieldType") or "text"),
            options=options,
            unique=bool(raw.get("hasUniqueValue")),
            read_only=bool(meta.get("readOnlyValue")),
            calculated=bool(raw.get("calculated")),
        )


@dataclass
class ObjectSchema:
    """All properties of one object type."""

    object_type: str
    properties: dict[str, PropertyInfo] = field(default_factory=dict)

    def types(self) -> dict[str, str]:
        return {name: p.type for name, p in self.properties.items()}

    @property
    def is_contacts(self) -> bool:
        return self.object_type in ("contacts", "contact", "0-1")

    def email_property(self) -> str | None:
        """Contacts' ``email`` is matched case-insensitively; other objects have none."""
        return "email" if self.is_contacts else None


class UnknownObjectType(DestinationError):
    """The object type does not exist in this HubSpot account."""

    def __init__(self, object_type: str, detail: str) -> None:
        super().__init__(f"HubSpot object type {object_type!r} not found: {detail}", code="UNKNOWN_OBJECT_TYPE")
        self.object_type = object_type


class PropertyCache:
    """Loads each object type's properties once; safe across threads."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._lock = threading.Lock()
        self._schemas: dict[str, ObjectSchema] = {}

    def get(self, object_type: str) -> ObjectSchema:
        with self._lock:
            cached = self._schemas.get(object_type)
        if cached is not None:
            return cached
        reply = self._transport.call("properties", "get_all", object_type=object_type, archived=False)
        if reply.status in (400, 404):
            raise UnknownObjectType(object_type, str(reply.body.get("message") or reply.status))
        if not reply.ok:
            raise DestinationError(
                f"HubSpot properties of {object_type!r} could not be read (HTTP {reply.status}): "
                f"{reply.body.get('message')}",
                code=str(reply.body.get("category") or f"HTTP_{reply.status}"),
            )
        schema = ObjectSchema(object_type)
        for raw in reply.body.get("results") or []:
            if isinstance(raw, Mapping) and raw.get("name"):
                info = PropertyInfo.from_api(raw)
                schema.properties[info.name] = info
        with self._lock:
            self._schemas[object_type] = schema
        return schema
