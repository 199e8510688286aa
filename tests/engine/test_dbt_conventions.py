"""dbt's conventions on a real dbt project (integration_tests on DuckDB) and both CRM emulators.

* ``--target-path`` / ``DBT_TARGET_PATH``: dbt writes its artifacts elsewhere; dbt-sync reads them
  there and writes its results, dry-run file and report there, and prints that path.
* ``--warn-on-record-failures`` / ``DBT_SYNC_WARN_ON_RECORD_FAILURES``: record failures alone exit 0,
  still printed, in the results file and in ``dbt_sync_failures``; a whole-sync failure stays exit 2;
  ``--fail-on-record-failures`` wins over the variable.
* ``DBT_FULL_REFRESH`` resends every row, as ``--full-refresh`` does.
* A ``DBT_ENV_SECRET*`` value that nothing reads (here: the invalid email both CRMs refuse and echo back)
  never leaves dbt-sync in clear: console and --debug log, results file, every audit table, alerts.
* The installed dbt package of another version: the CLI names both versions and what to run; after
  ``dbt deps`` it runs.
"""

from __future__ import annotations

import json
import os
import secrets as pysecrets
import shutil
import subprocess
import sys
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from dbt_sync import masking
from dbt_sync.cli import main
from dbt_sync.version import __version__
from tests.alerts.helpers import channels
from tests.engine.conftest import stack_for

pytestmark = pytest.mark.slow

TABLES = ("dbt_sync_runs", "dbt_sync_failures", "dbt_sync_open_failures", "dbt_sync_state", "dbt_sync_health",
          "dbt_sync_alerts")


def leaks(value: str, text: str) -> list[str]:
    folded = masking.fold(text)
    return sorted(form for form in masking.variants(value) if form in folded)


def cli(env: dict[str, str], project: Any, *args: str) -> tuple[int, str]:
    """The real CLI in-process (click's runner), with ``env`` as the whole environment's additions."""
    done = CliRunner().invoke(
        main, [*args, "--project-dir", str(project.path), "--profiles-dir", str(project.path)], env=env
    )
    return done.exit_code, done.output


def test_target_path_exit_codes_full_refresh_and_env_secrets(
    dbt_project_factory: Any, http_server: Any, smtp_server: Any, tls_cert: tuple[str, str]
) -> None:
    project = dbt_project_factory("duckdb", "conventions", build=False)
    secret = f"Zoë.{pysecrets.token_hex(5)}@@Secret Host.example"  # invalid for both CRMs, which echo it back
    header, rows = project.read_seed("raw_contacts")
    for row in rows:
        if row[0] == "C-2006":
            row[header.index("email")] = secret
    project.write_seed("raw_contacts", header, rows)
    config = yaml.safe_load((project.path / "dbt_sync.yml").read_text())
    config["channels"] = {"pager": channels(smtp_server, http_server, tls_cert[0])["pager"]}
    config["defaults"] = {"alerts": {"failed_records": 1}}
    (project.path / "dbt_sync.yml").write_text(yaml.safe_dump(config))
    artifacts = project.path / "artifacts"

    with stack_for(project) as stack:
        stack.dbt("build", "--target-path", "artifacts")  # dbt's own flag: its artifacts go there
        assert (artifacts / "manifest.json").exists() and not (project.path / "target" / "manifest.json").exists()
        env = {
            **os.environ, **project.env, **stack.sandbox.env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_TARGET_PATH": "artifacts", "DBT_ENV_SECRET_CANARY": secret,
            "DBT_SYNC_WARN_ON_RECORD_FAILURES": "true",
        }
        # -- the real CLI in a subprocess: record failures are not fatal, and are still reported ---------------
        run = subprocess.run(
            [sys.executable, "-m", "dbt_sync", "run", "--debug", "--project-dir", str(project.path),
             "--profiles-dir", str(project.path)],
            env=env, cwd=project.path, capture_output=True, text=True, timeout=300, check=False,
        )
        console = run.stdout + run.stderr
        assert run.returncode == 0, console
        assert f"Results written to {artifacts / 'dbt_sync_results.json'}" in run.stdout
        assert "INVALID_EMAIL_ADDRESS" in run.stdout and "Failed records of contacts_to_salesforce" in run.stdout
        assert "Exit code 0 (records failed; --warn-on-record-failures makes that exit 0)." in run.stdout
        results = json.loads((artifacts / "dbt_sync_results.json").read_text())
        assert results["exit_code"] == 0 and results["metadata"]["record_failures_fatal"] is False
        assert results["totals"]["failed"] == 3
        assert not (project.path / "target" / "dbt_sync_results.json").exists()
        failures = stack.query("select sync_name, record_key, error_code from {schema}.dbt_sync_open_failures")
        assert {(f["sync_name"], f["record_key"]) for f in failures} >= {
            ("contacts_to_salesforce", "C-2006"), ("contacts_to_hubspot", "C-2006")}
        hooks = [r for r in http_server.requests if r.path == "/hooks/dbt-sync"]
        assert hooks  # the failures alerted

        # -- the DBT_ENV_SECRET* value nothing reads is masked on every output path ----------------------------
        outputs: dict[str, str] = {"run console and --debug log": console,
                                   "results JSON": (artifacts / "dbt_sync_results.json").read_text()}
        for table in TABLES:
            outputs[table] = json.dumps(stack.query(f"select * from {{schema}}.{table}"), default=str)
        for i, request in enumerate(http_server.requests):
            outputs[f"alert {i}"] = request.body.decode("utf-8")
        for command in (("failures",), ("status",)):
            outputs[" ".join(command)] = cli(env, project, *command)[1]
        assert "****" in outputs["dbt_sync_failures"]
        assert {where: found for where, text in outputs.items() if (found := leaks(secret, text))} == {}

        # -- the flag wins over the variable; a retry of the failing records fails again: exit 1 ---------------
        code, out = cli(env, project, "run", "--fail-on-record-failures")
        assert code == 1, out
        again = json.loads((artifacts / "dbt_sync_results.json").read_text())
        assert again["exit_code"] == 1
        assert {s["name"]: s["planned"] for s in again["syncs"]}.get("accounts_to_salesforce", 0) == 0

        # -- a sync that fails as a whole stays fatal under the variable ----------------------------------------
        code, out = cli({**env, "DBT_SYNC_HUBSPOT_TOKEN": "pat-na1-wrong-token"}, project, "run",
                        "--select", "contacts_to_hubspot", "--full-refresh")
        assert code == 2, out

        # -- DBT_FULL_REFRESH resends every row, as --full-refresh does ------------------------------------------
        code, out = cli({**env, "DBT_FULL_REFRESH": "true"}, project, "run", "--select", "accounts_to_salesforce",
                        "--json")
        assert code == 0 and json.loads(out)["syncs"][0]["planned"] == 6, out

        # -- the dry-run file and the report go to the target path too; --target-path beats DBT_TARGET_PATH -----
        code, out = cli({**env, "DBT_TARGET_PATH": "nowhere"}, project, "run", "--dry-run", "--all",
                        "--target-path", "artifacts")
        assert code == 0 and f"Results written to {artifacts / 'dbt_sync_dry_run.json'}" in out, out
        code, out = cli(env, project, "report")
        assert code == 0 and str(artifacts / "dbt_sync_report.html") in out, out
        assert (artifacts / "dbt_sync_report.html").exists()
        assert not (project.path / "target" / "dbt_sync_report.html").exists()


def test_installed_package_of_another_version(dbt_project_factory: Any) -> None:
    project = dbt_project_factory("duckdb", "package_version", build=False)
    installed = project.path / "dbt_packages" / "dbt_sync"
    assert installed.is_symlink()  # `local:` in packages.yml: dbt deps links the checkout
    # what an old `dbt deps` left: the package of another release, as a folder
    installed.unlink()
    shutil.copytree(_repo_package(), installed)
    old = installed / "dbt_project.yml"
    old.write_text(old.read_text().replace(f'version: "{__version__}"', 'version: "0.0.1"'))
    env = {**os.environ, **project.env, "DBT_SYNC_SF_PASSWORD": "unused", "DBT_SYNC_HUBSPOT_TOKEN": "unused"}

    code, out = cli(env, project, "status")
    assert code == 2, out
    assert f"{old}: the dbt package dbt_sync installed in this project is version 0.0.1, but this dbt-sync is " \
           f"{__version__}" in " ".join(out.split())
    assert "run `dbt deps`" in out and 'pip install "dbt-sync==0.0.1"' in out and "Traceback" not in out
    # (validate and plan, which read only dbt's artifacts, warn instead: tests/core/test_package_version.py)

    project.dbt("deps")  # what the message says to run
    code, out = cli(env, project, "status")
    assert code == 0 and "version 0.0.1" not in out, out


def _repo_package() -> Any:
    from dbt_sync.api import dbt_package_dir

    return dbt_package_dir().resolve()
