"""``dbt-sync run``: push what changed, then say exactly what happened."""

from __future__ import annotations

import sys
from collections import Counter

import click

from dbt_sync.api import run as run_syncs
from dbt_sync.cli import params
from dbt_sync.cli.base import handle_errors, main, output, stdout_gone, warn
from dbt_sync.engine.cancel import Cancellation, on_signals
from dbt_sync.engine.events import RunListener
from dbt_sync.engine.progress import Progress
from dbt_sync.engine.results import RunResult, SyncResult, SyncStatus
from dbt_sync.logs import JsonEvents
from dbt_sync.output import table, to_json
from dbt_sync.project import ProjectOptions
from dbt_sync.secrets import redact


@main.command()
@params.project
@params.selection
@params.threads
@params.full_refresh
@params.warn_on_record_failures
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send nothing, change nothing in the warehouse.")
@click.option("--allow-mass-delete", is_flag=True, help="Let mirror syncs delete more than their delete_threshold.")
@click.option("--recapture", is_flag=True, help="Compute changesets now instead of using the post-hook's capture.")
@click.option(
    "--wait",
    "lock_wait",
    type=float,
    default=0.0,
    show_default=True,
    help="Seconds to wait for a sync that another dbt-sync run holds, instead of refusing at once.",
)
@click.option(
    "--lock-stale-seconds",
    type=click.FloatRange(min=0),
    default=600.0,
    show_default=True,
    help="Consider a sync's lock abandoned after this many seconds without heartbeat (written every 10 s; "
    "at least 30). A holder that died on this machine is replaced at once.",
)
@params.as_json("the run results")
@handle_errors
def run(
    options: ProjectOptions,
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    all_syncs: bool,
    threads: int | None,
    full_refresh: bool,
    warn_on_record_failures: bool,
    dry_run: bool,
    allow_mass_delete: bool,
    recapture: bool,
    lock_wait: float,
    lock_stale_seconds: float,
    as_json: bool,
) -> None:
    """Send each selected sync's changed rows, in plan order, and audit every record.

    By default only syncs whose model the latest dbt invocation built, plus
    syncs with records waiting for a retry, run. Results are also written to
    dbt_sync_results.json in dbt's target directory (target/ unless
    --target-path says otherwise; a dry run writes dbt_sync_dry_run.json
    there and leaves the warehouse as it was).

    \b
    Examples:
      dbt run && dbt-sync run
      dbt-sync run --select tag:crm --threads 8
      dbt-sync run --select contacts_to_hubspot --full-refresh
      dbt-sync run --dry-run --all

    \b
    Exit codes (dbt's code for the nearest case in brackets):
      0        every record synced [0]
      1        the run completed, some records failed [1: a node failed];
               0 with --warn-on-record-failures
      2        a sync failed as a whole, or nothing could run: bad input,
               profile, warehouse [1: a handled error; 2: could not run]
      3        a sync was not run: another dbt-sync run holds it [none]
      130/143  cancelled by SIGINT / SIGTERM [2]: it stops sending, records
               what the CRM confirmed, releases its locks
    Priority: cancelled, then 2, then 3, then 1.

    \b
    Output: the summary on stdout, progress and logs on stderr. --json: the
    results document on stdout instead of the summary. --log-format json:
    one JSON event per line on stderr (run and sync start, progress, sync and
    run end, warnings, errors) and no summary; with --json the results
    document is then printed on one line. --quiet: errors only.
    """
    progress, listeners = _listeners(as_json)
    cancellation = Cancellation()
    with on_signals(cancellation):
        result = run_syncs(
            options.project_dir,
            profiles_dir=options.profiles_dir,
            target=options.target,
            vars=options.vars,
            config_path=options.config_path,
            profile=options.profile,
            target_path=options.target_path,
            artifacts_dir=options.artifacts_dir,
            select=select,
            exclude=exclude,
            all_syncs=all_syncs,
            threads=threads,
            full_refresh=full_refresh,
            dry_run=dry_run,
            allow_mass_delete=allow_mass_delete,
            recapture=recapture,
            lock_wait_seconds=lock_wait,
            lock_stale_seconds=lock_stale_seconds,
            record_failures_fatal=not warn_on_record_failures,
            progress=progress,
            listeners=listeners,
            cancellation=cancellation,
        )
    try:
        if as_json:
            click.echo(to_json(result.to_dict(), compact=output.json))
        elif not output.json and not output.quiet:
            click.echo(render_summary(result))
            if result.results_path is not None:
                click.echo(f"Results written to {result.results_path}")
    except BrokenPipeError:  # `dbt-sync run | head`: the run happened; its exit code still says how it went
        stdout_gone()
    if not output.json:  # json format: RunWarning events, written before RunFinished
        for warning in result.warnings:
            warn(warning)
    sys.exit(result.exit_code)


def _listeners(as_json: bool) -> tuple[Progress, list[RunListener]]:
    """What the run tells as it goes, per --log-format / --quiet / --json: progress lines, or JSON events."""
    if output.lines is not None:
        return Progress.silent(), [JsonEvents(output.lines)]
    if output.quiet:
        return Progress(errors_only=True), []
    if as_json:
        return Progress.silent(), []
    if output.log_format in ("text", "debug"):
        return Progress(interactive=False, detailed=output.log_format == "debug"), []
    return Progress.auto(), []


def _errors(sync: SyncResult) -> str:
    return ", ".join(f"{code} x{count}" for code, count in sync.top_errors())


def render_summary(result: RunResult) -> str:
    """The end-of-run table, then what to look at for each problem."""
    rows = [
        [
            s.name,
            s.status,
            s.planned,
            s.created,
            s.updated,
            s.deleted,
            s.failed,
            f"{s.duration_seconds:.1f}s",
            _errors(s),
        ]
        for s in result.syncs
    ]
    lines = [f"dbt-sync run {result.run_id}" + (" (dry run: nothing was sent)" if result.dry_run else "")]
    if rows:
        lines.append(
            table(
                ["sync", "status", "planned", "created", "updated", "deleted", "failed", "time", "top errors"], rows
            )
        )
    else:
        lines.append("No syncs planned.")
    for sync in result.syncs:
        if sync.message and sync.status in (SyncStatus.ERROR, SyncStatus.SKIPPED):
            lines.append(f"{sync.status} {sync.name}: {sync.message}")
        if sync.failed and sync.failures_sql:
            lines.append(f"Failed records of {sync.name}:\n  {sync.failures_sql};")
        if sync.samples:
            lines.append(f"Would send for {sync.name} (first {len(sync.samples)}):")
            lines += [f"  {to_json(sample, compact=True)}" for sample in sync.samples]
        for code, sample in sync.error_samples.items():
            if sync.status != SyncStatus.ERROR:
                lines.append(f"  {code}: {sample}")
    for alert in result.alerts:
        state = alert.get("status")
        lines.append(
            f"alert {alert.get('kind')} for {alert.get('sync')} via {alert.get('channel')}: {state}"
            + (f" ({alert.get('error')})" if alert.get("error") else "")
        )
    if result.cancelled:
        lines.append(
            f"Run cancelled{f' ({result.cancelled_by_name})' if result.cancelled_by_name else ''}: it stopped "
            "sending, recorded what the destinations confirmed and released its locks; the next run sends the rest."
        )
    totals = result.to_dict()["totals"]
    # "skipped" in the totals counts records (nothing to send under the sync's mode); say which syncs were skipped
    # apart, so "skipped 0" never sits under a table of skipped syncs
    statuses = Counter(s.status for s in result.syncs)
    lines.append(
        "Done. records: "
        + ", ".join(f"{k} {v}" for k, v in totals.items())
        + ("; syncs: " + ", ".join(f"{n} {status}" for status, n in sorted(statuses.items())) if statuses else "")
        + f". Exit code {result.exit_code}"
        + (
            f" (records failed; --warn-on-record-failures makes that exit {result.exit_code})."
            if result.exit_code != result.exit_code_for(record_failures_fatal=True)
            else "."
        )
    )
    return redact("\n".join(lines))
