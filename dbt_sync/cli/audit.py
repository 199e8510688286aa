"""``dbt-sync status``, ``failures`` and ``reset``: read and manage the warehouse tables.

These are conveniences over SQL: everything they show is a query away in
the audit schema, and the commands print that schema's table names so the
next step can be SQL.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from dbt_sync.api import open_warehouse
from dbt_sync.cli.base import handle_errors, main, options_from, project_options
from dbt_sync.engine import inflight
from dbt_sync.errors import DbtSyncError
from dbt_sync.output import table, to_json
from dbt_sync.project import load_project

_AGE = re.compile(r"^(\d+)\s*([mhd])$")


def _age_seconds(text: str) -> int:
    match = _AGE.match(text.strip())
    if not match:
        raise click.BadParameter("use a number and a unit: 30m, 12h or 2d.")
    return int(match.group(1)) * {"m": 60, "h": 3600, "d": 86400}[match.group(2)]


@main.command()
@project_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def status(project_dir: Path, profiles_dir: Path | None, target: str | None, vars: dict[str, Any] | None,
           config_path: str | None, debug: bool, as_json: bool) -> None:
    """The last run of each sync, from the dbt_sync_runs table."""
    options = options_from(project_dir, profiles_dir, target, vars, config_path)
    with open_warehouse(options) as wh:
        wh.ensure_tables()
        runs = wh.table("dbt_sync_runs")
        rows = wh.query(
            "select sync_name, status, started_at, finished_at, planned, created, updated, deleted, failed, "
            "error_message from (select r.*, row_number() over (partition by sync_name order by started_at desc) "
            f"as rn from {runs} r) latest where rn = 1 order by sync_name"
        )
    if as_json:
        click.echo(to_json(rows))
        return
    if not rows:
        click.echo(f"No runs recorded yet in {runs}.")
        return
    keys = ["sync_name", "status", "started_at", "planned", "created", "updated", "deleted", "failed"]
    click.echo(table(keys, [[r[k] for k in keys] for r in rows]))
    for r in rows:
        if r.get("error_message"):
            click.echo(f"{r['sync_name']}: {r['error_message']}")


@main.command()
@project_options
@click.option("--sync", "sync_names", multiple=True, help="Only these syncs.")
@click.option("--code", "codes", multiple=True, help="Only these error codes.")
@click.option("--older-than", default=None, help="Only records failing for longer than this (30m, 12h, 2d).")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def failures(project_dir: Path, profiles_dir: Path | None, target: str | None, vars: dict[str, Any] | None,
             config_path: str | None, debug: bool, sync_names: tuple[str, ...], codes: tuple[str, ...],
             older_than: str | None, limit: int, as_json: bool) -> None:
    """Records whose latest attempt failed and that have not succeeded since.

    \b
    Examples:
      dbt-sync failures
      dbt-sync failures --sync contacts_to_hubspot --code INVALID_EMAIL
      dbt-sync failures --older-than 1d --json
    """
    options = options_from(project_dir, profiles_dir, target, vars, config_path)
    age = _age_seconds(older_than) if older_than else None
    with open_warehouse(options) as wh:
        wh.ensure_tables()
        view = wh.table("dbt_sync_open_failures")
        where = []
        if sync_names:
            where.append("sync_name in (" + ", ".join(wh._lit(s) for s in sync_names) + ")")
        if codes:
            where.append("error_code in (" + ", ".join(wh._lit(c) for c in codes) + ")")
        rows = wh.query(
            "select sync_name, record_key, error_code, error_message, attempt, first_failed_at, failed_at "
            f"from {view}" + (" where " + " and ".join(where) if where else "")
            + " order by sync_name, first_failed_at, record_key"
        )
    if age is not None:
        from dbt_sync.warehouse import utcnow

        now = utcnow()
        rows = [r for r in rows if r["first_failed_at"] and (now - r["first_failed_at"]).total_seconds() > age]
    rows = rows[:limit]
    if as_json:
        click.echo(to_json(rows))
        return
    if not rows:
        click.echo(f"No open failures in {view}.")
        return
    keys = ["sync_name", "record_key", "error_code", "attempt", "first_failed_at", "error_message"]
    click.echo(table(keys, [[str(r[k])[:80] if r[k] is not None else "" for k in keys] for r in rows]))
    click.echo(f"{len(rows)} open failure(s). Full rows: select * from {view};")


@main.command()
@project_options
@click.argument("sync_name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@handle_errors
def reset(project_dir: Path, profiles_dir: Path | None, target: str | None, vars: dict[str, Any] | None,
          config_path: str | None, debug: bool, sync_name: str, yes: bool) -> None:
    """Forget what SYNC_NAME has sent: its next run sends every row again.

    The audit history (runs, failures) is kept. For mirror syncs, records
    written before the reset are no longer tracked and will not be deleted.
    """
    options = options_from(project_dir, profiles_dir, target, vars, config_path)
    project = load_project(options)
    names = {s.name for s in project.specs}
    if sync_name not in names:
        from dbt_sync.errors import did_you_mean

        raise DbtSyncError(f"no sync named '{sync_name}'.{did_you_mean(sync_name, names)}")
    if not yes:
        click.confirm(f"Reset {sync_name}? Its next run resends every row.", abort=True)
    with open_warehouse(options) as wh:
        wh.reset(sync_name)
        inflight.forget(wh, sync_name)
    click.echo(f"Reset {sync_name}: its state, pending changes and in-doubt records are cleared.")


@main.command()
@project_options
@click.argument("sync_name")
@click.argument("record_key")
@click.option("--destination-id", default=None, help="The record's id in the CRM, when it was in fact created.")
@handle_errors
def resolve(project_dir: Path, profiles_dir: Path | None, target: str | None, vars: dict[str, Any] | None,
            config_path: str | None, debug: bool, sync_name: str, record_key: str, destination_id: str | None) -> None:
    """Settle a record reported IN_DOUBT by a create-mode sync without a match key.

    A run that died between sending a create and recording its outcome leaves
    the record in doubt; dbt-sync does not resend it, since that could create
    it twice. Check the CRM, then give its id (it counts as created and is
    never created again) or leave --destination-id out (it is sent on the next run).

    \b
    Examples:
      dbt-sync resolve contacts_create C-2001 --destination-id 003xx000004TmiQ
      dbt-sync resolve contacts_create C-2002
    """
    options = options_from(project_dir, profiles_dir, target, vars, config_path)
    with open_warehouse(options) as wh:
        inflight.resolve(wh, sync_name, record_key, destination_id)
    outcome = "recorded as created" if destination_id else "will be sent on the next run"
    click.echo(f"{sync_name} {record_key}: {outcome}.")
