"""``dbt-sync report``: the sync history as one self-contained HTML page."""

from __future__ import annotations

from pathlib import Path

import click

from dbt_sync.cli import params
from dbt_sync.cli.base import handle_errors, main
from dbt_sync.project import ProjectOptions
from dbt_sync.report import DEFAULT_DAYS, REPORT_FILE, build_report


@main.command()
@params.project
@params.select_exclude
@click.option("--days", type=click.IntRange(min=1, max=36_500), default=DEFAULT_DAYS, show_default=True,
              help="Show runs and alerts of this many days back.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=f"Where to write the page (default: {REPORT_FILE} in dbt's target directory, target/ "
              "unless --target-path says otherwise).")
@handle_errors
def report(options: ProjectOptions, select: tuple[str, ...], exclude: tuple[str, ...], days: int,
           output: Path | None) -> None:
    """Write an HTML report of every sync: health, run history, open failures, alerts.

    One file with everything inline (open it without a network, or publish it
    and set report_url in dbt_sync.yml so alerts link to each sync's part).
    It reads the dbt_sync audit and alert tables through your dbt profile.

    \b
    Examples:
      dbt-sync report
      dbt-sync report --select destination:hubspot --days 7 --output public/sync-report.html
    """
    written = build_report(options, select, exclude, days=days, output=output)
    click.echo(f"Wrote {written.path} ({written.size / 1024:.0f} KiB, {len(written.syncs)} syncs).")
