"""``python -m bench SCENARIO [options]`` (or ``bench/run SCENARIO``): run one scenario of docs/benchmarks.md.

Scenarios: steady-state (includes no-change and the Salesforce Bulk initial load), initial-load,
memory, hook-overhead, alternatives. ``--quick`` uses small sizes for a smoke run.
``fidelity [--rows N]`` checks that every value arrives exactly (docs/fidelity.md).
``per-record-cpu [--warehouse duckdb|postgres] [--runs N] [--compare REF]`` measures the per-record client
CPU of the HubSpot, REST and Bulk paths (bench/per_record.py).
``crash [--trials N] [--warehouse duckdb|postgres]`` runs the kill -9 campaign (docs/engine.md).
``drt [--sf-rows 10000,100000] [--steady-rows N] [--hs-rows N]`` compares dbt-sync with drt (bench/drt.py).
``paging [--sizes 100000,1000000,10000000]`` times PostgreSQL page queries against the changeset size.
``startup [--runs N]`` measures the fixed start-up CPU on integration_tests (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import sys

from bench import scenarios
from bench.common import log, write_result


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["fidelity"]:
        from bench import fidelity

        return fidelity.main(args_in[1:])
    if args_in[:1] == ["drt"]:
        from bench import drt

        return drt.main(args_in[1:])
    if args_in[:1] == ["paging"]:
        from bench import paging

        return paging.main(args_in[1:])
    if args_in[:1] == ["per-record-cpu"]:
        from bench import per_record

        return per_record.main(args_in[1:])
    if args_in[:1] == ["crash"]:
        from bench import crash

        return crash.main(args_in[1:])
    if args_in[:1] == ["startup"]:
        from bench import startup

        return startup.main(args_in[1:])
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument("scenario", choices=["steady-state", "initial-load", "memory", "hook-overhead",
                                             "alternatives"])
    parser.add_argument("--warehouse", choices=["duckdb", "postgres"], default=None,
                        help="default duckdb; postgres for memory (DuckDB runs inside the measured process)")
    parser.add_argument("--rows", type=int, default=None, help="model rows (steady-state, hook-overhead, alternatives)")
    parser.add_argument("--runs", type=int, default=3, help="measured repetitions; medians are quoted")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--hs-rows", type=int, default=None, help="initial-load: HubSpot rows (default 100,000)")
    parser.add_argument("--sf-rows", type=int, default=None,
                        help="initial-load: Salesforce Bulk rows (default 1,000,000)")
    parser.add_argument("--rest-rows", type=int, default=None,
                        help="initial-load: Salesforce REST rows at 50 ms (default 20,000)")
    parser.add_argument("--sizes", default=None, help="memory: comma-separated changed-row counts")
    parser.add_argument("--loop-rows", type=int, default=None,
                        help="alternatives: rows for the per-record loop (default 10,000)")
    parser.add_argument("--initial-rows", type=int, default=None,
                        help="alternatives: rows of dbt-sync's initial load beside the loop (default 10,000)")
    parser.add_argument("--profile", action="store_true", help="steady-state: cProfile the first measured run")
    parser.add_argument("--otel", choices=["off", "on", "interleave"], default="off",
                        help="steady-state: export traces and metrics to a local OTLP/HTTP sink in every measured "
                        "run (on) or every second one (interleave: traced and untraced medians side by side)")
    args = parser.parse_args(argv)
    q = args.quick
    if args.warehouse is None:
        args.warehouse = "postgres" if args.scenario == "memory" else "duckdb"

    if args.scenario == "steady-state":
        rows = args.rows or (20_000 if q else 1_000_000)
        data = scenarios.steady_state(args.warehouse, rows, args.runs, profile=args.profile, otel=args.otel)
    elif args.scenario == "initial-load":
        data = scenarios.initial_load(
            args.warehouse,
            hs_rows=args.hs_rows if args.hs_rows is not None else (3_000 if q else 100_000),
            rest_rows=args.rest_rows if args.rest_rows is not None else (2_000 if q else 20_000),
            sf_rows=args.sf_rows if args.sf_rows is not None else (20_000 if q else 1_000_000),
            runs=args.runs,
        )
    elif args.scenario == "memory":
        sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else (
            [1_000, 10_000] if q else [10_000, 100_000, 1_000_000])
        data = scenarios.memory(args.warehouse, sizes, args.runs)
    elif args.scenario == "hook-overhead":
        data = scenarios.hook_overhead(args.warehouse, args.rows or (20_000 if q else 1_000_000), args.runs)
    else:
        from bench import alternatives

        data = alternatives.run(args.warehouse, rows=args.rows or (20_000 if q else 1_000_000),
                                loop_rows=args.loop_rows or (300 if q else 10_000), runs=args.runs,
                                initial_rows=args.initial_rows or (2_000 if q else 10_000))
    # a traced comparison is its own result file: the generated tables read the untraced steady state
    name = f"{args.scenario}-{args.warehouse}" + (f"-otel-{args.otel}" if args.otel != "off" else "") + (
        "-quick" if q else "")
    path = write_result(name, {"args": vars(args), **data})
    log(f"wrote {path}")
    summary = {k: v for k, v in data.items()
               if not isinstance(v, (list, dict)) or k in ("median", "no_change", "otel")}
    json.dump(summary, sys.stdout, indent=2, default=str)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
