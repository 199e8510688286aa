"""dbt-sync in Airflow 3 (``pip install "dbt-sync[airflow]"``).

* :class:`DbtSyncRunOperator` runs one sync or a selection, with the options
  of ``dbt-sync run``, pushes the run's per-sync figures to XCom and fails or
  succeeds by the CLI's exit code rule.
* :func:`dbt_sync_task_group` renders the plan as a task group: one task per
  sync, dependencies from the plan's edges, so syncs that do not need each
  other run in parallel on any worker (each sync's lock in the warehouse keeps
  two workers off one sync).

README's "Airflow" section has a complete DAG; ``docs/integrations.md`` the
details.
"""

from __future__ import annotations

import contextlib
import logging
import os
import traceback
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from airflow.sdk import BaseOperator, TaskGroup, TriggerRule

try:
    from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException
except ImportError:  # a Task SDK without them (earlier Airflow 3 releases): airflow.exceptions
    from airflow.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from dbt_sync.errors import EXIT_RECORD_FAILURES
from dbt_sync.orchestration import (
    LOCATION_OPTIONS,
    SyncTask,
    figures,
    outcome,
    run_option_names,
    skipped_figures,
    sync_entry,
    sync_tasks,
    task_id_for,
    upstream_block,
)

#: the XCom key the figures are pushed under (Airflow's return value key, so ``operator.output`` reads them)
XCOM_KEY = "return_value"

__all__ = ["XCOM_KEY", "DbtSyncRunOperator", "dbt_sync_task_group"]


class DbtSyncRunOperator(BaseOperator):
    """Run dbt-sync's syncs as ``dbt-sync run`` does, in the worker's process (:func:`dbt_sync.run`).

    Takes every option of :func:`dbt_sync.run` (those of ``dbt-sync run``:
    ``project_dir``, ``profiles_dir``, ``profile``, ``target``, ``target_path``,
    ``vars``, ``config_path``, ``select``, ``exclude``, ``all_syncs`` for
    ``--all``, ``threads``, ``full_refresh``, ``record_failures_fatal``,
    ``dry_run``, ``allow_mass_delete``, ``recapture``, ``lock_wait_seconds`` for
    ``--wait``, ``lock_stale_seconds``, ...; the ones ``dbt_sync.run`` reads
    from the environment when left unset read it from the worker's), then
    Airflow's (``retries``, ``pool``, ...). ``project_dir``, ``profiles_dir``,
    ``target``, ``vars``, ``config_path``, ``select`` and ``exclude`` are
    templated. ``dbt_sync.yml``'s environment variables are read from the
    worker's environment.

    **XCom**: the run's figures under ``return_value`` (also when the task
    fails): the fields of ``target/dbt_sync_results.json``
    (``RunResult.to_dict``: ``exit_code``, ``totals``, and per sync ``status``,
    ``skip_cause``, ``planned``, ``created``, ``updated``, ``deleted``,
    ``failed``, ``attempted``, ``succeeded``, ``error_codes``, ``operations``,
    ``api_usage``, ``failures_sql``, ...), secrets masked, without
    ``error_samples`` and ``samples``, which can quote record values. The task
    log shows one line per sync (status, counts, error codes, where the failed
    records are), never record values; dbt-sync's log lines pass the same
    secret masking as the CLI's.

    **Success or failure** is the CLI's exit code, computed by the same rule
    (:attr:`~dbt_sync.engine.results.RunResult.exit_code`): 0 succeeds;
    2 (a sync failed as a whole, or bad input), 3 (a sync held by another
    dbt-sync run) and 128 + signal (cancelled) raise :class:`AirflowException`,
    so the task's ``retries`` apply; 1 (records failed) raises
    :class:`AirflowFailException`, not retried: a retry would send the same
    records, which the next run retries anyway. A run that succeeded but ran
    no sync (every one skipped, e.g. its model was not rebuilt) marks the task
    skipped.

    ``record_failures_fatal=False`` (``dbt-sync run --warn-on-record-failures``;
    default: the worker's ``DBT_SYNC_WARN_ON_RECORD_FAILURES``, else True)
    lets a run whose only problem is failed records succeed; they stay in the
    log, the figures and the failures table, and the next run retries them.
    Hightouch's provider has this switch (airflow-provider-hightouch 4.0.0:
    ``HightouchTriggerSyncOperator(error_on_warning=False)``, passed to
    ``HightouchHook.poll_sync(fail_on_warning=...)``: a sync run that ends with
    status ``warning``, "completed with errors" as some rows were rejected,
    succeeds unless it is True, and every other status but ``success``
    fails); there it defaults to not failing, here to the CLI's rule.

    ``sync_task`` (set by :func:`dbt_sync_task_group`) makes the task run
    exactly that sync (``--select sync:<name>``). Before running, the task
    reads the figures of the tasks of the syncs it needs (``needed_task_ids``:
    sync name -> task id) and is skipped, with the reason, where the engine
    would skip the sync in one ``dbt-sync run``
    (:func:`dbt_sync.orchestration.upstream_block`); a needed task that left
    no figures counts as failed.
    """

    template_fields: Sequence[str] = (
        "project_dir",
        "profiles_dir",
        "target",
        "vars",
        "config_path",
        "select",
        "exclude",
    )
    ui_color = "#e8f1fb"

    def __init__(
        self,
        *,
        project_dir: str | os.PathLike[str] = ".",
        profiles_dir: str | os.PathLike[str] | None = None,
        target: str | None = None,
        vars: dict[str, Any] | None = None,
        config_path: str | None = None,
        select: Sequence[str] = (),
        exclude: Sequence[str] = (),
        sync_task: SyncTask | None = None,
        needed_task_ids: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        names = run_option_names()
        #: the other options of dbt_sync.run() given (record_failures_fatal, all_syncs, threads, ...)
        self.run_options = {key: kwargs.pop(key) for key in list(kwargs) if key in names}
        super().__init__(**kwargs)
        self.project_dir = os.fspath(project_dir)
        self.profiles_dir = os.fspath(profiles_dir) if profiles_dir is not None else None
        self.target = target
        self.vars = vars
        self.config_path = config_path
        self.select = list(sync_task.select if sync_task else select)
        self.exclude = [] if sync_task else list(exclude)
        self.sync_task = sync_task
        self.needed_task_ids = dict(needed_task_ids or {})
        self._cancellation: Any = None

    def execute(self, context: Any) -> None:
        ti = context["ti"]
        if self.sync_task is not None and self.sync_task.upstream:
            block = self._upstream_block(ti)
            if block is not None:
                cause, reason = block
                if self.do_xcom_push:
                    ti.xcom_push(key=XCOM_KEY, value=skipped_figures(self.sync_task, cause, reason, ti.run_id))
                raise AirflowSkipException(reason)
        result = self._run()
        if self.do_xcom_push:
            ti.xcom_push(key=XCOM_KEY, value=figures(result))
        end = outcome(result)
        for line in end.summary.splitlines():
            self.log.info("%s", line)
        if end.exit_code == EXIT_RECORD_FAILURES:
            # a retry would send the same records and fail them again: the next run retries them
            raise AirflowFailException(end.summary)
        if end.failed:
            raise AirflowException(end.summary)
        if end.skipped:
            raise AirflowSkipException(end.skipped)

    def _upstream_block(self, ti: Any) -> Any:
        assert self.sync_task is not None
        found: dict[str, Mapping[str, Any] | None] = {}
        for name in self.sync_task.upstream:
            task_id = self.needed_task_ids.get(name, task_id_for(name))
            found[name] = sync_entry(ti.xcom_pull(task_ids=task_id, key=XCOM_KEY), name)
        return upstream_block(self.sync_task, found)

    def _run(self) -> Any:
        import dbt_sync
        from dbt_sync.engine.cancel import Cancellation
        from dbt_sync.engine.progress import Progress
        from dbt_sync.errors import DbtSyncError, classify, one_line
        from dbt_sync.secrets import redact

        self._cancellation = Cancellation()
        with _masked_logs():
            try:
                return dbt_sync.run(
                    self.project_dir,
                    profiles_dir=self.profiles_dir,
                    target=self.target,
                    vars=self.vars,
                    config_path=self.config_path,
                    select=self.select,
                    exclude=self.exclude,
                    **self.run_options,
                    progress=Progress.silent(),
                    cancellation=self._cancellation,
                )
            except DbtSyncError as exc:  # bad input: the CLI's exit code 2, with its one clear message
                raise AirflowException(redact(f"dbt-sync: {exc}")) from None
            except Exception as exc:
                clear = classify(exc)
                if clear is not None:
                    raise AirflowException(redact(f"dbt-sync: {clear}")) from None
                logging.getLogger("dbt_sync").error("%s", redact(traceback.format_exc()))
                raise AirflowException(
                    redact(f"dbt-sync internal error: {type(exc).__name__}: {one_line(str(exc))}")
                ) from None

    def on_kill(self) -> None:
        """Airflow stops the task: cancel the run cleanly (what the CRM confirmed is recorded, locks released)."""
        if self._cancellation is not None:
            self._cancellation.cancel()


def dbt_sync_task_group(
    project_dir: str | os.PathLike[str],
    *,
    group_id: str = "dbt_sync",
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    done_task_id: str = "done",
    **operator_kwargs: Any,
) -> TaskGroup:
    """A task group with one :class:`DbtSyncRunOperator` per sync, dependencies from the plan's edges.

    Call it inside a ``DAG``. The syncs are the enabled ones ``select`` /
    ``exclude`` choose, read when the DAG file is parsed from the project's
    ``target/manifest.json`` (run ``dbt parse`` or ``dbt build`` before the
    DAG is parsed; no credentials are needed then). Each task's id is its
    sync's name; it runs exactly that sync, after the tasks of the syncs it
    needs (the plan's edges: lookups, associations, ``depends_on``, the dbt
    DAG within a destination), and is skipped where one ``dbt-sync run``
    would skip the sync (see :class:`DbtSyncRunOperator`, ``sync_task``).
    A last task, ``done_task_id`` (trigger rule ``none_failed``), follows
    every sync: it fails (``upstream_failed``) when a sync's task failed, so
    the DAG run fails too, and ``group >> next_task`` starts ``next_task``
    once every sync ran and none failed.

    ``operator_kwargs`` go to every sync's task: the ``dbt-sync run`` options of
    :class:`DbtSyncRunOperator` (``profiles_dir``, ``target``, ``all_syncs``,
    ``record_failures_fatal``, ...) and Airflow's (``retries``, ``pool``, ...).
    Each sync runs on whichever worker takes its task; a sync held by another
    run ends its task with exit code 3 (``lock_wait_seconds`` waits instead).
    Raises dbt-sync's errors for a project that cannot be planned (no
    manifest, an invalid spec or selection, a cycle) and ``ValueError`` when
    a sync's task id is ``done_task_id``.
    """
    from airflow.providers.standard.operators.empty import EmptyOperator

    tasks = sync_tasks(project_dir, select=select, exclude=exclude, **_location(operator_kwargs))
    clash = [task.name for task in tasks if task.task_id == done_task_id]
    if clash:
        raise ValueError(f"sync {clash[0]} has the task id {done_task_id!r} of the last task: pass done_task_id=...")
    with TaskGroup(group_id=group_id) as group:
        operators: dict[str, DbtSyncRunOperator] = {}
        for task in tasks:
            kwargs = dict(operator_kwargs)
            if task.after:
                kwargs.setdefault("trigger_rule", TriggerRule.ALL_DONE)
            operators[task.name] = DbtSyncRunOperator(
                task_id=task.task_id, project_dir=project_dir, sync_task=task, **kwargs
            )
        for task in tasks:
            operators[task.name].needed_task_ids = {name: operators[name].task_id for name in task.upstream}
            for name in task.after:
                operators[name] >> operators[task.name]
        done = EmptyOperator(task_id=done_task_id, trigger_rule=TriggerRule.NONE_FAILED)
        list(operators.values()) >> done
    return group


def _location(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options that say where the project's artifacts are (``target_path``, ...), for :func:`sync_tasks`."""
    return {key: options[key] for key in LOCATION_OPTIONS if options.get(key) is not None}


@contextlib.contextmanager
def _masked_logs() -> Iterator[None]:
    """Mask secrets in every log record the root logger's handlers write while the run goes (as the CLI's)."""
    from dbt_sync.secrets import RedactingFilter

    masking = RedactingFilter()
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(masking)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(masking)
