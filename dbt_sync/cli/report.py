"""``dbt-sync report``: the sync history as one self-contained HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dbt_sync.api import build_options
from dbt_sync.cli.base import handle_errors, main, project_options, select_exclude_options
from dbt_sync.report import DEFAULT_DAYS, DEFAULT_OUTPUT, build_report


@main.command()
@project_options
@select_exclude_options
@click.option("--days", type=click.IntRange(min=1, max=36_500), default=DEFAULT_DAYS, show_default=True,
              help="Show runs and alerts of this many days back.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=f"Where to write the page (default: {DEFAULT_OUTPUT.as_posix()} in the project).")
@handle_errors
def report(project_dir: Path, profiles_dir: Path | None, target: str | None, vars: dict[str, Any] | None,
           config_path: str | None, debug: bool, select: tuple[str, ...], exclude: tuple[str, ...], days: int,
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
    options = build_options(project_dir, profiles_dir, target, vars, config_path)
    written = build_report(options, select, exclude, days=days, output=output)
    click.echo(f"Wrote {written.path} ({written.size / 1024:.0f} KiB, {len(written.syncs)} syncs).")
