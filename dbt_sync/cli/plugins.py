"""Commands other distributions add to ``dbt-sync``, through the ``dbt_sync.commands`` entry point group.

``dbt-sync-emulators`` (``pip install "dbt-sync[sandbox]"``) registers ``demo``
and ``sandbox`` there::

    [project.entry-points."dbt_sync.commands"]
    demo = "dbt_sync_emulators.commands:demo"

Without it, ``dbt-sync demo`` and ``dbt-sync sandbox`` still exist and say,
in one line, what to install (exit code 2).
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

import click

#: the entry point group whose entries (name = subcommand, value = a ``click.Command``) ``dbt-sync`` adds
GROUP = "dbt_sync.commands"

#: subcommands the ``sandbox`` extra provides: (name, one line for ``dbt-sync --help``)
SANDBOX_COMMANDS = {
    "demo": "Try dbt-sync on DuckDB with local CRM emulators (needs dbt-sync[sandbox]).",
    "sandbox": "Run local Salesforce and HubSpot emulators (needs dbt-sync[sandbox]).",
}

MISSING_SANDBOX = (
    "Error: `dbt-sync {name}` runs the local Salesforce and HubSpot emulators, which are not installed. "
    'Install them with: pip install "dbt-sync[sandbox]"'
)


def add_plugin_commands(group: click.Group) -> None:
    """Add every command registered under :data:`GROUP` to ``group``, and a stand-in for each absent sandbox command.

    An entry point whose module cannot be imported (the distribution was removed
    but its metadata left behind) counts as absent.
    """
    for entry in entry_points(group=GROUP):
        if entry.name in group.commands:
            continue  # the first distribution to claim a name keeps it; built-in commands are never replaced
        try:
            command = entry.load()
        except ImportError:
            continue
        group.add_command(command, entry.name)
    for name, summary in SANDBOX_COMMANDS.items():
        if name not in group.commands:
            group.add_command(_missing_sandbox(name, summary), name)


def _missing_sandbox(name: str, summary: str) -> click.Command:
    def callback(args: tuple[str, ...]) -> None:
        click.echo(MISSING_SANDBOX.format(name=name), err=True)
        sys.exit(2)

    return click.Command(
        name,
        callback=callback,
        params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)],
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
        help=summary,
        short_help=summary,
        add_help_option=False,
    )
