"""Scenario 5: what people use today, on the same data and the same emulators.

- ``loop``: a per-record loop with simple-salesforce, ``sf.Contact.upsert('External_Id__c/<id>', {...})``
  for each row of the model (read straight from the warehouse).
- ``repush``: a script that re-pushes the whole model every run through simple-salesforce's Bulk API 2.0
  client (``sf.bulk2.Contact.upsert``), in batches of 10,000 rows.
- drt (``drt-core``): see docs/benchmarks.md for why it is not run against the emulators.

Each alternative runs in its own process (``python -m bench.alternatives loop|repush ...``) and prints
``ALT_RESULT {json}``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from bench import emulators
from bench.common import log, median, run_child
from bench.project import REPO_ROOT, BenchProject
from bench.scenarios import _measured, warehouse_project

COLUMNS = "contact_id, first_name, last_name, email, lead_score"


def _rows(duckdb_path: str, model: str, limit: int | None) -> list[tuple[Any, ...]]:
    import duckdb

    con = duckdb.connect(duckdb_path, read_only=True)
    sql = f"select {COLUMNS} from analytics.{model} order by contact_id"
    if limit:
        sql += f" limit {limit}"
    rows = con.execute(sql).fetchall()
    con.close()
    return rows


def _client(info: dict[str, str]) -> Any:
    from simple_salesforce import Salesforce

    from dbt_sync_emulators.salesforce.client import verified_session

    return Salesforce(session_id=info["session_id"], instance_url=info["instance_url"],
                      session=verified_session(info["ca"]))


def loop_main(info: dict[str, str], duckdb_path: str, model: str, limit: int) -> dict[str, Any]:
    rows = _rows(duckdb_path, model, limit)
    sf = _client(info)
    started = time.perf_counter()
    for cid, first, last, email, score in rows:
        # the warehouse returns DECIMAL as decimal.Decimal, which json (simple-salesforce's encoder) rejects
        sf.Contact.upsert(f"External_Id__c/{cid}", {"FirstName": first, "LastName": last, "Email": email,
                                                     "Lead_Score__c": None if score is None else float(score)})
    elapsed = time.perf_counter() - started
    return {"rows": len(rows), "seconds": elapsed, "records_per_second": len(rows) / elapsed}


def repush_main(info: dict[str, str], duckdb_path: str, model: str) -> dict[str, Any]:
    started = time.perf_counter()
    rows = _rows(duckdb_path, model, None)
    read = time.perf_counter() - started
    sf = _client(info)
    failed = 0
    names = ("External_Id__c", "FirstName", "LastName", "Email", "Lead_Score__c")
    for i in range(0, len(rows), 10_000):
        records = [dict(zip(names, row, strict=True)) for row in rows[i:i + 10_000]]
        for res in sf.bulk2.Contact.upsert(records=records, external_id_field="External_Id__c", wait=1):
            failed += int(res.get("numberRecordsFailed", 0))
    elapsed = time.perf_counter() - started
    return {"rows": len(rows), "seconds": elapsed, "read_seconds": read, "failed": failed,
            "records_per_second": len(rows) / elapsed}


def _alt(kind: str, emu: emulators.Emulators, project: BenchProject, model: str, limit: int = 0) -> dict[str, Any]:
    info = {"session_id": emu.call("session"), "instance_url": emu.info["sf_url"], "ca": emu.info["sf_ca"]}
    cmd = [sys.executable, "-m", "bench.alternatives", kind, json.dumps(info), project.env["DBT_SYNC_DUCKDB_PATH"],
           model, str(limit)]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("ALT_RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"{kind} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(line[len("ALT_RESULT "):])
    out["process_wall"] = wall
    return out


def run(target: str, rows: int, loop_rows: int, runs: int, initial_rows: int = 10_000) -> dict[str, Any]:
    if target != "duckdb":
        raise SystemExit("alternatives: the scripts read the DuckDB file directly; use --warehouse duckdb")
    out: dict[str, Any] = {"warehouse": target, "rows": rows, "loop_rows": loop_rows, "initial_rows": initial_rows}
    with emulators.start() as emu, warehouse_project(target, "alternatives") as project:
        # -- A: initial_rows (10,000) rows, 20 ms latency: dbt-sync's initial load vs the per-record loop
        emu.call("latency", seconds=0.02)
        vars = {"bench_mem_rows": initial_rows, "bench_hook": False}
        project.build("bench_mem", vars)
        ours, loop = [], []
        for i in range(runs):
            emu.call("reset")
            project.forget("mem_sf", emu.env())
            log(f"alternatives A, run {i + 1}: dbt-sync, {initial_rows:,} rows at 20 ms")
            r = _measured(emu, project, "mem_sf", vars=vars, full_refresh=True)
            r["records_per_second"] = initial_rows / r["wall"]
            r["records_per_second_process"] = initial_rows / r["process_wall"]
            ours.append(r)
            emu.call("reset")
            log(f"alternatives A, run {i + 1}: per-record loop, {loop_rows} rows at 20 ms")
            loop.append(_alt("loop", emu, project, "bench_mem", loop_rows))
        ours_rps = median([r["records_per_second"] for r in ours])
        loop_rps = median([r["records_per_second"] for r in loop])
        out["at_10k_20ms"] = {
            "dbt_sync": ours, "loop": loop, "median_dbt_sync_records_per_second": ours_rps,
            "median_dbt_sync_records_per_second_process":
                median([r["records_per_second_process"] for r in ours]),
            "median_loop_records_per_second": loop_rps, "ratio": ours_rps / loop_rps, "target_ratio_min": 100,
        }
        emu.call("latency", seconds=0.0)

        # -- B: steady state on `rows`: dbt-sync's incremental run vs re-pushing the model vs the loop
        base = {"bench_rows": rows, "bench_hook": False}
        project.build("bench_contacts", {**base, "bench_version": 0})
        emu.call("reset")
        log(f"alternatives B: initial load of {rows} rows")
        run_child(project, "contacts_sf", emu.env(), vars={**base, "bench_version": 0})
        ours_b, repush = [], []
        for v in range(1, runs + 1):
            vars_v = {**base, "bench_version": v}
            project.build("bench_contacts", vars_v)
            log(f"alternatives B, v{v}: dbt-sync")
            ours_b.append(_measured(emu, project, "contacts_sf", vars=vars_v))
            log(f"alternatives B, v{v}: full re-push")
            repush.append(_alt("repush", emu, project, "bench_contacts"))
        ours_s = median([r["process_wall"] for r in ours_b])
        repush_s = median([r["process_wall"] for r in repush])
        loop_s = rows / loop_rps  # the loop cannot tell what changed: it sends every row
        out["steady_state"] = {
            "dbt_sync": ours_b, "repush": repush,
            "median_dbt_sync_seconds": ours_s, "median_repush_seconds": repush_s,
            "loop_seconds_estimated": loop_s,
            "repush_over_dbt_sync": repush_s / ours_s, "loop_over_dbt_sync": loop_s / ours_s,
        }
    return out


def main(argv: list[str]) -> int:
    kind, info, path, model, limit = argv[0], json.loads(argv[1]), argv[2], argv[3], int(argv[4])
    res = loop_main(info, path, model, limit) if kind == "loop" else repush_main(info, path, model)
    print("ALT_RESULT " + json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
