"""Checking a sync's mapping against HubSpot's property metadata.

Run before any row is sent, so a typo or a type mismatch is one clear report
instead of thousands of failed records. Every problem is collected; none
stops the check early (except an unknown object type, which makes the rest
meaningless).

Column type → property type compatibility (``ok`` = allowed):

=================  ======  ======  ======  ========  ====  ========  ===========  =====
column family      string  number  date    datetime  bool  enum      multi-check  other
=================  ======  ======  ======  ========  ====  ========  ===========  =====
text               ok      NO      NO      NO        ok    ok        ok           ok
integer            ok      ok      ok(ms)  ok(ms)    NO    ok        ok           ok
decimal / float    ok      ok      NO      NO        NO    ok        ok           ok
boolean            ok      NO      NO      NO        ok    ok        ok           ok
date               ok      NO      ok      ok        NO    NO        NO           ok
timestamp          ok      NO      ok      ok        NO    NO        NO           ok
array              NO      NO      NO      NO        NO    NO        ok           NO
=================  ======  ======  ======  ========  ====  ========  ===========  =====

Integers into date/datetime are taken as epoch milliseconds; a timestamp into
a date property is sent as its UTC date. Unknown column types are not
checked. A text column into a bool property is allowed because warehouses
often hold ``'true'``/``'false'`` strings.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

from dbt_sync.column_types import column_family
from dbt_sync.destinations.base import AssociationCheck, FieldSpec, MappingProblem, Operation
from dbt_sync.destinations.hubspot.batches import HS_OBJECT_ID
from dbt_sync.destinations.hubspot.properties import (
    ObjectSchema,
    PropertyCache,
    PropertyInfo,
    UnknownObjectType,
)
from dbt_sync.destinations.hubspot.transport import Transport
from dbt_sync.destinations.hubspot.values import OMIT, ValueProblem, to_wire

_NOT_OK: dict[str, set[str]] = {
    # property kind -> column families that cannot fit
    "string": {"array"},
    "number": {"text", "boolean", "date", "timestamp", "array"},
    "date": {"text", "decimal", "float", "boolean", "array"},
    "datetime": {"text", "decimal", "float", "boolean", "array"},
    "bool": {"integer", "decimal", "float", "date", "timestamp", "array"},
    "enumeration": {"date", "timestamp", "array"},
    "multi": set(),
    "other": {"array"},
}


def property_kind(prop: PropertyInfo) -> str:
    if prop.type == "enumeration":
        if prop.field_type == "checkbox":
            return "multi"
        if prop.field_type == "booleancheckbox":
            return "bool"
        return "enumeration"
    if prop.type in ("string", "phone_number"):
        return "string"
    if prop.type in ("number", "date", "datetime", "bool"):
        return prop.type
    return "other"


class MappingChecker:
    """Answers ``Destination.check_mapping`` from the property cache."""

    def __init__(self, properties: PropertyCache, transport: Transport | None = None) -> None:
        self._properties = properties
        self._transport = transport

    def check_associations(self, object_name: str, associations: Sequence[AssociationCheck]) -> list[MappingProblem]:
        """Each association's target type, match property, and that HubSpot defines the pair.

        The association types between two object types come from
        ``GET /crm/v4/associations/{from}/{to}/labels`` (CRM associations v4
        schema). No type at all means the pair is not defined: a custom
        object is associated only with the types its schema names. A
        ``label`` must be one of the pair's labels, and a ``type_id`` must
        exist with its ``category``.
        """
        problems: list[MappingProblem] = []
        for assoc in associations:
            problems.extend(self._check_association(
                FieldSpec(name=assoc.to_object, column=None, lookup_object=assoc.to_object,
                          lookup_match=assoc.match), f"{assoc.path}.to"))
            problems.extend(self._check_pair(object_name, assoc))
        return problems

    def _check_pair(self, object_name: str, assoc: AssociationCheck) -> list[MappingProblem]:
        if self._transport is None:
            return []
        try:
            self._properties.get(object_name)
            self._properties.get(assoc.to_object)
        except UnknownObjectType:
            return []  # reported with the object or the target
        reply = self._transport.call(
            "association_labels", "get_all", from_object_type=object_name, to_object_type=assoc.to_object
        )
        types = [t for t in (reply.body.get("results") or []) if isinstance(t, dict)] if reply.ok else []
        if not types:
            why = f" (HubSpot answered {reply.status}: {reply.body.get('message')})" if not reply.ok else ""
            return [MappingProblem(
                f"{assoc.path}.to",
                f"HubSpot defines no association between {object_name} and {assoc.to_object}{why}: a custom "
                "object can only be associated with the object types its schema names (associatedObjects); "
                "define the association in HubSpot first",
            )]
        if assoc.type_id is not None:
            pairs = {(str(t.get("category")), t.get("typeId")) for t in types}
            if (assoc.category, assoc.type_id) not in pairs:
                known = ", ".join(f"{c} {i}" for c, i in sorted(pairs, key=lambda p: (p[0], int(p[1] or 0))))
                return [MappingProblem(
                    f"{assoc.path}.type_id",
                    f"{assoc.category} {assoc.type_id} is not an association type from {object_name} to "
                    f"{assoc.to_object}. Types: {known}",
                )]
        elif assoc.label:
            labels = {str(t["label"]) for t in types if t.get("label")}
            if assoc.label.lower() not in {x.lower() for x in labels}:
                return [MappingProblem(
                    f"{assoc.path}.label",
                    f"no association label {assoc.label!r} from {object_name} to {assoc.to_object}"
                    f"{_close(assoc.label, labels)}. Labels: {', '.join(sorted(labels)) or 'none'}",
                )]
        return []

    def check(
        self,
        object_name: str,
        operation: Operation,
        match: str | None,
        fields: Sequence[FieldSpec],
        path: str,
    ) -> list[MappingProblem]:
        try:
            schema = self._properties.get(object_name)
        except UnknownObjectType as exc:
            return [MappingProblem(f"{path}.object", f"{exc} (use contacts, companies, deals, 2-123456 or p_name)")]
        problems: list[MappingProblem] = []
        problems.extend(self._check_match(schema, operation, match, path))
        if operation is Operation.DELETE:
            return problems
        for spec in fields:
            problems.extend(self._check_field(schema, spec, match, f"{path}.fields.{spec.name}"))
        return problems

    def _check_match(
        self, schema: ObjectSchema, operation: Operation, match: str | None, path: str
    ) -> list[MappingProblem]:
        where = f"{path}.match"
        if match is None or match == HS_OBJECT_ID:
            if operation is Operation.UPSERT and not (schema.is_contacts and match is None):
                return [
                    MappingProblem(
                        where,
                        f"upsert into {schema.object_type} needs 'match': a property with unique values"
                        + _unique_hint(schema),
                    )
                ]
            return []
        if operation is Operation.CREATE:
            return []
        prop = schema.properties.get(match)
        if prop is None:
            return [MappingProblem(where, f"match property {match!r} does not exist on {schema.object_type}"
                                   + _suggest(match, schema))]
        if not prop.unique and not (schema.is_contacts and match == "email"):
            return [
                MappingProblem(
                    where,
                    f"match property {match!r} on {schema.object_type} does not have unique values "
                    f"(hasUniqueValue is false), so HubSpot cannot match on it" + _unique_hint(schema),
                )
            ]
        return []

    def _check_field(
        self, schema: ObjectSchema, spec: FieldSpec, match: str | None, where: str
    ) -> list[MappingProblem]:
        if spec.lookup_object:
            return self._check_association(spec, where)
        prop = schema.properties.get(spec.name)
        if prop is None:
            return [
                MappingProblem(where, f"property {spec.name!r} does not exist on {schema.object_type}"
                               + _suggest(spec.name, schema))
            ]
        problems: list[MappingProblem] = []
        if not prop.writable and spec.name != match:
            why = "is calculated" if prop.calculated or prop.field_type.startswith("calculation") else "is read-only"
            problems.append(MappingProblem(where, f"property {spec.name!r} {why} and cannot be written"))
        kind = property_kind(prop)
        family = column_family(spec.column_type)
        if spec.column is not None and family is not None and family in _NOT_OK[kind]:
            problems.append(
                MappingProblem(
                    where,
                    f"column {spec.column!r} is {spec.column_type} ({family}) but HubSpot property "
                    f"{spec.name!r} is {prop.type}/{prop.field_type}",
                )
            )
        if spec.constant is not None:
            problems.extend(_check_constant(prop, kind, spec.constant, where))
        return problems

    def _check_association(self, spec: FieldSpec, where: str) -> list[MappingProblem]:
        """An association target object must exist and be matched on a unique property."""
        assert spec.lookup_object is not None
        try:
            target = self._properties.get(spec.lookup_object)
        except UnknownObjectType as exc:
            return [MappingProblem(where, str(exc))]
        if spec.lookup_match is None or spec.lookup_match == HS_OBJECT_ID:
            return []
        prop = target.properties.get(spec.lookup_match)
        if prop is None:
            return [MappingProblem(where, f"association match property {spec.lookup_match!r} does not exist on "
                                   f"{target.object_type}" + _suggest(spec.lookup_match, target))]
        if not prop.unique and not (target.is_contacts and spec.lookup_match == "email"):
            return [MappingProblem(where, f"association match property {spec.lookup_match!r} on "
                                   f"{target.object_type} does not have unique values")]
        return []


def _check_constant(prop: PropertyInfo, kind: str, constant: Any, where: str) -> list[MappingProblem]:
    try:
        wire = to_wire(constant, prop.type, clearing=False)
    except ValueProblem as exc:
        return [MappingProblem(where, f"constant {constant!r} cannot be sent: {exc}")]
    if wire is OMIT or kind not in ("enumeration", "multi", "bool") or not prop.options:
        return []
    values = [v for v in str(wire).split(";")] if kind == "multi" else [str(wire)]
    bad = [v for v in values if v not in prop.options]
    if not bad:
        return []
    return [
        MappingProblem(
            where,
            f"{', '.join(repr(b) for b in bad)} is not an option of {prop.name!r}; "
            f"allowed internal values: {', '.join(prop.options)}",
        )
    ]


def _suggest(name: str, schema: ObjectSchema) -> str:
    """A did-you-mean over property names and labels."""
    by_label = {p.label.lower(): p.name for p in schema.properties.values()}
    close = difflib.get_close_matches(name, list(schema.properties), n=3, cutoff=0.6)
    close += [by_label[c] for c in difflib.get_close_matches(name.lower(), list(by_label), n=2, cutoff=0.6)]
    close = list(dict.fromkeys(close))[:3]
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def _unique_hint(schema: ObjectSchema) -> str:
    unique = sorted(p.name for p in schema.properties.values() if p.unique)
    if schema.is_contacts:
        unique = ["email", *unique]
    return f"; unique properties: {', '.join(unique)}" if unique else ""


def _close(name: str, candidates: set[str]) -> str:
    hits = difflib.get_close_matches(name, sorted(candidates), n=1)
    return f" (did you mean {hits[0]!r}?)" if hits else ""
