"""``dbt-sync validate`` and ``dbt-sync plan``: read the project, touch nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dbt_sync.cli.base import (
    handle_errors,
    main,
    options_from,
    project_options,
    select_exclude_options,
    selected_names,
    selection_options,
)
from dbt_sync.output import table, to_json
from dbt_sync.project import Project, load_project
from dbt_sync.secrets import redact


@main.command()
@project_options
@select_exclude_options
@click.option(
    "--check-destinations",
    is_flag=True,
    help="Also check each mapping against the destination's metadata (Salesforce describe, HubSpot properties).",
)
@handle_errors
def validate(
    project_dir: Path,
    profiles_dir: Path | None,
    target: str | None,
    vars: dict[str, Any] | None,
    config_path: str | None,
    debug: bool,
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
    project = load_project(options_from(project_dir, profiles_dir, target, vars, config_path))
    chosen = selected_names(project, select, exclude)
    specs = [s for s in project.specs if chosen is None or s.name in chosen]
    from dbt_sync.checks import value_warnings

    warnings = value_warnings(project, only=chosen)
    if check_destinations:
        from dbt_sync.checks import check_destinations as run_checks

        run_checks(project, only=chosen)
    for warning in [*project.warnings, *warnings]:
        click.echo(redact(f"Warning: {warning}"), err=True)
    models = {s.model_unique_id for s in specs}
    scope = "" if chosen is None else " selected"
    click.echo(f"OK: {len(specs)}{scope} sync(s) in {len(models)} model(s) are valid.")


@main.command()
@project_options
@selection_options
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@handle_errors
def plan(
    project_dir: Path,
    profiles_dir: Path | None,
    target: str | None,
    vars: dict[str, Any] | None,
    config_path: str | None,
    debug: bool,
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    all_syncs: bool,
    as_json: bool,
) -> None:
    """Show which syncs would run, in which stages, and why others are left out.

    \b
    Examples:
      dbt-sync plan
      dbt-sync plan --all --json
      dbt-sync plan --select 'tag:crm,destination:hubspot' --exclude deals_to_hubspot
    """
    project = load_project(options_from(project_dir, profiles_dir, target, vars, config_path))
    for warning in project.warnings:
        click.echo(redact(f"Warning: {warning}"), err=True)
    the_plan = _build_plan(project, select, exclude, all_syncs)
    if as_json:
        click.echo(to_json(the_plan.to_dict()))
        return
    rows = [
        [i + 1, s.name, s.model_name, s.destination, s.object, s.mode]
        for i, stage in enumerate(the_plan.stages)
        for s in stage
    ]
    if rows:
        click.echo(table(["stage", "sync", "model", "destination", "object", "mode"], rows))
    else:
        click.echo("No syncs planned.")
    for edge in the_plan.planned_edges():
        click.echo(f"{edge.downstream} after {edge.upstream} ({edge.kind.value}): {edge.reason}")
    for skipped in the_plan.skipped:
        click.echo(redact(f"skipped {skipped.sync.name}: {skipped.reason}"))


def _build_plan(
    project: Project, select: tuple[str, ...], exclude: tuple[str, ...], all_syncs: bool, pending: tuple[str, ...] = ()
) -> Any:
    from dbt_sync.plan import build_plan

    return build_plan(
        project.specs,
        project.manifest,
        project.run_results,
        select=select,
        exclude=exclude,
        all_syncs=all_syncs,
        pending_retries=pending,
    )


