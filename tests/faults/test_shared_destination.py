"""One destination, one login, one rate limiter per account per run; usage figures per sync.

Syncs of a stage run in threads and share the run's connection to their
destination. Opening it is guarded: however many syncs ask at once, there is
one login and one pacer. Each sync's ``api_usage`` counts its own requests,
429s, retries and Bulk jobs, not the destination's running total.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from dbt_sync.engine import connections
from dbt_sync.engine.scheduler import Engine
from tests.engine.test_faults import FaultStack, fresh, hs, sf

SF_SYNCS = ["faults_sf", "faults_sf_bulk"]


class _Dest:
    """A rate-limited destination (see ``RateLimited`` in destinations/base.py) that does nothing."""

    name = "d"
    pacer = None
    rate_limit = 100
    rate_interval = 10.0
    concurrency = 1

    def close(self) -> None:
        pass


def test_concurrent_first_use_opens_one_destination_with_one_pacer() -> None:
    """issue 14.9: the engine's destination opening (now ``Connections.get``) checked, then set, unguarded."""
    opened: list[_Dest] = []

    def factory(name: str) -> Any:
        time.sleep(0.05)  # a login or token fetch takes a while: the window where two threads both miss
        dest = _Dest()
        opened.append(dest)
        return dest

    engine = Engine(plan=None, warehouse=None, config=None, all_specs=[], destination_factory=factory)  # type: ignore[arg-type]
    barrier = threading.Barrier(16)
    got: list[Any] = []

    def use() -> None:
        barrier.wait()
        got.append(engine.connections.get("d"))

    threads = [threading.Thread(target=use) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(opened) == 1
    assert {id(d) for d in got} == {id(opened[0])}
    assert {id(d.pacer) for d in got} == {id(opened[0].pacer)} and opened[0].pacer is not None


@pytest.fixture
def slow_open(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening a destination takes a while (as a JWT or token exchange does), so first uses overlap."""
    real = connections.open_destination

    def slow(config: Any) -> Any:
        time.sleep(0.3)
        return real(config)

    monkeypatch.setattr(connections, "open_destination", slow)


def test_syncs_of_a_stage_share_one_login_and_count_their_own_usage(stack: FaultStack, slow_open: None) -> None:
    """Two Salesforce syncs side by side: one login; Bulk jobs and requests counted per sync."""
    fresh(stack, SF_SYNCS)
    result = stack.run(all_syncs=True, select=SF_SYNCS, threads=4, recapture=True)
    logins = [path for _, path, code in sf(stack).request_log if "/Soap/" in path and code == 200]
    assert len(logins) == 1, logins
    collections, bulk = result.sync("faults_sf"), result.sync("faults_sf_bulk")
    assert collections.status == bulk.status == "success"
    # 6 records in Bulk batches of 3 over a threshold of 2: 2 jobs, all for faults_sf_bulk (issue 14.9)
    assert bulk.api_usage["bulk_jobs"] == 2 and collections.api_usage["bulk_jobs"] == 0
    data_requests = [p for _, p, _ in sf(stack).request_log if "/Soap/" not in p]
    assert collections.api_usage["requests"] + bulk.api_usage["requests"] == len(data_requests)
    # 3 Collections requests of 2 records each
    assert collections.api_usage["requests"] == 3
    assert collections.api_usage["rate_limited"] == bulk.api_usage["rate_limited"] == 0

    # issue 13: a sync with nothing to send reports no requests
    again = stack.run(all_syncs=True, select=SF_SYNCS, threads=4)
    for name in SF_SYNCS:
        res = again.sync(name)
        assert res.planned == 0 and res.api_usage["requests"] == 0, (name, res.api_usage)


def test_a_429_is_counted_on_the_sync_that_met_it(stack: FaultStack) -> None:
    """issue 13: a sync that met no 429 reports ``rate_limited: 0`` even when another sync of the account did."""
    syncs = ["accounts_to_hubspot", "faults_hs"]
    fresh(stack, syncs)
    hs(stack).faults.rate_limit_next(1, retry_after=1, path_contains="companies/batch/upsert")
    first = stack.run(all_syncs=True, select=syncs, threads=1, recapture=True)
    limited = {name: first.sync(name).api_usage["rate_limited"] for name in syncs}
    assert sorted(limited.values()) == [0, 1], limited
    met = next(n for n, v in limited.items() if v)
    assert first.sync(met).api_usage["retries"] >= 1
