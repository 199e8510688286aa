"""Page-query time per page against the size of the changeset, on PostgreSQL (issue 18, target 5).

``bench/run paging [--sizes 100000,1000000,10000000] [--pages 40]``

For each size N the model ``bench_mem`` (N rows) is built with the capture post-hook, so the pending
changeset holds N inserts, exactly as a first ``dbt run`` leaves it. A fresh process then opens the
warehouse through dbt-sync (``Warehouse.open``), claims the changeset (``claim_changeset``, which also
indexes ``_dbt_sync_seq``) and times ``--pages`` page queries spread evenly from the first page to the
last, each one the product's own ``changes_page_sql`` macro run through ``Warehouse.query_macro`` (what
``iter_changes`` runs for every page: 5,000 rows, fetched into Python). It also records the page
query's plan for the last page (index scan or not) and PostgreSQL's own execution time for it
(``explain analyze``) for the first, middle and last pages.

This is a micro-benchmark of the read path, not a whole ``dbt-sync run`` of 10M records (that would
push 10M records through the emulator: hours on the 2-core machine). Linear reading means the time per
page does not grow with N.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

from bench.common import log, median, write_result
from bench.project import REPO_ROOT
from bench.scenarios import warehouse_project

PAGE = 5000
SYNC = "mem_sf"


def child(project_dir: str, vars: dict[str, Any], size: int, pages: int) -> dict[str, Any]:
    from dbt_sync.warehouse import Warehouse

    wh = Warehouse.open(project_dir, profiles_dir=project_dir, vars=vars)
    try:
        started = time.perf_counter()
        counts = wh.claim_changeset(SYNC)
        claim = time.perf_counter() - started
        last_page = (size - 1) // PAGE
        positions = sorted({round(i * last_page / max(pages - 1, 1)) for i in range(pages)})
        wh.query_macro("changes_page_sql", utc=False, sync_name=SYNC, after_seq=0, page_size=PAGE,
                       kind="pending")  # warm-up: the first query of a connection pays for its plan cache
        timings = []
        for page in positions:
            started = time.perf_counter()
            rows = wh.query_macro("changes_page_sql", utc=False, sync_name=SYNC, after_seq=page * PAGE,
                                  page_size=PAGE, kind="pending")
            timings.append({"page": page, "seconds": time.perf_counter() - started, "rows": len(rows)})
            want = min(PAGE, size - page * PAGE)
            if len(rows) != want:
                raise RuntimeError(f"page {page}: {len(rows)} rows, expected {want}")
        plans = {}
        for page in sorted({0, last_page // 2, last_page}):  # PostgreSQL's own execution time of the query
            sql = wh.render_macro("changes_page_sql", sync_name=SYNC, after_seq=page * PAGE, page_size=PAGE,
                                  kind="pending")
            plans[page] = [str(next(iter(r.values()))) for r in wh.query("explain (analyze, buffers off) " + sql)]
        plan = plans[last_page]
        pending = wh.changes_table(SYNC, "pending")
    finally:
        wh.close()
    server_ms = {page: next(float(line.split(":")[1].split()[0]) for line in lines
                            if line.strip().startswith("Execution Time")) for page, lines in plans.items()}
    scans = [line.strip() for line in plan if pending in line]
    return {"claimed": counts, "claim_seconds": claim, "pages": timings,
            "last_page_plan_scans": scans,
            "last_page_uses_index": bool(scans) and all("Index" in s for s in scans),
            "server_ms_by_page": server_ms, "last_page_server_ms": server_ms[last_page]}


def run(sizes: list[int], pages: int) -> dict[str, Any]:
    out: dict[str, Any] = {"warehouse": "postgres", "page_size": PAGE, "sizes": {}}
    with warehouse_project("postgres", "paging") as project:
        for size in sizes:
            vars = {"bench_mem_rows": size, "bench_hook": True}
            log(f"paging: building bench_mem with {size:,} rows (the post-hook captures every row)")
            started = time.perf_counter()
            build = project.build("bench_mem", vars)
            build_wall = time.perf_counter() - started
            log(f"paging: built in {build_wall:.1f}s; timing {pages} page queries")
            proc = subprocess.run(
                [sys.executable, "-m", "bench.paging", "--child", str(project.path), json.dumps(vars), str(size),
                 str(pages)], cwd=REPO_ROOT, env=project.full_env(), capture_output=True, text=True)
            line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("PAGING_RESULT ")), None)
            if proc.returncode != 0 or line is None:
                raise RuntimeError(f"paging child failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
            res = json.loads(line[len("PAGING_RESULT "):])
            secs = [p["seconds"] for p in res["pages"]]
            res.update({"model_build_seconds": build, "build_wall_seconds": build_wall,
                        "median_page_seconds": median(secs), "max_page_seconds": max(secs),
                        "first_page_seconds": secs[0], "last_page_seconds": secs[-1]})
            log(f"paging {size:,}: median page {res['median_page_seconds'] * 1000:.1f} ms, last page "
                f"{res['last_page_seconds'] * 1000:.1f} ms (server {res['last_page_server_ms']} ms), index "
                f"{res['last_page_uses_index']}")
            out["sizes"][str(size)] = res
    meds = [v["median_page_seconds"] for v in out["sizes"].values()]
    out["largest_over_smallest"] = meds[-1] / meds[0] if meds else None
    return out


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        res = child(argv[1], json.loads(argv[2]), int(argv[3]), int(argv[4]))
        print("PAGING_RESULT " + json.dumps(res))
        return 0
    parser = argparse.ArgumentParser(prog="bench/run paging", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000,10000000", help="changed rows, comma-separated")
    parser.add_argument("--pages", type=int, default=40, help="page queries timed per size, first to last")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.pages = "6000,12000", 3
    data = run([int(s) for s in args.sizes.split(",")], args.pages)
    path = write_result("paging-postgres", {"args": vars(args), **data})
    log(f"wrote {path}")
    summary = {size: {k: v[k] for k in ("median_page_seconds", "last_page_seconds", "last_page_server_ms",
                                         "last_page_uses_index", "model_build_seconds")}
               for size, v in data["sizes"].items()}
    json.dump({"sizes": summary, "largest_over_smallest": data["largest_over_smallest"]}, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
