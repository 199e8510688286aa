"""CPU cost of dbt-sync's OpenTelemetry instrumentation per batch, on and off (docs/benchmarks.md).

``python -m bench.otel_cost [--batches N]`` drives ``dbt_sync.telemetry`` as
the engine does for one sync: a run span, a sync span, then per batch a
traced send (of a 200-record batch answered at once, no network) and a
commit span, exporting to a local OTLP/HTTP sink (bench/otlp_sink.py); then
the same with telemetry off. It prints the process CPU (every thread, the
exporter's included) per batch for both, in microseconds. A machine that is
busy makes both figures larger; their difference is the instrumentation's.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from bench.otlp_sink import otlp_sink
from dbt_sync import telemetry
from dbt_sync.destinations.base import Operation, Record, RecordOutcome
from dbt_sync.engine.results import RunResult, SyncResult
from dbt_sync.spec import SyncSpec

SPEC = SyncSpec(
    name="contacts_sf", model_unique_id="model.bench.bench_contacts", model_name="bench_contacts",
    location="models/bench.yml", destination="salesforce", destination_type="salesforce", object="Contact",
    mode="upsert", primary_key=("contact_id",), match="External_Id__c", fields=(),
)
RECORDS = [Record(f"C-{i}", {"LastName": f"n{i}"}) for i in range(200)]
OUTCOMES = [RecordOutcome.ok(r.key, f"003{i:012d}") for i, r in enumerate(RECORDS)]


def send(operation: Operation, records: object) -> list[RecordOutcome]:
    return OUTCOMES


def drive(tel: telemetry.Telemetry, batches: int) -> float:
    """Process CPU seconds for ``batches`` traced sends and commits, the final flush included."""
    cpu = time.process_time()
    result = SyncResult(name=SPEC.name, model=SPEC.model_name, destination=SPEC.destination, object=SPEC.object,
                        mode=SPEC.mode)
    with tel.run("bench", None, None, False) as run:
        with tel.sync(SPEC) as sync:
            traced = tel.batch_sender(SPEC, Operation.UPSERT, send)
            for _ in range(batches):
                traced(Operation.UPSERT, RECORDS)
                with tel.commit(SPEC, len(RECORDS), 0, 0):
                    pass
            sync.finish_sync(result)
        run.finish_run(RunResult(run_id="bench", started_at="", syncs=[result]))
    tel.shutdown()
    return time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.otel_cost", description=__doc__)
    parser.add_argument("--batches", type=int, default=20_000)
    args = parser.parse_args(argv)
    for name in [n for n in os.environ if n.startswith("OTEL_")]:
        del os.environ[name]
    with otlp_sink() as sink:
        off = drive(telemetry.start({}), args.batches)
        on = drive(telemetry.start({"endpoint": sink.url}), args.batches)
        out = {
            "batches": args.batches,
            "cpu_us_per_batch_off": off / args.batches * 1e6,
            "cpu_us_per_batch_on": on / args.batches * 1e6,
            "sink_requests": sink.requests,
            "sink_bytes": sink.bytes,
            "load_1min": os.getloadavg()[0],
        }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
