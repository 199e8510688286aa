"""Typed models of a sync spec: one entry of a model's ``config.meta.dbt_sync`` (pydantic v2).

The models hold the *shape* of an entry: which keys exist (``extra="forbid"``,
an unknown key is an error with a did-you-mean), their types and their
enumerated values (``mode``, an association's ``category``). Each check keeps
the wording :mod:`dbt_sync.spec` has always used (``expected true or false,
got 'yes'.``). The rules that tie keys together or need the project (a
column exists in the model, ``match`` is a mapped field, a destination or
channel is defined in ``dbt_sync.yml``, the CRM rules of the destination
registry) stay in :mod:`dbt_sync.spec`.

:func:`parse_entry` validates an entry key by key, so one bad key does not
hide the problems of the others, and returns the typed values of the keys
that are valid with ``(yaml path parts, message)`` for the rest.
``docs/sync_spec.schema.json`` is generated from :class:`SyncEntry` by
:func:`json_schema`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, ValidationError, model_validator
from pydantic.functional_validators import BeforeValidator
from pydantic_core import ErrorDetails, PydanticCustomError

from dbt_sync.errors import did_you_mean

SCHEMA_ID = "https://github.com/dbt-sync/dbt-sync/docs/sync_spec.schema.json"

MODES = ("upsert", "update", "create", "mirror")
ASSOCIATION_CATEGORIES = ("HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

_ERROR = "dbt_sync_spec"


def _fail(message: str) -> PydanticCustomError:
    # the message travels in the context: it may hold braces ({column: c})
    return PydanticCustomError(_ERROR, "{message}", {"message": message})


def _rule(check: Callable[[Any], bool], message: str | Callable[[Any], str], *, null: bool = True,
          convert: Callable[[Any], Any] | None = None, input_type: Any = None) -> Any:
    """A before-validator: ``check`` the raw value or fail with ``message`` (text, or a function of the value).

    ``null``: an explicit null means "the default" and passes. ``convert``: how a passing value is normalised.
    """

    def validate(value: Any) -> Any:
        if value is None and null:
            return value
        if not check(value):
            raise _fail(message(value) if callable(message) else message)
        return convert(value) if convert is not None else value

    if input_type is None:
        return BeforeValidator(validate)
    return BeforeValidator(validate, json_schema_input_type=input_type)


def _is_int(raw: Any) -> bool:
    return isinstance(raw, int) and not isinstance(raw, bool)


def _is_number(raw: Any) -> bool:
    return isinstance(raw, (int, float)) and not isinstance(raw, bool)


def _text(raw: Any) -> bool:
    return isinstance(raw, str) and raw != ""


def _names(raw: Any) -> bool:
    return isinstance(raw, str) or (isinstance(raw, list) and all(isinstance(x, str) for x in raw))


def _as_list(raw: Any) -> Any:
    return [raw] if isinstance(raw, str) else raw


#: a name or a list of names (a single name is read as a list of one)
Names = Annotated[list[str] | None, _rule(_names, "expected a name or a list of names.", convert=_as_list,
                                           input_type=str | list[str])]
Flag = Annotated[bool, _rule(lambda v: isinstance(v, bool), lambda v: f"expected true or false, got {v!r}.",
                             null=False)]
Share = Annotated[
    Annotated[float, Field(ge=0, le=1)] | None,
    _rule(lambda v: _is_number(v) and 0 <= v <= 1,
          lambda v: f"expected a share between 0 and 1 (e.g. 0.05 for 5%), got {v!r}.", convert=float),
]
#: a column of the model; that it exists is checked against the manifest by :mod:`dbt_sync.spec`
Column = Annotated[Any, Field(json_schema_extra={"type": "string", "minLength": 1})]


class Strict(BaseModel):
    """Base of every model here: unknown keys are errors; nothing is coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    #: the message of a required key that is missing
    required_messages: ClassVar[dict[str, str]] = {}


class LookupEntry(Strict):
    """``fields.<Field>.lookup``: set a Salesforce relationship by the parent's external id."""

    required_messages: ClassVar[dict[str, str]] = {
        "object": "required: the parent's object.",
        "match": "required: the parent's external id field.",
    }

    object: Annotated[str, _rule(_text, "required: the parent's object.", null=False)]
    match: Annotated[str, _rule(_text, "required: the parent's external id field.", null=False)]
    column: Column = None
    relationship: Annotated[str | None, _rule(_text, "expected the relationship name, e.g. Parent_Account__r.")] = None


def _constant(value: Any) -> bool:
    return not isinstance(value, (Mapping, list))


class FieldEntry(Strict):
    """``fields.<Field>`` as a mapping: exactly one of ``column``, ``value`` (a constant) or ``lookup``."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "maxProperties": 1})

    column: Column = None
    value: Annotated[Any, Field(json_schema_extra={"type": ["string", "number", "boolean", "null"]}),
                     _rule(_constant, "a constant must be a string, number, boolean or null.")] = None
    lookup: Annotated[LookupEntry | None, _rule(
        lambda v: isinstance(v, Mapping),
        "expected {object, match, column}: the parent object, its external id field, our column.", null=False,
        convert=dict)] = None

    @model_validator(mode="after")
    def _exactly_one(self) -> FieldEntry:
        if len(self.model_fields_set & {"column", "value", "lookup"}) != 1:
            raise _fail("give exactly one of: column, value, lookup.")
        return self


def _source_kind(value: Any) -> str:
    return "column_name" if isinstance(value, str) else "field_mapping"


#: a destination field's source: a column name or a :class:`FieldEntry`
FieldSource = Annotated[
    Annotated[Column, Tag("column_name")] | Annotated[FieldEntry, Tag("field_mapping")],
    Discriminator(_source_kind),
    _rule(lambda v: isinstance(v, (str, Mapping)),
          "expected a column name, {column: c}, {value: constant} or {lookup: {...}}.", null=False,
          convert=lambda v: v if isinstance(v, str) else dict(v)),
]
_TAGS = {"column_name", "field_mapping"}


class AssociationEntry(Strict):
    """One of ``associations`` (HubSpot): associate each record with a record of ``to``."""

    required_messages: ClassVar[dict[str, str]] = {
        "to": "required: the object type to associate with, e.g. companies.",
    }

    to: Annotated[str, _rule(_text, "required: the object type to associate with, e.g. companies.", null=False)]
    column: Column = None
    match: Annotated[str | None, _rule(lambda v: isinstance(v, str), "expected the target's unique property name.")
                     ] = None
    type_id: Annotated[Annotated[int, Field(gt=0)] | None, _rule(
        lambda v: _is_int(v) and v > 0, "expected a positive integer association type id, e.g. 279.")] = None
    category: Annotated[Literal["HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED"], _rule(
        lambda v: v in ASSOCIATION_CATEGORIES,
        lambda v: f"{v!r} is not allowed. Allowed: {', '.join(ASSOCIATION_CATEGORIES)}.", null=False,
    )] = "HUBSPOT_DEFINED"
    label: Annotated[str | None, _rule(_text, "expected the association label's name, e.g. Billing contact.")] = None


class AlertsEntry(Strict):
    """``alerts``: when this sync's failures alert, and where (each key falls back to ``defaults.alerts``)."""

    channels: Names = None
    failed_records: Annotated[Annotated[int, Field(ge=0)] | None, _rule(
        lambda v: _is_int(v) and v >= 0, "expected a whole number >= 0.")] = None
    failed_share: Share = None
    remind_after_hours: Annotated[Annotated[float, Field(gt=0)] | None, _rule(
        lambda v: _is_number(v) and v > 0, "expected a positive number of hours.")] = None
    enabled: Flag = True


class FailurePayloadEntry(Strict):
    """``failure_payload``: columns never written in clear to the failures table (PII)."""

    exclude: Names = None
    mask: Names = None


def _mapping(message: str, *, null: bool = True) -> Any:
    return _rule(lambda v: isinstance(v, Mapping), message, null=null, convert=dict)


def _primary_key(raw: Any) -> bool:
    return isinstance(raw, str) or (isinstance(raw, list) and bool(raw))


def _fields(raw: Any) -> bool:
    return isinstance(raw, Mapping) and bool(raw)


AssociationItem = Annotated[AssociationEntry, _mapping("expected a mapping {to, column, ...}.", null=False)]

_ENTRY_REQUIRED = {
    "destination": "required: the name of a destination defined in dbt_sync.yml.",
    "object": "required: the destination object, e.g. Contact or contacts.",
    "primary_key": "required: the model column(s) identifying a row.",
    "fields": "required: a mapping of destination field -> model column (or {column}, {value}, {lookup}).",
}


class SyncEntry(Strict):
    """One sync of a model: ``config.meta.dbt_sync`` (a mapping, or a list of them). See ``docs/spec.md``."""

    model_config = ConfigDict(title="config.meta.dbt_sync entry", json_schema_extra={"$id": SCHEMA_ID})
    required_messages: ClassVar[dict[str, str]] = _ENTRY_REQUIRED

    name: Annotated[str | None, _rule(
        lambda v: v == "" or (isinstance(v, str) and NAME_PATTERN.match(v) is not None),
        lambda v: (f"{v!r} is not a valid sync name: use lower-case letters, digits and underscores, "
                   "starting with a letter, at most 63 characters (it names warehouse tables)."),
    )] = Field(default=None, description="default: <model>__<destination>__<object>")
    destination: Annotated[str, _rule(_text, _ENTRY_REQUIRED["destination"], null=False)] = Field(
        description="a destination defined in dbt_sync.yml")
    object: Annotated[str, _rule(_text, _ENTRY_REQUIRED["object"], null=False)]
    mode: Annotated[Literal["upsert", "update", "create", "mirror"], _rule(
        lambda v: v in MODES,
        lambda v: f"{v!r} is not a mode.{did_you_mean(str(v), MODES)} Allowed: {', '.join(MODES)}.", null=False,
    )] = "upsert"
    primary_key: Annotated[list[Column], Field(min_length=1), _rule(
        _primary_key, lambda v: ("required: the model column(s) identifying a row." if v is None else
                                 "expected a column name or a non-empty list of column names."),
        null=False, convert=_as_list, input_type=str | list[str])]
    match: Annotated[str | None, _rule(lambda v: isinstance(v, str), "expected the name of a destination field.")
                     ] = Field(default=None, description="the destination field identifying a record")
    fields: Annotated[dict[str, FieldSource], _rule(
        _fields, _ENTRY_REQUIRED["fields"], null=False,
        convert=lambda v: {str(k): s for k, s in v.items()})]
    associations: Annotated[list[AssociationItem] | None, _rule(
        lambda v: isinstance(v, list), "expected a list of {to, column, match?, type_id?, category?, label?}.")
    ] = None
    depends_on: Names = None
    batch_size: Annotated[Annotated[int, Field(gt=0)] | None, _rule(
        lambda v: _is_int(v) and v > 0, lambda v: f"expected a positive whole number, got {v!r}.")] = None
    enabled: Flag = True
    alerts: Annotated[AlertsEntry | None, _mapping(
        "expected a mapping with channels, failed_records, failed_share, remind_after_hours.")] = None
    delete_threshold: Share = Field(default=None, description="default: defaults.delete_threshold, else 0.5")
    failure_payload: Annotated[FailurePayloadEntry | None, _mapping(
        "expected {exclude: [columns], mask: [columns]}.")] = None
    options: Annotated[dict[Any, Any] | None, _rule(
        lambda v: not v or isinstance(v, Mapping), "expected a mapping of destination-specific options.",
        convert=lambda v: dict(v) if v else None)] = Field(
        default=None, description="destination-specific options (see the destination's docs)")
    block_on_upstream_failures: Flag = False


# -- parsing -------------------------------------------------------------------------------------------------------

_STRICT = ConfigDict(strict=True)


@functools.cache
def _adapter(name: str) -> TypeAdapter[Any]:
    info = SyncEntry.model_fields[name]
    return TypeAdapter(Annotated[(info.annotation, *info.metadata)], config=_STRICT)  # type: ignore[arg-type]


def _allowed(model: type[Strict]) -> list[str]:
    return list(model.model_fields)


def _unknown(key: str, model: type[Strict]) -> str:
    allowed = _allowed(model)
    return f"unknown key.{did_you_mean(key, allowed)} Allowed: {', '.join(allowed)}."


def _model_at(parts: Sequence[int | str]) -> type[Strict]:
    """The model an error location (tags dropped) points into."""
    if not parts:
        return SyncEntry
    if parts[0] == "fields":
        return LookupEntry if "lookup" in parts[2:] else FieldEntry
    nested: dict[str, type[Strict]] = {
        "associations": AssociationEntry, "alerts": AlertsEntry, "failure_payload": FailurePayloadEntry}
    return nested.get(str(parts[0]), SyncEntry)


def _describe(prefix: tuple[int | str, ...], detail: ErrorDetails) -> tuple[tuple[int | str, ...], str]:
    loc = (*prefix, *(p for p in detail["loc"] if p not in _TAGS))
    kind = detail["type"]
    if kind == "extra_forbidden":
        return loc, _unknown(str(loc[-1]), _model_at(loc[:-1]))
    if kind == _ERROR:
        return loc, str((detail.get("ctx") or {}).get("message", detail["msg"]))
    if kind == "missing":
        model = _model_at(loc[:-1])
        return loc, model.required_messages.get(str(loc[-1]), "required.")
    return loc, f"{detail['msg']} (got {detail.get('input')!r})."


_FIELD_SOURCE: TypeAdapter[Any] = TypeAdapter(FieldSource, config=_STRICT)
_ASSOCIATION: TypeAdapter[Any] = TypeAdapter(AssociationItem)


def _validate(adapter: TypeAdapter[Any], raw: Any, prefix: tuple[int | str, ...],
              problems: list[tuple[tuple[int | str, ...], str]], out: list[Any]) -> bool:
    """Validate ``raw`` at ``prefix``: append the value to ``out`` (True) or the problems to ``problems``."""
    try:
        out.append(adapter.validate_python(raw))
    except ValidationError as error:
        seen: set[tuple[int | str, ...]] = set()
        for detail in error.errors():
            loc, message = _describe(prefix, detail)
            if loc not in seen:
                seen.add(loc)
                problems.append((loc, message))
        return False
    return True


def parse_entry(entry: Mapping[Any, Any]) -> tuple[dict[str, Any], list[tuple[tuple[int | str, ...], str]]]:
    """The typed value of each valid key of one sync entry, and each problem as ``(location parts, message)``.

    Keys are validated one by one (each against its :class:`SyncEntry` field), so every problem is found in
    one pass; a missing required key is a problem at its own location.
    """
    values: dict[str, Any] = {}
    problems: list[tuple[tuple[int | str, ...], str]] = []
    for key, raw in entry.items():
        name = str(key)
        if name not in SyncEntry.model_fields:
            problems.append(((name,), _unknown(name, SyncEntry)))
            continue
        out: list[Any] = []
        if name == "fields" and _fields(raw):
            # each destination field on its own: one bad mapping does not hide the others' problems
            fields: dict[str, Any] = {}
            for field_name, source in raw.items():
                if _validate(_FIELD_SOURCE, source, (name, str(field_name)), problems, out):
                    fields[str(field_name)] = out.pop()
            values[name] = fields
        elif name == "associations" and isinstance(raw, list):
            # None where an item is not valid, so positions stay those of the yaml list
            items: list[AssociationEntry | None] = []
            for i, item in enumerate(raw):
                items.append(out.pop() if _validate(_ASSOCIATION, item, (name, i), problems, out) else None)
            values[name] = items
        elif _validate(_adapter(name), raw, (name,), problems, out):
            values[name] = out.pop()
    for name, info in SyncEntry.model_fields.items():
        if info.is_required() and name not in entry:
            problems.append(((name,), SyncEntry.required_messages[name]))
    return values, problems


def yaml_path(base: str, parts: Sequence[int | str]) -> str:
    """``base`` followed by ``parts`` as a yaml path: ``.key`` for keys, ``[i]`` for list positions."""
    return base + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


# -- JSON Schema ---------------------------------------------------------------------------------------------------


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``config.meta.dbt_sync``: one :class:`SyncEntry` or a list of them.

    Published as ``docs/sync_spec.schema.json`` for editors.
    """
    entry = SyncEntry.model_json_schema()
    defs = entry.pop("$defs", {})
    entry.pop("$id", None)
    defs["SyncEntry"] = entry
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "config.meta.dbt_sync",
        "description": "What a dbt model's config.meta.dbt_sync declares: one sync, or a list of syncs.",
        "anyOf": [{"$ref": "#/$defs/SyncEntry"},
                  {"type": "array", "items": {"$ref": "#/$defs/SyncEntry"}}],
        "$defs": defs,
    }


def schema_text() -> str:
    """``json_schema()`` as the committed file holds it (sorted keys, 2-space indent, trailing newline)."""
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
