"""The lifecycle of one sync in a run, as dbt's node runner is to its scheduler.

Lock the sync in the warehouse (closing run rows a dead run left
``running``), open its destination, check its columns, claim the captured
changeset (or capture it now), guard mass deletes, write the
``dbt_sync_runs`` row, hand the changeset to the send pipeline
(:mod:`dbt_sync.engine.pipeline`), then close the run row and release the
lock, whatever happened. Every way a sync can end becomes its
:class:`~dbt_sync.engine.results.SyncResult`: a failing sync never takes the
others down. Alerts are evaluated from the run's results once every sync
has ended (``dbt_sync.api.run``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from dbt_sync.clock import utcnow_iso
from dbt_sync.destinations import metering
from dbt_sync.destinations.base import Destination, DestinationError
from dbt_sync.engine.context import RunContext, SyncAborted, SyncCancelled
from dbt_sync.engine.events import SyncStarted
from dbt_sync.engine.locks import LockHeld, LockLost, SyncLock
from dbt_sync.engine.pipeline import SendPipeline
from dbt_sync.engine.results import (
    CANCELLED,
    DRY_RUN,
    ERROR,
    PARTIAL,
    SKIPPED,
    SUCCESS,
    SkipCause,
    SyncResult,
    SyncStatus,
)
from dbt_sync.errors import did_you_mean
from dbt_sync.secrets import redact
from dbt_sync.spec import SyncSpec
from dbt_sync.telemetry import Scope

log = logging.getLogger("dbt_sync.engine")


class SyncLifecycle:
    """Runs single syncs of one run (:meth:`run_sync`), from any of the scheduler's threads."""

    def __init__(self, run: RunContext) -> None:
        self.plan = run.plan
        self.warehouse = run.warehouse
        self.options = run.options
        self.run_id = run.run_id
        self.invocation_id = run.invocation_id
        self.events = run.events
        self.cancellation = run.cancellation
        self.connections = run.connections
        self._holder = run.holder
        self._guard = run.guard
        self._captured = run.captured
        self._unreleased = run.unreleased
        self._model_lock = run.model_lock
        self._destination = run.connections.get
        self.pipeline = SendPipeline(run)
        self.telemetry = run.telemetry

    def run_sync(self, spec: SyncSpec) -> SyncResult:
        """Run one sync; its API usage is counted on its own meter (see destinations/metering.py)."""
        meter = metering.Meter()
        with metering.metering(meter), self.telemetry.sync(spec) as traced:
            result = self._run_sync(spec, meter, traced)
            traced.finish_sync(result)
        return result

    def _run_sync(self, spec: SyncSpec, meter: metering.Meter, traced: Scope) -> SyncResult:
        result = result_for(spec, SUCCESS)
        started = time.monotonic()
        result.started_at = utcnow_iso()
        self.events.sync_started(SyncStarted.of(self.run_id, spec, result.started_at))
        result.failures_sql = self.failures_sql(spec.name)
        lock: SyncLock | None = None
        run_row = False
        try:
            if self.cancellation.cancelled:
                result.status = SKIPPED
                result.skip_cause = SkipCause.CANCELLED
                result.message = f"not started: {self.cancellation.describe()}"
                return result
            if not self.options.dry_run:
                lock = SyncLock(
                    self.warehouse,
                    spec.name,
                    self._holder,
                    self.options.lock_stale_seconds,
                    self.options.lock_heartbeat_seconds,
                )
                lock.acquire(wait_seconds=self.options.lock_wait_seconds)
                abandoned = self.warehouse.sync(spec.name).abandon_runs(self.run_id)
                if abandoned:
                    log.warning("sync %s: closed %d run row(s) left running by a dead run as abandoned",
                                spec.name, abandoned)
            destination = self._destination(spec.destination)
            self._check_columns(spec)
            counts = self._claim(spec)
            # rows to send: those an earlier, interrupted run already synced are not counted
            upper_bound = sum(counts.values())
            self._guard_deletes(spec, counts)
            if not self.options.dry_run:
                self.warehouse.sync(spec.name).start_run(
                    self.run_id,
                    invocation_id=self.invocation_id,
                    model=spec.model_name,
                    destination=spec.destination,
                    object=spec.object,
                    mode=spec.mode,
                    planned=upper_bound,
                )
                run_row = True
            self.pipeline.push(spec, destination, result, lock, upper_bound)
            result.status = DRY_RUN if self.options.dry_run else (PARTIAL if result.failed else SUCCESS)
        except LockHeld as exc:  # not a failure: the sync is running elsewhere; health and alerts stay as they are
            result.status = SKIPPED
            result.skip_cause = SkipCause.LOCKED
            result.message = str(exc)
        except SyncCancelled:
            result.status = CANCELLED
            result.message = (
                f"{self.cancellation.describe()}: it stopped sending; what the destination confirmed is recorded, "
                "the rest is in the next run's changeset"
            )
        except LockLost as exc:
            result.status = ERROR
            result.message = str(exc)
            result.count_error("LOCK_LOST", str(exc))
            traced.fail("LOCK_LOST")
        except (DestinationError, SyncAborted) as exc:
            result.status = ERROR
            result.message = redact(str(exc))
            result.count_error(getattr(exc, "code", "SYNC_FAILED"), str(exc))
            traced.fail(getattr(exc, "code", "SYNC_FAILED"))
        except Exception as exc:  # a sync failing must not take the others down
            result.status = ERROR
            lost = self._warehouse_lost()
            if lost is not None:
                result.message = redact(
                    f"the warehouse connection was lost during sync {spec.name} ({lost}); what was committed "
                    f"before stays, the next run resumes from there. Last error: {type(exc).__name__}: {exc}"
                )
                result.count_error("WAREHOUSE_UNAVAILABLE", result.message)
                traced.fail("WAREHOUSE_UNAVAILABLE")
                log.debug("sync %s: lost the warehouse", spec.name, exc_info=True)
            else:
                log.error("sync %s failed: %s: %s (--debug shows the traceback)", spec.name, type(exc).__name__,
                          redact(str(exc)))
                log.debug("sync %s failed", spec.name, exc_info=True)
                result.message = redact(f"{type(exc).__name__}: {exc}")
                result.count_error("INTERNAL_ERROR", result.message)
                traced.fail("INTERNAL_ERROR")
        finally:
            result.duration_seconds = round(time.monotonic() - started, 3)
            result.finished_at = utcnow_iso()
            destination_obj = self.connections.opened(spec.destination)
            if destination_obj is not None:
                result.api_usage = _usage_dict(destination_obj, meter, result.retries)
            if run_row:
                self._finish_run_row(spec, result)
            if lock is not None:
                try:
                    lock.release()
                except Exception as exc:  # the warehouse is away: tried again at the end of the run
                    log.warning("could not release the lock of sync %s yet: %s", spec.name, redact(str(exc)))
                    with self._guard:
                        self._unreleased.append(lock)
            self.events.sync_finished(result)
        return result

    def _warehouse_lost(self) -> str | None:
        """After an unexpected error: a description if the warehouse connection was lost, else None."""
        try:
            return "reconnected" if self.warehouse.reconnect_if_lost() else None
        except Exception as exc:
            return f"it cannot be reached: {type(exc).__name__}: {exc}"

    def _finish_run_row(self, spec: SyncSpec, result: SyncResult) -> None:
        try:
            self.warehouse.sync(spec.name).finish_run(
                self.run_id,
                result.status,
                planned=result.planned,
                created=result.created,
                updated=result.updated,
                deleted=result.deleted,
                failed=result.failed,
                skipped=result.skipped,
                error_message=result.message,
            )
        except Exception as exc:  # the warehouse went away: say so, keep the result
            log.error("could not record the end of sync %s: %s", spec.name, redact(str(exc)))

    def _claim(self, spec: SyncSpec) -> dict[str, int]:
        """This run's changeset: the post-hook's capture, or one computed now.

        Capturing now happens when asked (--recapture, --full-refresh) or when
        there is no capture newer than the last run's (the model was built
        without the hook, or not rebuilt since: a sync planned for its open
        failures, or for records whose link a dependant found gone). A
        capture covers every sync of the model, so it runs once per model per
        run, under a per-model lock.
        """
        wh = self.warehouse
        if self.options.dry_run:  # read in place: claim nothing, capture nothing
            return wh.sync(spec.name).peek(spec.model_unique_id, capture=self.options.recapture,
                                           fresh=self.options.full_refresh)
        if self.options.recapture or not wh.sync(spec.name).has_capture():
            with self._model_lock(spec.model_unique_id):
                if spec.model_unique_id not in self._captured:
                    wh.capture(spec.model_unique_id)
                    self._captured.add(spec.model_unique_id)
        return wh.sync(spec.name).claim()

    def _check_columns(self, spec: SyncSpec) -> None:
        """For models without documented columns, check the spec against the built relation."""
        model = self.plan.manifest.models.get(spec.model_unique_id)
        if model is None or model.columns:
            return  # documented columns were checked when the spec was loaded
        names = list(dict.fromkeys((*spec.primary_key, *spec.sent_columns)))
        with self._model_lock(spec.model_unique_id):
            found = self.warehouse.resolve_columns(spec.model_unique_id, names)
        if found is None:
            raise SyncAborted(
                "MODEL_NOT_BUILT", f"{spec.location}: model {spec.model_name} has not been built (run dbt first)."
            )
        if found.missing:
            hints = "".join(did_you_mean(c, found.columns) for c in found.missing)
            raise SyncAborted(
                "UNKNOWN_COLUMN",
                f"{spec.location}: column(s) {', '.join(found.missing)} do not exist in model {spec.model_name}."
                f"{hints} Columns: {', '.join(found.columns)}.",
            )

    def _guard_deletes(self, spec: SyncSpec, counts: Mapping[str, int]) -> None:
        deletes = counts.get("delete", 0)
        if spec.mode != "mirror" or not deletes or self.options.allow_mass_delete:
            return
        synced = self.warehouse.sync(spec.name).state_count()
        share = deletes / synced if synced else 1.0
        if share > spec.delete_threshold:
            raise SyncAborted(
                "DELETE_GUARD",
                f"sync {spec.name} would delete {deletes} of its {synced} records ({share:.0%}), more than its "
                f"delete_threshold of {spec.delete_threshold:.0%}. If the model really lost those rows, run again "
                "with --allow-mass-delete; otherwise check the model's build.",
            )

    def failures_sql(self, sync_name: str) -> str:
        """The SQL listing the failures this run recorded for ``sync_name`` (for the summary)."""
        return self.warehouse.sync(sync_name).failures_sql(self.run_id)


def result_for(
    spec: SyncSpec, status: SyncStatus, message: str | None = None, skip_cause: SkipCause | None = None
) -> SyncResult:
    """A result for ``spec`` with ``status`` (and, when skipped, why as data)."""
    return SyncResult(
        name=spec.name,
        model=spec.model_name,
        destination=spec.destination,
        object=spec.object,
        mode=spec.mode,
        status=status,
        message=message,
        skip_cause=skip_cause,
    )


#: per-sync counters reported in ``api_usage`` (0 when the sync made no such call)
_METERED = ("requests", "rate_limited", "reauthentications", "oauth_refreshes", "bulk_jobs")


def _usage_dict(destination: Destination, meter: metering.Meter, retries: int) -> dict[str, Any]:
    """One sync's API usage: its own requests, 429s, retries, re-logins and Bulk jobs.

    ``limit_used``/``limit_max`` and ``rate_limit_*`` are the account's
    figures as the destination last reported them (shared by every sync of
    the account), not this sync's.
    """
    data: dict[str, Any] = {name: meter.get(name) for name in _METERED}
    data["retries"] = retries
    try:
        usage = destination.usage()
    except Exception:
        return data
    data["limit_used"] = usage.limit_used
    data["limit_max"] = usage.limit_max
    data.update(
        {
            k: v
            for k, v in usage.extra.items()
            if k not in data and isinstance(v, (int, float, str, type(None)))
        }
    )
    return data



