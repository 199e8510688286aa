"""The scenarios of issue 8. Each returns a JSON-able dict; ``bench.__main__`` writes it to bench/results/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from bench import emulators
from bench.common import log, median, run_child
from bench.project import DBT, REPO_ROOT, BenchProject, Postgres, expected_changes, make_project, start_postgres


@contextmanager
def warehouse_project(target: str, name: str) -> Iterator[BenchProject]:
    pg: Postgres | None = start_postgres() if target == "postgres" else None
    try:
        yield make_project(target, f"{name}_{target}", pg)
    finally:
        if pg is not None:
            pg.stop()


def _split(run: dict[str, Any], emu_cpu: float) -> dict[str, Any]:
    """Wall time of one sync run by phase; the push split into emulator CPU and the client's share."""
    t = run["times"]
    push = t.get("push", 0.0)
    # the client's share of the push is the CPU our thread spent in write(); the rest is waiting on the
    # emulator (its CPU is reported too), the network and the pacer
    client = min(t.get("push_thread_cpu", 0.0), push)
    emulator = emu_cpu
    own = run["own"] + client
    total = run["wall"]
    return {
        "wall": total,
        "startup": t.get("startup", 0.0),
        "capture": t.get("capture", 0.0),
        "read": t.get("read", 0.0),
        "push": push,
        "push_emulator_cpu": emulator,
        "push_waiting": push - client,
        "push_client": client,
        "audit": t.get("audit", 0.0),
        "own_outside_io": run["own"],
        "own_total": own,
        "own_share": own / total if total else 0.0,
        "own_share_excluding_startup": own / (total - t.get("startup", 0.0)) if total else 0.0,
        "rows_read": run["counts"].get("rows_read", 0),
        "records_sent": run["counts"].get("records_sent", 0),
        "pages": run["counts"].get("pages", 0),
        "peak_rss_mb": run["peak_rss_mb"],
        "syncs": run["syncs"],
    }


def _measured(emu: emulators.Emulators, project: BenchProject, select: str, *,
              extra_env: dict[str, str] | None = None, **kw: Any) -> dict[str, Any]:
    cpu0 = emu.cpu_seconds()
    emu.call("clear_logs")
    run = run_child(project, select, {**emu.env(), **(extra_env or {})}, **kw)
    split = _split(run, emu.cpu_seconds() - cpu0)
    split["emulator"] = emu.call("stats")
    split["process_wall"] = run["process_wall"]
    split["cpu"] = run.get("cpu")
    return split


def _otel_env(otel: str, v: int, sink: Any) -> dict[str, str]:
    """``--otel on``: every measured run exports to the local sink; ``interleave``: the even ones (v2, v4, ...)."""
    if sink is not None and (otel == "on" or (otel == "interleave" and v % 2 == 0)):
        return {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.url}
    return {}


def _otel_summary(otel: str, measured: list[dict[str, Any]], sink: Any) -> dict[str, Any]:
    """Medians of the traced and untraced runs side by side, and the load the machine had."""
    on = [m for m in measured if m.get("otel")]
    off = [m for m in measured if not m.get("otel")]
    out: dict[str, Any] = {"mode": otel, "traced_runs": len(on), "untraced_runs": len(off),
                           "sink_requests": sink.requests, "sink_bytes": sink.bytes}
    for key in ("wall", "process_wall", "cpu", "push"):
        a, b = median([m[key] for m in on]), median([m[key] for m in off])
        out[key] = {"traced_median": a, "untraced_median": b, "overhead": (a - b) / b if on and off and b else None}
    return out


# -- 1 + 3a: steady state (and the Salesforce Bulk initial load it starts from) ------------------------


def steady_state(target: str, rows: int, runs: int, profile: bool = False, otel: str = "off") -> dict[str, Any]:
    from bench.otlp_sink import otlp_sink

    expected = expected_changes(rows)
    out: dict[str, Any] = {"warehouse": target, "rows": rows, "runs": runs, "expected_changes": expected}
    with emulators.start() as emu, warehouse_project(target, "steady") as project, \
            (otlp_sink() if otel != "off" else nullcontext()) as sink:
        base = {"bench_rows": rows, "bench_hook": False}
        log(f"steady-state/{target}: building {rows} rows (v0)")
        project.build("bench_contacts", {**base, "bench_version": 0})
        log("initial load through Bulk API 2.0")
        initial = _measured(emu, project, "contacts_sf", vars={**base, "bench_version": 0})
        initial["records_per_second"] = rows / initial["wall"]
        initial["push_records_per_second"] = rows / initial["push"] if initial["push"] else None
        out["initial_load"] = initial
        log(f"initial load: {initial['wall']:.1f}s wall, push {initial['push']:.1f}s, audit {initial['audit']:.1f}s")
        measured = []
        for v in range(1, runs + 1):
            vars = {**base, "bench_version": v}
            build = project.build("bench_contacts", vars)
            prof = str(REPO_ROOT / "bench" / "results" / f"steady-{target}-v{v}.prof") if profile and v == 1 else None
            load = os.getloadavg()[0]
            run = _measured(emu, project, "contacts_sf", vars=vars, profile=prof, extra_env=_otel_env(otel, v, sink))
            run["otel"] = bool(_otel_env(otel, v, sink))
            run["load_1min_before"] = load
            run["model_build_seconds"] = build
            run["rows_read_equals_changed"] = run["rows_read"] == sum(expected.values())
            measured.append(run)
            log(f"v{v}: wall {run['wall']:.2f}s capture {run['capture']:.2f} read {run['read']:.2f} "
                f"push {run['push']:.2f} (emulator {run['push_emulator_cpu']:.2f}) audit {run['audit']:.2f} "
                f"own {run['own_total']:.2f} ({run['own_share']:.0%}); rows read {run['rows_read']}")
        out["runs_detail"] = measured
        keys = ("wall", "startup", "capture", "read", "push", "push_emulator_cpu", "push_client", "push_waiting",
                "audit",
                "own_outside_io", "own_total", "own_share", "own_share_excluding_startup", "rows_read", "peak_rss_mb")
        out["median"] = {k: median([m[k] for m in measured]) for k in keys}
        out["target_own_share_max"] = 0.20
        out["rows_read_equals_changed"] = all(m["rows_read_equals_changed"] for m in measured)
        if otel != "off":
            out["otel"] = _otel_summary(otel, measured, sink)
            log(f"otel: {json.dumps(out['otel'])}")

        if otel == "interleave":
            return out  # the tracing overhead comparison: the no-change runs would not be traced either
        # 2: no change: the same model again; dbt-sync captures (finds nothing) and sends nothing
        log("no-change")
        out["no_change"] = _no_change(emu, project, {**base, "bench_version": runs}, runs)
    return out


def _no_change(emu: emulators.Emulators, project: BenchProject, vars: dict[str, Any], runs: int) -> dict[str, Any]:
    project.build("bench_contacts", vars)  # same version: nothing changed
    diff_sql = _diff_sql(project, vars)
    ours, baseline_dbt, baseline_query, sent = [], [], [], []
    emu.call("clear_logs")
    for _ in range(runs):
        project.build("bench_contacts", vars)
        started = time.perf_counter()
        proc = subprocess.run(
            [str(Path(DBT).with_name("dbt-sync")), "run", "--project-dir", str(project.path), "--profiles-dir",
             str(project.path), "--select", "contacts_sf", "--recapture", "--vars", json.dumps(vars)],
            cwd=project.path, env=project.full_env(emu.env()), capture_output=True, text=True,
        )
        ours.append(time.perf_counter() - started)
        if proc.returncode != 0:
            raise RuntimeError(f"dbt-sync run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        sent.append(emu.call("stats")["salesforce_requests"])
        emu.call("clear_logs")
        wall, _ = project.dbt("show", "--inline", "select 1")
        baseline_dbt.append(wall)
        baseline_query.append(_time_query(project, diff_sql))
    base = median(baseline_dbt) + median(baseline_query)
    return {
        "dbt_sync_run_seconds": ours,
        "dbt_show_select_1_seconds": baseline_dbt,
        "bare_diff_query_seconds": baseline_query,
        "salesforce_requests_per_run": sent,
        "median_dbt_sync_run": median(ours),
        "median_baseline": base,
        "ratio": median(ours) / base,
        "target_ratio_max": 1.2,
    }


def _diff_sql(project: BenchProject, vars: dict[str, Any]) -> str:
    """The changeset select the capture runs, rendered by the product's own macro."""
    code = (
        "import json, sys\n"
        "from dbt_sync.warehouse import Warehouse\n"
        "wh = Warehouse.open(sys.argv[1], profiles_dir=sys.argv[1], vars=json.loads(sys.argv[2]))\n"
        "stmts = wh._macro('capture_model_sql', model_unique_id='model.dbt_sync_bench.bench_contacts')\n"
        "wh.close()\n"
        "create = next(s for s in stmts if s.lstrip().lower().startswith('create table'))\n"
        "print('DIFF_SQL ' + json.dumps(create.split(' as ', 1)[1]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(project.path), json.dumps(vars)], cwd=REPO_ROOT,
                          env=project.full_env(), capture_output=True, text=True)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("DIFF_SQL ")), None)
    if line is None:
        raise RuntimeError(f"could not render the diff query:\n{proc.stderr[-3000:]}")
    return str(json.loads(line[len("DIFF_SQL "):]))


def _time_query(project: BenchProject, sql: str) -> float:
    """Run ``select count(*) from (<diff>)`` with the bare driver; seconds (connect included)."""
    if project.target == "duckdb":
        import duckdb

        started = time.perf_counter()
        con = duckdb.connect(project.env["DBT_SYNC_DUCKDB_PATH"], read_only=True)
        con.execute(f"select count(*) from ({sql}) as d").fetchall()
        con.close()
        return time.perf_counter() - started
    import psycopg2

    env = project.env
    started = time.perf_counter()
    conn = psycopg2.connect(host=env["DBT_SYNC_PG_HOST"], port=int(env["DBT_SYNC_PG_PORT"]),
                            user=env["DBT_SYNC_PG_USER"], password=env["DBT_SYNC_PG_PASSWORD"],
                            dbname=env["DBT_SYNC_PG_DBNAME"])
    with conn.cursor() as cur:
        cur.execute(f"select count(*) from ({sql}) as d")
        cur.fetchall()
    conn.close()
    return time.perf_counter() - started


# -- 3: initial loads -----------------------------------------------------------------------------


def initial_load(target: str, hs_rows: int, rest_rows: int, sf_rows: int, runs: int) -> dict[str, Any]:
    out: dict[str, Any] = {"warehouse": target}
    with emulators.start(hubspot_rate_limit=190) as emu, warehouse_project(target, "initial") as project:
        # Salesforce Bulk API 2.0
        if sf_rows:
            vars = {"bench_mem_rows": sf_rows, "bench_hook": False}
            project.build("bench_mem", vars)
            results = []
            for i in range(runs):
                emu.call("reset")
                log(f"salesforce bulk initial load {sf_rows} rows, run {i + 1}")
                run = _measured(emu, project, "mem_sf", vars=vars, full_refresh=True)
                run["records_per_second"] = sf_rows / run["wall"]
                run["push_records_per_second"] = sf_rows / run["push"]
                results.append(run)
            out["salesforce_bulk"] = {"rows": sf_rows, "runs": results,
                                      "median_records_per_second": median([r["records_per_second"] for r in results]),
                                      "median_push_records_per_second":
                                          median([r["push_records_per_second"] for r in results])}
        # HubSpot at 190 requests / 10 s
        if hs_rows:
            vars = {"bench_hs_rows": hs_rows, "bench_hook": False}
            project.build("bench_hs", vars)
            results = []
            for i in range(runs):
                emu.call("reset")
                if i:
                    time.sleep(10.5)  # let the emulator's 10 s window empty of the previous run's requests
                log(f"hubspot initial load {hs_rows} rows at 190/10s, run {i + 1}")
                run = _measured(emu, project, "contacts_hs", vars=vars, full_refresh=True)
                run["records_per_second"] = hs_rows / run["wall"]
                run["push_records_per_second"] = hs_rows / run["push"]
                run["http_429"] = run["emulator"]["hubspot_429"]
                results.append(run)
                log(f"  push {run['push']:.1f}s = {run['push_records_per_second']:.0f} rec/s, 429s {run['http_429']}")
            ceiling = 190 / 10 * 100
            for r in results:
                # The sending phase is everything after start-up and capture: the engine commits each batch
                # while the limiter holds the next request, so the union of write() intervals leaves those
                # commits out and can exceed the ceiling.
                r["sending_phase_seconds"] = r["wall"] - r["startup"] - r["capture"]
                r["sending_phase_records_per_second"] = hs_rows / r["sending_phase_seconds"]
            med = median([r["sending_phase_records_per_second"] for r in results])
            out["hubspot"] = {"rows": hs_rows, "runs": results, "ceiling_records_per_second": ceiling,
                              "median_sending_phase_records_per_second": med, "share_of_ceiling": med / ceiling,
                              "median_push_records_per_second":
                                  median([r["push_records_per_second"] for r in results]),
                              "median_end_to_end_records_per_second":
                                  median([r["records_per_second"] for r in results]),
                              "http_429_total": sum(r["http_429"] for r in results), "target_share_min": 0.95}
        # Salesforce REST (sObject Collections) with 50 ms latency
        if rest_rows:
            vars = {"bench_rest_rows": rest_rows, "bench_hook": False}
            project.build("bench_rest", vars)
            emu.call("latency", seconds=0.05)
            out["salesforce_rest"] = {}
            for concurrency in (1, 4):
                project.set_rest_concurrency(concurrency)
                results = []
                for i in range(runs):
                    emu.call("reset")
                    log(f"salesforce REST {rest_rows} rows, 50 ms, concurrency {concurrency}, run {i + 1}")
                    run = _measured(emu, project, "rest_sf", vars=vars, full_refresh=True)
                    run["push_records_per_second"] = rest_rows / run["push"]
                    results.append(run)
                bound = concurrency * 200 / 0.05
                med = median([r["push_records_per_second"] for r in results])
                label = f"concurrency_{concurrency}"
                out["salesforce_rest"][label] = {
                    "rows": rest_rows, "latency_seconds": 0.05, "runs": results, "bound_records_per_second": bound,
                    "median_push_records_per_second": med, "share_of_bound": med / bound, "target_share_min": 0.90}
            emu.call("latency", seconds=0.0)
    return out


# -- 4: memory ----------------------------------------------------------------------------------


def memory(target: str, sizes: list[int], runs: int) -> dict[str, Any]:
    out: dict[str, Any] = {"warehouse": target, "sizes": {}}
    with emulators.start() as emu, warehouse_project(target, "memory") as project:
        for size in sizes:
            vars = {"bench_mem_rows": size, "bench_hook": False}
            project.build("bench_mem", vars)
            peaks = []
            for i in range(runs):
                emu.call("reset")
                log(f"memory: {size} changed rows, run {i + 1}")
                run = _measured(emu, project, "mem_sf", vars=vars, full_refresh=True)
                peaks.append(run["peak_rss_mb"])
            out["sizes"][str(size)] = {"peak_rss_mb": peaks, "median_peak_rss_mb": median(peaks)}
    meds = {int(k): v["median_peak_rss_mb"] for k, v in out["sizes"].items()}
    if 100_000 in meds and 1_000_000 in meds:
        out["growth_100k_to_1m"] = meds[1_000_000] / meds[100_000] - 1
    out["target_peak_mb_max"] = 300
    out["target_growth_max"] = 0.10
    return out


# -- 6: the post-hook's overhead on dbt run ---------------------------------------------------------


def hook_overhead(target: str, rows: int, runs: int) -> dict[str, Any]:
    out: dict[str, Any] = {"warehouse": target, "rows": rows}
    with warehouse_project(target, "hook") as project:
        base = {"bench_rows": rows}
        project.build("bench_contacts", {**base, "bench_hook": False, "bench_version": 0})
        plain = [project.build("bench_contacts", {**base, "bench_hook": False, "bench_version": 0})
                 for _ in range(runs)]
        first = project.build("bench_contacts", {**base, "bench_hook": True, "bench_version": 0})
        # mark everything as synced, as a completed initial load would
        _accept_all(project)
        unchanged = [project.build("bench_contacts", {**base, "bench_hook": True, "bench_version": 0})
                     for _ in range(runs)]
        changed = []
        for v in range(1, runs + 1):
            changed.append(project.build("bench_contacts", {**base, "bench_hook": True, "bench_version": v}))
            _accept_all(project)
        plain_m = median(plain)
        out.update({
            "plain_seconds": plain, "first_capture_seconds": first, "steady_unchanged_seconds": unchanged,
            "steady_1_2pct_changed_seconds": changed, "median_plain": plain_m,
            "median_unchanged": median(unchanged), "median_changed": median(changed),
            "overhead_unchanged_seconds": median(unchanged) - plain_m,
            "overhead_changed_seconds": median(changed) - plain_m,
            "ratio_unchanged": median(unchanged) / plain_m, "ratio_changed": median(changed) / plain_m,
        })
    return out


def _accept_all(project: BenchProject) -> None:
    """Claim the capture and write it into the state, as if every record had been confirmed."""
    code = (
        "import sys\n"
        "from dbt_sync.warehouse import Warehouse\n"
        "wh = Warehouse.open(sys.argv[1], profiles_dir=sys.argv[1])\n"
        "wh.ensure_tables()\n"
        "wh.claim_changeset('contacts_sf')\n"
        "p = wh.audit_schema + '.' + wh.changes_table('contacts_sf', 'pending')\n"
        "st = wh.table('dbt_sync_state')\n"
        "wh.execute(f\"delete from {st} where sync_name = 'contacts_sf' and record_key in \"\n"
        "           f\"(select _dbt_sync_key from {p})\")\n"
        "wh.execute(f\"insert into {st} select 'contacts_sf', _dbt_sync_key, _dbt_sync_hash, 'x', \"\n"
        "           f\"current_timestamp \"\n"
        "           f\"from {p} where _dbt_sync_op <> 'delete'\")\n"
        "wh.execute(f'drop table {p}')\n"
        "wh.close()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(project.path)], cwd=REPO_ROOT,
                          env=project.full_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])

