"""``dbt-sync validate``: read the project and check every sync spec; touch nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from dbt_sync.api import open_warehouse
from dbt_sync.cli import params
from dbt_sync.cli.base import handle_errors, main, selected_names, warn
from dbt_sync.project import ProjectOptions, load_project


@main.command()
@params.project
@params.select_exclude
@click.option(
    "--check-destinations",
    is_flag=True,
    help="Also check each mapping against the destination's metadata (Salesforce describe, HubSpot properties).",
)
@handle_errors
def validate(
    options: ProjectOptions,
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    check_destinations: bool,
) -> None:
    """Check every sync spec in the project; report all problems at once.

    Every spec is always read and checked (a project whose meta does not
    parse cannot be planned); --select / --exclude narrow what
    --check-destinations checks against the CRMs and what is counted.

    \b
    Examples:
      dbt parse && dbt-sync validate
      dbt-sync validate --check-destinations --select destination:hubspot
    """
    project = load_project(options)
    chosen = selected_names(project, select, exclude)
    specs = [s for s in project.specs if chosen is None or s.name in chosen]
    from dbt_sync.checks import value_warnings

    warnings = value_warnings(project, only=chosen)
    if check_destinations:
        from dbt_sync.checks import check_destinations as run_checks

        with BuiltColumns(options) as built:
            run_checks(project, only=chosen, relation_types=built.types)
    for warning in [*project.warnings, *warnings]:
        warn(str(warning))
    models = {s.model_unique_id for s in specs}
    scope = "" if chosen is None else " selected"
    click.echo(f"OK: {len(specs)}{scope} sync(s) in {len(models)} model(s) are valid.")


class BuiltColumns:
    """The built relations' column types, for models whose yml documents none.

    Opens the warehouse (through the dbt profile) on first use only, so a
    project whose synced columns are all documented never connects to it.
    """

    def __init__(self, options: ProjectOptions) -> None:
        self.options = options
        self.warehouse: Any = None

    def __enter__(self) -> BuiltColumns:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.warehouse is not None:
            self.warehouse.close()

    def types(self, model_unique_id: str, names: Sequence[str]) -> dict[str, str | None] | None:
        if self.warehouse is None:
            self.warehouse = open_warehouse(self.options)
        found = self.warehouse.resolve_columns(model_unique_id, names)
        return None if found is None else {name: found.type_of(name) for name in names}
