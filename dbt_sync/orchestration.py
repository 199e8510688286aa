"""What running syncs as an orchestrator's tasks needs, without importing an orchestrator.

:mod:`dbt_sync.airflow` and :mod:`dbt_sync.dagster` are built on it;
everything here runs (and is tested) without Airflow or Dagster installed.

* :func:`sync_tasks`: the project's syncs as tasks, one per sync, with the
  syncs each needs, read from ``target/manifest.json`` and the specs in it
  (no ``dbt_sync.yml``, no warehouse, no credentials: what a scheduler
  parsing a DAG file has).
* :func:`figures`: a run's per-sync figures, the results file's fields
  (``target/dbt_sync_results.json``, ``RunResult.to_dict``) without the
  ones that can hold record values.
* :func:`upstream_block`: whether a sync's task must be skipped because of the
  syncs it needs, by the engine's own rule
  (:func:`dbt_sync.engine.scheduler.upstream_block`), from their tasks'
  figures.
* :func:`outcome`: whether the task failed, by the CLI's exit code rule
  (:attr:`dbt_sync.engine.results.RunResult.exit_code`), with a summary
  that names no record value.
"""

from __future__ import annotations

import functools
import json
import os
import re
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dbt_sync.engine.results import RunResult, SkipCause, SyncResult, SyncStatus
from dbt_sync.errors import EXIT_ERROR, EXIT_LOCKED, EXIT_OK, EXIT_RECORD_FAILURES

#: per-sync keys of the results file left out of :func:`figures`: CRM error texts and dry-run records,
#: which can quote record values
RECORD_VALUE_KEYS = ("error_samples", "samples")

#: parameters of :func:`dbt_sync.run` that are not options of ``dbt-sync run`` (the caller's runtime)
RUNTIME_PARAMETERS = frozenset(
    {"project_dir", "cancellation", "retry_policy", "progress", "listeners", "write_results", "lock_heartbeat_seconds"}
)
#: the options that say where the project's artifacts are, which :func:`sync_tasks` takes too
LOCATION_OPTIONS = ("target_path", "artifacts_dir")

EXIT_MEANINGS = {
    EXIT_OK: "every record synced",
    EXIT_RECORD_FAILURES: "some records failed",
    EXIT_ERROR: "a sync failed as a whole",
    EXIT_LOCKED: "a sync is held by another dbt-sync run",
}


@dataclass(frozen=True)
class SyncTask:
    """One sync as one task: what it writes, and the syncs it needs.

    ``upstream``: every planned sync it needs, directly or through others
    (``Plan.upstream_of``, sorted); ``after``: those it needs directly
    (the plan's edges to it), which become the task's dependencies;
    ``model_unique_id``: the dbt node of its model (``model.<package>.<name>``).
    """

    name: str
    model: str
    destination: str
    object: str
    mode: str
    block_on_upstream_failures: bool
    upstream: tuple[str, ...]
    after: tuple[str, ...]
    model_unique_id: str = ""

    @property
    def task_id(self) -> str:
        return task_id_for(self.name)

    @property
    def select(self) -> list[str]:
        """The ``--select`` that plans exactly this sync (a bare name would match a model name too)."""
        return [f"sync:{self.name}"]


def task_id_for(sync_name: str) -> str:
    """The task id of a sync: its name, with any character a task id cannot hold (not ``[A-Za-z0-9_.-]``) as ``_``."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", sync_name)


@functools.cache
def run_option_names() -> frozenset[str]:
    """The options of ``dbt-sync run`` as :func:`dbt_sync.run` names them: its parameters but the runtime's."""
    import inspect

    from dbt_sync import api

    return frozenset(inspect.signature(api.run).parameters) - RUNTIME_PARAMETERS


def sync_tasks(
    project_dir: str | os.PathLike[str] = ".",
    *,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    target_path: str | os.PathLike[str] | None = None,
    artifacts_dir: str | os.PathLike[str] | None = None,
) -> list[SyncTask]:
    """The enabled syncs ``select`` / ``exclude`` choose (dbt selector syntax, as ``dbt-sync run``), in plan order.

    Reads the manifest where ``dbt-sync run`` reads it (``artifacts_dir``,
    else ``DBT_SYNC_ARTIFACTS_DIR``, else the target directory: ``target_path``,
    else ``DBT_TARGET_PATH``, else ``target-path``, else ``target/``) and the
    specs in it; the ordering
    rule is the plan's (:mod:`dbt_sync.plan`). Every enabled sync is a task,
    as with ``--all``: whether its model was rebuilt is decided when the task
    runs. Raises :class:`~dbt_sync.errors.ProjectError` (no manifest),
    :class:`~dbt_sync.errors.SpecError`, :class:`~dbt_sync.errors.SelectionError`
    or :class:`~dbt_sync.errors.PlanError`, as ``dbt-sync plan`` does.
    """
    from dbt_sync.api import build_options
    from dbt_sync.manifest import load_manifest
    from dbt_sync.plan import build_plan
    from dbt_sync.spec import load_specs

    options = build_options(project_dir, target_path=target_path, artifacts_dir=artifacts_dir)
    manifest = load_manifest(options.artifacts_path)
    specs = load_specs(manifest, None)
    plan = build_plan(specs, manifest, None, select=select, exclude=exclude, all_syncs=True)
    after: dict[str, list[str]] = {}
    for edge in plan.planned_edges():
        after.setdefault(edge.downstream, []).append(edge.upstream)
    return [
        SyncTask(
            name=spec.name,
            model=spec.model_name,
            destination=spec.destination,
            object=spec.object,
            mode=spec.mode,
            block_on_upstream_failures=spec.block_on_upstream_failures,
            upstream=plan.upstream_of(spec.name),
            after=tuple(sorted(after.get(spec.name, ()))),
            model_unique_id=spec.model_unique_id,
        )
        for spec in plan.syncs
    ]


def figures(result: RunResult) -> dict[str, Any]:
    """``result.to_dict()`` (the results file's fields, secrets masked) without :data:`RECORD_VALUE_KEYS`.

    Plain JSON types only (strings for the status enums), so any XCom or
    metadata backend stores it.
    """
    data: dict[str, Any] = json.loads(json.dumps(result.to_dict(), default=str))
    for sync in data["syncs"]:
        for key in RECORD_VALUE_KEYS:
            sync.pop(key, None)
    return data


def skipped_figures(task: SyncTask, cause: SkipCause, reason: str, run_id: str) -> dict[str, Any]:
    """The :func:`figures` of a run that skipped ``task``'s sync before starting it."""
    result = RunResult(run_id=run_id, started_at=_now(), finished_at=_now())
    result.syncs.append(
        SyncResult(
            name=task.name,
            model=task.model,
            destination=task.destination,
            object=task.object,
            mode=task.mode,
            status=SyncStatus.SKIPPED,
            message=reason,
            skip_cause=cause,
        )
    )
    return figures(result)


def _now() -> str:
    from dbt_sync.clock import utcnow_iso

    return utcnow_iso()


def sync_entry(task_figures: Mapping[str, Any] | None, sync_name: str) -> Mapping[str, Any] | None:
    """The entry of ``sync_name`` in a task's :func:`figures`, or None (no figures, or the sync is not in them)."""
    if not task_figures:
        return None
    return next((s for s in task_figures.get("syncs", ()) if s.get("name") == sync_name), None)


def upstream_block(
    task: SyncTask, upstream_figures: Mapping[str, Mapping[str, Any] | None]
) -> tuple[SkipCause, str] | None:
    """Why ``task`` must be skipped because of the syncs it needs, or None when it may run.

    ``upstream_figures``: for each sync of ``task.upstream``, its entry in the
    figures its task pushed (:func:`sync_entry`), None when that task left
    none (it failed before the sync ran, or never ran): that counts as a
    whole-sync failure. Otherwise the engine's rule decides
    (:func:`dbt_sync.engine.scheduler.upstream_block`).
    """
    from dbt_sync.engine.scheduler import upstream_block as engine_rule

    for name in task.upstream:  # in order, as the engine: the first sync that blocks names the cause
        entry = upstream_figures.get(name)
        if entry is None:
            return (
                SkipCause.UPSTREAM_FAILED,
                f"upstream sync {name} has no results: its task failed before the sync ran, or did not run",
            )
        block = engine_rule(task.block_on_upstream_failures, (name,), {name: SyncResult.from_dict(entry)})
        if block is not None:
            return block
    return None


@dataclass(frozen=True)
class Outcome:
    """How a task ends: ``exit_code`` not 0 fails it; else ``skipped`` (a reason) marks it skipped, if set."""

    exit_code: int
    summary: str
    skipped: str | None = None

    @property
    def failed(self) -> bool:
        return self.exit_code != EXIT_OK


def outcome(result: RunResult) -> Outcome:
    """The task's outcome for ``result``: failed exactly when ``dbt-sync run`` would exit non-zero.

    The code is :attr:`RunResult.exit_code` (the CLI's rule, with the run's
    ``record_failures_fatal``). ``skipped`` is set when the run passed and every sync it planned was
    skipped (none ran). ``summary`` is one line per sync: status, record
    counts, error codes, the skip or failure message, and where the failed
    records are (``failures_sql``); no record values.
    """
    code = result.exit_code
    lines = [f"dbt-sync run {result.run_id}: exit code {code} ({describe_exit_code(code)})"]
    for sync in result.syncs:
        counts = ", ".join(
            f"{key} {getattr(sync, key)}" for key in ("planned", "created", "updated", "deleted", "failed", "skipped")
        )
        line = f"{sync.name}: {sync.status} ({counts})"
        if sync.error_codes:
            line += "; errors: " + ", ".join(f"{c} x{n}" for c, n in sorted(sync.error_codes.items()))
        if sync.message:
            line += f"; {sync.message}"
        if sync.failed and sync.failures_sql:
            line += f"; failed records: {sync.failures_sql}"
        lines.append(line)
    skipped = None
    if code == EXIT_OK and result.syncs and all(s.status == SyncStatus.SKIPPED for s in result.syncs):
        skipped = "; ".join(f"{s.name}: {s.message or s.skip_cause}" for s in result.syncs)
    from dbt_sync.secrets import redact

    return Outcome(code, redact("\n".join(lines)), redact(skipped) if skipped else None)


def describe_exit_code(code: int) -> str:
    """What a ``dbt-sync run`` exit code means, in words."""
    if code in EXIT_MEANINGS:
        return EXIT_MEANINGS[code]
    if code > 128:
        try:
            return f"cancelled by {signal.Signals(code - 128).name}"
        except ValueError:
            pass
    return "unknown exit code"
