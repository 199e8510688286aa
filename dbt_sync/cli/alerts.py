"""``dbt-sync alerts test``: check a channel end to end while setting it up."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click

from dbt_sync.api import build_options, open_warehouse
from dbt_sync.cli.base import handle_errors, main, project_options
from dbt_sync.errors import EXIT_ERROR
from dbt_sync.output import to_json
from dbt_sync.project.config import load_config


@main.group()
def alerts() -> None:
    """Alert channels (email, Slack, webhook)."""


@alerts.command("test")
@project_options
@click.option("--channel", "channel_name", required=True, help="A channel defined in dbt_sync.yml.")
@click.option("--no-record", is_flag=True, help="Do not record the test in the dbt_sync_alerts table.")
@handle_errors
def test_channel(project_dir: Path, profiles_dir: Path | None, target: str | None, vars: dict[str, Any] | None,
                 config_path: str | None, debug: bool, channel_name: str, no_record: bool) -> None:
    """Send a sample alert to CHANNEL, with its usual retries, and say what happened.

    \b
    Example:
      dbt-sync alerts test --channel data_team
    """
    from dbt_sync.alerts import send_test

    options = build_options(project_dir, profiles_dir, target, vars, config_path)

    project = SimpleNamespace(config=load_config(options.project_dir, options.config_path))  # all send_test reads
    if no_record:
        outcome = send_test(project, channel_name)
    else:
        with open_warehouse(options) as wh:
            outcome = send_test(project, channel_name, warehouse=wh)
    click.echo(to_json(outcome))
    if outcome["status"] != "sent":
        sys.exit(EXIT_ERROR)
