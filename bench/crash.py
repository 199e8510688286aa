"""``bench/run crash [--trials N] [--warehouse duckdb|postgres] [--seed S]``: the kill -9 campaign.

Runs ``tests/engine/test_crash.py`` with N trials: each starts ``dbt-sync
run`` (two syncs, one of them creates without a match key) against the
emulators, kills it with SIGKILL at a random point while it sends, reruns,
settles what is in doubt the way the IN_DOUBT message says, and counts the
records lost, duplicated and stale. Prints the figures and writes them to
``bench/results/crash-<warehouse>-latest.json`` (docs/engine.md quotes them).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import REPO_ROOT, log, write_result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench/run crash", description=__doc__)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--warehouse", choices=["duckdb", "postgres"], default="duckdb")
    parser.add_argument("--seed", type=int, default=20240607)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "crash.json"
        env = {
            **os.environ,
            "DBT_SYNC_CRASH_TRIALS": str(args.trials),
            "DBT_SYNC_CRASH_WAREHOUSE": args.warehouse,
            "DBT_SYNC_CRASH_SEED": str(args.seed),
            "DBT_SYNC_CRASH_REPORT": str(report),
        }
        log(f"crash campaign: {args.trials} trials on {args.warehouse}")
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "tests/engine/test_crash.py", "-q", "-s", "--timeout", "0"],
            cwd=REPO_ROOT, env=env, check=False,
        )
        if not report.exists():
            log("the campaign did not finish")
            return 2
        data = json.loads(report.read_text())
    data["seed"] = args.seed
    write_result(f"crash-{args.warehouse}", data)
    print(json.dumps(data, indent=2))
    return done.returncode
