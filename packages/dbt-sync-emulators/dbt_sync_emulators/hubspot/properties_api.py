"""Properties API: the catalogue dbt-sync reads to validate a model's column mapping."""

from __future__ import annotations

from typing import Any

from .errors import api_error
from .objects import Response
from .schema import ObjectTypeDef, PropertyDef, make_options
from .store import Store


class PropertyHandlers:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get_all(self, otype: ObjectTypeDef) -> Response:
        with self.store.lock:
            return 200, {"results": [p.to_json() for p in otype.properties.values()]}

    def get_by_name(self, otype: ObjectTypeDef, name: str) -> Response:
        prop = otype.properties.get(name)
        if prop is None:
            raise api_error(404, "OBJECT_NOT_FOUND", f"Unable to find property {name} for object type {otype.type_id}")
        return 200, prop.to_json()

    def create(self, otype: ObjectTypeDef, body: Any) -> Response:
        """``POST /crm/v3/properties/{objectType}`` (201), for tests that add properties over HTTP."""
        if not isinstance(body, dict) or not body.get("name"):
            raise api_error(400, "VALIDATION_ERROR", "Invalid input JSON: name is required")
        if body["name"] in otype.properties:
            raise api_error(409, "OBJECT_ALREADY_EXISTS", f"Property already exists: {body['name']}")
        prop = PropertyDef(
            str(body["name"]),
            str(body.get("type", "string")),
            str(body.get("fieldType", "text")),
            label=str(body.get("label", body["name"])),
            options=make_options(body.get("options") or []),
            unique=bool(body.get("hasUniqueValue", False)),
            hubspot_defined=False,
            group_name=str(body.get("groupName", "properties")),
        )
        self.store.define_property(otype, prop)
        return 201, prop.to_json()
