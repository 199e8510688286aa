"""``validate --check-destinations``: every mapping against the destination's metadata."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from dbt_sync.destinations import open_destination
from dbt_sync.destinations.base import (
    AssociationCheck,
    Destination,
    DestinationError,
    FieldSpec,
    RateLimited,
    TransientError,
)
from dbt_sync.engine.mapping import MODE_SENDS, MODE_WRITES
from dbt_sync.errors import Problem, SpecError, UnreachableError
from dbt_sync.project import Project
from dbt_sync.spec import SyncSpec

#: error codes saying the destination refused our credentials: its other syncs are not tried (no second login)
LOGIN_FAILURES = frozenset({"AUTHENTICATION_FAILED", "TOKEN_EXPIRED", "OAUTH_REFRESH_FAILED"})


#: the built relation's column types for a model: ``(model unique_id, column names) -> {name: type or None}``,
#: None when the model has not been built
RelationTypes = Callable[[str, Sequence[str]], Mapping[str, str | None] | None]


def field_specs(spec: SyncSpec, project: Project, relation_types: RelationTypes | None = None) -> list[FieldSpec]:
    """The sync's fields with the type of each source column.

    The type is the one the model's yml documents (``data_type``); for a
    column it documents none, the built relation's (``relation_types``,
    from the adapter's ``get_columns_in_relation``), when given.
    """
    model = project.manifest.models[spec.model_unique_id]
    types: dict[str, str | None] = {c.name.lower(): c.data_type for c in model.columns.values()}
    columns = [m.source_column for m in spec.fields if m.source_column]
    undocumented = [c for c in columns if not types.get(c.lower())]
    if undocumented and relation_types is not None:
        built = relation_types(spec.model_unique_id, undocumented) or {}
        types.update({name.lower(): found for name, found in built.items() if found})
    out = []
    for mapping in spec.fields:
        column = mapping.source_column
        out.append(
            FieldSpec(
                name=mapping.name,
                column=column,
                column_type=types.get(column.lower()) if column else None,
                constant=mapping.constant if mapping.is_constant else None,
                lookup_object=mapping.lookup.object if mapping.lookup else None,
                lookup_match=mapping.lookup.match if mapping.lookup else None,
            )
        )
    return out


def association_checks(spec: SyncSpec) -> list[AssociationCheck]:
    """The sync's associations, each with its yaml path."""
    return [
        AssociationCheck(
            to_object=a.to, path=f"{spec.location}.associations[{i}]", match=a.match, type_id=a.type_id,
            category=a.category, label=a.label,
        )
        for i, a in enumerate(spec.associations)
    ]


def check_destinations(
    project: Project, only: set[str] | None = None, relation_types: RelationTypes | None = None
) -> None:
    """Raise :class:`SpecError` listing every mapping problem found in any destination,
    or :class:`UnreachableError` (one line naming the URL and the setting) when a
    destination cannot be reached.

    ``only``: the names of the syncs to check (default: every enabled sync).
    ``relation_types``: where the types of columns the yml does not document
    come from (see :func:`field_specs`); without it those columns' types are
    not checked.

    Each destination is opened (and logged in to) once, whatever the number
    of its syncs; once it refuses the credentials, or cannot be reached, its
    remaining syncs are not checked, so a wrong password costs one failed
    login, not one per sync.
    """
    problems: list[Problem] = []
    opened: dict[str, Destination] = {}
    failed: set[str] = set()
    unreachable: list[str] = []
    try:
        for spec in project.specs:
            if not spec.enabled or spec.destination in failed or (only is not None and spec.name not in only):
                continue
            destination = opened.get(spec.destination)
            if destination is None:
                try:
                    destination = open_destination(project.config.destination(spec.destination, spec.location))
                except DestinationError as exc:
                    problems.append(Problem(spec.location, f"cannot connect to destination: {exc}"))
                    failed.add(spec.destination)
                    continue
                opened[spec.destination] = destination
            try:
                found = destination.check_mapping(
                    spec.object, MODE_WRITES[spec.mode], spec.match, field_specs(spec, project, relation_types),
                    spec.location, associations=association_checks(spec),
                )
            except DestinationError as exc:
                problems.append(Problem(spec.location, f"cannot check against {spec.destination}: {exc}"))
                if exc.code in LOGIN_FAILURES:
                    # one login per destination: a wrong password tried once per sync could lock the user out
                    failed.add(spec.destination)
                continue
            except TransientError as exc:  # unreachable, or down: not a problem of the spec
                unreachable.append(str(exc))
                failed.add(spec.destination)
                continue
            problems += [Problem(p.path, p.message) for p in found]
    finally:
        for destination in opened.values():
            destination.close()
    if problems:
        raise SpecError(problems + [Problem("dbt_sync.yml", message) for message in unreachable])
    if unreachable:
        raise UnreachableError("; ".join(unreachable))


def value_warnings(project: Project, only: set[str] | None = None) -> list[Problem]:
    """Settings that a run will not use as written, one warning each (no API call is made).

    * ``batch_size`` above what the destination takes in one batch: the
      engine uses the destination's maximum instead (the warning names the
      sync's yaml path, the maximum, why, and what will be used);
    * ``batch_size`` at or below the Salesforce destination's
      ``bulk_threshold``: batches never reach Bulk API 2.0;
    * ``options`` on a HubSpot sync: HubSpot destinations take none;
    * ``bulk_threshold`` with ``all_or_none`` (which never uses Bulk);
    * ``delete_threshold`` on a sync that is not a mirror (it never deletes).

    Raises :class:`SpecError` when a destination cannot be built from its
    entry of ``dbt_sync.yml`` (reading the file already checks every entry
    and every sync's ``options``, so this is a safety net).
    """
    warnings: list[Problem] = []
    problems: list[Problem] = []
    opened: dict[str, Destination | None] = {}
    try:
        for spec in project.specs:
            if not spec.enabled or (only is not None and spec.name not in only):
                continue
            if spec.destination not in opened:
                try:
                    opened[spec.destination] = open_destination(
                        project.config.destination(spec.destination, spec.location)
                    )
                except DestinationError as exc:
                    problems.append(Problem(spec.location, f"destination '{spec.destination}' cannot be used: {exc}"))
                    opened[spec.destination] = None
            destination = opened[spec.destination]
            if "delete_threshold" in spec.given_keys and spec.mode != "mirror":
                warnings.append(Problem(
                    f"{spec.location}.delete_threshold",
                    f"sync {spec.name}: only mirror syncs delete; with mode '{spec.mode}' delete_threshold "
                    "will be ignored.",
                ))
            if destination is None:
                continue
            if spec.destination_type == "hubspot" and spec.options:
                warnings.append(Problem(
                    f"{spec.location}.options",
                    f"sync {spec.name}: HubSpot destinations take no options; "
                    f"{', '.join(sorted(spec.options))} will be ignored.",
                ))
                continue
            if spec.destination_type == "salesforce" and spec.options.get("all_or_none") and (
                "bulk_threshold" in spec.options
            ):
                warnings.append(Problem(
                    f"{spec.location}.options.bulk_threshold",
                    f"sync {spec.name}: all_or_none batches always go through sObject Collections (Bulk API 2.0 "
                    "has no all-or-none mode); bulk_threshold will be ignored.",
                ))
            try:
                warnings += _batch_size_warnings(spec, destination)
            except DestinationError as exc:  # e.g. a bulk_threshold option that is not a number
                problems.append(Problem(f"{spec.location}.options", str(exc)))
    finally:
        for destination in opened.values():
            if destination is not None:
                destination.close()
    if problems:
        raise SpecError(problems)
    return warnings


def _batch_size_warnings(spec: SyncSpec, destination: Destination) -> list[Problem]:
    if spec.batch_size is None:
        return []
    out: list[Problem] = []
    limits = {op: destination.max_batch_size(op, spec.options) for op in MODE_SENDS[spec.mode]}
    largest = min(limits.values())
    if spec.batch_size > largest:
        out.append(Problem(
            f"{spec.location}.batch_size",
            f"sync {spec.name}: {spec.batch_size} is above the largest batch destination '{spec.destination}' takes "
            f"({largest}: {_why_limit(spec, destination)}); batches of {largest} will be used.",
        ))
    threshold = _bulk_threshold(spec, destination)
    if threshold is not None and spec.batch_size <= threshold:
        out.append(Problem(
            f"{spec.location}.batch_size",
            f"sync {spec.name}: {spec.batch_size} is at or below the bulk_threshold of destination "
            f"'{spec.destination}' "
            f"({threshold}): no batch reaches Bulk API 2.0, every one goes through sObject Collections "
            "(200 records a request). Raise batch_size above the threshold, or set bulk_threshold: false.",
        ))
    return out


def _bulk_threshold(spec: SyncSpec, destination: Destination) -> int | None:
    if spec.destination_type != "salesforce" or spec.options.get("all_or_none"):
        return None
    from dbt_sync.destinations.salesforce.config import parse_bulk_threshold

    if "bulk_threshold" in spec.options:
        return parse_bulk_threshold(spec.destination, spec.options["bulk_threshold"])
    config = getattr(destination, "config", None)
    return getattr(config, "bulk_threshold", None)


def _why_limit(spec: SyncSpec, destination: Destination) -> str:
    if spec.destination_type == "hubspot":
        return "HubSpot's batch APIs take at most 100 records a request"
    if spec.options.get("all_or_none"):
        return "an all_or_none batch is one sObject Collections request of at most 200 records"
    if _bulk_threshold(spec, destination) is None:
        concurrency = destination.concurrency if isinstance(destination, RateLimited) else 1
        return f"sObject Collections take 200 records a request, {concurrency} request(s) at once (concurrency)"
    return "one Bulk API 2.0 job per batch, of at most max(10000, bulk_threshold + 1) records"
