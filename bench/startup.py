"""``bench/run startup [--runs N]``: dbt-sync's fixed start-up, in CPU seconds, on integration_tests (DuckDB).

A copy of ``integration_tests`` (its two rejected contacts fixed, so a run
leaves nothing to retry) is built with ``dbt build``, synced once to the
emulators, and then measured with nothing to send:

- ``run``: ``dbt-sync run`` (every sync planned, each finds an empty
  changeset: start-up, the warehouse session, locks, run rows, alerts);
- ``plan``: ``dbt-sync plan`` (the artifacts only, no warehouse);
- ``open``: a process that only opens the warehouse session
  (``Warehouse.open`` and one query), the fixed start-up itself;

each with the warehouse session's manifest taken from ``target/manifest.json``
(the default) and with ``DBT_SYNC_REPARSE=true`` (the project parsed by
dbt's ManifestLoader, partial parsing applying, as before), interleaved so
both see the same machine load. CPU is the child's user + system time
(``resource.getrusage(RUSAGE_CHILDREN)``); medians of ``--runs``; the 1-minute
load average is recorded before and after. ``--extra-models N`` adds N
one-line models with two tests each, parsed into the manifest but not built,
for a larger project's parse. JSON goes to bench/results/startup-duckdb-*.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import log, median, write_result
from bench.project import DATA, DBT, REPO_ROOT

DBT_SYNC = str(Path(sys.executable).with_name("dbt-sync"))
OPEN_ONLY = (
    "import sys\n"
    "from dbt_sync.warehouse import Warehouse\n"
    "with Warehouse.open(sys.argv[1], profiles_dir=sys.argv[1]) as wh:\n"
    "    wh.pending_retry_syncs()\n"
    "    print(wh.manifest_source)\n"
)
#: the integration_tests rows the CRMs reject, fixed so a second run has nothing to send or retry
FIXES = {"raw_contacts.csv": [("chloe.dubois(at)elan-etudes.example", "chloe.dubois@elan-etudes.example"),
                              (",Platinum,", ",Gold,")]}


def _child(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """CPU seconds (user + system) and wall seconds of one child process; its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, proc.stdout


def add_models(path: Path, count: int) -> None:
    """``count`` more models (one query each, two tests on their ``id``) that dbt parses but never builds."""
    folder = path / "models" / "extra"
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["version: 2", "models:"]
    for i in range(count):
        (folder / f"extra_{i:05d}.sql").write_text(f"select {i} as id, 'row {i}' as name\n")
        lines += [f"  - name: extra_{i:05d}", "    columns:", "      - name: id",
                  "        data_tests: [unique, not_null]"]
    (folder / "extra.yml").write_text("\n".join(lines) + "\n")


def prepare(env: dict[str, str], extra_models: int = 0) -> Path:
    path = DATA / "startup_duckdb"
    shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(REPO_ROOT / "integration_tests", path,
                    ignore=shutil.ignore_patterns("target", "dbt_packages", "logs", "*.duckdb", "package-lock.yml"))
    (path / "packages.yml").write_text(f"packages:\n  - local: {REPO_ROOT}\n")
    for name, edits in FIXES.items():
        seed = path / "seeds" / name
        text = seed.read_text(encoding="utf-8")
        for old, new in edits:
            text = text.replace(old, new)
        seed.write_text(text, encoding="utf-8")
    build = ["build"]
    if extra_models:
        add_models(path, extra_models)
        build += ["--exclude", "path:models/extra"]  # parsed into the manifest, not built
    for args in (["deps"], build):
        _child([DBT, *args, "--project-dir", str(path), "--profiles-dir", str(path)], env, path)
    return path


def measure(runs: int, extra_models: int = 0) -> dict[str, Any]:
    from dbt_sync_emulators.sandbox import running_sandbox

    with running_sandbox() as sandbox:
        env = {**os.environ, **sandbox.env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        env.pop("DBT_SYNC_REPARSE", None)
        path = DATA / "startup_duckdb"
        env["DBT_SYNC_DUCKDB_PATH"] = str(path / "startup.duckdb")
        log("startup: building integration_tests")
        prepare(env, extra_models)
        common = ["--project-dir", str(path), "--profiles-dir", str(path)]
        _child([DBT_SYNC, "run", *common], env, path)  # the first load; every later run has nothing to send
        commands = {
            "run": [DBT_SYNC, "run", *common],
            "plan": [DBT_SYNC, "plan", *common],
            "open": [sys.executable, "-c", OPEN_ONLY, str(path)],
        }
        variants = {"artifacts": env, "parsed": {**env, "DBT_SYNC_REPARSE": "true"}}
        samples: dict[str, dict[str, list[dict[str, float]]]] = {c: {v: [] for v in variants} for c in commands}
        load_before = os.getloadavg()[0]
        for i in range(runs):
            for command, cmd in commands.items():
                for variant, variant_env in variants.items():
                    cpu, wall, out = _child(cmd, variant_env, path)
                    if command == "open":
                        assert out.strip() == variant, f"expected the {variant} path, got {out.strip()!r}"
                    samples[command][variant].append({"cpu": cpu, "wall": wall})
                    log(f"startup: {command}/{variant} #{i + 1}: {cpu:.2f} s CPU, {wall:.2f} s wall")
        load_after = os.getloadavg()[0]
    medians = {
        command: {variant: {"cpu": round(median([s["cpu"] for s in got]), 3),
                            "wall": round(median([s["wall"] for s in got]), 3)}
                  for variant, got in by_variant.items()}
        for command, by_variant in samples.items()
    }
    return {"warehouse": "duckdb", "runs": runs, "extra_models": extra_models, "load_1min_before": load_before,
            "load_1min_after": load_after, "median": medians, "samples": samples}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench/run startup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="measured repetitions of each command; medians quoted")
    parser.add_argument("--extra-models", type=int, default=0,
                        help="add this many one-line models (with two tests each) that dbt parses but does not "
                        "build: a larger project's parse")
    args = parser.parse_args(argv)
    data = measure(args.runs, args.extra_models)
    name = "startup-duckdb" + (f"-{args.extra_models}-models" if args.extra_models else "")
    path = write_result(name, {"args": vars(args), **data})
    log(f"wrote {path}")
    json.dump({k: data[k] for k in ("median", "load_1min_before", "load_1min_after")}, sys.stdout, indent=2)
    print()
    return 0
