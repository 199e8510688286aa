"""One ``dbt_sync.api.run`` in a fresh process, instrumented; prints a JSON line.

``python -m bench.sync_child --project DIR --select NAME [--profile FILE]``

Wall time is split by wrapping (in this process only) the Warehouse methods
and the destinations' ``write``:

- ``startup``: loading the project and opening the adapter (dbt's start-up);
- ``capture``: ``Warehouse.capture`` (only when no post-hook captured);
- ``read``: ``claim_changeset`` and every page of ``iter_changes``;
- ``push``: ``Destination.write`` (client serialisation + HTTP + emulator + pacing); ``push_thread_cpu``
  is the CPU the calling thread spent inside it: the client's share (Collections requests sent from a
  thread pool with ``concurrency`` > 1 are not in it);
- ``audit``: ``commit``, ``start_run``/``finish_run``, ``ensure_tables``, locks, retry and alert lookups;
- ``own``: the rest (planning, mapping rows to records, accounting).

Only the outermost wrapped call on a thread is timed, so nested calls
(``start_run`` -> ``ensure_tables``) are not counted twice.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import json
import resource
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

TIMES: dict[str, float] = defaultdict(float)
COUNTS: dict[str, int] = defaultdict(int)
#: (start, end) of every timed call per phase: phases run in several threads at once (sends in
#: flight side by side, commits beside sends), so a phase's wall time is the union of its intervals
INTERVALS: dict[str, list[tuple[float, float]]] = defaultdict(list)
WALL_PHASES = ("startup", "capture", "read", "push", "audit")


def _span(bucket: str, started: float) -> None:
    INTERVALS[bucket].append((started, time.perf_counter()))


def union_length(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total
_depth = threading.local()


def _timed(bucket: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        outer = not getattr(_depth, "n", 0)
        _depth.n = getattr(_depth, "n", 0) + 1
        started = time.perf_counter()
        cpu = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            _depth.n -= 1
            if outer:
                _span(bucket, started)
                TIMES[bucket] += time.perf_counter() - started
                TIMES[bucket + "_thread_cpu"] += time.thread_time() - cpu
                COUNTS[bucket + "_calls"] += 1

    return wrapper


def _timed_pages(fn: Callable[..., Iterator[list[dict[str, Any]]]]) -> Callable[..., Iterator[Any]]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
        it = fn(*args, **kwargs)
        while True:
            started = time.perf_counter()
            try:
                page = next(it)
            except StopIteration:
                _span("read", started)
                return
            _span("read", started)
            COUNTS["rows_read"] += len(page)
            COUNTS["pages"] += 1
            yield page

    return wrapper


def _timed_write(fn: Callable[..., Any]) -> Callable[..., Any]:
    timed = _timed("push", fn)

    @functools.wraps(fn)
    def wrapper(self: Any, object_name: str, operation: Any, records: Any, **kwargs: Any) -> Any:
        COUNTS["records_sent"] += len(records)
        return timed(self, object_name, operation, records, **kwargs)

    return wrapper


def instrument() -> None:
    from dbt_sync import api
    from dbt_sync.alerts import evaluate
    from dbt_sync.destinations.hubspot.destination import HubSpotDestination
    from dbt_sync.destinations.salesforce.destination import SalesforceDestination
    from dbt_sync.warehouse import Warehouse
    from dbt_sync.warehouse.sync import SyncHandle

    W = Warehouse
    W.capture = _timed("capture", W.capture)  # type: ignore[method-assign]
    W.claim_changeset = _timed("read", W.claim_changeset)  # type: ignore[method-assign]
    W.iter_changes = _timed_pages(W.iter_changes)  # type: ignore[method-assign]
    for name in ("commit", "start_run", "finish_run", "ensure_tables", "pending_retry_syncs"):
        setattr(W, name, _timed("audit", getattr(W, name)))
    for name in ("lock", "heartbeat", "release", "state_count", "destination_ids"):
        setattr(SyncHandle, name, _timed("audit", getattr(SyncHandle, name)))
    evaluate.evaluate_alerts = _timed("audit", evaluate.evaluate_alerts)  # type: ignore[assignment]
    api.load_project = _timed("startup", api.load_project)  # type: ignore[assignment]
    api.open_warehouse = _timed("startup", api.open_warehouse)  # type: ignore[assignment]
    for cls in (SalesforceDestination, HubSpotDestination):
        cls.write = _timed_write(cls.write)  # type: ignore[method-assign]


class _MemorySampler(threading.Thread):
    """Peak RSS is ru_maxrss; this also keeps a coarse RSS timeline (every 0.2 s)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self.samples.append(_rss_mb())


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sync_child")
    parser.add_argument("--project", required=True)
    parser.add_argument("--select", action="append", default=[])
    parser.add_argument("--target")
    parser.add_argument("--vars", default=None)
    parser.add_argument("--full-refresh", action="store_true")
    parser.add_argument("--profile", help="write cProfile stats to this file")
    parser.add_argument("--no-instrument", action="store_true")
    args = parser.parse_args(argv)

    import dbt_sync  # noqa: F401  (import cost is not part of the run's wall time)
    from dbt_sync import api

    if not args.no_instrument:
        instrument()
    rss_before = _rss_mb()
    sampler = _MemorySampler()
    sampler.start()
    profiler = cProfile.Profile() if args.profile else None
    cpu0 = time.process_time()
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    result = api.run(
        args.project,
        profiles_dir=args.project,
        target=args.target,
        vars=json.loads(args.vars) if args.vars else None,
        select=args.select,
        full_refresh=args.full_refresh,
        recapture=True,  # the bench builds models without the hook: dbt-sync captures, and that is timed
        write_results=False,
    )
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    sampler.stop.set()
    times = dict(TIMES)
    for phase in WALL_PHASES:  # wall time of each phase, overlaps across threads counted once
        times[phase] = union_length(INTERVALS[phase])
    # dbt-sync's own time: when no warehouse or destination call is running in any thread
    accounted = union_length([span for phase in WALL_PHASES for span in INTERVALS[phase]])
    out = {
        "wall": wall,
        "cpu": cpu,
        "times": times,
        "own": wall - accounted,
        "counts": dict(COUNTS),
        "rss_before_mb": rss_before,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "exit_code": result.exit_code,
        "syncs": [
            {
                "name": s.name,
                "status": s.status,
                "message": s.message,
                "planned": s.planned,
                "created": s.created,
                "updated": s.updated,
                "deleted": s.deleted,
                "failed": s.failed,
                "skipped": s.skipped,
                "api_usage": s.api_usage,
            }
            for s in result.syncs
        ],
    }
    sys.stdout.write("BENCH_RESULT " + json.dumps(out, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
