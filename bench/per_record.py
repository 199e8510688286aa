"""Per-record client CPU on the HubSpot, Salesforce REST and Salesforce Bulk paths (issue 18, target 2).

``bench/run per-record-cpu [--warehouse duckdb|postgres] [--runs N] [--compare REF] [--quick]``

For each path, initial loads (``--full-refresh`` against emptied emulators) of a small and a large
model are run in fresh processes, alternating sizes; the per-record CPU is the slope of the child
process's CPU (every thread, dbt start-up included) against the row count, so the fixed start-up
cost cancels out. The emulators run in a process of their own, so their CPU is not counted.

The code measured is ``HEAD`` (committed), in a temporary worktree. ``--compare REF`` measures the
code of another git ref (e.g. ``main`` or a commit) the same way, interleaved run by run with
``HEAD``, so both see the same machine load. The load average before and after is reported: the machine may be shared.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import emulators
from bench.common import log, median, run_child
from bench.project import REPO_ROOT, BenchProject, make_project, start_postgres

#: path -> (model, its rows variable, sync, extra setup)
PATHS = {
    "hubspot": ("bench_hs", "bench_hs_rows", "contacts_hs"),
    "rest": ("bench_rest", "bench_rest_rows", "rest_sf"),
    "bulk": ("bench_mem", "bench_mem_rows", "mem_sf"),
}
#: (small, large) rows per path; Bulk starts above its threshold (2,000), so both sizes go through Bulk
SIZES = {"hubspot": (1_000, 6_000), "rest": (2_000, 12_000), "bulk": (5_000, 30_000)}
QUICK_SIZES = {"hubspot": (200, 1_200), "rest": (400, 2_400), "bulk": (2_500, 7_500)}


@contextmanager
def _checkout(ref: str) -> Iterator[Path]:
    """A temporary worktree of ``ref`` (its own bench/ and dbt_sync/), removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="dbt_sync_bench_ref_"))
    path = base / "repo"
    subprocess.run(["git", "worktree", "add", "--detach", str(path), ref], cwd=REPO_ROOT, check=True,
                   capture_output=True)
    try:
        yield path
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=REPO_ROOT, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def _project(root: Path, target: str, name: str, pg: Any) -> BenchProject:
    project = make_project(target, name, pg, root=root)
    project.set_rest_concurrency(4)
    return project


def run(target: str, runs: int, compare: str | None = None, quick: bool = False,
        paths: list[str] | None = None) -> dict[str, Any]:
    sizes = QUICK_SIZES if quick else SIZES
    chosen = {p: PATHS[p] for p in (paths or list(PATHS))}
    out: dict[str, Any] = {"warehouse": target, "runs": runs, "sizes": sizes, "load_before": _loadavg()}
    pg = start_postgres() if target == "postgres" else None
    try:
        with _checkout("HEAD") as head, contextlib_nullable(compare) as other:
            # the committed code, not the working tree: edits during a run do not change what is measured
            codes = {"head": head}
            if other is not None:
                codes[f"ref:{compare}"] = other
            # one project per code and run (the process id): runs side by side do not share a DuckDB file
            projects = {label: _project(root, target, f"per_record_{label.replace(':', '_')}_{target}_{os.getpid()}",
                                        pg) for label, root in codes.items()}
            with emulators.start(hubspot_rate_limit=10_000) as emu:
                samples: dict[str, dict[str, list[tuple[int, float]]]] = {
                    label: {p: [] for p in chosen} for label in codes}
                for path, (model, var, sync) in chosen.items():
                    for i in range(runs):
                        for rows in sizes[path] if i % 2 == 0 else reversed(sizes[path]):
                            for label, project in projects.items():
                                vars = {var: rows, "bench_hook": False}
                                project.build(model, vars)
                                emu.call("reset")
                                project.forget(sync, emu.env())  # else the earlier run's ids are sent twice
                                child = run_child(project, sync, emu.env(), vars=vars, full_refresh=True,
                                                  instrument=False, cwd=codes[label])
                                samples[label][path].append((rows, child["cpu"]))
                                log(f"{label} {path} {rows} rows: cpu {child['cpu']:.2f}s wall {child['wall']:.2f}s")
                out["samples"] = samples
                out["per_record_cpu_us"] = {label: {p: _slope_us(s) for p, s in by_path.items()}
                                            for label, by_path in samples.items()}
            for project in projects.values():
                shutil.rmtree(project.path, ignore_errors=True)
    finally:
        if pg is not None:
            pg.stop()
    out["load_after"] = _loadavg()
    out["nproc"] = os.cpu_count()
    return out


@contextmanager
def contextlib_nullable(ref: str | None) -> Iterator[Path | None]:
    if ref is None:
        yield None
    else:
        with _checkout(ref) as path:
            yield path


def _slope_us(samples: list[tuple[int, float]]) -> float:
    """Median over runs of (cpu(large) - cpu(small)) / (large - small), in µs per record."""
    by_size: dict[int, list[float]] = {}
    for rows, cpu in samples:
        by_size.setdefault(rows, []).append(cpu)
    small, large = sorted(by_size)
    pairs = zip(by_size[small], by_size[large], strict=False)
    return median([(b - a) / (large - small) * 1e6 for a, b in pairs])


def main(argv: list[str]) -> int:
    import argparse
    import json
    import sys

    from bench.common import write_result

    parser = argparse.ArgumentParser(prog="bench/run per-record-cpu", description=__doc__)
    parser.add_argument("--warehouse", choices=["duckdb", "postgres"], default="duckdb")
    parser.add_argument("--runs", type=int, default=3, help="pairs of (small, large) loads per path; medians")
    parser.add_argument("--compare", default=None, help="a git ref measured side by side (e.g. main)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--paths", default="hubspot,rest,bulk", help="comma-separated: hubspot, rest, bulk")
    args = parser.parse_args(argv)
    paths = [p for p in args.paths.split(",") if p]
    unknown = sorted(set(paths) - set(PATHS))
    if unknown:
        parser.error(f"--paths: unknown {', '.join(unknown)}; allowed: {', '.join(PATHS)}")
    data = run(args.warehouse, args.runs, args.compare, args.quick, paths)
    path = write_result(f"per-record-cpu-{args.warehouse}" + ("-quick" if args.quick else ""),
                        {"args": vars(args), **data})
    log(f"wrote {path}")
    json.dump({k: data[k] for k in ("per_record_cpu_us", "load_before", "load_after")}, sys.stdout, indent=2)
    print()
    return 0
