"""How long ``dbt-sync report`` takes to write, and the page to load, with a large history.

``python -m bench.report_page [--runs 1000] [--failures 100000] [--repeat 3] [--out FILE]``

A copy of integration_tests on DuckDB (``dbt deps`` + ``dbt parse``, no
build) gets ``--runs`` runs (one every 30 minutes), ``--failures`` open
failures (five error codes) and 200 alert rows for ``contacts_to_salesforce``,
written straight into the audit tables; the other five syncs have none.
Then the report is written (timed) and opened ``--repeat`` times in headless
Chromium (scripts/ensure-chromium): the figure is the time from navigation
to the page's ``data-ready`` (everything drawn), as ``performance.now()``
and as the wall time around ``page.goto`` + wait. Prints JSON and writes
``bench/results/report-page-latest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SYNC = "contacts_to_salesforce"
CODES = ("INVALID_EMAIL_ADDRESS", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "DUPLICATE_VALUE",
         "STRING_TOO_LONG", "REQUIRED_FIELD_MISSING")


def fill(wh: Any, runs: int, failures: int) -> None:
    """Write the history (DuckDB SQL: the bench's own data, not the product's)."""
    runs_t, failures_t, alerts_t = (wh.table(t) for t in ("dbt_sync_runs", "dbt_sync_failures", "dbt_sync_alerts"))
    codes = "[" + ", ".join(f"'{c}'" for c in CODES) + "]"
    wh.execute(
        f"insert into {runs_t} (run_id, sync_name, model, destination, object, mode, status, started_at, finished_at,"
        " planned, created, updated, deleted, failed, skipped, error_message) "
        f"select 'run-' || i, '{SYNC}', 'dim_contacts', 'salesforce', 'Contact', 'upsert', 'partial', "
        "current_timestamp - to_minutes(i * 30), current_timestamp - to_minutes(i * 30) + to_seconds(20 + i % 40), "
        "1000 + i % 500, i % 300, 500 + i % 200, 0, 10 + i % 90, 0, null from range(" + str(runs) + ") t(i)"
    )
    wh.execute(
        f"insert into {failures_t} (run_id, sync_name, record_key, operation, error_code, error_message, "
        "error_fields, payload, attempt, first_failed_at, failed_at) "
        f"select 'run-0', '{SYNC}', 'C-' || lpad(i::varchar, 7, '0'), 'upsert', {codes}[1 + i % 5], "
        "'Record C-' || lpad(i::varchar, 7, '0') || ' was refused: field value **** is not valid for this field', "
        "'[\"Email\"]', null, 1 + i % 4, current_timestamp - to_minutes(i % 20000), current_timestamp "
        "from range(" + str(failures) + ") t(i)"
    )
    wh.execute(
        f"insert into {alerts_t} (alert_id, sync_name, run_id, kind, channel, status, attempts, error, payload, "
        "created_at, sent_at) "
        f"select md5(i::varchar), '{SYNC}', 'run-' || i, case when i % 2 = 0 then 'failure' else 'recovery' end, "
        "'pager', 'sent', 1, null, '{}', current_timestamp - to_minutes(i * 60), "
        "current_timestamp - to_minutes(i * 60) from range(200) t(i)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--failures", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "report-page-latest.json",
                        help="where the JSON goes")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from dbt_sync.api import build_options
    from dbt_sync.report import build_report
    from dbt_sync.warehouse import Warehouse
    from tests.fixtures.warehouses import copy_integration_project

    base = Path(tempfile.mkdtemp(prefix="dbt_sync_report_bench_"))
    project = copy_integration_project(base / "project")
    env = {"DBT_SYNC_TARGET": "duckdb", "DBT_SYNC_DUCKDB_PATH": str(project / "warehouse.duckdb"),
           "DBT_SYNC_SF_PASSWORD": "unused", "DBT_SYNC_HUBSPOT_TOKEN": "unused",
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    os.environ.update(env)
    dbt = str(Path(sys.executable).with_name("dbt"))
    for command in ("deps", "parse"):
        subprocess.run([dbt, command, "--project-dir", str(project), "--profiles-dir", str(project)],
                       cwd=project, check=True, capture_output=True)
    with Warehouse.open(str(project), profiles_dir=str(project)) as wh:
        wh.ensure_tables()
        wh.ensure_alert_tables()
        fill(wh, args.runs, args.failures)

    started = time.perf_counter()
    written = build_report(build_options(project, project), output=base / "report.html")
    write_seconds = time.perf_counter() - started

    ready_ms: list[float] = []
    wall_ms: list[float] = []
    browser_path = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        for _ in range(args.repeat):
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            t0 = time.perf_counter()
            page.goto(written.path.as_uri())
            page.wait_for_selector("body[data-ready=true]", timeout=60_000)
            wall_ms.append((time.perf_counter() - t0) * 1000)
            ready_ms.append(float(page.get_attribute("body", "data-ready-ms") or "nan"))
            page.close()
        browser.close()

    result = {
        "runs": args.runs,
        "open_failures": args.failures,
        "report_bytes": written.size,
        "write_seconds": round(write_seconds, 2),
        "ready_ms_median": statistics.median(ready_ms),
        "wall_ms_median": round(statistics.median(wall_ms)),
        "ready_ms": ready_ms,
        "wall_ms": [round(w) for w in wall_ms],
    }
    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
