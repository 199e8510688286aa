"""dbt's CLI conventions: every command takes the same option objects, with dbt's flags, environment
variables and precedence (flag > environment variable > project setting > default)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from dbt_sync import secrets
from dbt_sync.api import build_options
from dbt_sync.cli import main, params
from tests.core.builders import ProjectBuilder, hs_sync, sf_sync

#: (flag, environment variable) of every option params.project adds
PROJECT_OPTIONS = {
    "--project-dir": "DBT_PROJECT_DIR",
    "--profiles-dir": "DBT_PROFILES_DIR",
    "--profile": "DBT_PROFILE",
    "--target": "DBT_TARGET",
    "--target-path": "DBT_TARGET_PATH",
    "--vars": None,
    "--config": "DBT_SYNC_CONFIG",
    "--debug": ["DBT_SYNC_DEBUG", "DBT_DEBUG"],
}


@pytest.fixture(autouse=True)
def _forget_secrets() -> None:
    secrets.clear()


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def project_commands() -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}

    def walk(group: click.Group, prefix: str) -> None:
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                walk(command, f"{prefix}{name} ")
            elif any("--project-dir" in p.opts for p in command.params):
                found[f"{prefix}{name}"] = command

    walk(main, "")
    return found


def test_every_project_command_takes_the_same_options() -> None:
    commands = project_commands()
    assert {"validate", "plan", "run", "status", "failures", "reset", "resolve", "report", "alerts test"} <= set(
        commands
    )
    for name, command in commands.items():
        by_flag = {opt: p for p in command.params if isinstance(p, click.Option) for opt in p.opts}
        for flag, envvar in PROJECT_OPTIONS.items():
            assert flag in by_flag, f"dbt-sync {name} lacks {flag}"
            assert by_flag[flag].envvar == envvar, f"dbt-sync {name} {flag}: envvar {by_flag[flag].envvar}"


def test_selection_and_run_options_are_shared() -> None:
    commands = project_commands()
    for name in ("plan", "run"):
        flags = {opt for p in commands[name].params for opt in p.opts}
        assert {"--select", "--exclude", "--all"} <= flags, name
    for name in ("validate", "status", "failures", "report"):
        flags = {opt for p in commands[name].params for opt in p.opts}
        assert {"--select", "--exclude"} <= flags, name
    full_refresh = next(p for p in commands["run"].params if "--full-refresh" in p.opts)
    assert full_refresh.envvar == "DBT_FULL_REFRESH" and "-f" in full_refresh.opts


def moved_target(tmp_path: Path) -> tuple[Path, Path]:
    """A project whose artifacts are in ``artifacts/`` instead of ``target/``."""
    b = ProjectBuilder(tmp_path / "project")
    b.model("dim_contacts", [sf_sync("contacts_sf"), hs_sync("contacts_hs")])
    written = b.write({"dim_contacts": "success"})
    moved = b.root / "artifacts"
    shutil.move(str(written), str(moved))
    return b.root, moved


def test_target_path_flag_env_and_project_setting(tmp_path: Path) -> None:
    root, moved = moved_target(tmp_path)
    code, out = invoke("plan", "--project-dir", str(root))
    assert code == 2 and "no dbt target directory" in out  # target/ is gone
    code, out = invoke("plan", "--project-dir", str(root), "--target-path", "artifacts", "--json")
    assert code == 0, out
    assert len(json.loads(out)["stages"][0]["syncs"]) == 2
    code, out = invoke("plan", "--project-dir", str(root), "--json", env={"DBT_TARGET_PATH": str(moved)})
    assert code == 0, out
    # the flag wins over the environment variable, as in dbt
    code, out = invoke("plan", "--project-dir", str(root), "--target-path", "artifacts", "--json",
                       env={"DBT_TARGET_PATH": "nowhere"})
    assert code == 0, out
    code, out = invoke("plan", "--project-dir", str(root), "--target-path", "nowhere",
                       env={"DBT_TARGET_PATH": "artifacts"})
    assert code == 2 and "nowhere" in out
    # the environment variable wins over dbt_project.yml's target-path
    (root / "dbt_project.yml").write_text("name: shop\nprofile: shop\ntarget-path: artifacts\n")
    code, out = invoke("plan", "--project-dir", str(root), "--json")
    assert code == 0, out
    code, out = invoke("plan", "--project-dir", str(root), env={"DBT_TARGET_PATH": "nowhere"})
    assert code == 2 and "nowhere" in out


def test_build_options_follows_the_same_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBT_TARGET_PATH", "from_env")
    monkeypatch.setenv("DBT_PROFILE", "env_profile")
    options = build_options(tmp_path)
    assert options.target_path == tmp_path.resolve() / "from_env"
    assert options.target_dir == tmp_path.resolve() / "from_env"
    assert options.profile == "env_profile"
    options = build_options(tmp_path, target_path="given", profile="given_profile")
    assert options.target_dir == tmp_path.resolve() / "given"
    assert options.profile == "given_profile"
    monkeypatch.delenv("DBT_TARGET_PATH")
    (tmp_path / "dbt_project.yml").write_text("name: shop\ntarget-path: from_project\n")
    assert build_options(tmp_path).target_dir == tmp_path.resolve() / "from_project"


def test_profile_flag_and_env_name_a_profile_of_profiles_yml(tmp_path: Path) -> None:
    root, _ = moved_target(tmp_path)
    (root / "profiles.yml").write_text(
        "shop:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: shop.duckdb}\n"
        "other:\n  target: qa\n  outputs:\n    qa: {type: duckdb, path: other.duckdb}\n"
    )
    base = ["validate", "--project-dir", str(root), "--target-path", "artifacts"]
    code, out = invoke(*base, "--profile", "nope")
    assert code == 2 and "Could not find profile named 'nope'" in out and "other, shop" in out
    code, out = invoke(*base, env={"DBT_PROFILE": "nope"})
    assert code == 2 and "Could not find profile named 'nope'" in out
    # the target is checked against the profile chosen, not dbt_project.yml's
    code, out = invoke(*base, "--profile", "other", "--target", "dev")
    assert code == 2 and "The profile 'other' does not have a target named 'dev'" in out and "qa" in out
    code, out = invoke(*base, "--profile", "other", "--target", "qa")
    assert code == 0, out
    code, out = invoke(*base, "--profile", "other", "--target", "qa", env={"DBT_PROFILE": "nope"})
    assert code == 0, out  # the flag wins


@pytest.mark.parametrize("env", ["DBT_DEBUG", "DBT_SYNC_DEBUG"])
def test_debug_from_dbts_environment_variable(tmp_path: Path, env: str) -> None:
    ProjectBuilder(tmp_path)  # no target/: an error with a traceback under --debug
    code, out = invoke("plan", "--project-dir", str(tmp_path), env={env: "true"})
    assert code == 2 and "Traceback" in out
    code, out = invoke("plan", "--project-dir", str(tmp_path), "--no-debug", env={env: "1"})
    assert code == 2 and "Traceback" not in out
    code, out = invoke("plan", "--project-dir", str(tmp_path), "-d")
    assert code == 2 and "Traceback" in out


def test_params_module_is_where_options_live() -> None:
    # the option objects are importable for any command (and other distributions' commands)
    for name in ("project_dir", "profiles_dir", "profile", "target", "target_path", "vars", "config", "debug",
                 "select", "exclude", "all_syncs", "threads", "full_refresh"):
        assert callable(getattr(params, name)), name
