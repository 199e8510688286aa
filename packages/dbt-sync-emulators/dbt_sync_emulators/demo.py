"""``dbt-sync demo``: the whole cycle on a laptop, with no credentials.

1. Copy the demo dbt project (accounts, contacts, deals: this distribution's
   package data, the repository's ``integration_tests``) to a work folder,
   with ``packages.yml`` pointing at the dbt package installed with dbt-sync.
2. Start the local Salesforce and HubSpot emulators.
3. ``dbt build`` on DuckDB; the post-hook captures each model's changes.
4. ``dbt-sync run``: two contacts are rejected (a malformed email, a tier
   Salesforce's picklist does not allow); the audit table says why.
5. Fix the data, ``dbt build`` again: only the fixed rows changed.
6. ``dbt-sync run``: the retries succeed, nothing else is resent.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from dbt_sync import api
from dbt_sync.engine.progress import Progress
from dbt_sync.engine.results import RunResult
from dbt_sync.errors import ProjectError
from dbt_sync.output import table
from dbt_sync_emulators.sandbox import running_sandbox

#: the demo dbt project, shipped as package data (in a checkout, a link to the repository's integration_tests)
DEMO_PROJECT = Path(__file__).resolve().parent / "demo_project"

FIXES = {"C-2006": {"email": "chloe.dubois@elan-etudes.example"}, "C-2007": {"tier": "Gold"}}


def source_project() -> Path:
    if not (DEMO_PROJECT / "dbt_project.yml").is_file():
        raise ProjectError(f"the demo dbt project is missing from {DEMO_PROJECT}: reinstall dbt-sync[sandbox]")
    return DEMO_PROJECT


def prepare(work_dir: Path) -> Path:
    """A fresh copy of the demo project whose packages.yml points at the dbt package installed with dbt-sync."""
    project = work_dir / "project"
    if project.exists():
        shutil.rmtree(project)
    shutil.copytree(
        source_project(),
        project,
        ignore=shutil.ignore_patterns("target", "dbt_packages", "logs", "*.duckdb*", ".user.yml", "package-lock.yml"),
    )
    (project / "packages.yml").write_text(f"packages:\n  - local: {api.dbt_package_dir()}\n", encoding="utf-8")
    return project


def dbt(project: Path, env: Mapping[str, str], *args: str) -> None:
    exe = Path(sys.executable).with_name("dbt")
    command = [str(exe) if exe.exists() else "dbt", *args]
    command += ["--project-dir", str(project), "--profiles-dir", str(project)]
    done = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ProjectError(f"`dbt {' '.join(args)}` failed:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")


def fix_data(project: Path) -> None:
    path = project / "seeds" / "raw_contacts.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    fieldnames = list(rows[0])
    for row in rows:
        row.update(FIXES.get(row["contact_id"], {}))
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fieldnames, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def run_demo(work_dir: Path, say: Callable[[str], None] = print) -> int:
    started = time.monotonic()
    work_dir.mkdir(parents=True, exist_ok=True)
    project = prepare(work_dir)
    database = work_dir / "demo.duckdb"
    # the emulators start empty every time: so must the warehouse, or its state would point at records
    # the CRMs no longer hold (a second demo in one folder starts over)
    for leftover in (database, database.with_name(database.name + ".wal")):
        if leftover.exists():
            say(f"Starting over: removing {leftover} from an earlier demo.")
            leftover.unlink()
    env = {"DBT_SYNC_TARGET": "duckdb", "DBT_SYNC_DUCKDB_PATH": str(database)}
    with running_sandbox() as sandbox:
        env.update(sandbox.env())
        os.environ.update(env)
        say(f"Salesforce emulator: {sandbox.salesforce.instance_url}   HubSpot emulator: {sandbox.hubspot.url}")
        say(f"\n== 1. dbt build of {project} on DuckDB (the post-hook captures changes)")
        dbt(project, env, "deps")
        dbt(project, env, "build")
        say("\n== 2. dbt-sync run")
        first = api.run(project, progress=Progress(interactive=False))
        say(summary(first))
        say("\n== 3. Why records failed, straight from the audit table")
        say(failed_records(project, first))
        say("\n== 4. Fix the data in the model's source and rebuild: only the fixed rows changed")
        fix_data(project)
        dbt(project, env, "build")
        say("\n== 5. dbt-sync run again: the failed records are retried and succeed")
        second = api.run(project, progress=Progress(interactive=False))
        say(summary(second))
        say("\n== 6. Failed records of the second run")
        say(failed_records(project, second))
        sf_contacts = len(sandbox.salesforce.records("Contact"))
        hs_contacts = len(sandbox.hubspot.records("contacts"))
        say(f"\nSalesforce now holds {sf_contacts} contacts; HubSpot holds {hs_contacts}.")
    say(
        f"\nDone in {time.monotonic() - started:.0f}s. The DuckDB file {work_dir / 'demo.duckdb'} keeps the audit "
        "tables: query analytics_dbt_sync.dbt_sync_failures and dbt_sync_runs with any SQL client."
    )
    return second.exit_code


def summary(result: RunResult) -> str:
    """One row per sync: what the run did (the numbers ``dbt-sync run`` prints)."""
    keys = ["sync", "status", "created", "updated", "deleted", "failed"]
    rows = [[s.name, s.status, s.created, s.updated, s.deleted, s.failed] for s in result.syncs]
    return table(keys, rows) if rows else "No syncs planned."


def failed_records(project: Path, result: RunResult) -> str:
    """The audit rows of the records ``result`` failed, read with the query the run reports for each sync."""
    failed = [s for s in result.syncs if s.failed and s.failures_sql]
    if not failed:
        return "No failed records: every record is in sync."
    keys = ["record_key", "error_code", "error_message"]
    parts = []
    with api.open_warehouse(api.build_options(project)) as wh:
        for sync in failed:
            assert sync.failures_sql is not None
            rows = wh.query(sync.failures_sql)
            body = table(["sync", *keys], [[sync.name, *(str(r[k])[:90] for k in keys)] for r in rows])
            parts.append(f"{sync.failures_sql};\n{body}")
    return "\n".join(parts)
