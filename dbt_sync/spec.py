"""Sync specs: what a model's ``config.meta.dbt_sync`` declares.

A data person writes the spec in the model's yaml, next to the model's
definition, so the definition and where it goes are reviewed together. This
module turns that meta into typed :class:`SyncSpec` objects and reports
*every* problem at once, each with the file, the yaml path, what is wrong
and what is allowed.

The dbt package's capture macro reads the same meta in Jinja; the rules it
shares with this module (the default sync name, which columns are sent) are
documented in ``docs/spec.md`` and kept identical on purpose.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dbt_sync.errors import Problem, SpecError, did_you_mean
from dbt_sync.manifest import Manifest, Model
from dbt_sync.project.config import SyncConfig

META_KEY = "dbt_sync"
MODES = ("upsert", "update", "create", "mirror")
SPEC_KEYS = (
    "name",
    "destination",
    "object",
    "mode",
    "primary_key",
    "match",
    "fields",
    "associations",
    "depends_on",
    "batch_size",
    "enabled",
    "alerts",
    "delete_threshold",
    "failure_payload",
    "options",
    "block_on_upstream_failures",
)
FIELD_KEYS = ("column", "value", "lookup")
LOOKUP_KEYS = ("object", "match", "column", "relationship")
ASSOCIATION_KEYS = ("to", "column", "match", "type_id", "category", "label")
ASSOCIATION_CATEGORIES = ("HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED")
ALERT_KEYS = ("channels", "failed_records", "failed_share", "remind_after_hours", "enabled")
PAYLOAD_KEYS = ("exclude", "mask")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
DEFAULT_DELETE_THRESHOLD = 0.5


def spec_rules(destination_type: str) -> Callable[[Mapping[str, Any], str], list[Problem]]:
    """The spec rules of a destination type: ``(raw spec, yaml path) -> problems``.

    Each destination package owns its rules (``dbt_sync.destinations.<type>.rules``),
    found through the destination registry; an unknown type has none here
    (reading ``dbt_sync.yml`` already refused it).
    """
    from dbt_sync.destinations.registry import DESTINATION_TYPES

    registered = DESTINATION_TYPES.get(destination_type)
    return registered.spec_problems if registered is not None else (lambda entry, loc: [])


def default_sync_name(model_name: str, destination: str, obj: str) -> str:
    """``<model>__<destination>__<object>``, lower-cased, safe in table names.

    The capture macro computes the same name in Jinja; keep them identical.
    """
    raw = f"{model_name}__{destination}__{obj}".lower()
    return re.sub(r"[^a-z0-9_]+", "_", raw)


@dataclass(frozen=True)
class LookupSpec:
    object: str
    match: str
    column: str
    relationship: str | None = None


@dataclass(frozen=True)
class FieldMapping:
    """One destination field and where its value comes from."""

    name: str
    column: str | None = None
    constant: Any = None
    is_constant: bool = False
    lookup: LookupSpec | None = None

    @property
    def source_column(self) -> str | None:
        return self.lookup.column if self.lookup else self.column


@dataclass(frozen=True)
class AssociationSpec:
    to: str
    column: str
    match: str | None = None
    type_id: int | None = None
    category: str = "HUBSPOT_DEFINED"
    label: str | None = None


@dataclass(frozen=True)
class AlertSpec:
    channels: tuple[str, ...] | None = None
    failed_records: int | None = None
    failed_share: float | None = None
    remind_after_hours: float | None = None
    enabled: bool = True


@dataclass(frozen=True)
class PayloadPolicy:
    """Which columns never reach the failures table in clear (PII)."""

    exclude: tuple[str, ...] = ()
    mask: tuple[str, ...] = ()


@dataclass(frozen=True)
class SyncSpec:
    name: str
    model_unique_id: str
    model_name: str
    location: str
    destination: str
    destination_type: str | None
    object: str
    mode: str
    primary_key: tuple[str, ...]
    match: str | None
    fields: tuple[FieldMapping, ...]
    associations: tuple[AssociationSpec, ...] = ()
    depends_on: tuple[str, ...] = ()
    batch_size: int | None = None
    enabled: bool = True
    alerts: AlertSpec = field(default_factory=AlertSpec)
    delete_threshold: float = DEFAULT_DELETE_THRESHOLD
    failure_payload: PayloadPolicy = field(default_factory=PayloadPolicy)
    options: Mapping[str, Any] = field(default_factory=dict)
    block_on_upstream_failures: bool = False
    tags: tuple[str, ...] = ()
    #: the keys the spec sets itself (the rest are defaults), for validate's warnings
    given_keys: frozenset[str] = frozenset()

    @functools.cached_property
    def sent_columns(self) -> tuple[str, ...]:
        """Model columns whose values reach the destination (the hashed set)."""
        seen: dict[str, None] = {}
        for mapping in self.fields:
            if mapping.source_column:
                seen.setdefault(mapping.source_column, None)
        for assoc in self.associations:
            seen.setdefault(assoc.column, None)
        return tuple(seen)

    @property
    def written_objects(self) -> tuple[str, str]:
        return (self.destination, self.object.lower())


class _Collector:
    """Gathers problems so validation can report all of them in one go."""

    def __init__(self, adapter_type: str | None = None) -> None:
        self.problems: list[Problem] = []
        #: the warehouse the names must work on (column name rules differ per adapter)
        self.adapter_type = adapter_type

    def add(self, location: str, message: str) -> None:
        self.problems.append(Problem(location, message))


def _unknown_keys(raw: Mapping[str, Any], allowed: Sequence[str], loc: str, problems: _Collector) -> bool:
    """Report keys outside ``allowed``; True when there were any."""
    bad = False
    for key in raw:
        if key not in allowed:
            hint = did_you_mean(str(key), allowed)
            problems.add(f"{loc}.{key}", f"unknown key.{hint} Allowed: {', '.join(allowed)}.")
            bad = True
    return bad


def _meta_entries(model: Model) -> tuple[str, Any] | None:
    """Where the model's dbt_sync meta lives and its raw value."""
    if META_KEY in model.config_meta:
        return "config.meta", model.config_meta[META_KEY]
    if META_KEY in model.meta:
        return "meta", model.meta[META_KEY]
    return None


def load_specs(
    manifest: Manifest,
    config: SyncConfig | None,
    *,
    check_columns: bool = True,
) -> list[SyncSpec]:
    """Every sync declared in the project's models; raises :class:`SpecError` listing all problems."""
    problems = _Collector(manifest.adapter_type)
    specs: list[SyncSpec] = []
    for model in sorted(manifest.models.values(), key=lambda m: m.unique_id):
        if not model.enabled:
            continue
        found = _meta_entries(model)
        if found is None:
            continue
        meta_path, raw = found
        base = f"{model.properties_file}: {model.name}.{meta_path}.{META_KEY}"
        entries: list[tuple[str, Any]]
        if isinstance(raw, Mapping):
            entries = [(base, raw)]
        elif isinstance(raw, list):
            entries = [(f"{base}[{i}]", entry) for i, entry in enumerate(raw)]
        else:
            problems.add(base, f"expected a mapping or a list of mappings, got {type(raw).__name__}.")
            continue
        for location, entry in entries:
            spec = _parse_entry(model, location, entry, config, problems, check_columns)
            if spec is not None:
                specs.append(spec)
    _check_unique_names(specs, problems)
    _check_depends_on(specs, problems)
    if problems.problems:
        raise SpecError(problems.problems)
    return specs


def _columns_of(model: Model) -> dict[str, str] | None:
    """Lower-cased documented column names -> as written; None when undocumented."""
    if not model.columns:
        return None
    return {c.name.lower(): c.name for c in model.columns.values()}


#: changeset columns dbt-sync adds; a model column may not share the prefix
RESERVED_COLUMN_PREFIX = "_dbt_sync_"
#: longest identifier in bytes, per adapter (PostgreSQL truncates longer ones to NAMEDATALEN - 1 = 63)
IDENTIFIER_MAX_BYTES = {"postgres": 63, "redshift": 127}


def column_name_problem(name: str, adapter_type: str | None) -> str | None:
    """Why the capture cannot read a column of this name on ``adapter_type``, or None when it can.

    Capture quotes every name (reserved words, spaces, mixed case and double
    quotes are all fine), so only these are refused: a NUL character (no
    warehouse allows it), the ``_dbt_sync_`` prefix (the changeset's own
    columns), more bytes than the warehouse keeps (PostgreSQL 63, Redshift
    127; PostgreSQL silently truncates longer names) and, on Redshift,
    characters that are not printable (Redshift's "Names and identifiers":
    identifiers consist of UTF-8 printable characters only).
    """
    if "\x00" in name:
        return "it contains a NUL character, which no warehouse allows in a name."
    if name.lower().startswith(RESERVED_COLUMN_PREFIX):
        return (f"names starting with {RESERVED_COLUMN_PREFIX!r} are reserved for the changeset's own columns; "
                "rename the column in the model.")
    limit = IDENTIFIER_MAX_BYTES.get(adapter_type or "")
    if limit is not None and len(name.encode("utf-8")) > limit:
        return f"{adapter_type} keeps names of at most {limit} bytes; this one has {len(name.encode('utf-8'))}."
    if adapter_type == "redshift" and not name.isprintable():
        return "Redshift names may only contain printable characters (no tabs, newlines or other control characters)."
    return None


def _check_column(
    column: Any,
    location: str,
    model: Model,
    known: dict[str, str] | None,
    problems: _Collector,
) -> str | None:
    if not isinstance(column, str) or not column:
        problems.add(location, f"expected a column name of model {model.name}, got {column!r}.")
        return None
    bad = column_name_problem(column, problems.adapter_type)
    if bad is not None:
        problems.add(location, f"column {column!r} of model {model.name} cannot be synced: {bad}")
        return None
    if known is not None and column.lower() not in known:
        hint = did_you_mean(column, known.values())
        problems.add(
            location,
            f"column '{column}' does not exist in model {model.name}.{hint} "
            f"Columns: {', '.join(sorted(known.values()))}.",
        )
    return column


def _parse_entry(
    model: Model,
    loc: str,
    entry: Any,
    config: SyncConfig | None,
    problems: _Collector,
    check_columns: bool,
) -> SyncSpec | None:
    if not isinstance(entry, Mapping):
        problems.add(loc, f"expected a mapping describing one sync, got {type(entry).__name__}.")
        return None
    before = len(problems.problems)
    _unknown_keys(entry, SPEC_KEYS, loc, problems)
    known = _columns_of(model) if check_columns else None

    destination = entry.get("destination")
    destination_type: str | None = None
    if not isinstance(destination, str) or not destination:
        problems.add(f"{loc}.destination", "required: the name of a destination defined in dbt_sync.yml.")
        destination = ""
    elif config is not None:
        if destination in config.destinations:
            destination_type = config.destinations[destination].type
        else:
            known_dest = ", ".join(sorted(config.destinations)) or "none defined"
            problems.add(
                f"{loc}.destination",
                f"unknown destination '{destination}'.{did_you_mean(destination, config.destinations)} "
                f"Destinations in {config.path or 'dbt_sync.yml'}: {known_dest}.",
            )

    obj = entry.get("object")
    if not isinstance(obj, str) or not obj:
        problems.add(f"{loc}.object", "required: the destination object, e.g. Contact or contacts.")
        obj = ""

    mode = entry.get("mode", "upsert")
    if mode not in MODES:
        problems.add(
            f"{loc}.mode", f"{mode!r} is not a mode.{did_you_mean(str(mode), MODES)} Allowed: {', '.join(MODES)}."
        )
        mode = "upsert"

    name = entry.get("name") or default_sync_name(model.name, destination or "destination", obj or "object")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        problems.add(
            f"{loc}.name",
            f"{name!r} is not a valid sync name: use lower-case letters, digits and underscores, "
            "starting with a letter, at most 63 characters (it names warehouse tables).",
        )
        name = str(name)

    raw_pk = entry.get("primary_key")
    primary_key: list[str] = []
    if raw_pk is None:
        problems.add(f"{loc}.primary_key", "required: the model column(s) identifying a row.")
    elif isinstance(raw_pk, str):
        primary_key = [raw_pk]
    elif isinstance(raw_pk, list) and raw_pk:
        primary_key = raw_pk
    else:
        problems.add(f"{loc}.primary_key", "expected a column name or a non-empty list of column names.")
    pk_cols = [
        c
        for i, col in enumerate(primary_key)
        if (
            c := _check_column(
                col, f"{loc}.primary_key" + (f"[{i}]" if len(primary_key) > 1 else ""), model, known, problems
            )
        )
    ]

    fields = _parse_fields(model, loc, entry.get("fields"), destination_type, known, problems)
    match = entry.get("match")
    if match is not None and not isinstance(match, str):
        problems.add(f"{loc}.match", "expected the name of a destination field.")
        match = None
    field_names = [f.name for f in fields]
    if match is None and mode in ("upsert", "update", "mirror"):
        problems.add(
            f"{loc}.match",
            f"required for mode '{mode}': the destination field that identifies a record "
            "(an external id field in Salesforce, an idProperty in HubSpot).",
        )
    elif match is not None and fields and match not in field_names:
        problems.add(
            f"{loc}.match",
            f"'{match}' is not one of the mapped fields.{did_you_mean(match, field_names)} "
            "Map it under fields so its value is sent.",
        )

    associations = _parse_associations(model, loc, entry.get("associations"), destination_type, known, problems)
    depends_on = _string_list(entry.get("depends_on"), f"{loc}.depends_on", problems)
    batch_size = _positive_int(entry.get("batch_size"), f"{loc}.batch_size", problems)
    enabled = _bool(entry.get("enabled", True), f"{loc}.enabled", problems)
    block = _bool(entry.get("block_on_upstream_failures", False), f"{loc}.block_on_upstream_failures", problems)
    project_default = config.defaults.get("delete_threshold") if config is not None else None
    default_threshold = DEFAULT_DELETE_THRESHOLD if project_default is None else project_default
    delete_threshold = _share(entry.get("delete_threshold", default_threshold), f"{loc}.delete_threshold", problems)
    alerts = _parse_alerts(entry.get("alerts"), f"{loc}.alerts", config, problems)
    payload = _parse_payload(model, entry.get("failure_payload"), f"{loc}.failure_payload", known, problems)
    options = entry.get("options") or {}
    if not isinstance(options, Mapping):
        problems.add(f"{loc}.options", "expected a mapping of destination-specific options.")
        options = {}
    if destination_type is not None:
        for problem in spec_rules(destination_type)(entry, loc):
            problems.add(problem.location, problem.message)

    if len(problems.problems) > before:
        return None
    return SyncSpec(
        name=name,
        model_unique_id=model.unique_id,
        model_name=model.name,
        location=loc,
        destination=destination,
        destination_type=destination_type,
        object=obj,
        mode=mode,
        primary_key=tuple(pk_cols),
        match=match,
        fields=tuple(fields),
        associations=tuple(associations),
        depends_on=tuple(depends_on),
        batch_size=batch_size,
        enabled=enabled if enabled is not None else True,
        alerts=alerts,
        delete_threshold=delete_threshold if delete_threshold is not None else DEFAULT_DELETE_THRESHOLD,
        failure_payload=payload,
        options=dict(options),
        block_on_upstream_failures=bool(block),
        tags=model.tags,
        given_keys=frozenset(str(k) for k in entry),
    )


def _parse_fields(
    model: Model,
    loc: str,
    raw: Any,
    destination_type: str | None,
    known: dict[str, str] | None,
    problems: _Collector,
) -> list[FieldMapping]:
    where = f"{loc}.fields"
    if not isinstance(raw, Mapping) or not raw:
        problems.add(
            where, "required: a mapping of destination field -> model column (or {column}, {value}, {lookup})."
        )
        return []
    out: list[FieldMapping] = []
    for name, source in raw.items():
        floc = f"{where}.{name}"
        if isinstance(source, str):
            col = _check_column(source, floc, model, known, problems)
            out.append(FieldMapping(name=str(name), column=col))
            continue
        if not isinstance(source, Mapping):
            problems.add(floc, "expected a column name, {column: c}, {value: constant} or {lookup: {...}}.")
            continue
        kinds = [k for k in FIELD_KEYS if k in source]
        extra = _unknown_keys(source, FIELD_KEYS, floc, problems)
        if len(kinds) != 1:
            if not extra:
                problems.add(floc, "give exactly one of: column, value, lookup.")
            continue
        kind = kinds[0]
        if kind == "column":
            col = _check_column(source["column"], f"{floc}.column", model, known, problems)
            out.append(FieldMapping(name=str(name), column=col))
        elif kind == "value":
            value = source["value"]
            if isinstance(value, (Mapping, list)):
                problems.add(f"{floc}.value", "a constant must be a string, number, boolean or null.")
                continue
            out.append(FieldMapping(name=str(name), constant=value, is_constant=True))
        else:
            lookup = _parse_lookup(model, f"{floc}.lookup", source["lookup"], known, problems)
            if lookup is not None:
                out.append(FieldMapping(name=str(name), lookup=lookup))
    return out


def _parse_lookup(
    model: Model, loc: str, raw: Any, known: dict[str, str] | None, problems: _Collector
) -> LookupSpec | None:
    if not isinstance(raw, Mapping):
        problems.add(loc, "expected {object, match, column}: the parent object, its external id field, our column.")
        return None
    ok = not _unknown_keys(raw, LOOKUP_KEYS, loc, problems)
    for key in ("object", "match"):
        if not isinstance(raw.get(key), str) or not raw.get(key):
            problems.add(
                f"{loc}.{key}", f"required: the parent's {'object' if key == 'object' else 'external id field'}."
            )
            ok = False
    relationship = raw.get("relationship")
    if relationship is not None and (not isinstance(relationship, str) or not relationship):
        problems.add(f"{loc}.relationship", "expected the relationship name, e.g. Parent_Account__r.")
        ok = False
    column = _check_column(raw.get("column"), f"{loc}.column", model, known, problems)
    if not ok or column is None:
        return None
    return LookupSpec(object=raw["object"], match=raw["match"], column=column, relationship=raw.get("relationship"))


def _parse_associations(
    model: Model,
    loc: str,
    raw: Any,
    destination_type: str | None,
    known: dict[str, str] | None,
    problems: _Collector,
) -> list[AssociationSpec]:
    if raw is None:
        return []
    where = f"{loc}.associations"
    if not isinstance(raw, list):
        problems.add(where, "expected a list of {to, column, match?, type_id?, category?, label?}.")
        return []
    out: list[AssociationSpec] = []
    for i, item in enumerate(raw):
        aloc = f"{where}[{i}]"
        if not isinstance(item, Mapping):
            problems.add(aloc, "expected a mapping {to, column, ...}.")
            continue
        bad = _unknown_keys(item, ASSOCIATION_KEYS, aloc, problems)
        to = item.get("to")
        if not isinstance(to, str) or not to:
            problems.add(f"{aloc}.to", "required: the object type to associate with, e.g. companies.")
            bad = True
        column = _check_column(item.get("column"), f"{aloc}.column", model, known, problems)
        type_id = item.get("type_id")
        if type_id is not None and (not _is_int(type_id) or type_id <= 0):
            problems.add(f"{aloc}.type_id", "expected a positive integer association type id, e.g. 279.")
            bad = True
        category = item.get("category", "HUBSPOT_DEFINED")
        if category not in ASSOCIATION_CATEGORIES:
            problems.add(
                f"{aloc}.category", f"{category!r} is not allowed. Allowed: {', '.join(ASSOCIATION_CATEGORIES)}."
            )
            bad = True
        match = item.get("match")
        if match is not None and not isinstance(match, str):
            problems.add(f"{aloc}.match", "expected the target's unique property name.")
            bad = True
        label = item.get("label")
        if label is not None and (not isinstance(label, str) or not label):
            problems.add(f"{aloc}.label", "expected the association label's name, e.g. Billing contact.")
            bad = True
        if bad or column is None or not isinstance(to, str):
            continue
        out.append(
            AssociationSpec(
                to=to, column=column, match=match, type_id=type_id, category=category, label=item.get("label")
            )
        )
    return out


def _parse_alerts(raw: Any, loc: str, config: SyncConfig | None, problems: _Collector) -> AlertSpec:
    if raw is None:
        return AlertSpec()
    if not isinstance(raw, Mapping):
        problems.add(loc, "expected a mapping with channels, failed_records, failed_share, remind_after_hours.")
        return AlertSpec()
    _unknown_keys(raw, ALERT_KEYS, loc, problems)
    channels = raw.get("channels")
    names: tuple[str, ...] | None = None
    if channels is not None:
        names = tuple(_string_list(channels, f"{loc}.channels", problems))
        if config is not None:
            for i, name in enumerate(names):
                if name not in config.channels:
                    known = ", ".join(sorted(config.channels)) or "none defined"
                    problems.add(
                        f"{loc}.channels[{i}]",
                        f"unknown channel '{name}'.{did_you_mean(name, config.channels)} Channels: {known}.",
                    )
    remind = raw.get("remind_after_hours")
    if remind is not None and (not _is_number(remind) or remind <= 0):
        problems.add(f"{loc}.remind_after_hours", "expected a positive number of hours.")
        remind = None
    failed_records = raw.get("failed_records")
    if failed_records is not None and (not _is_int(failed_records) or failed_records < 0):
        problems.add(f"{loc}.failed_records", "expected a whole number >= 0.")
        failed_records = None
    return AlertSpec(
        channels=names,
        failed_records=failed_records,
        failed_share=_share(raw.get("failed_share"), f"{loc}.failed_share", problems),
        remind_after_hours=remind,
        enabled=bool(_bool(raw.get("enabled", True), f"{loc}.enabled", problems)),
    )


def _parse_payload(
    model: Model, raw: Any, loc: str, known: dict[str, str] | None, problems: _Collector
) -> PayloadPolicy:
    if raw is None:
        return PayloadPolicy()
    if not isinstance(raw, Mapping):
        problems.add(loc, "expected {exclude: [columns], mask: [columns]}.")
        return PayloadPolicy()
    _unknown_keys(raw, PAYLOAD_KEYS, loc, problems)
    lists = {}
    for key in PAYLOAD_KEYS:
        cols = _string_list(raw.get(key), f"{loc}.{key}", problems)
        for i, col in enumerate(cols):
            _check_column(col, f"{loc}.{key}[{i}]", model, known, problems)
        lists[key] = tuple(cols)
    return PayloadPolicy(exclude=lists["exclude"], mask=lists["mask"])


def _string_list(raw: Any, loc: str, problems: _Collector) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
        return list(raw)
    problems.add(loc, "expected a name or a list of names.")
    return []


def _is_int(raw: Any) -> bool:
    return isinstance(raw, int) and not isinstance(raw, bool)


def _is_number(raw: Any) -> bool:
    return isinstance(raw, (int, float)) and not isinstance(raw, bool)


def _positive_int(raw: Any, loc: str, problems: _Collector) -> int | None:
    if raw is None:
        return None
    if not _is_int(raw) or raw <= 0:
        problems.add(loc, f"expected a positive whole number, got {raw!r}.")
        return None
    return raw


def _bool(raw: Any, loc: str, problems: _Collector) -> bool | None:
    if isinstance(raw, bool):
        return raw
    problems.add(loc, f"expected true or false, got {raw!r}.")
    return None


def _share(raw: Any, loc: str, problems: _Collector) -> float | None:
    if raw is None:
        return None
    if not _is_number(raw) or not 0 <= raw <= 1:
        problems.add(loc, f"expected a share between 0 and 1 (e.g. 0.05 for 5%), got {raw!r}.")
        return None
    return float(raw)


def _check_unique_names(specs: Sequence[SyncSpec], problems: _Collector) -> None:
    seen: dict[str, SyncSpec] = {}
    for spec in specs:
        if spec.name in seen:
            problems.add(
                spec.location,
                f"sync name '{spec.name}' is already used at {seen[spec.name].location}; "
                "give one of them a distinct 'name'.",
            )
        else:
            seen[spec.name] = spec


def _check_depends_on(specs: Iterable[SyncSpec], problems: _Collector) -> None:
    specs = list(specs)
    names = {s.name for s in specs}
    for spec in specs:
        for i, dep in enumerate(spec.depends_on):
            if dep not in names:
                problems.add(
                    f"{spec.location}.depends_on[{i}]",
                    f"no sync named '{dep}'.{did_you_mean(dep, names)} Known syncs: {', '.join(sorted(names))}.",
                )
            elif dep == spec.name:
                problems.add(f"{spec.location}.depends_on[{i}]", "a sync cannot depend on itself.")
