"""The Python API: what the CLI does, callable from Airflow, Dagster or Prefect.

    import dbt_sync
    result = dbt_sync.run(project_dir="analytics", select=["tag:crm"])
    if result.exit_code: ...
    for sync in result.syncs: print(sync.name, sync.failed)

The returned :class:`~dbt_sync.engine.results.RunResult` is the same object
the CLI prints and writes to ``target/dbt_sync_results.json``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from dbt_sync import masking, telemetry
from dbt_sync.engine.cancel import Cancellation
from dbt_sync.engine.context import RunOptions
from dbt_sync.engine.events import RunListener
from dbt_sync.engine.locks import DEFAULT_STALE_SECONDS, HEARTBEAT_SECONDS, check_stale_seconds
from dbt_sync.engine.progress import Progress
from dbt_sync.engine.results import RunResult
from dbt_sync.engine.retry import RetryPolicy
from dbt_sync.engine.scheduler import Engine
from dbt_sync.errors import ConfigError
from dbt_sync.plan import Plan, build_plan
from dbt_sync.project import Project, ProjectOptions, load_project

RESULTS_FILE = "dbt_sync_results.json"
#: what ``--dry-run`` writes instead, leaving the last real run's results in place
DRY_RUN_RESULTS_FILE = "dbt_sync_dry_run.json"
#: true: record failures alone exit 0 (``dbt-sync run --warn-on-record-failures``)
WARN_ON_RECORD_FAILURES_ENV = "DBT_SYNC_WARN_ON_RECORD_FAILURES"


def dbt_package_dir() -> Path:
    """The folder of dbt-sync's dbt package (``dbt_project.yml`` and ``macros/``) installed with this distribution.

    A dbt project can install it with ``packages: [{local: <this folder>}]``
    (``dbt-sync demo`` does) instead of from git, and then runs the macros of
    exactly this version. In the wheel it is package data
    (``dbt_sync/dbt_package/``); in a source checkout that folder links to the
    repository's ``dbt_project.yml`` and ``macros/``.
    """
    return Path(__file__).resolve().parent / "dbt_package"


def build_options(
    project_dir: str | os.PathLike[str] = ".",
    profiles_dir: str | os.PathLike[str] | None = None,
    target: str | None = None,
    vars: dict[str, Any] | None = None,
    config_path: str | None = None,
    profile: str | None = None,
    target_path: str | os.PathLike[str] | None = None,
    artifacts_dir: str | os.PathLike[str] | None = None,
) -> ProjectOptions:
    """Where the dbt project, profiles, artifacts and ``dbt_sync.yml`` are, as the CLI flags and :func:`run`
    name them.

    Paths are resolved against the current directory; ``profiles_dir`` None
    means dbt's own default (``DBT_PROFILES_DIR``, the project, ``~/.dbt``).
    A value not given is taken from dbt's environment variable, as dbt does
    (``profile``: ``DBT_PROFILE``, else ``profile:`` of dbt_project.yml;
    ``target_path``: ``DBT_TARGET_PATH``, else ``target-path`` of
    dbt_project.yml, else ``target``; relative to the project directory;
    ``artifacts_dir``: ``DBT_SYNC_ARTIFACTS_DIR``, else None, the target
    directory; relative to the current directory).
    """
    project = Path(project_dir).resolve()
    if target_path is None and os.environ.get("DBT_TARGET_PATH"):
        target_path = os.environ["DBT_TARGET_PATH"]
    where = None
    if target_path is not None and str(target_path):
        where = Path(target_path)
        where = where if where.is_absolute() else project / where
    return ProjectOptions(
        project_dir=project,
        profiles_dir=Path(profiles_dir).resolve() if profiles_dir else None,
        target=target,
        vars=vars,
        config_path=config_path,
        profile=profile or os.environ.get("DBT_PROFILE") or None,
        target_path=where,
        artifacts_dir=_artifacts_dir(artifacts_dir),
    )


#: environment variable of ``--artifacts-dir``
ARTIFACTS_DIR_ENV = "DBT_SYNC_ARTIFACTS_DIR"


def _artifacts_dir(given: str | os.PathLike[str] | None) -> Path | None:
    """``--artifacts-dir`` (else ``DBT_SYNC_ARTIFACTS_DIR``) resolved against the current directory; None: unset."""
    value = given if given is not None and str(given) else os.environ.get(ARTIFACTS_DIR_ENV)
    return Path(value).resolve() if value else None


def env_flag(name: str) -> bool:
    """A boolean environment variable read as the CLI (click, and so dbt) reads one.

    Unset or empty is False; ``1``/``true``/``t``/``yes``/``y``/``on`` are True and
    ``0``/``false``/``f``/``no``/``n``/``off`` False (any case). Anything else raises
    :class:`~dbt_sync.errors.ConfigError` naming the variable.
    """
    value = os.environ.get(name, "").strip()
    if not value:
        return False
    import click

    try:
        return bool(click.BOOL.convert(value, None, None))
    except click.BadParameter:
        raise ConfigError(
            f"{name}={value!r} is not a boolean: use true or false (also 1/0, yes/no, on/off)."
        ) from None


def open_warehouse(options: ProjectOptions) -> Any:
    """The user's warehouse through their dbt profile and adapter.

    Raises :class:`~dbt_sync.errors.ProjectError` when the project's installed dbt
    package of dbt-sync is another version (:mod:`dbt_sync.project.package`).
    """
    from dbt_sync.project.package import check_version
    from dbt_sync.secrets import register_env
    from dbt_sync.warehouse import Warehouse

    register_env()  # a DBT_ENV_SECRET* of profiles.yml is masked in a connection error, as dbt does
    check_version(options.project_dir)  # the package's macros are called: they must be this version's

    return Warehouse.open(
        str(options.project_dir),
        profiles_dir=str(options.profiles_dir) if options.profiles_dir else None,
        target=options.target,
        vars=options.vars,
        profile=options.profile,
        target_path=options.target_path,
        artifacts_dir=options.artifacts_dir,
    )


def run(
    project_dir: str | os.PathLike[str] = ".",
    *,
    profiles_dir: str | os.PathLike[str] | None = None,
    target: str | None = None,
    vars: dict[str, Any] | None = None,
    config_path: str | None = None,
    profile: str | None = None,
    target_path: str | os.PathLike[str] | None = None,
    artifacts_dir: str | os.PathLike[str] | None = None,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    all_syncs: bool = False,
    threads: int | None = None,
    full_refresh: bool | None = None,
    record_failures_fatal: bool | None = None,
    dry_run: bool = False,
    allow_mass_delete: bool = False,
    recapture: bool = False,
    lock_wait_seconds: float = 0.0,
    lock_stale_seconds: float = DEFAULT_STALE_SECONDS,
    lock_heartbeat_seconds: float = HEARTBEAT_SECONDS,
    cancellation: Cancellation | None = None,
    retry_policy: RetryPolicy | None = None,
    progress: Progress | None = None,
    listeners: Sequence[RunListener] = (),
    write_results: bool = True,
) -> RunResult:
    """Plan and run the project's syncs; see ``dbt-sync run --help`` for the options.

    An option left at None is read from its environment variable, as the CLI
    and dbt do: ``profile`` (``DBT_PROFILE``), ``target_path``
    (``DBT_TARGET_PATH``), ``artifacts_dir`` (``DBT_SYNC_ARTIFACTS_DIR``: the
    folder of ``manifest.json`` and ``run_results.json``, e.g. a dbt Cloud
    job run's, instead of the target directory), ``full_refresh`` (``DBT_FULL_REFRESH``),
    ``record_failures_fatal`` (False when ``DBT_SYNC_WARN_ON_RECORD_FAILURES``
    is true; see :meth:`RunResult.exit_code_for`).

    ``lock_stale_seconds`` below 3 heartbeats (``lock_heartbeat_seconds``,
    10 s) raises :class:`~dbt_sync.errors.ConfigError`. ``cancellation``:
    call its ``cancel()`` from any thread to stop the run cleanly (the CLI
    does on SIGTERM/SIGINT); the result's ``exit_code`` is then 128 + signal.
    ``listeners``: :class:`~dbt_sync.engine.events.RunListener` objects that
    receive the run's events (``progress`` is one too); ``run_finished``
    comes last, after alerts and the results file.
    """
    check_stale_seconds(lock_stale_seconds, lock_heartbeat_seconds)
    masking.clear()  # the masked values of an earlier run in this process are not needed any more
    options = build_options(project_dir, profiles_dir, target, vars, config_path, profile, target_path, artifacts_dir)
    if full_refresh is None:
        full_refresh = env_flag("DBT_FULL_REFRESH")
    if record_failures_fatal is None:
        record_failures_fatal = not env_flag(WARN_ON_RECORD_FAILURES_ENV)
    project = load_project(options)
    lifecycle = None if dry_run else _lifecycle_events(project)
    # OpenTelemetry (off unless configured) ends first: the run's last spans are flushed before it returns
    with open_warehouse(options) as warehouse, telemetry.start(project.config.opentelemetry) as tel:
        warehouse.read_only = dry_run  # a dry run leaves the warehouse exactly as it found it
        the_plan = plan_with_retries(project, warehouse, select, exclude, all_syncs)
        engine = Engine(
            plan=the_plan,
            warehouse=warehouse,
            config=project.config,
            all_specs=project.specs,
            options=RunOptions(
                threads=threads or _profile_threads(warehouse),
                full_refresh=full_refresh,
                dry_run=dry_run,
                allow_mass_delete=allow_mass_delete,
                recapture=recapture,
                lock_wait_seconds=lock_wait_seconds,
                lock_stale_seconds=lock_stale_seconds,
                lock_heartbeat_seconds=lock_heartbeat_seconds,
                retry_policy=retry_policy or _default_policy(project),
                record_failures_fatal=record_failures_fatal,
            ),
            invocation_id=_invocation_id(project),
            target=target or _target_name(warehouse),
            progress=progress or Progress.auto(),
            listeners=[*listeners, *([lifecycle] if lifecycle is not None else [])],
            cancellation=cancellation or Cancellation(),
            telemetry=tel,
        )
        try:
            result = engine.execute()
            result.warnings[:0] = project.warnings
            if not dry_run:
                from dbt_sync.alerts.evaluate import evaluate_alerts

                _reconnect_for_alerts(warehouse)
                result.alerts = evaluate_alerts(project, warehouse, result)
            if lifecycle is not None:
                lifecycle.finish(result)  # its warnings belong in the results file
        finally:
            if lifecycle is not None:
                lifecycle.shutdown()
    if write_results:
        write_results_file(result, project.target_dir)
    engine.events.run_finished(result)
    return result


def _lifecycle_events(project: Project) -> Any:
    """The lifecycle-event sender of the project's webhook channels that asked for events, or None."""
    from dbt_sync.alerts.lifecycle import LifecycleEvents, subscribed

    return LifecycleEvents(subscribed(project.config)) if subscribed(project.config) else None


def _reconnect_for_alerts(warehouse: Any) -> None:
    """A connection the run lost (a restarted warehouse) is replaced, so alerts are still evaluated."""
    import contextlib
    import logging

    with contextlib.suppress(Exception):
        if warehouse.reconnect_if_lost():
            logging.getLogger("dbt_sync").info("reconnected to the warehouse to evaluate alerts")


def write_results_file(result: RunResult, target_dir: Path) -> None:
    """Write ``target/dbt_sync_results.json`` (``target/dbt_sync_dry_run.json`` for a dry run, so a
    dry run never replaces the last real run's results).

    A file that cannot be written (read-only folder, disk full) does not undo
    what was synced: it becomes a warning in ``result.warnings`` (the CLI prints it),
    and the exit code stays what the run earned.
    """
    path = target_dir / (DRY_RUN_RESULTS_FILE if result.dry_run else RESULTS_FILE)
    try:
        result.write(path)
    except OSError as exc:
        warning = f"could not write the run results to {path}: {exc.strerror or exc}"
        result.warnings.append(warning)


def plan_with_retries(
    project: Project, warehouse: Any, select: Sequence[str], exclude: Sequence[str], all_syncs: bool
) -> Plan:
    """The plan, including syncs whose model was not rebuilt but that have failed records to retry."""

    return plan_project(project, select, exclude, all_syncs, warehouse.pending_retry_syncs())


def plan_project(
    project: Project,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    all_syncs: bool = False,
    pending_retries: Iterable[str] = (),
) -> Plan:
    """The project's plan: selected syncs in stages (see :func:`dbt_sync.plan.build_plan`).

    ``pending_retries``: syncs with failed records to retry, planned even when
    their model was not rebuilt (``dbt-sync plan`` passes none: it reads no
    warehouse).
    """
    return build_plan(
        project.specs,
        project.manifest,
        project.run_results,
        select=select,
        exclude=exclude,
        all_syncs=all_syncs,
        pending_retries=pending_retries,
    )


def _profile_threads(warehouse: Any) -> int:
    threads = getattr(warehouse, "threads", None)
    return int(threads) if isinstance(threads, int) and threads > 0 else 4


def _target_name(warehouse: Any) -> str | None:
    """The profile's target in use (its default when no ``--target`` was given)."""
    name = getattr(warehouse, "target_name", None)
    return str(name) if name else None


def _default_policy(project: Project) -> RetryPolicy:
    budget = project.config.defaults.get("retry_budget_seconds")
    return RetryPolicy(budget_seconds=float(budget)) if isinstance(budget, (int, float)) else RetryPolicy()


def _invocation_id(project: Project) -> str | None:
    if project.run_results and project.run_results.invocation_id:
        return project.run_results.invocation_id
    return project.manifest.invocation_id
