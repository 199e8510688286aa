"""``dbt-sync demo`` and ``dbt-sync sandbox`` without the emulators distribution: one line naming the extra, exit 2."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import click
import pytest
from click.testing import CliRunner

from dbt_sync.cli import plugins

#: runs the CLI with the emulators package hidden (its entry points stay, as after a partial uninstall)
WITHOUT_PACKAGE = (
    "import sys; sys.modules['dbt_sync_emulators'] = None; "
    "from dbt_sync.cli import main; main(sys.argv[1:], prog_name='dbt-sync')"
)


@pytest.mark.parametrize(
    "args",
    [["demo"], ["demo", "--work-dir", "x"], ["sandbox"], ["sandbox", "--salesforce-port", "0"], ["sandbox", "--help"]],
    ids=["demo", "demo-options", "sandbox", "sandbox-options", "sandbox-help"],
)
def test_without_the_emulators_package_demo_and_sandbox_say_what_to_install(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_PACKAGE, *args], capture_output=True, text=True, timeout=120, check=False
    )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert lines == [plugins.MISSING_SANDBOX.format(name=args[0])], done.stderr
    assert 'pip install "dbt-sync[sandbox]"' in lines[0]
    assert done.stdout == ""


def test_without_the_entry_points_demo_and_sandbox_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """No distribution registers ``dbt_sync.commands`` entries (only the product is installed)."""

    def no_entry_points(**selection: Any) -> list[Any]:
        assert selection == {"group": plugins.GROUP}
        return []

    monkeypatch.setattr(plugins, "entry_points", no_entry_points)
    group = click.Group("dbt-sync")
    plugins.add_plugin_commands(group)
    assert set(group.commands) == {"demo", "sandbox"}
    for name in ("demo", "sandbox"):
        result = CliRunner().invoke(group, [name, "--latency", "1"])
        assert result.exit_code == 2, result.output
        assert result.output.strip() == plugins.MISSING_SANDBOX.format(name=name)
    help_text = CliRunner().invoke(group, ["--help"]).output
    assert "needs dbt-sync[sandbox]" in help_text


def test_a_plugin_never_replaces_a_built_in_command(monkeypatch: pytest.MonkeyPatch) -> None:
    class Entry:
        name = "run"

        def load(self) -> click.Command:
            raise AssertionError("a built-in command's name must not even load the plugin")

    monkeypatch.setattr(plugins, "entry_points", lambda **selection: [Entry()])
    group = click.Group("dbt-sync")
    built_in = click.Command("run")
    group.add_command(built_in)
    plugins.add_plugin_commands(group)
    assert group.commands["run"] is built_in
