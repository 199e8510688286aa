"""``dbt-sync status``, ``failures`` and ``reset``: read and manage the warehouse tables.

These are conveniences over SQL: everything they show is a query away in
the audit schema, and the commands print that schema's table names so the
next step can be SQL.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import click

from dbt_sync.api import open_warehouse
from dbt_sync.cli import params
from dbt_sync.cli.base import handle_errors, main, output, selected_names, warn
from dbt_sync.engine import inflight
from dbt_sync.errors import DbtSyncError, did_you_mean
from dbt_sync.output import table, to_json
from dbt_sync.project import ProjectOptions, load_project
from dbt_sync.spec import SyncSpec
from dbt_sync.warehouse.sync import KeyStatus

_AGE = re.compile(r"^(\d+)\s*([mhd])$")


def _chosen(options: Any, select: tuple[str, ...], exclude: tuple[str, ...]) -> set[str] | None:
    """Sync names chosen by --select / --exclude (reads the project only when one is given)."""
    if not select and not exclude:
        return None
    return selected_names(load_project(options), select, exclude)


def _age_seconds(text: str) -> int:
    match = _AGE.match(text.strip())
    if not match:
        raise click.BadParameter("use a number and a unit: 30m, 12h or 2d.")
    return int(match.group(1)) * {"m": 60, "h": 3600, "d": 86400}[match.group(2)]


@main.command()
@params.project
@params.select_exclude
@params.as_json("the rows")
@handle_errors
def status(options: ProjectOptions, select: tuple[str, ...], exclude: tuple[str, ...],
           as_json: bool) -> None:
    """The last run of each sync, from the dbt_sync_runs table.

    \b
    Examples:
      dbt-sync status
      dbt-sync status --select destination:hubspot --json
    """
    chosen = _chosen(options, select, exclude)
    with open_warehouse(options) as wh:
        wh.ensure_tables()
        runs = wh.table("dbt_sync_runs")
        rows = wh.query_macro("latest_runs_sql")
    if chosen is not None:
        rows = [r for r in rows if r["sync_name"] in chosen]
    if as_json:
        click.echo(to_json(rows, compact=output.json))
        return
    if not rows:
        which = "" if chosen is None else " for the selected syncs"
        click.echo(f"No runs recorded yet{which} in {runs}.")
        return
    keys = ["sync_name", "status", "started_at", "planned", "created", "updated", "deleted", "failed"]
    click.echo(table(keys, [[r[k] for k in keys] for r in rows]))
    for r in rows:
        if r.get("error_message"):
            click.echo(f"{r['sync_name']}: {r['error_message']}")


@main.command()
@params.project
@params.select_exclude
@click.option("--sync", "sync_names", multiple=True, help="Only these syncs.")
@click.option("--code", "codes", multiple=True, help="Only these error codes.")
@click.option("--older-than", default=None, help="Only records failing for longer than this (30m, 12h, 2d).")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@params.as_json("the rows")
@handle_errors
def failures(options: ProjectOptions, select: tuple[str, ...], exclude: tuple[str, ...],
             sync_names: tuple[str, ...], codes: tuple[str, ...], older_than: str | None, limit: int,
             as_json: bool) -> None:
    """Records whose latest attempt failed and that have not succeeded since.

    \b
    Examples:
      dbt-sync failures
      dbt-sync failures --sync contacts_to_hubspot --code INVALID_EMAIL
      dbt-sync failures --older-than 1d --json
      dbt-sync failures --select tag:crm,destination:salesforce
    """
    age = _age_seconds(older_than) if older_than else None
    chosen = _chosen(options, select, exclude)
    with open_warehouse(options) as wh:
        wh.ensure_tables()
        view = wh.table("dbt_sync_open_failures")
        everything = wh.render_macro("open_failures_all_sql")
        rows = wh.query_macro("open_failures_report_sql", sync_names=list(sync_names), codes=list(codes))
        if sync_names:
            runs = wh.table("dbt_sync_runs")
            known = {str(r["sync_name"]) for r in wh.query_macro("recorded_syncs_sql")}
            for name in sync_names:
                if name not in known:  # a typo must not read as "nothing is failing"
                    warn(
                        f"--sync {name}: no run of a sync named '{name}' is recorded in {runs}."
                        + did_you_mean(name, known),
                    )
    if chosen is not None:
        rows = [r for r in rows if r["sync_name"] in chosen]
    if age is not None:
        from dbt_sync.clock import utcnow

        now = utcnow()
        rows = [r for r in rows if r["first_failed_at"] and (now - r["first_failed_at"]).total_seconds() > age]
    total = len(rows)
    rows = rows[:limit]
    if as_json:
        click.echo(to_json(rows, compact=output.json))
        return
    if not rows:
        which = " of the selected syncs" if chosen is not None else ""
        if sync_names or codes or age is not None:
            which += " matching " + " ".join(
                [*(f"--sync {n}" for n in sync_names), *(f"--code {c}" for c in codes)]
                + ([f"--older-than {older_than}"] if age is not None else [])
            )
        click.echo(f"No open failures{which} in {view}.")
        return
    keys = ["sync_name", "record_key", "error_code", "attempt", "first_failed_at", "error_message"]
    click.echo(table(keys, [[str(r[k])[:80] if r[k] is not None else "" for k in keys] for r in rows]))
    shown = f"{total} open failure(s)"
    if total > len(rows):
        shown = f"{len(rows)} of {shown} shown (--limit)"
    click.echo(f"{shown}. Full rows: {everything};")


@main.command()
@params.project
@click.argument("sync_name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@handle_errors
def reset(options: ProjectOptions, sync_name: str, yes: bool) -> None:
    """Forget what SYNC_NAME has sent: its next run sends every row again.

    The audit history (runs, failures) is kept. For mirror syncs, records
    written before the reset are no longer tracked and will not be deleted.
    Asks first unless --yes; declining (or end of input) resets nothing and
    exits 0.
    """
    _sync_named(load_project(options).specs, sync_name)
    if not yes:
        try:
            confirmed = click.confirm(f"Reset {sync_name}? Its next run resends every row.")
        except click.exceptions.Abort:  # Ctrl-C or end of input at the prompt
            confirmed = False
            click.echo()
        if not confirmed:
            click.echo(f"Nothing reset: {sync_name} is unchanged.")
            return
    with open_warehouse(options) as wh:
        wh.reset(sync_name)
        wh.sync(sync_name).forget_in_flight()
    click.echo(f"Reset {sync_name}: its state, pending changes and in-doubt records are cleared.")


@main.command()
@params.project
@click.argument("sync_name")
@click.argument("record_key")
@click.option("--destination-id", default=None, help="The record's id in the CRM, when it was in fact created.")
@handle_errors
def resolve(options: ProjectOptions, sync_name: str, record_key: str, destination_id: str | None) -> None:
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
    spec = _sync_named(load_project(options).specs, sync_name)
    if not inflight.applies(spec):
        how = f"matches records on {spec.match}" if spec.match else "is not a create"
        raise DbtSyncError(
            f"{sync_name} is a sync in {spec.mode} mode that {how}: a resend finds the record it already wrote, "
            "so none of its records is ever in doubt. Nothing to resolve; nothing changed."
        )
    with open_warehouse(options) as wh:
        state = wh.sync(sync_name).key_state(record_key)
        if state.status is KeyStatus.CREATED:
            known = state.destination_id or "an id not recorded"
            if destination_id is not None and state.destination_id not in (None, destination_id):
                raise DbtSyncError(
                    f"{sync_name} {record_key} is already recorded as created with id {known}, not {destination_id}. "
                    f"Nothing changed; to forget what {sync_name} sent, use `dbt-sync reset {sync_name}`."
                )
            click.echo(f"{sync_name} {record_key}: already created ({known}); it is never created again. "
                       "Nothing changed.")
            return
        if state.status is KeyStatus.UNKNOWN:
            doubt = ", ".join(state.in_doubt) if state.in_doubt else "none"
            raise DbtSyncError(
                f"{sync_name} {record_key} is not in doubt (no run left it unconfirmed) and no run recorded it as "
                f"created. Nothing changed. Keys of {sync_name} in doubt: {doubt}."
            )
        wh.sync(sync_name).resolve_in_doubt(record_key, destination_id)
    if destination_id:
        click.echo(f"{sync_name} {record_key}: recorded as created ({destination_id}); it is never created again.")
    else:
        click.echo(f"{sync_name} {record_key}: no longer in doubt; the next run of {sync_name} creates it "
                   "(if its row is still in the model).")


def _sync_named(specs: Sequence[SyncSpec], sync_name: str) -> SyncSpec:
    """The spec called ``sync_name``; DbtSyncError with a did-you-mean if there is none."""
    by_name = {s.name: s for s in specs}
    if sync_name not in by_name:
        raise DbtSyncError(f"no sync named '{sync_name}'.{did_you_mean(sync_name, by_name)}")
    return by_name[sync_name]
