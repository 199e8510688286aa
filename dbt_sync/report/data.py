"""What ``dbt-sync report`` shows, read from the audit and alert tables.

Every statement is a macro of ``macros/reports.sql`` (or ``alert_tables.sql``)
run through the warehouse layer. The result is one JSON-ready mapping (see
:func:`collect`); every string in it has passed through
:func:`dbt_sync.secrets.redact`, as every other output path does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dbt_sync.alerts.render import iso
from dbt_sync.plan import Plan
from dbt_sync.secrets import redact_obj
from dbt_sync.spec import SyncSpec

#: sync names per ``in (...)`` list, as the alert store does
_IN_LIST_SIZE = 500


@dataclass(frozen=True)
class Caps:
    """How much of each sync's history the page embeds (the page says where it shows less than there is).

    ``runs``: newest runs per sync; ``failures``: open failures per sync
    (oldest first; the error-code counts always count every one);
    ``alerts``: newest alert deliveries per sync.
    """

    runs: int = 1000
    failures: int = 10_000
    alerts: int = 200


#: run columns in the embedded arrays, in this order
RUN_COLUMNS = ("started_at", "finished_at", "status", "attempted", "succeeded", "failed", "created", "updated",
               "deleted", "skipped", "run_id", "error_message")
#: open-failure columns in the embedded arrays, in this order
FAILURE_COLUMNS = ("record_key", "error_code", "error_message", "attempt", "first_failed_at")


def _chunks(names: Sequence[str]) -> list[list[str]]:
    return [list(names[i:i + _IN_LIST_SIZE]) for i in range(0, len(names), _IN_LIST_SIZE)]


def _by_sync(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(str(row["sync_name"]), []).append(row)
    return out


def _int(value: Any) -> int:
    return int(value or 0)


def _run(row: Mapping[str, Any]) -> list[Any]:
    written = _int(row["created"]) + _int(row["updated"]) + _int(row["deleted"])
    values = {
        **row,
        "started_at": iso(row["started_at"]),
        "finished_at": iso(row["finished_at"]),
        "attempted": written + _int(row["failed"]),
        "succeeded": written,
    }
    return [values[c] if c in ("started_at", "finished_at", "status", "run_id", "error_message")
            else _int(values[c]) for c in RUN_COLUMNS]


def _failure(row: Mapping[str, Any]) -> list[Any]:
    return [str(row["record_key"]), row["error_code"], row["error_message"] or "", _int(row["attempt"]),
            iso(row["first_failed_at"])]


def collect(wh: Any, plan: Plan, *, now: dt.datetime, days: int, caps: Caps = Caps(),
            target: str | None = None) -> dict[str, Any]:
    """The report's data for the syncs of ``plan`` (every stage), from the warehouse ``wh``.

    ``now``: naive UTC; runs and alerts started in the ``days`` days before it
    are shown. Returns ``{"generated_at", "since", "days", "target", "caps",
    "stages", "edges", "syncs"}``; each sync carries its spec (destination,
    object, mode, model), ``health`` (``state``, ``since``), ``last_run``,
    ``runs`` (arrays in :data:`RUN_COLUMNS` order, newest first, with
    ``runs_capped``), ``failures`` (arrays in :data:`FAILURE_COLUMNS` order,
    with ``open_failures`` the full count), ``error_codes``, ``alerts`` and
    the SQL that lists the same rows (``failures_sql``, ``runs_sql``).
    Strings are redacted.
    """
    specs: list[SyncSpec] = plan.syncs
    names = [s.name for s in specs]
    since = now - dt.timedelta(days=days)
    wh.ensure_tables()
    wh.ensure_alert_tables()
    runs: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    codes: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    health: list[dict[str, Any]] = []
    for chunk in _chunks(names):
        runs += wh.query_macro("report_runs_sql", sync_names=chunk, since=since, per_sync=caps.runs + 1)
        failures += wh.query_macro("report_open_failures_sql", sync_names=chunk, per_sync=caps.failures)
        codes += wh.query_macro("report_error_codes_sql", sync_names=chunk)
        alerts += wh.query_macro("report_alerts_sql", sync_names=chunk, since=since, per_sync=caps.alerts + 1)
        health += wh.query_macro("health_rows_sql", sync_names=chunk)
    runs_of, failures_of, codes_of, alerts_of = _by_sync(runs), _by_sync(failures), _by_sync(codes), _by_sync(alerts)
    health_of = {str(h["sync_name"]): h for h in health}
    stage_of = {s.name: i + 1 for i, stage in enumerate(plan.stages) for s in stage}

    syncs = []
    for spec in specs:
        its_runs = runs_of.get(spec.name, [])
        its_codes = codes_of.get(spec.name, [])
        its_alerts = alerts_of.get(spec.name, [])
        open_count = sum(_int(c["failures"]) for c in its_codes)
        h = health_of.get(spec.name)
        run_rows = [_run(r) for r in its_runs[:caps.runs]]
        syncs.append({
            "name": spec.name,
            "model": spec.model_name,
            "destination": spec.destination,
            "destination_type": spec.destination_type,
            "object": spec.object,
            "mode": spec.mode,
            "stage": stage_of.get(spec.name),
            "after": list(plan.upstream_of(spec.name)),
            "health": {"state": h["state"], "since": iso(h["since"]), "failing_kind": h.get("failing_kind"),
                       "dominant_error": h.get("dominant_error")} if h else None,
            "last_run": dict(zip(RUN_COLUMNS, run_rows[0], strict=True)) if run_rows else None,
            "runs": run_rows,
            "runs_capped": len(its_runs) > caps.runs,
            "open_failures": open_count,
            "failures": [_failure(f) for f in failures_of.get(spec.name, [])],
            "error_codes": [{"code": c["error_code"], "count": _int(c["failures"]), "sample": c["sample"] or ""}
                            for c in its_codes],
            "alerts": [{"kind": a["kind"], "channel": a["channel"], "status": a["status"],
                        "attempts": _int(a["attempts"]), "error": a["error"], "run_id": a["run_id"],
                        "created_at": iso(a["created_at"]), "sent_at": iso(a["sent_at"])}
                       for a in its_alerts[:caps.alerts]],
            "alerts_capped": len(its_alerts) > caps.alerts,
            "failures_sql": wh.render_macro("open_failures_listing_sql", sync_name=spec.name),
            "runs_sql": wh.render_macro("runs_listing_sql", sync_name=spec.name),
        })
    data = {
        "generated_at": iso(now),
        "since": iso(since),
        "days": days,
        "target": target,
        "run_columns": list(RUN_COLUMNS),
        "failure_columns": list(FAILURE_COLUMNS),
        "caps": {"runs": caps.runs, "failures": caps.failures, "alerts": caps.alerts},
        "stages": [[s.name for s in stage] for stage in plan.stages],
        "edges": [{"from": e.upstream, "to": e.downstream, "kind": e.kind.value, "reason": e.reason}
                  for e in plan.planned_edges()],
        "syncs": syncs,
    }
    redacted: dict[str, Any] = redact_obj(data)
    return redacted
