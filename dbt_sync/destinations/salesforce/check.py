"""Checking a sync's mapping against describe, before any data moves.

Every problem is collected into one list so a user fixes them in one go.
Column types are compared in families (see ``COMPATIBLE``): the rule is
"would Salesforce accept every value of this column type in this field",
erring towards allowing what Salesforce coerces (anything into a text
field) and flagging what it rejects (text into a date or number field).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from dbt_sync.column_types import column_family
from dbt_sync.destinations.base import FieldSpec, MappingProblem, Operation
from dbt_sync.destinations.salesforce.describe import DescribeCache, ObjectInfo

_TEXT_FIELDS = {"string", "textarea", "email", "phone", "url", "encryptedstring"}
_ALL = {"text", "integer", "decimal", "float", "boolean", "date", "timestamp", "time", "array"}

#: Salesforce field type -> warehouse column families it accepts.
COMPATIBLE: dict[str, set[str]] = {
    **{t: _ALL for t in _TEXT_FIELDS},
    "picklist": {"text", "integer", "decimal", "boolean"},
    "multipicklist": {"text", "integer"},
    "combobox": {"text", "integer", "decimal", "boolean"},
    "id": {"text"},
    "reference": {"text"},
    "boolean": {"boolean"},
    "int": {"integer", "decimal"},
    "long": {"integer", "decimal"},
    "double": {"integer", "decimal", "float"},
    "currency": {"integer", "decimal", "float"},
    "percent": {"integer", "decimal", "float"},
    "date": {"date"},
    "datetime": {"date", "timestamp"},
    "time": {"time", "text"},
}

_SCALE = re.compile(r"^(numeric|decimal|number)\s*\(\s*\d+\s*,\s*(\d+)\s*\)")


def check_mapping(
    describe: DescribeCache,
    object_name: str,
    operation: Operation,
    match: str | None,
    fields: Sequence[FieldSpec],
    path: str,
) -> list[MappingProblem]:
    """Every reason the mapping cannot work, per describe."""
    info = describe.get(object_name)
    if info is None:
        return [MappingProblem(path, f"Salesforce has no object named '{object_name}' (or this user cannot see it)")]
    problems: list[MappingProblem] = []
    verbs = {
        Operation.CREATE: ("createable",),
        Operation.UPDATE: ("updateable",),
        Operation.UPSERT: ("createable", "updateable"),
        Operation.DELETE: ("deletable",),
    }[operation]
    for verb in verbs:
        if info.raw.get(verb) is False:
            problems.append(MappingProblem(path, f"{info.name} is not {verb} for this user"))
    if match and match.lower() != "id":
        problems.extend(_check_match(info, match, f"{path}.match"))
    elif match is None and operation is Operation.UPSERT:
        problems.append(MappingProblem(f"{path}.match", "upsert needs a match field (an External ID field)"))
    if operation is Operation.DELETE:
        return problems
    for spec in fields:
        problems.extend(_check_field(describe, info, operation, spec, f"{path}.fields.{spec.name}"))
    if operation in (Operation.CREATE, Operation.UPSERT):
        mapped = {s.name.lower() for s in fields} | ({match.lower()} if match else set())
        missing = [
            str(f["name"])
            for f in info.fields.values()
            if f.get("createable")
            and not f.get("nillable")
            and not f.get("defaultedOnCreate")
            and str(f["name"]).lower() not in mapped
        ]
        if missing:
            problems.append(
                MappingProblem(
                    f"{path}.fields",
                    f"{info.name} requires {', '.join(sorted(missing))} on create; map "
                    f"{'it' if len(missing) == 1 else 'them'} (in {operation.value} mode records may be created)",
                )
            )
    return problems


def _scale(column_type: str | None) -> int:
    found = _SCALE.match((column_type or "").strip().lower())
    return int(found.group(2)) if found else 0


def _check_match(info: ObjectInfo, match: str, where: str) -> list[MappingProblem]:
    field = info.field(match)
    if field is None:
        return [MappingProblem(where, _unknown(info, match))]
    if not (field.get("externalId") or field.get("idLookup")):
        candidates = info.external_id_fields()
        hint = f"; External ID fields: {', '.join(candidates)}" if candidates else ""
        return [MappingProblem(where, f"{info.name}.{field['name']} is not an External ID or idLookup field{hint}")]
    return []


def _check_field(
    describe: DescribeCache, info: ObjectInfo, operation: Operation, spec: FieldSpec, where: str
) -> list[MappingProblem]:
    field = info.field(spec.name)
    if field is None:
        return [MappingProblem(where, _unknown(info, spec.name))]
    name = f"{info.name}.{field['name']}"
    problems = []
    if operation in (Operation.CREATE, Operation.UPSERT) and not field.get("createable"):
        problems.append(MappingProblem(where, f"{name} is not createable (read-only, formula or system field)"))
    if operation in (Operation.UPDATE, Operation.UPSERT) and not field.get("updateable"):
        problems.append(MappingProblem(where, f"{name} is not updateable (read-only, formula or system field)"))
    if spec.lookup_object or spec.lookup_match:
        problems.extend(_check_lookup(describe, name, field, spec, where))
        return problems
    sf_type = str(field.get("type", ""))
    family = column_family(spec.column_type)
    if family is not None and sf_type in COMPATIBLE and family not in COMPATIBLE[sf_type]:
        problems.append(MappingProblem(where, f"column type {spec.column_type} does not fit {name} of type {sf_type}"))
    elif family == "decimal" and sf_type in ("int", "long") and _scale(spec.column_type) > 0:
        problems.append(
            MappingProblem(
                where, f"column type {spec.column_type} has decimals but {name} is a whole number ({sf_type})"
            )
        )
    if spec.constant is not None:
        problems.extend(_check_constant(name, sf_type, field, spec.constant, where))
    if spec.constant is not None and sf_type in ("picklist", "multipicklist") and field.get("restrictedPicklist"):
        allowed = [str(p["value"]) for p in field.get("picklistValues") or [] if p.get("active", True)]
        values = str(spec.constant).split(";") if sf_type == "multipicklist" else [str(spec.constant)]
        bad = [v for v in values if v not in allowed]
        if bad:
            problems.append(
                MappingProblem(
                    where,
                    f"{', '.join(repr(v) for v in bad)} is not a value of the restricted picklist {name} "
                    f"(allowed: {', '.join(allowed)})",
                )
            )
    return problems


#: Salesforce stores dates from 1700-01-01T00:00:00Z to 4000-12-31T00:00:00Z (SOQL and SOSL Reference,
#: "Minimum and Maximum Dates"); outside, a write fails FIELD_INTEGRITY_EXCEPTION
_MIN_DATE, _MAX_DATE = "1700-01-01", "4000-12-31"


def _check_constant(
    name: str, sf_type: str, field: Mapping[str, Any], constant: Any, where: str
) -> list[MappingProblem]:
    """A constant every record would fail with: too long for the field, or a date Salesforce does not hold."""
    text = str(constant)
    length = int(field.get("length") or 0)
    utf16 = len(text) + sum(ord(c) > 0xFFFF for c in text)
    if sf_type in ("string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "combobox") \
            and length and utf16 > length:
        return [MappingProblem(where, f"the constant is {utf16} characters long; {name} holds {length}")]
    if sf_type in ("date", "datetime") and isinstance(constant, (str, dt.date)):
        day = constant.isoformat()[:10] if isinstance(constant, dt.date) else text[:10]
        if len(day) == 10 and day[4] == "-" and not _MIN_DATE <= day <= _MAX_DATE:
            return [MappingProblem(where, f"the constant {text} is outside the dates {name} can hold "
                                          f"({_MIN_DATE} to {_MAX_DATE})")]
    return []


def _check_lookup(
    describe: DescribeCache, name: str, field: Mapping[str, Any], spec: FieldSpec, where: str
) -> list[MappingProblem]:
    targets = [str(t) for t in field.get("referenceTo") or []]
    if field.get("type") != "reference" or not targets:
        return [MappingProblem(where, f"{name} is not a lookup (reference) field")]
    parent_name = spec.lookup_object or targets[0]
    if parent_name.lower() not in {t.lower() for t in targets}:
        return [MappingProblem(where, f"{name} points to {', '.join(targets)}, not {parent_name}")]
    if not spec.lookup_match:
        return []
    parent = describe.get(parent_name)
    if parent is None:
        return [MappingProblem(where, f"the lookup's parent object {parent_name} does not exist")]
    parent_field = parent.field(spec.lookup_match)
    if parent_field is None:
        return [MappingProblem(where, "lookup match: " + _unknown(parent, spec.lookup_match))]
    if not (parent_field.get("externalId") or parent_field.get("idLookup")):
        candidates = parent.external_id_fields()
        hint = f"; External ID fields: {', '.join(candidates)}" if candidates else ""
        return [
            MappingProblem(
                where,
                f"{parent.name}.{parent_field['name']} is not an External ID or idLookup field, so "
                f"{name} cannot be set through it{hint}",
            )
        ]
    return []


def _unknown(info: ObjectInfo, name: str) -> str:
    names = [str(f["name"]) for f in info.fields.values()]
    by_lower = {n.lower(): n for n in names}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(by_lower[c] for c in close)}?" if close else ""
    return f"{info.name} has no field '{name}'{hint}"
