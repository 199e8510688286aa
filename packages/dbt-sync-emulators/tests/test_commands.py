"""``dbt-sync sandbox`` and ``dbt-sync demo`` as ``dbt-sync`` subcommands (the ``dbt_sync.commands`` entry points)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from dbt_sync.cli import main
from dbt_sync_emulators import commands


def test_entry_points_register_demo_and_sandbox() -> None:
    """The installed distribution's entry points are what put ``demo`` and ``sandbox`` on the command line."""
    registered = {entry.name: entry.load() for entry in entry_points(group="dbt_sync.commands")}
    assert registered == {"demo": commands.demo, "sandbox": commands.sandbox}, "not installed: run scripts/bootstrap"
    assert main.commands["demo"] is commands.demo and main.commands["sandbox"] is commands.sandbox


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sandbox_removes_its_tls_folder_on_sigterm(signum: int) -> None:
    """Regression: `dbt-sync sandbox` left its TLS folder behind when stopped with SIGTERM."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "dbt_sync", "sandbox", "--salesforce-port", "0", "--hubspot-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, f"sandbox exited early: {proc.wait()} {proc.stderr.read() if proc.stderr else ''}"
            lines.append(line)
            if line.startswith("Ctrl-C to stop"):
                break
        ca = next(v.strip("'\n") for k, _, v in (ln.partition("=") for ln in lines)
                  if k == "export DBT_SYNC_SF_CA_BUNDLE")
        folder = Path(ca).parent
        # what a dbt_sync.yml needs: the README's destinations, reading exactly the exported names
        from dbt_sync_emulators.sandbox import DBT_SYNC_YML

        assert DBT_SYNC_YML in "".join(lines)
        assert folder.is_dir() and folder.name.startswith("dbt-sync-tls-")
        proc.send_signal(signum)
        assert proc.wait(timeout=30) == 0
        assert not folder.exists(), f"{folder} left behind"
        assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("option", ["--salesforce-port", "--hubspot-port"])
def test_sandbox_on_a_port_in_use_is_one_clear_line(option: str) -> None:
    """Regression: a second `dbt-sync sandbox` (default ports taken) said `Internal error: OSError ... in use`."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        other = "--hubspot-port" if option == "--salesforce-port" else "--salesforce-port"
        done = subprocess.run(
            [sys.executable, "-m", "dbt_sync", "sandbox", option, str(port), other, "0"],
            capture_output=True, text=True, timeout=60, check=False,
        )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Internal error" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert len(lines) == 1 and lines[0].startswith(f"Error: 127.0.0.1:{port} ({option}): cannot listen there"), lines
    assert "Ctrl-C to stop" not in done.stdout


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--salesforce-port", "70000"], "'--salesforce-port': 70000 is not in the range 0<=x<=65535"),
        (["--salesforce-port", "18500", "--hubspot-port", "18500"], "--hubspot-port: 18500 is also --salesforce-port"),
        (["--latency", "-1"], "'--latency': -1.0 is not in the range x>=0.0"),
    ],
)
def test_sandbox_refuses_impossible_ports_and_latency_in_one_line(args: list[str], named: str) -> None:
    """Regression: a port over 65535 or the same port twice said `Internal error`; a negative latency passed."""
    from click.testing import CliRunner

    done = CliRunner().invoke(main, ["sandbox", *args])
    assert done.exit_code == 2, done.output
    assert named in done.output and "Internal error" not in done.output, done.output
