"""``dbt-sync demo`` and ``dbt-sync sandbox``: try dbt-sync with no CRM account.

Registered as ``dbt-sync`` subcommands through the ``dbt_sync.commands`` entry
point group (this distribution's ``pyproject.toml``); ``dbt_sync.cli.plugins``
adds them to the command line.
"""

from __future__ import annotations

import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

import click

from dbt_sync.cli import params
from dbt_sync.cli.base import handle_errors
from dbt_sync.errors import PortInUseError


@click.command()
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to put the demo project and its DuckDB file (default: a new temporary folder); a demo run there "
    "before is started over.",
)
@params.debug
@handle_errors
def demo(work_dir: Path | None, debug: bool) -> None:
    """Build the demo dbt project on DuckDB, sync it to the local Salesforce and HubSpot
    emulators, show the rejected records and why, fix the data, and retry.
    """
    from dbt_sync_emulators.demo import run_demo

    folder = work_dir or Path(tempfile.mkdtemp(prefix="dbt-sync-demo-"))
    code = run_demo(folder.resolve(), say=click.echo)
    sys.exit(code)


@click.command()
@click.option("--salesforce-port", type=click.IntRange(0, 65535), default=8443, show_default=True)
@click.option("--hubspot-port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--latency", type=click.FloatRange(min=0.0), default=0.0, help="Seconds added to every API call.")
@params.debug
@handle_errors
def sandbox(salesforce_port: int, hubspot_port: int, latency: float, debug: bool) -> None:
    """Run the local Salesforce and HubSpot emulators until Ctrl-C (or SIGTERM / SIGHUP).

    Prints the environment variables that point a dbt_sync.yml at them, and the
    destinations of such a file (the README's example, and the demo
    project's dbt_sync.yml, use the same names). On Ctrl-C,
    SIGTERM or SIGHUP it stops both emulators, removes its TLS folder and
    exits 0.
    """
    from dbt_sync_emulators.sandbox import DBT_SYNC_YML, running_sandbox

    if salesforce_port == hubspot_port != 0:
        raise click.BadParameter(
            f"{hubspot_port} is also --salesforce-port: the two emulators need two ports (0 picks a free one).",
            param_hint="--hubspot-port",
        )
    for option, port in (("--salesforce-port", salesforce_port), ("--hubspot-port", hubspot_port)):
        _check_port_free(option, port)
    _stop_on_signals()
    try:
        with running_sandbox(sf_port=salesforce_port, hubspot_port=hubspot_port, latency=latency) as box:
            click.echo(f"Salesforce emulator: {box.salesforce.instance_url} (CA: {box.salesforce.ca_cert_path})")
            click.echo(f"HubSpot emulator:    {box.hubspot.url}")
            click.echo("\nexport these to point a project at them:")
            for key, value in box.env().items():
                click.echo(f"export {key}='{value}'")
            click.echo("\nin a dbt_sync.yml that reads them (the README's example; it also serves real orgs):")
            click.echo(DBT_SYNC_YML)
            click.echo("Ctrl-C to stop.")
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:  # Ctrl-C, SIGTERM or SIGHUP, at any point: the with block has cleaned up
        click.echo("stopped")


def _check_port_free(option: str, port: int) -> None:
    """Raise :class:`PortInUseError` naming ``option`` when 127.0.0.1:``port`` cannot be bound.

    Binds as the emulators do (``SO_REUSEADDR``, so a port left in TIME_WAIT
    by a sandbox that just stopped counts as free). Port 0 (any free port) is
    always free.
    """
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise PortInUseError(
                f"127.0.0.1:{port} ({option}): cannot listen there: {exc.strerror or exc}. Another process "
                f"(perhaps a dbt-sync sandbox already running) holds it: stop it, or pass {option} with another "
                "port (0 picks a free one)."
            ) from None


def _stop_on_signals() -> None:
    """SIGTERM and SIGHUP stop the sandbox as Ctrl-C does, so its cleanup (TLS folder, servers) runs."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), interrupt)
