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
from dbt_sync.project.spec_models import (
    MODES as MODES,
)
from dbt_sync.project.spec_models import (
    NAME_PATTERN,
    AlertsEntry,
    AssociationEntry,
    FailurePayloadEntry,
    FieldEntry,
    SyncEntry,
    yaml_path,
)
from dbt_sync.project.spec_models import parse_entry as parse_shape

META_KEY = "dbt_sync"
#: the keys of one sync entry, as :class:`dbt_sync.project.spec_models.SyncEntry` declares them
SPEC_KEYS = tuple(SyncEntry.model_fields)
PAYLOAD_KEYS = ("exclude", "mask")
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
    declared: set[str] = set()  # names of syncs whose own problems are reported: not "no sync named"
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
            elif isinstance(entry, Mapping):
                declared.add(_declared_name(model.name, entry))
    _check_unique_names(specs, problems)
    _check_depends_on(specs, problems, declared)
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
    """One sync: its shape through :func:`dbt_sync.project.spec_models.parse_entry`, then the rules that need
    the model's columns, ``dbt_sync.yml`` and the destination's own rules."""
    if not isinstance(entry, Mapping):
        problems.add(loc, f"expected a mapping describing one sync, got {type(entry).__name__}.")
        return None
    before = len(problems.problems)
    values, shape_problems = parse_shape(entry)
    for parts, message in shape_problems:
        problems.add(yaml_path(loc, parts), message)
    known = _columns_of(model) if check_columns else None

    destination: str = values.get("destination", "")
    destination_type: str | None = None
    if destination and config is not None:
        if destination in config.destinations:
            destination_type = config.destinations[destination].type
        else:
            known_dest = ", ".join(sorted(config.destinations)) or "none defined"
            problems.add(
                f"{loc}.destination",
                f"unknown destination '{destination}'.{did_you_mean(destination, config.destinations)} "
                f"Destinations in {config.path or 'dbt_sync.yml'}: {known_dest}.",
            )

    obj: str = values.get("object", "")
    mode: str = values.get("mode", "upsert")

    name = values.get("name") or default_sync_name(model.name, destination or "destination", obj or "object")
    if "name" not in values and "name" in entry and entry["name"]:
        name = str(entry["name"])  # already reported by the shape
    elif not NAME_PATTERN.match(name):
        problems.add(
            f"{loc}.name",
            f"{name!r} is not a valid sync name: use lower-case letters, digits and underscores, "
            "starting with a letter, at most 63 characters (it names warehouse tables).",
        )

    primary_key: list[Any] = values.get("primary_key", [])
    pk_cols = [
        c
        for i, col in enumerate(primary_key)
        if (
            c := _check_column(
                col, f"{loc}.primary_key" + (f"[{i}]" if len(primary_key) > 1 else ""), model, known, problems
            )
        )
    ]

    fields = _parse_fields(model, loc, values.get("fields", {}), known, problems)
    match: str | None = values.get("match")
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

    associations = _parse_associations(model, loc, values.get("associations") or [], known, problems)
    project_default = config.defaults.get("delete_threshold") if config is not None else None
    default_threshold = DEFAULT_DELETE_THRESHOLD if project_default is None else project_default
    delete_threshold = values.get("delete_threshold")
    if "delete_threshold" not in entry:
        delete_threshold = _share(default_threshold, f"{loc}.delete_threshold", problems)
    alerts = _parse_alerts(values.get("alerts"), f"{loc}.alerts", config, problems)
    payload = _parse_payload(model, values.get("failure_payload"), f"{loc}.failure_payload", known, problems)
    _check_rejected_parts(model, loc, entry, values, config, known, problems)
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
        depends_on=tuple(values.get("depends_on") or ()),
        batch_size=values.get("batch_size"),
        enabled=values.get("enabled", True),
        alerts=alerts,
        delete_threshold=delete_threshold if delete_threshold is not None else DEFAULT_DELETE_THRESHOLD,
        failure_payload=payload,
        options=dict(values.get("options") or {}),
        block_on_upstream_failures=values.get("block_on_upstream_failures", False),
        tags=model.tags,
        given_keys=frozenset(str(k) for k in entry),
    )


def _parse_fields(
    model: Model,
    loc: str,
    raw: Mapping[str, str | FieldEntry],
    known: dict[str, str] | None,
    problems: _Collector,
) -> list[FieldMapping]:
    where = f"{loc}.fields"
    out: list[FieldMapping] = []
    for name, source in raw.items():
        floc = f"{where}.{name}"
        if isinstance(source, str):
            out.append(FieldMapping(name=name, column=_check_column(source, floc, model, known, problems)))
        elif "column" in source.model_fields_set:
            col = _check_column(source.column, f"{floc}.column", model, known, problems)
            out.append(FieldMapping(name=name, column=col))
        elif "value" in source.model_fields_set:
            out.append(FieldMapping(name=name, constant=source.value, is_constant=True))
        elif source.lookup is not None:
            lookup = source.lookup
            column = _check_column(lookup.column, f"{floc}.lookup.column", model, known, problems)
            if column is not None:
                out.append(FieldMapping(name=name, lookup=LookupSpec(
                    object=lookup.object, match=lookup.match, column=column, relationship=lookup.relationship)))
    return out


def _parse_associations(
    model: Model,
    loc: str,
    raw: Sequence[AssociationEntry | None],
    known: dict[str, str] | None,
    problems: _Collector,
) -> list[AssociationSpec]:
    out: list[AssociationSpec] = []
    for i, item in enumerate(raw):
        if item is None:  # its shape is already reported
            continue
        column = _check_column(item.column, f"{loc}.associations[{i}].column", model, known, problems)
        if column is None:
            continue
        out.append(
            AssociationSpec(to=item.to, column=column, match=item.match, type_id=item.type_id,
                            category=item.category, label=item.label)
        )
    return out


def _parse_alerts(raw: AlertsEntry | None, loc: str, config: SyncConfig | None, problems: _Collector) -> AlertSpec:
    if raw is None:
        return AlertSpec()
    names = tuple(raw.channels) if raw.channels is not None else None
    _check_channels(names or (), loc, config, problems)
    return AlertSpec(
        channels=names,
        failed_records=raw.failed_records,
        failed_share=raw.failed_share,
        remind_after_hours=raw.remind_after_hours,
        enabled=raw.enabled,
    )


def _check_channels(names: Sequence[str], loc: str, config: SyncConfig | None, problems: _Collector) -> None:
    if config is None:
        return
    for i, name in enumerate(names):
        if name not in config.channels:
            known = ", ".join(sorted(config.channels)) or "none defined"
            problems.add(
                f"{loc}.channels[{i}]",
                f"unknown channel '{name}'.{did_you_mean(name, config.channels)} Channels: {known}.",
            )


def _names(raw: Any) -> list[str]:
    """A name or a list of names as a list; [] for anything else (its shape is reported already)."""
    if isinstance(raw, str):
        return [raw]
    return list(raw) if isinstance(raw, list) and all(isinstance(x, str) for x in raw) else []


def _check_rejected_parts(
    model: Model,
    loc: str,
    entry: Mapping[Any, Any],
    values: Mapping[str, Any],
    config: SyncConfig | None,
    known: dict[str, str] | None,
    problems: _Collector,
) -> None:
    """The columns and channels named inside a part whose shape was rejected, so every problem shows at once."""
    raw_fields = entry.get("fields")
    if isinstance(raw_fields, Mapping):
        for name, source in raw_fields.items():
            if str(name) in values.get("fields", {}) or not isinstance(source, Mapping):
                continue
            floc = f"{loc}.fields.{name}"
            kinds = [k for k in ("column", "value", "lookup") if k in source]
            if kinds == ["column"]:
                _check_column(source["column"], f"{floc}.column", model, known, problems)
            elif kinds == ["lookup"] and isinstance(source["lookup"], Mapping):
                _check_column(source["lookup"].get("column"), f"{floc}.lookup.column", model, known, problems)
    raw_associations = entry.get("associations")
    parsed = values.get("associations")
    if isinstance(raw_associations, list) and parsed is not None:
        for i, (item, typed) in enumerate(zip(raw_associations, parsed, strict=True)):
            if typed is None and isinstance(item, Mapping):
                _check_column(item.get("column"), f"{loc}.associations[{i}].column", model, known, problems)
    payload = entry.get("failure_payload")
    if "failure_payload" not in values and isinstance(payload, Mapping):
        for key in PAYLOAD_KEYS:
            for i, col in enumerate(_names(payload.get(key))):
                _check_column(col, f"{loc}.failure_payload.{key}[{i}]", model, known, problems)
    alerts = entry.get("alerts")
    if "alerts" not in values and isinstance(alerts, Mapping):
        _check_channels(_names(alerts.get("channels")), f"{loc}.alerts", config, problems)


def _parse_payload(
    model: Model, raw: FailurePayloadEntry | None, loc: str, known: dict[str, str] | None, problems: _Collector
) -> PayloadPolicy:
    if raw is None:
        return PayloadPolicy()
    lists = {}
    for key in PAYLOAD_KEYS:
        cols = getattr(raw, key) or []
        for i, col in enumerate(cols):
            _check_column(col, f"{loc}.{key}[{i}]", model, known, problems)
        lists[key] = tuple(cols)
    return PayloadPolicy(exclude=lists["exclude"], mask=lists["mask"])


def _share(raw: Any, loc: str, problems: _Collector) -> float | None:
    if raw is None:
        return None
    if not isinstance(raw, (int, float)) or isinstance(raw, bool) or not 0 <= raw <= 1:
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


def _declared_name(model_name: str, entry: Mapping[str, Any]) -> str:
    """The name an entry that did not parse declares (its ``name``, else the default one)."""
    if isinstance(entry.get("name"), str) and entry["name"]:
        return str(entry["name"])
    parts = [entry.get("destination"), entry.get("object")]
    destination, obj = (p if isinstance(p, str) and p else None for p in parts)
    return default_sync_name(model_name, destination or "destination", obj or "object")


def _check_depends_on(specs: Iterable[SyncSpec], problems: _Collector, declared: Iterable[str] = ()) -> None:
    specs = list(specs)
    names = {s.name for s in specs}
    invalid = set(declared) - names
    for spec in specs:
        for i, dep in enumerate(spec.depends_on):
            if dep in invalid:
                continue  # it exists; its own problems are reported at its location
            if dep not in names:
                problems.add(
                    f"{spec.location}.depends_on[{i}]",
                    f"no sync named '{dep}'.{did_you_mean(dep, names)} Known syncs: {', '.join(sorted(names))}.",
                )
            elif dep == spec.name:
                problems.add(f"{spec.location}.depends_on[{i}]", "a sync cannot depend on itself.")
