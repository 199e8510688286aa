"""``validate --check-destinations``: every mapping against the destination's metadata."""

from __future__ import annotations

from dbt_sync.destinations import open_destination
from dbt_sync.destinations.base import (
    AssociationCheck,
    Destination,
    DestinationError,
    FieldSpec,
    Operation,
    TransientError,
)
from dbt_sync.errors import Problem, SpecError, UnreachableError
from dbt_sync.project import Project
from dbt_sync.spec import SyncSpec

#: the operations a mode performs, each checked for field permissions
MODE_OPERATIONS = {
    "upsert": Operation.UPSERT,
    "update": Operation.UPDATE,
    "create": Operation.CREATE,
    "mirror": Operation.UPSERT,
}


def field_specs(spec: SyncSpec, project: Project) -> list[FieldSpec]:
    model = project.manifest.models[spec.model_unique_id]
    types = {c.name.lower(): c.data_type for c in model.columns.values()}
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


def check_destinations(project: Project, only: set[str] | None = None) -> None:
    """Raise :class:`SpecError` listing every mapping problem found in any destination,
    or :class:`UnreachableError` (one line naming the URL and the setting) when a
    destination cannot be reached.

    ``only``: the names of the syncs to check (default: every enabled sync).
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
                    spec.object, MODE_OPERATIONS[spec.mode], spec.match, field_specs(spec, project), spec.location,
                    associations=association_checks(spec),
                )
            except DestinationError as exc:
                problems.append(Problem(spec.location, f"cannot check against {spec.destination}: {exc}"))
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
