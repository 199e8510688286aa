"""Shared helpers: machine facts, child runs, medians, result files."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.project import REPO_ROOT, BenchProject

RESULTS = REPO_ROOT / "bench" / "results"
#: the commit checked out when the benchmark started (a long run outlives later commits of the checkout)
START_COMMIT = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                              text=True).stdout.strip()


def machine() -> dict[str, Any]:
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for pkg in ("dbt-sync", "dbt-core", "dbt-duckdb", "dbt-postgres", "duckdb", "simple-salesforce",
                "hubspot-api-client", "requests"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    try:
        pg = subprocess.run(["postgres", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        pg = None
    commit = START_COMMIT
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "postgres": pg,
        "versions": versions,
        "commit": commit,
        "emulator_tcp_nodelay": os.environ.get("BENCH_EMULATOR_NODELAY", "1") != "0",
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def run_child(project: BenchProject, select: str, extra_env: dict[str, str], *, vars: dict[str, Any] | None = None,
              full_refresh: bool = False, profile: str | None = None, instrument: bool = True,
              extra_args: list[str] | None = None, cwd: Path | None = None) -> dict[str, Any]:
    """``bench.sync_child`` in a subprocess; its JSON plus the process's own wall time.

    ``cwd``: the checkout whose ``dbt_sync`` and ``bench`` the child imports (default this one).
    """
    cmd = [sys.executable, "-m", "bench.sync_child", "--project", str(project.path), "--select", select]
    if vars:
        cmd += ["--vars", json.dumps(vars)]
    if full_refresh:
        cmd.append("--full-refresh")
    if profile:
        cmd += ["--profile", profile]
    if not instrument:
        cmd.append("--no-instrument")
    cmd += extra_args or []
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd or REPO_ROOT, env=project.full_env(extra_env), capture_output=True, text=True)
    process_wall = time.perf_counter() - started
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"sync child failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-4000:]}")
    out: dict[str, Any] = json.loads(line[len("BENCH_RESULT "):])
    out["process_wall"] = process_wall
    bad = [s for s in out["syncs"] if s["status"] not in ("success",)]
    if bad:
        raise RuntimeError(f"sync did not succeed: {bad}\n{proc.stderr[-3000:]}")
    return out


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = RESULTS / f"{name}-{stamp}.json"
    payload = {"scenario": name, "machine": machine(), **data}
    path.write_text(json.dumps(payload, indent=2, default=str))
    (RESULTS / f"{name}-latest.json").write_text(json.dumps(payload, indent=2, default=str))
    return path


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
