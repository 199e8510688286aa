"""Dagster: one asset per sync, downstream of the dagster-dbt asset of its model (``pip install "dbt-sync[dagster]"``).

    from dagster_dbt import DbtCliResource, DbtProject, dbt_assets
    from dbt_sync.dagster import build_dbt_sync_assets

    @dbt_assets(manifest=project.manifest_path)
    def dbt_models(context, dbt: DbtCliResource):
        yield from dbt.cli(["build"], context=context).stream()

    sync_assets = build_dbt_sync_assets(project.project_dir)

:func:`build_dbt_sync_assets` reads the project's ``target/manifest.json``
and the syncs its models declare, and returns one asset per enabled sync.
Each depends on the asset dagster-dbt makes of the sync's model (the key
comes from the same :class:`dagster_dbt.DagsterDbtTranslator`, so pass yours
when you customize keys) and on the assets of the syncs it needs (the plan's
edges: lookups, associations, ``depends_on``, the dbt DAG within a
destination). Dagster therefore runs each sync after its model was built and
after the syncs it needs, and runs the rest in parallel across its workers;
the warehouse lock keeps two workers off the same sync.

Materializing an asset runs exactly that sync through :func:`dbt_sync.run`
(``select=["sync:<name>"]``; every run sends what the model's capture
left, whether or not the latest dbt invocation built it). Its materialization
metadata carries the sync's figures with the field names of
``target/dbt_sync_results.json`` (:mod:`dbt_sync.engine.results`):
``planned``, ``created``, ``updated``, ``deleted``, ``failed``,
``skipped``, ``attempted``, ``succeeded``, ``retries``,
``duration_seconds``, ``status``, ``skip_cause``, ``message``,
``error_codes``, ``operations``, ``api_usage``, ``failures_sql``, plus the
run's ``run_id``, ``exit_code`` and ``dbt_invocation_id``. Records' values
never reach the metadata or the logs (the per-code error samples and dry-run
samples of the results file are left out); secrets are masked as everywhere.
The run's progress lines go to the step's log. ``target/dbt_sync_results.json``
is not written: steps of one Dagster run can run at once, and each asset's
metadata holds its own figures.

Whether the asset succeeds follows the CLI's exit code, by the rule the CLI
uses (:meth:`dbt_sync.engine.results.RunResult.exit_code_for`, applied per
task by :func:`dbt_sync.orchestration.outcome` as for Airflow): 0
materializes; 2 (the sync failed as a whole), 3 (another run holds its lock)
and a cancelled run fail the asset, so Dagster does not run the syncs that
need it; 1 (some records failed) fails the asset too unless
``record_failures_fatal=False`` (or ``DBT_SYNC_WARN_ON_RECORD_FAILURES`` is
true, as for ``dbt-sync run``), which materializes it with the failures in its
metadata (what Hightouch's integrations call ``fail_on_warning=False``). A
failed asset's :class:`dagster.Failure` carries the same metadata, and as its
description the task summary Airflow logs (status, counts, error codes, the
failures query; no record values).
"""

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

try:
    import dagster as dg
    from dagster_dbt import DagsterDbtTranslator
except ImportError as exc:  # pragma: no cover - only without the extra
    raise ImportError(
        f"dbt_sync.dagster needs Dagster and dagster-dbt ({exc}): pip install 'dbt-sync[dagster]'"
    ) from None

from dbt_sync.engine.progress import Progress
from dbt_sync.engine.results import RunResult
from dbt_sync.engine.retry import RetryPolicy
from dbt_sync.orchestration import SyncTask, figures, outcome, sync_entry, sync_tasks
from dbt_sync.project import target_dir
from dbt_sync.secrets import redact

__all__ = ["DbtSyncConfig", "build_dbt_sync_assets", "sync_metadata"]


class DbtSyncConfig(dg.Config):
    """Run configuration of one sync asset: the ``dbt-sync run`` flags that change what is sent."""

    #: resend every row of the sync (``--full-refresh``); None: ``DBT_FULL_REFRESH`` decides, as for the CLI
    full_refresh: bool | None = None
    #: let a mirror sync delete more than its ``delete_threshold`` (``--allow-mass-delete``)
    allow_mass_delete: bool = False


def build_dbt_sync_assets(
    project_dir: str | os.PathLike[str] = ".",
    *,
    profiles_dir: str | os.PathLike[str] | None = None,
    target: str | None = None,
    vars: dict[str, Any] | None = None,
    config_path: str | None = None,
    profile: str | None = None,
    target_path: str | os.PathLike[str] | None = None,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    dagster_dbt_translator: Any | None = None,
    key_prefix: Sequence[str] = ("dbt_sync",),
    group_name: str | None = "dbt_sync",
    record_failures_fatal: bool | None = None,
    lock_wait_seconds: float = 0.0,
    retry_policy: RetryPolicy | None = None,
) -> list[Any]:
    """One Dagster asset (``dagster.AssetsDefinition``) per enabled sync of the project, in plan order.

    ``project_dir``: the dbt project; its ``manifest.json`` (in dbt's target
    path: ``target_path``, ``DBT_TARGET_PATH``, ``target-path``, else
    ``target/``) must exist, as for ``@dbt_assets`` (``dbt parse`` writes it).
    Reading it needs no ``dbt_sync.yml`` and no credentials; each
    materialization reads ``dbt_sync.yml`` (and its environment variables) when
    it runs. ``profiles_dir``, ``target``, ``vars``, ``config_path``,
    ``profile``, ``target_path``: as :func:`dbt_sync.run` takes them. ``select`` / ``exclude``: which syncs get
    an asset (``dbt-sync run`` selector syntax); an edge through a sync left
    out still orders the two it joins.

    ``dagster_dbt_translator``: the translator given to ``@dbt_assets``
    (default ``DagsterDbtTranslator()``), so each sync depends on its model's
    asset key. Each sync's key is ``key_prefix + [sync name]``
    (``dbt_sync/contacts_to_hubspot``), in ``group_name``.

    ``record_failures_fatal=False``: materialize a sync whose run had record
    failures (exit code 1) instead of failing its asset (None:
    ``DBT_SYNC_WARN_ON_RECORD_FAILURES`` decides when the asset runs, as for
    :func:`dbt_sync.run`). ``lock_wait_seconds``: how
    long a materialization waits for another run holding the sync
    (``dbt-sync run --wait``); ``retry_policy``: the request retries.

    Raises :class:`dbt_sync.errors.ProjectError` (no manifest),
    :class:`dbt_sync.errors.SpecError`, :class:`dbt_sync.errors.SelectionError`
    or :class:`dbt_sync.errors.PlanError` (invalid specs or selector, a
    dependency cycle), as ``dbt-sync plan`` does.
    """
    root = Path(project_dir).resolve()
    tasks = sync_tasks(root, select=select, exclude=exclude, target_path=target_path)
    translator = dagster_dbt_translator if dagster_dbt_translator is not None else DagsterDbtTranslator()
    manifest_json = json.loads((target_dir(root, target_path) / "manifest.json").read_text(encoding="utf-8"))
    prefix = list(key_prefix)
    run_options: dict[str, Any] = {
        "profiles_dir": profiles_dir,
        "target": target,
        "vars": vars,
        "config_path": config_path,
        "profile": profile,
        "target_path": target_path,
        "record_failures_fatal": record_failures_fatal,
        "lock_wait_seconds": lock_wait_seconds,
        "retry_policy": retry_policy,
    }
    assets = []
    for task in tasks:
        model_key = translator.get_asset_spec(manifest_json, task.model_unique_id, None).key
        deps = [model_key, *(dg.AssetKey([*prefix, name]) for name in task.after)]
        assets.append(
            _sync_asset(
                root,
                task,
                key=dg.AssetKey([*prefix, task.name]),
                deps=deps,
                group_name=group_name,
                run_options=run_options,
            )
        )
    return assets


def _sync_asset(
    project_dir: Path,
    task: SyncTask,
    *,
    key: Any,
    deps: list[Any],
    group_name: str | None,
    run_options: Mapping[str, Any],
) -> Any:
    @dg.asset(
        key=key,
        deps=deps,
        group_name=group_name,
        description=f"dbt-sync {task.name}: model {task.model} to {task.destination} {task.object} ({task.mode})",
        metadata={
            "dbt_sync/model": task.model,
            "dbt_sync/destination": task.destination,
            "dbt_sync/object": task.object,
            "dbt_sync/mode": task.mode,
        },
        kinds={"dbt_sync"},
    )
    def _sync(context: dg.AssetExecutionContext, config: DbtSyncConfig) -> dg.MaterializeResult:
        result = _run_one(context, project_dir, task.name, config, run_options)
        metadata = sync_metadata(result, task.name)
        ending = outcome(result)  # the CLI's exit code rule, with the run's record_failures_fatal
        if sync_entry(figures(result), task.name) is None:
            raise dg.Failure(
                description=redact(
                    f"sync {task.name} was not run: it is not an enabled sync of the project's manifest any more "
                    f"({'; '.join(result.warnings) or 'no warning'}). Reload the Dagster definitions."
                ),
                metadata=metadata,
            )
        if ending.failed:
            raise dg.Failure(description=ending.summary, metadata=metadata)
        return dg.MaterializeResult(metadata=metadata)

    return _sync


def _run_one(
    context: Any, project_dir: Path, name: str, config: DbtSyncConfig, run_options: Mapping[str, Any]
) -> RunResult:
    from dbt_sync.api import run
    from dbt_sync.errors import DbtSyncError

    progress = Progress(stream=_LogLines(context.log), interactive=False)  # type: ignore[arg-type]
    try:
        result = run(
            project_dir,
            select=[f"sync:{name}"],
            all_syncs=True,
            full_refresh=config.full_refresh,
            allow_mass_delete=config.allow_mass_delete,
            progress=progress,
            # steps of one Dagster run may run at once: each asset's figures are its own metadata
            write_results=False,
            **run_options,
        )
    except DbtSyncError as exc:
        raise dg.Failure(description=redact(str(exc))) from None
    except Exception as exc:  # an unexpected error: its message masked, no traceback that could quote a secret
        raise dg.Failure(description=redact(f"{type(exc).__name__}: {exc}")) from None
    for warning in result.warnings:
        context.log.warning(redact(warning))
    return result


def sync_metadata(result: RunResult, sync_name: str) -> dict[str, Any]:
    """The materialization metadata of one sync: its entry in the results file, without record values.

    The fields of :func:`dbt_sync.orchestration.figures` (secrets masked, no
    per-code error samples or dry-run records) for ``sync_name``, and the
    run's ``run_id``, ``exit_code`` and ``dbt_invocation_id``. Numbers stay
    numbers (``dagster.MetadataValue.int`` / ``float``), mappings are JSON, an
    absent value is ``MetadataValue.null()``.
    """
    data = figures(result)
    entry = sync_entry(data, sync_name) or {}
    out = {field: _value(value) for field, value in entry.items() if field != "name"}
    out["run_id"] = _value(data["metadata"]["run_id"])
    out["exit_code"] = _value(data["exit_code"])
    out["dbt_invocation_id"] = _value(data["metadata"]["dbt_invocation_id"])
    return out


def _value(value: Any) -> Any:
    if value is None:
        return dg.MetadataValue.null()
    if isinstance(value, bool):
        return dg.MetadataValue.bool(value)
    if isinstance(value, int):
        return dg.MetadataValue.int(value)
    if isinstance(value, float):
        return dg.MetadataValue.float(value)
    if isinstance(value, (dict, list)):
        return dg.MetadataValue.json(value)
    return dg.MetadataValue.text(str(value))


class _LogLines:
    """A text stream whose lines go to the Dagster step's log (the run's progress lines, already redacted)."""

    def __init__(self, log: Any) -> None:
        self._log = log
        self._partial = ""

    def write(self, text: str) -> int:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            if line.strip():
                self._log.info(redact(line))
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False
