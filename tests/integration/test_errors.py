"""Configuration and environment problems through the real CLI, on a real dbt project.

Each is a problem a person fixes in a file or a setting (profiles.yml, the
target, dbt_sync.yml, a URL, a file another process holds): the CLI says so in
one line naming it and exits 2, never "Internal error" and never a traceback
without --debug. A results file that cannot be written is a warning.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import stack_for

pytestmark = pytest.mark.slow

#: values for the secrets integration_tests/dbt_sync.yml reads (long enough not to appear in messages)
SECRETS_ENV = {"DBT_SYNC_SF_PASSWORD": "sf-password-for-error-tests", "DBT_SYNC_HUBSPOT_TOKEN": "pat-for-error-tests"}


def cli(project: Any, *args: str, env: dict[str, str] | None = None, profiles_dir: Path | None = None,
        project_dir: Path | None = None, unset: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    paths = ["--project-dir", str(project_dir or project.path), "--profiles-dir", str(profiles_dir or project.path)]
    environ = {**os.environ, **project.env, **SECRETS_ENV, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "dbt_sync", *args, *paths],
        env={k: v for k, v in environ.items() if k not in unset},
        capture_output=True, text=True, check=False, timeout=120,
    )


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def project(dbt_project_factory: Any) -> Any:
    return dbt_project_factory("duckdb", "errors")


def profiles_copy(project: Any, tmp_path: Path, old: str, new: str) -> Path:
    """A profiles directory holding the project's profiles.yml with ``old`` replaced by ``new``."""
    text = (project.path / "profiles.yml").read_text()
    assert old in text
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "profiles.yml").write_text(text.replace(old, new))
    return folder


@contextmanager
def duckdb_held(path: str) -> Iterator[None]:
    """Another process holding the DuckDB database file, as a running dbt would."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(120)",
         path],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.kill()
        holder.wait()


def assert_one_clear_line(done: subprocess.CompletedProcess[str], *expected: str) -> None:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Internal error" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: "), lines[0]
    for text in expected:
        assert text in lines[0], (text, lines[0])


# -- the examples of the issue, each by name ------------------------------------------------


def test_missing_profile_names_profiles_yml(project: Any, tmp_path: Path) -> None:
    folder = profiles_copy(project, tmp_path, "dbt_sync_integration_tests:", "some_other_profile:")
    done = cli(project, "status", profiles_dir=folder)
    assert_one_clear_line(
        done, f"{folder / 'profiles.yml'}: no profile named 'dbt_sync_integration_tests'",
        "dbt_project.yml", "Profiles in that file: some_other_profile",
    )


def test_unknown_target_names_the_target_and_the_valid_ones(project: Any) -> None:
    done = cli(project, "run", "--target", "prodd")
    assert_one_clear_line(
        done, f"{project.path / 'profiles.yml'}: ", "does not have a target named 'prodd'",
        "duckdb, postgres, redshift", "--target",
    )


def test_duckdb_file_locked_by_another_process(project: Any) -> None:
    with duckdb_held(project.env["DBT_SYNC_DUCKDB_PATH"]):
        done = cli(project, "run")
    assert_one_clear_line(
        done, f"{project.env['DBT_SYNC_DUCKDB_PATH']}: the DuckDB database file is locked by another process",
        "PID", "target 'duckdb'",
    )


def test_unreachable_login_url_names_the_url_and_the_setting(project: Any, tmp_path: Path) -> None:
    """No login_url, on a network without access (a proxy that refuses): the URL and setting are named."""
    config = tmp_path / "dbt_sync.yml"
    text = (project.path / "dbt_sync.yml").read_text()
    config.write_text("\n".join(line for line in text.splitlines() if "login_url" not in line) + "\n")
    proxy = f"http://127.0.0.1:{closed_port()}"
    hubspot = f"https://127.0.0.1:{closed_port()}"  # the HubSpot client does not read proxy variables
    done = cli(project, "validate", "--check-destinations", "--config", str(config),
               env={"HTTPS_PROXY": proxy, "https_proxy": proxy, "NO_PROXY": "", "no_proxy": "",
                    "DBT_SYNC_HUBSPOT_HOST": hubspot})
    assert_one_clear_line(
        done, "Salesforce login server https://login.salesforce.com unreachable",
        "'login_url' (not set: the default is used) of destinations.salesforce in dbt_sync.yml",
        f"request to {hubspot} failed", "'host' of destinations.hubspot",
    )


# -- the kind: a table of misconfigurations ------------------------------------------------------


def _case_profiles_dir_missing(project: Any, tmp_path: Path) -> tuple[list[str], dict[str, Any], list[str]]:
    missing = tmp_path / "no-such-dir"
    return ["status"], {"profiles_dir": missing}, [f"{missing}: profiles directory not found", "--profiles-dir"]


def _case_profiles_yml_missing(project: Any, tmp_path: Path) -> tuple[list[str], dict[str, Any], list[str]]:
    return ["status"], {"profiles_dir": tmp_path}, [f"{tmp_path / 'profiles.yml'}: not found"]


def _case_profile_env_var(project: Any, tmp_path: Path) -> tuple[list[str], dict[str, Any], list[str]]:
    folder = profiles_copy(project, tmp_path, "env_var('DBT_SYNC_DUCKDB_PATH', 'target/dbt_sync_demo.duckdb')",
                           "env_var('DBT_SYNC_TEST_UNSET_PATH')")
    return ["status"], {"profiles_dir": folder}, [
        f"{folder / 'profiles.yml'}: environment variable 'DBT_SYNC_TEST_UNSET_PATH' is not set"]


def _case_target_env(project: Any, tmp_path: Path) -> tuple[list[str], dict[str, Any], list[str]]:
    return ["failures"], {"env": {"DBT_TARGET": "staging"}}, ["does not have a target named 'staging'"]


def _case_target_unknown_in_plan(project: Any, tmp_path: Path) -> tuple[list[str], dict[str, Any], list[str]]:
    # regression: plan and validate read only the artifacts, and accepted a misspelt target without a word
    return ["plan"], {"env": {"DBT_TARGET": "staging"}}, [
        f"{project.path / 'profiles.yml'}: The profile", "does not have a target named 'staging'", "DBT_TARGET"]


def _case_target_unknown_in_validate(project: Any, tmp_path: Path) -> tuple[list[str], dict[str, Any], list[str]]:
    return ["validate", "--target", "prdo"], {}, ["does not have a target named 'prdo'", "--target"]


def _case_warehouse_refuses(project: Any, tmp_path: Path) -> tuple[list[str], dict[str, Any], list[str]]:
    env = {"DBT_SYNC_TARGET": "postgres", "DBT_SYNC_PG_PORT": str(closed_port()), "DBT_SYNC_PG_PASSWORD": "pw-x"}
    return ["status"], {"env": env}, ["cannot connect to the warehouse (target 'postgres'", "profiles.yml"]


def _case_project_dir(project: Any, tmp_path: Path) -> tuple[list[str], dict[str, Any], list[str]]:
    return ["run"], {"project_dir": tmp_path}, [f"{tmp_path}: no dbt_project.yml here"]


def _case_config_missing(project: Any, tmp_path: Path) -> tuple[list[str], dict[str, Any], list[str]]:
    missing = tmp_path / "dbt_sync.yml"
    return ["run", "--config", str(missing)], {}, [f"{missing}: no dbt-sync config found"]


def _case_config_env_var(project: Any, tmp_path: Path) -> tuple[list[str], dict[str, Any], list[str]]:
    return ["validate"], {"unset": ("DBT_SYNC_HUBSPOT_TOKEN",)}, [
        "dbt_sync.yml: destinations.hubspot.access_token: environment variable 'DBT_SYNC_HUBSPOT_TOKEN' is not set"]


def _case_config_invalid(project: Any, tmp_path: Path) -> tuple[list[str], dict[str, Any], list[str]]:
    config = tmp_path / "dbt_sync.yml"
    config.write_text((project.path / "dbt_sync.yml").read_text() + "\ndefaultz: {}\n")
    return ["validate", "--config", str(config)], {}, [f"{config}: invalid dbt-sync config:", "defaultz: unknown key"]


def _case_login_url_refused(project: Any, tmp_path: Path) -> tuple[list[str], dict[str, Any], list[str]]:
    url = f"https://127.0.0.1:{closed_port()}"
    return ["validate", "--check-destinations"], {
        "env": {"DBT_SYNC_SF_LOGIN_URL": url, "DBT_SYNC_HUBSPOT_HOST": url}}, [
        f"Salesforce login server {url} unreachable", "'login_url' of destinations.salesforce",
        f"request to {url} failed", "'host' of destinations.hubspot"]


def _case_target_dir_unusable(project: Any, tmp_path: Path) -> tuple[list[str], dict[str, Any], list[str]]:
    # dbt cannot write its partial-parse file into the target directory
    parse_file = project.path / "target" / "partial_parse.msgpack"
    saved = tmp_path / "partial_parse.msgpack"
    parse_file.replace(saved)
    parse_file.mkdir()
    UNDO.append(lambda: (parse_file.rmdir(), saved.replace(parse_file)))
    return ["status"], {}, [f"{parse_file}: Is a directory"]


def _case_config_not_yaml(project: Any, tmp_path: Path) -> tuple[list[str], dict[str, Any], list[str]]:
    # regression: PyYAML's five-line message (context, problem, a caret under the source) was printed as is
    config = tmp_path / "dbt_sync.yml"
    config.write_text("version: 1\ndestinations: [\n")
    return ["validate", "--config", str(config)], {}, [f"{config}: not valid YAML: line 3, column 1: "]


def _case_dbt_project_not_yaml(project: Any, tmp_path: Path) -> tuple[list[str], dict[str, Any], list[str]]:
    # regression: dbt's error quoted the source over many lines and named the folder, not the file
    project_yml = project.path / "dbt_project.yml"
    text = project_yml.read_text()
    project_yml.write_text(text + "\nbroken: [\n")
    UNDO.append(lambda: project_yml.write_text(text))
    return ["status"], {}, [f"{project_yml}: not valid YAML: line "]


def _case_profiles_not_yaml(project: Any, tmp_path: Path) -> tuple[list[str], dict[str, Any], list[str]]:
    folder = profiles_copy(project, tmp_path, "outputs:", "outputs:")
    profiles_yml = folder / "profiles.yml"
    profiles_yml.write_text(profiles_yml.read_text() + "\nbroken: [\n")
    return ["status"], {"profiles_dir": folder}, [f"{profiles_yml}: not valid YAML: line "]


#: restores what a case changed in the shared project
UNDO: list[Callable[[], Any]] = []


CASES: dict[str, Callable[[Any, Path], tuple[list[str], dict[str, Any], list[str]]]] = {
    name.removeprefix("_case_"): fn for name, fn in globals().items() if name.startswith("_case_")
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_misconfiguration_is_one_line_and_exit_2(project: Any, tmp_path: Path, case: str) -> None:
    try:
        args, options, expected = CASES[case](project, tmp_path)
        assert_one_clear_line(cli(project, *args, **options), *expected)
        if case == "profile_env_var":  # --debug shows where it came from
            debug = cli(project, *args, "--debug", **options)
            assert debug.returncode == 2 and "Traceback" in debug.stderr
    finally:
        while UNDO:
            UNDO.pop()()


# -- a results file that cannot be written is a warning ---------------------------------------


@pytest.mark.parametrize("fault", ["disk_full", "not_a_file"])
def test_unwritable_results_file_is_a_warning(project: Any, fault: str) -> None:
    target = project.path / "target"
    results = target / "dbt_sync_results.json"
    results.unlink(missing_ok=True)
    if fault == "disk_full":
        (target / "dbt_sync_results.json.tmp").symlink_to("/dev/full")  # every write: ENOSPC
    else:
        results.mkdir()  # the rename onto it fails
    try:
        with stack_for(project) as stack:
            done = cli(project, "run", "--select", "accounts_to_salesforce", "--full-refresh",
                       env=stack.sandbox.env())
            synced = stack.sandbox.salesforce.records("Account")
    finally:
        (target / "dbt_sync_results.json.tmp").unlink(missing_ok=True)
        if results.is_dir():
            results.rmdir()
    assert done.returncode == 0, done.stderr
    assert len(synced) > 0
    assert "Internal error" not in done.stderr and "Traceback" not in done.stderr
    assert f"Warning: could not write the run results to {results}" in done.stderr
    assert "Results written to" not in done.stdout


# -- a stale manifest ------------------------------------------------------------------------------


def test_stale_manifest_warning_in_validate_plan_and_run(project: Any) -> None:
    """A model's yml edited after dbt wrote the manifest: validate, plan and run say so; dbt parse clears it."""
    crm = project.path / "models" / "crm" / "crm.yml"
    later = time.time() + 5
    os.utime(crm, (later, later))
    start = f"Warning: {project.path / 'target' / 'manifest.json'} is older than "
    end = ": the specs and DAG read from it may be out of date. Run `dbt parse`"
    for args in (["validate"], ["plan"], ["run", "--dry-run", "--select", "accounts_to_salesforce"]):
        done = cli(project, *args)
        assert done.returncode == 0, done.stderr
        # other files may be newer too (other tests of this module rewrite dbt_project.yml)
        (line,) = [x for x in done.stderr.splitlines() if x.startswith(start)]
        assert end in line and "models/crm/crm.yml" in line.split(end)[0], (args, done.stderr)
    project.dbt("parse")
    done = cli(project, "validate")
    assert done.returncode == 0 and "Warning" not in done.stderr, done.stderr


# -- ordinary usage, as with dbt ------------------------------------------------------------------


def test_select_takes_several_selectors_after_one_flag_as_dbt(project: Any) -> None:
    """`--select a b` (dbt's form) selects a and b, like `--select a --select b`; --exclude likewise."""
    spaced = cli(project, "plan", "--all", "--json", "--select", "accounts_to_salesforce", "contacts_to_hubspot")
    repeated = cli(project, "plan", "--all", "--json", "--select", "accounts_to_salesforce",
                   "--select", "contacts_to_hubspot")
    assert spaced.returncode == 0, spaced.stderr
    assert repeated.returncode == 0, repeated.stderr

    def planned(done: subprocess.CompletedProcess[str]) -> set[str]:
        return {sync["name"] for stage in json.loads(done.stdout)["stages"] for sync in stage["syncs"]}

    assert planned(spaced) == planned(repeated) == {"accounts_to_salesforce", "contacts_to_hubspot"}
    excluded = cli(project, "plan", "--all", "--json", "--select", "destination:salesforce",
                   "--exclude", "contacts_to_salesforce", "deals_to_salesforce")
    assert excluded.returncode == 0, excluded.stderr
    assert planned(excluded) == {"accounts_to_salesforce"}


def test_runs_from_a_folder_inside_the_project_as_dbt(project: Any) -> None:
    """dbt finds dbt_project.yml in the current folder or its parents; so does dbt-sync."""
    environ = {**os.environ, **project.env, **SECRETS_ENV}
    environ.pop("DBT_PROJECT_DIR", None)
    done = subprocess.run(
        [sys.executable, "-m", "dbt_sync", "plan", "--all", "--profiles-dir", str(project.path)],
        cwd=project.path / "models" / "crm", env=environ, capture_output=True, text=True, check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "accounts_to_salesforce" in done.stdout


def test_each_warning_is_printed_once(project: Any) -> None:
    """A warning of `run` is one formatted line, not also a raw `WARNING:dbt_sync:` line.

    dbt's tracking library calls logging.basicConfig() when dbt loads it; the
    warnings dbt-sync logs after that must not reach a second handler.
    """
    done = cli(project, "run", "--select", "tag:no_such_tag")
    assert done.returncode == 0, done.stderr
    assert "WARNING:dbt_sync" not in done.stderr, done.stderr
    assert done.stderr.count("does not match any sync") == 1, done.stderr
    assert done.stderr.count("Nothing to do.") == 1, done.stderr


@pytest.mark.parametrize("args", [["status"], ["run", "--select", "tag:no_such_tag"]])
def test_output_into_a_closed_pipe_is_not_an_internal_error(project: Any, args: list[str]) -> None:
    """`dbt-sync status | head -1`: the reader closing the pipe ends the command quietly.

    The reader here (`true`) exits before dbt-sync writes anything, so every write meets a closed pipe.
    """
    environ = {**os.environ, **project.env, **SECRETS_ENV}
    paths = ["--project-dir", str(project.path), "--profiles-dir", str(project.path)]
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", '"$@" | true', "pipe",
         sys.executable, "-m", "dbt_sync", *args, *paths],
        env=environ, capture_output=True, text=True, check=False, timeout=120,
    )
    assert "Internal error" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert "BrokenPipe" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr


def test_dbt_compile_builds_no_model_for_the_plan(project: Any) -> None:
    """Regression: after `dbt compile` (run_results.json: every model "success", nothing materialized, no
    capture post-hook) `plan` and `run` planned every sync as if its model had just been built."""
    results = project.path / "target" / "run_results.json"
    saved = results.read_bytes()
    try:
        project.dbt("compile", "--select", "dim_accounts")
        done = cli(project, "plan", "--json")
    finally:
        results.write_bytes(saved)
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert [s["name"] for stage in plan["stages"] for s in stage["syncs"]] == []
    reasons = {s["name"]: s["reason"] for s in plan["skipped"]}
    assert reasons["accounts_to_salesforce"] == (
        "model dim_accounts was not built by the latest dbt invocation (`dbt compile`) (pass --all to include it)")
