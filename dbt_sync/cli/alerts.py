"""``dbt-sync alerts test``: check a channel end to end while setting it up."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import click

from dbt_sync.api import open_warehouse
from dbt_sync.cli import params
from dbt_sync.cli.base import handle_errors, main, output
from dbt_sync.errors import EXIT_ERROR
from dbt_sync.output import to_json
from dbt_sync.project import ProjectOptions
from dbt_sync.project.config import load_config


@main.group()
def alerts() -> None:
    """Alert channels (email, Slack, webhook)."""


@alerts.command("test")
@params.project
@click.option("--channel", "channel_name", required=True, help="A channel defined in dbt_sync.yml.")
@click.option("--no-record", is_flag=True, help="Do not record the test in the dbt_sync_alerts table.")
@handle_errors
def test_channel(options: ProjectOptions, channel_name: str, no_record: bool) -> None:
    """Send a sample alert to CHANNEL, with its usual retries, and say what happened.

    \b
    Example:
      dbt-sync alerts test --channel data_team
    """
    from dbt_sync.alerts import send_test

    project = SimpleNamespace(config=load_config(options.project_dir, options.config_path))  # all send_test reads
    if no_record:
        outcome = send_test(project, channel_name)
    else:
        with open_warehouse(options) as wh:
            outcome = send_test(project, channel_name, warehouse=wh)
    click.echo(to_json(outcome, compact=output.json))
    if outcome["status"] != "sent":
        sys.exit(EXIT_ERROR)
