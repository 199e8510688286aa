"""``dbt-sync demo``: the whole cycle on a laptop, with no credentials.

1. Copy ``integration_tests`` (accounts, contacts, deals) to a work folder.
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
from dbt_sync.cli.run import render_summary
from dbt_sync.engine.progress import Progress
from dbt_sync.errors import ProjectError
from dbt_sync.output import table
from dbt_sync_emulators.sandbox import running_sandbox

FIXES = {"C-2006": {"email": "chloe.dubois@elan-etudes.example"}, "C-2007": {"tier": "Gold"}}


def source_project() -> Path:
    here = Path(__file__).resolve().parents[3] / "integration_tests"
    if not (here / "dbt_project.yml").exists():
        raise ProjectError(
            "dbt-sync demo needs the integration_tests project of a dbt-sync source checkout "
            f"(looked in {here}). Clone the repository and run scripts/demo."
        )
    return here


def prepare(work_dir: Path) -> Path:
    """A fresh copy of integration_tests whose packages.yml points at this checkout."""
    project = work_dir / "project"
    if project.exists():
        shutil.rmtree(project)
    shutil.copytree(
        source_project(), project, ignore=shutil.ignore_patterns("target", "dbt_packages", "logs", "*.duckdb*")
    )
    package_root = source_project().parent
    (project / "packages.yml").write_text(f"packages:\n  - local: {package_root}\n", encoding="utf-8")
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
    env = {"DBT_SYNC_TARGET": "duckdb", "DBT_SYNC_DUCKDB_PATH": str(work_dir / "demo.duckdb")}
    with running_sandbox() as sandbox:
        env.update(sandbox.env())
        os.environ.update(env)
        say(f"Salesforce emulator: {sandbox.salesforce.instance_url}   HubSpot emulator: {sandbox.hubspot.url}")
        say(f"\n== 1. dbt build of {project} on DuckDB (the post-hook captures changes)")
        dbt(project, env, "deps")
        dbt(project, env, "build")
        say("\n== 2. dbt-sync run")
        first = api.run(project, progress=Progress(interactive=False))
        say(render_summary(first))
        say("\n== 3. Why records failed, straight from the audit table")
        say(_open_failures(project))
        say("\n== 4. Fix the data in the model's source and rebuild: only the fixed rows changed")
        fix_data(project)
        dbt(project, env, "build")
        say("\n== 5. dbt-sync run again: the failed records are retried and succeed")
        second = api.run(project, progress=Progress(interactive=False))
        say(render_summary(second))
        say("\n== 6. Open failures now")
        say(_open_failures(project))
        sf_contacts = len(sandbox.salesforce.records("Contact"))
        hs_contacts = len(sandbox.hubspot.records("contacts"))
        say(f"\nSalesforce now holds {sf_contacts} contacts; HubSpot holds {hs_contacts}.")
    say(
        f"\nDone in {time.monotonic() - started:.0f}s. The DuckDB file {work_dir / 'demo.duckdb'} keeps the audit "
        "tables: query analytics_dbt_sync.dbt_sync_failures and dbt_sync_runs with any SQL client."
    )
    return second.exit_code


def _open_failures(project: Path) -> str:
    options = api.build_options(project)
    with api.open_warehouse(options) as wh:
        view = wh.table("dbt_sync_open_failures")
        rows = wh.query(f"select sync_name, record_key, error_code, error_message from {view} order by 1, 2")
    if not rows:
        return f"select * from {view};  -- no rows: every record is in sync"
    keys = ["sync_name", "record_key", "error_code", "error_message"]
    body = table(keys, [[str(r[k])[:90] for k in keys] for r in rows])
    return f"select sync_name, record_key, error_code, error_message from {view};\n{body}"
