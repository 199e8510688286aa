"""dbt-sync beside drt (``drt-core``, the open-source reverse-ETL CLI), same data, same emulators.

``bench/run drt [--sf-rows 10000,100000] [--steady-rows 100000] [--hs-rows 10000] [--runs 3]``

drt runs from its own virtual environment (``bench/data/venv-drt``, made by ``bench/setup``, version
pinned in ``DRT_VERSION``), as its CLI: ``drt run --select NAME`` in a generated drt project
(``bench/data/drt_duckdb/drt``) whose profile reads the DuckDB file dbt built. It is pointed at the
emulators from the bench side only, never by changing drt's files:

- Salesforce Bulk API 2.0 (``salesforce_bulk``): ``instance_url`` = the emulator, OAuth 2.0 password flow
  with the emulator's connected app, the emulator's CA trusted through ``SSL_CERT_FILE`` (drt's client
  is httpx). ``poll_interval_seconds`` is 1 (drt's default is 30 s; it takes whole seconds).
- HubSpot (``hubspot``): drt hard-codes ``https://api.hubapi.com``; a ``.pth`` file in drt's venv imports
  ``bench/drt_shim.py``'s copy, which rewrites the module constants ``_HUBSPOT_API`` /
  ``_HUBSPOT_PROPERTIES_API`` to the emulator's URL when ``BENCH_DRT_HUBSPOT_URL`` is set.

dbt-sync runs as its CLI, ``dbt-sync run --select NAME --recapture`` (``--full-refresh`` for initial
loads), in a fresh process: the capture (diff query) is inside its timed run, as the bench builds the
models without the post-hook. Each run's wall time is the whole process's, CPU is user + system of the
process tree (``RUSAGE_CHILDREN`` around the run). The two tools' runs alternate; medians are quoted.

Correctness: after every run the emulator's records are compared field by field with the model's rows
(``Contact`` by ``External_Id__c``, HubSpot contacts by email). The steady state of drt is a full
re-push of the model (mode ``full``): drt's change detection (``incremental_strategy: diff``) needs a
source with managed tables (PostgreSQL, Snowflake, ...) and a destination with ``upsert_key``, which
``salesforce_bulk`` does not have, and its cursor mode needs an ``updated_at`` column and never sees a
delete.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import emulators
from bench.common import log, median, write_result
from bench.project import DATA, DBT, REPO_ROOT, BenchProject, expected_changes
from bench.scenarios import warehouse_project

DRT_VERSION = "1.2.1"
DRT_VENV = DATA / "venv-drt"
SHIM = REPO_ROOT / "bench" / "drt_shim.py"
DBT_SYNC = str(Path(DBT).with_name("dbt-sync"))

SF_SYNC = """
name: {name}
model: "select contact_id as \\"External_Id__c\\", first_name as \\"FirstName\\", last_name as \\"LastName\\",
  email as \\"Email\\", lead_score as \\"Lead_Score__c\\" from analytics.{model}"
destination:
  type: salesforce_bulk
  instance_url_env: BENCH_SF_URL
  object_name: Contact
  operation: upsert
  external_id_field: External_Id__c
  poll_interval_seconds: 1
  client_id_env: BENCH_SF_CLIENT_ID
  client_secret_env: BENCH_SF_CLIENT_SECRET
  username_env: BENCH_SF_USERNAME
  password_env: BENCH_SF_PASSWORD
sync:
  mode: full
  batch_size: 10000
  on_error: fail
"""

HS_SYNC = """
name: {name}
model: "select email, contact_id, first_name, last_name, lead_score from analytics.{model}"
destination:
  type: hubspot
  object_type: contacts
  id_property: email
  properties_template: |
    {{"email": "{{{{ row.email }}}}", "contact_key": "{{{{ row.contact_id }}}}",
     "firstname": "{{{{ row.first_name }}}}", "lastname": "{{{{ row.last_name }}}}",
     "lead_score": "{{{{ row.lead_score }}}}"}}
  auth:
    type: bearer
    token_env: BENCH_HUBSPOT_TOKEN
sync:
  mode: full
  batch_size: 100
  on_error: fail
"""


# -- drt's venv and project --------------------------------------------------------------------------


def drt_bin() -> Path:
    exe = DRT_VENV / "bin" / "drt"
    if not exe.exists():
        raise SystemExit(f"drt is not installed: run bench/setup (drt-core=={DRT_VERSION} into {DRT_VENV})")
    return exe


def install_shim() -> None:
    """Put the HubSpot URL shim into drt's venv (a module plus a ``.pth`` line that imports it)."""
    (site,) = (DRT_VENV / "lib").glob("python3*/site-packages")
    (site / "dbt_sync_bench_drt_shim.py").write_text(SHIM.read_text())
    (site / "dbt_sync_bench_drt_shim.pth").write_text("import dbt_sync_bench_drt_shim\n")


def drt_project(project: BenchProject) -> Path:
    """A drt project beside the dbt project: ``drt_project.yml``, ``syncs/``, and a HOME with its profile."""
    root = project.path / "drt"
    (root / "syncs").mkdir(parents=True, exist_ok=True)
    (root / "home" / ".drt").mkdir(parents=True, exist_ok=True)
    (root / "drt_project.yml").write_text('name: dbt_sync_bench\nversion: "0.1"\nprofile: bench\n')
    (root / "home" / ".drt" / "profiles.yml").write_text(
        f"bench:\n  type: duckdb\n  database: {project.env['DBT_SYNC_DUCKDB_PATH']}\n")
    (root / "syncs" / "drt_mem_sf.yml").write_text(SF_SYNC.format(name="drt_mem_sf", model="bench_mem"))
    (root / "syncs" / "drt_contacts_sf.yml").write_text(SF_SYNC.format(name="drt_contacts_sf",
                                                                        model="bench_contacts"))
    (root / "syncs" / "drt_contacts_hs.yml").write_text(HS_SYNC.format(name="drt_contacts_hs", model="bench_hs"))
    return root


def _drt_env(root: Path, emu: emulators.Emulators, hubspot: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env["PATH"] = f"{DRT_VENV / 'bin'}:{env.get('PATH', '')}"
    return {
        **env,
        "HOME": str(root / "home"),
        "DO_NOT_TRACK": "1",
        "SSL_CERT_FILE": emu.info["sf_ca"],
        "BENCH_SF_URL": emu.info["sf_url"],
        "BENCH_SF_CLIENT_ID": emulators.SF_CONSUMER_KEY,
        "BENCH_SF_CLIENT_SECRET": emulators.SF_CONSUMER_SECRET,
        "BENCH_SF_USERNAME": emulators.SF_USERNAME,
        "BENCH_SF_PASSWORD": emu.password,
        "BENCH_HUBSPOT_TOKEN": emu.info["hs_token"],
        # the shim imports drt's HubSpot module at start-up: only for the HubSpot runs
        **({"BENCH_DRT_HUBSPOT_URL": emu.info["hs_url"]} if hubspot else {}),
    }


# -- one measured process --------------------------------------------------------------------------


def _timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run a command; wall seconds, CPU seconds (user + system, the process and its children), exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                           f"{proc.stderr[-3000:]}")
    return {"wall": wall, "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "user": after.ru_utime - before.ru_utime, "sys": after.ru_stime - before.ru_stime,
            "stdout_tail": proc.stdout[-400:]}


def run_dbt_sync(project: BenchProject, emu: emulators.Emulators, select: str, vars: dict[str, Any],
                 full_refresh: bool) -> dict[str, Any]:
    cmd = [DBT_SYNC, "run", "--project-dir", str(project.path), "--profiles-dir", str(project.path),
           "--select", select, "--recapture", "--vars", json.dumps(vars)]
    if full_refresh:
        cmd.append("--full-refresh")
    return _timed(cmd, project.path, project.full_env(emu.env()))


def run_drt(root: Path, emu: emulators.Emulators, select: str) -> dict[str, Any]:
    return _timed([str(drt_bin()), "run", "--select", select], root, _drt_env(root, emu, "_hs" in select))


# -- correctness: the CRM's records against the model's rows ------------------------------------------


def _num(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return round(float(value), 2)


def _model_rows(project: BenchProject, model: str) -> list[tuple[Any, ...]]:
    import duckdb

    con = duckdb.connect(project.env["DBT_SYNC_DUCKDB_PATH"], read_only=True)
    try:
        return con.execute(f"select contact_id, first_name, last_name, email, lead_score "
                           f"from analytics.{model}").fetchall()
    finally:
        con.close()


def check_salesforce(project: BenchProject, emu: emulators.Emulators, model: str) -> dict[str, Any]:
    """Contact records = the model's rows (by External_Id__c, every mapped field)."""
    want = {r[0]: (r[1], r[2], r[3], _num(r[4])) for r in _model_rows(project, model)}
    got = {r[0]: (r[1], r[2], r[3], _num(r[4])) for r in emu.call("contents", system="salesforce")}
    return _compare(want, got)


def check_hubspot(project: BenchProject, emu: emulators.Emulators, model: str) -> dict[str, Any]:
    """HubSpot contacts = the model's rows (by email, every mapped property)."""
    want = {r[3]: (r[0], r[1], r[2], _num(r[4])) for r in _model_rows(project, model)}
    got = {r[0]: (r[1], r[2], r[3], _num(r[4])) for r in emu.call("contents", system="hubspot")}
    return _compare(want, got)


def _compare(want: dict[Any, tuple[Any, ...]], got: dict[Any, tuple[Any, ...]]) -> dict[str, Any]:
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    differ = [k for k in want if k in got and got[k] != want[k]]
    out = {"expected": len(want), "records": len(got), "missing": len(missing), "extra": len(extra),
           "different": len(differ), "correct": not (missing or extra or differ)}
    if differ:
        out["example"] = {"key": differ[0], "want": want[differ[0]], "got": got[differ[0]]}
    return out


# -- the comparison --------------------------------------------------------------------------------


def _pair(name: str, ours: list[dict[str, Any]], theirs: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    m = {"dbt_sync_wall": median([r["wall"] for r in ours]), "dbt_sync_cpu": median([r["cpu"] for r in ours]),
         "drt_wall": median([r["wall"] for r in theirs]), "drt_cpu": median([r["cpu"] for r in theirs])}
    m["wall_ratio"] = m["dbt_sync_wall"] / m["drt_wall"]  # <= 1.0: dbt-sync ahead
    m["cpu_ratio"] = m["dbt_sync_cpu"] / m["drt_cpu"]
    correct = all(r["check"]["correct"] for r in ours + theirs)
    log(f"{name}: dbt-sync {m['dbt_sync_wall']:.2f}s wall {m['dbt_sync_cpu']:.2f}s cpu | drt {m['drt_wall']:.2f}s "
        f"wall {m['drt_cpu']:.2f}s cpu | ratios wall {m['wall_ratio']:.2f} cpu {m['cpu_ratio']:.2f}; "
        f"correct: {correct}")
    return {**extra, "median": m, "all_correct": correct, "dbt_sync": ours, "drt": theirs}


def run(sf_rows: list[int], steady_rows: int, hs_rows: int, runs: int, name: str = "drt") -> dict[str, Any]:
    drt_bin()
    install_shim()
    version = subprocess.run([str(DRT_VENV / "bin" / "python"), "-c",
                              "from importlib.metadata import version; print(version('drt-core'))"],
                             capture_output=True, text=True).stdout.strip()
    out: dict[str, Any] = {"warehouse": "duckdb", "drt_version": version, "runs": runs,
                           "load_before": os.getloadavg()}
    with emulators.start(hubspot_rate_limit=190) as emu, warehouse_project("duckdb", name) as project:
        root = drt_project(project)
        # -- Salesforce Bulk API 2.0 initial load
        for rows in sf_rows:
            vars = {"bench_mem_rows": rows, "bench_hook": False}
            project.build("bench_mem", vars)
            ours, theirs = [], []
            for i in range(runs):
                emu.call("reset")
                project.forget("mem_sf", emu.env())
                log(f"bulk initial load {rows:,} rows, run {i + 1}: dbt-sync")
                r = run_dbt_sync(project, emu, "mem_sf", vars, full_refresh=True)
                r["check"] = check_salesforce(project, emu, "bench_mem")
                ours.append(r)
                emu.call("reset")
                log(f"bulk initial load {rows:,} rows, run {i + 1}: drt")
                r = run_drt(root, emu, "drt_mem_sf")
                r["check"] = check_salesforce(project, emu, "bench_mem")
                theirs.append(r)
            out[f"salesforce_bulk_initial_{rows}"] = _pair(f"bulk initial {rows:,}", ours, theirs, rows=rows)
        # -- Salesforce steady state: 1.2% of the model changed since the last run
        if steady_rows:
            base = {"bench_rows": steady_rows, "bench_hook": False}
            emu.call("reset")
            project.build("bench_contacts", {**base, "bench_version": 0})
            log(f"steady state: initial load of {steady_rows:,} rows (dbt-sync)")
            run_dbt_sync(project, emu, "contacts_sf", {**base, "bench_version": 0}, full_refresh=False)
            ours, theirs = [], []
            for v in range(1, runs + 1):
                vars = {**base, "bench_version": v}
                project.build("bench_contacts", vars)
                log(f"steady state v{v}: dbt-sync")
                r = run_dbt_sync(project, emu, "contacts_sf", vars, full_refresh=False)
                r["check"] = check_salesforce(project, emu, "bench_contacts")
                ours.append(r)
                log(f"steady state v{v}: drt (re-pushes the model)")
                r = run_drt(root, emu, "drt_contacts_sf")
                r["check"] = check_salesforce(project, emu, "bench_contacts")
                theirs.append(r)
            out["salesforce_steady_state"] = _pair(
                f"steady state {steady_rows:,}", ours, theirs, rows=steady_rows,
                changed=sum(expected_changes(steady_rows).values()))
        # -- HubSpot initial load at 190 requests / 10 s
        if hs_rows:
            vars = {"bench_hs_rows": hs_rows, "bench_hook": False}
            project.build("bench_hs", vars)
            ours, theirs = [], []
            for i in range(runs):
                emu.call("reset")
                project.forget("contacts_hs", emu.env())
                time.sleep(10.5)  # the emulator's 10 s window empties
                log(f"hubspot initial load {hs_rows:,} rows, run {i + 1}: dbt-sync")
                r = run_dbt_sync(project, emu, "contacts_hs", vars, full_refresh=True)
                r["check"] = check_hubspot(project, emu, "bench_hs")
                r["http_429"] = emu.call("stats")["hubspot_429"]
                ours.append(r)
                emu.call("reset")
                time.sleep(10.5)
                log(f"hubspot initial load {hs_rows:,} rows, run {i + 1}: drt")
                r = run_drt(root, emu, "drt_contacts_hs")
                r["check"] = check_hubspot(project, emu, "bench_hs")
                r["http_429"] = emu.call("stats")["hubspot_429"]
                theirs.append(r)
            out["hubspot_initial"] = _pair(f"hubspot initial {hs_rows:,}", ours, theirs, rows=hs_rows)
    out["load_after"] = os.getloadavg()
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench/run drt", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sf-rows", default="10000,100000",
                        help="Bulk initial-load sizes, comma-separated (0: none); default 10000,100000")
    parser.add_argument("--steady-rows", type=int, default=100_000,
                        help="steady-state model rows (1.2%% change per run; 0: none); default 100,000")
    parser.add_argument("--hs-rows", type=int, default=10_000,
                        help="HubSpot initial-load rows (0: none); default 10,000 (drt: about 19 minutes a run)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each tool; medians are quoted")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.sf_rows, args.steady_rows, args.hs_rows, args.runs = "300", 1000, 20, 1
    sizes = [int(s) for s in str(args.sf_rows).split(",") if int(s)]
    parts = [name for name, on in (("salesforce", sizes or args.steady_rows), ("hubspot", args.hs_rows)) if on]
    name = "drt-" + "-".join(parts) + ("-quick" if args.quick else "")
    # one project directory per selection, so a HubSpot-only run and a Salesforce-only run can overlap
    data = run(sizes, args.steady_rows, args.hs_rows, args.runs, name=name.replace("-", "_"))
    path = write_result(name, {"args": vars(args), **data})
    log(f"wrote {path}")
    summary = {k: v["median"] | {"all_correct": v["all_correct"]} for k, v in data.items()
               if isinstance(v, dict) and "median" in v}
    json.dump(summary, sys.stdout, indent=2)
    print()
    return 0
