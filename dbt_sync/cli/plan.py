"""``dbt-sync plan``: which syncs would run, in which stages; reads the project, touches nothing."""

from __future__ import annotations

import click

from dbt_sync.api import plan_project
from dbt_sync.cli import params
from dbt_sync.cli.base import handle_errors, main, output, warn
from dbt_sync.output import table, to_json
from dbt_sync.project import ProjectOptions, load_project
from dbt_sync.secrets import redact


@main.command()
@params.project
@params.selection
@params.as_json("the plan")
@handle_errors
def plan(
    options: ProjectOptions,
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
    project = load_project(options)
    for warning in project.warnings:
        warn(warning)
    the_plan = plan_project(project, select, exclude, all_syncs)
    if as_json:
        click.echo(to_json(the_plan.to_dict(), compact=output.json))
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
