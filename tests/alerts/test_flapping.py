"""Health follows the sync's open failures, so alerts do not flap.

The regression: a large run with 5 bad records out of 2,205 reported
"recovered" while the same 5 records still failed, then "failing" again on the
next retry-only run, because health was the share of one run's records. And a
sync already failing sent nothing new when its CRM went fully down.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dbt_sync.alerts import health as h
from dbt_sync.alerts.store import AlertStore
from dbt_sync.spec import AlertSpec
from tests.alerts import helpers as th

H = dt.timedelta(hours=1)


def _kinds(out: list[dict[str, Any]]) -> list[str]:
    return [str(a["kind"]) for a in out]


def test_five_bad_records_out_of_2205_do_not_flap(tmp_path: Path, warehouse: Any, http_server: Any) -> None:
    slack = {"slack": {"type": "slack", "webhook_url": http_server.url + th.SLACK_PATH}}
    strict = th.spec("strict_sync", AlertSpec(failed_records=1))
    lenient = th.spec("lenient_sync")  # built-in thresholds: 10 records or 5%
    project = th.project(tmp_path, slack, specs=[strict, lenient])

    def step(i: int, attempted: int, failed: int, status: str = "partial") -> dict[str, list[str]]:
        at = th.T0 + i * H
        syncs = []
        for name in ("strict_sync", "lenient_sync"):
            if status == "error":
                syncs.append(th.sync_error(name, at=at, message="HubSpot answered 503 to every request"))
            else:
                syncs.append(th.sync_result(name, status=status if failed else "success", attempted=attempted,
                                            failed=failed, at=at,
                                            errors={"INVALID_EMAIL": (failed, "Email address **** is invalid")}
                                            if failed else None))
        out = th.evaluate(project, warehouse, th.run(f"run-{i}", *syncs, at=at), now=at)
        return {name: _kinds([a for a in out if a["sync"] == name]) for name in ("strict_sync", "lenient_sync")}

    assert step(0, 2205, 5) == {"strict_sync": ["failure"], "lenient_sync": []}  # 5 of 2,205: 0.2%
    assert step(1, 5, 5) == {"strict_sync": [], "lenient_sync": []}  # retry-only: 5 of 5 attempted, same 5 open
    assert step(2, 2205, 5) == {"strict_sync": [], "lenient_sync": []}  # a large run: the same 5 still fail
    assert step(3, 5, 5) == {"strict_sync": [], "lenient_sync": []}
    health = AlertStore(warehouse).load_health(["strict_sync", "lenient_sync"])
    assert (health["strict_sync"].state, health["strict_sync"].failing_kind) == ("failing", "records")
    assert health["lenient_sync"].state == "healthy"

    # the CRM goes fully down: a change of kind is a new alert, also for the sync already failing
    assert step(4, 0, 0, status="error") == {"strict_sync": ["failure"], "lenient_sync": ["failure"]}
    assert step(5, 0, 0, status="error") == {"strict_sync": [], "lenient_sync": []}
    # back up, the same 5 records still fail: records again (strict), below the thresholds (lenient)
    assert step(6, 5, 5) == {"strict_sync": ["failure"], "lenient_sync": ["recovery"]}
    # fixed: recovered, once
    assert step(7, 5, 0) == {"strict_sync": ["recovery"], "lenient_sync": []}
    kinds = [(b["kind"], b["failing_kind"]) for b in (r for r in AlertStore(warehouse).rows_for("strict_sync"))
             for b in [b.payload]]
    assert kinds == [("failure", "records"), ("failure", "sync"), ("failure", "records"), ("recovery", None)]
    for row in AlertStore(warehouse).rows_for():
        th.validate_payload(row.payload)


# -- any sequence of runs ------------------------------------------------------------

RUNS = st.lists(
    st.tuples(
        st.sampled_from(["full", "retry", "error", "skipped", "empty"]),
        st.integers(min_value=0, max_value=40),  # records failing after a full run
        st.integers(min_value=0, max_value=5),  # records fixed by a retry
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(
    runs=RUNS,
    size=st.integers(min_value=1, max_value=3000),
    failed_records=st.integers(min_value=0, max_value=30),
    failed_share=st.sampled_from([0.0, 0.01, 0.05, 0.5, 1.0]),
)
def test_no_flapping_over_any_sequence_of_runs(
    runs: list[tuple[str, int, int]], size: int, failed_records: int, failed_share: float
) -> None:
    """No recovery while the open failures are unchanged and over the threshold; one alert per transition."""
    policy = h.Policy(("slack",), failed_records, failed_share, None, True)
    confirmed: set[int] = set()
    failing: set[int] = set()
    previous: h.Health | None = None
    expected_state: str | None = None  # the reference model: None (healthy), "records" or "sync"
    now = th.T0
    for i, (what, bad, fixed) in enumerate(runs):
        now += H
        before_open = frozenset(failing)
        if what == "full":
            failing = set(range(min(bad, size)))
            confirmed = set(range(size)) - failing | (confirmed & failing)
            attempted, failed, status = size, len(failing), "partial" if failing else "success"
        elif what == "retry":
            attempted = len(failing)
            still = set(sorted(failing)[fixed:])
            confirmed |= failing - still
            failing = still
            failed, status = len(failing), "partial" if failing else "success"
        elif what == "error":
            attempted, failed, status = 0, 0, "error"
        else:
            attempted, failed, status = 0, 0, "skipped" if what == "skipped" else "success"
        records = len(confirmed | failing)
        open_failures = h.OpenFailures(count=len(failing), records=records, by_code={"E": len(failing)} if failing
                                       else {})
        result = th.sync_result("s", status=status, attempted=attempted, failed=failed,
                                errors={"E": (failed, "x")} if failed else None)
        decision = h.decide(previous, result, policy, f"r{i}", now, open_failures)

        over = bool(failing) and (len(failing) >= max(failed_records, 1)
                                  or len(failing) / records >= failed_share)
        new_state = expected_state
        if status == "error":
            new_state = "sync"
        elif status == "skipped" or (attempted == 0 and expected_state == "sync"):
            new_state = expected_state
        else:
            new_state = "records" if over else None

        if new_state == expected_state:
            assert decision.kind is None, (i, what, decision)
        else:
            assert decision.kind == ("recovery" if new_state is None else "failure"), (i, what, decision)
        if decision.kind == "recovery":
            assert not (frozenset(failing) == before_open and over)
        expected_state = new_state
        if decision.new is not None:
            previous = decision.new
        assert (previous is None or previous.state == "healthy") == (expected_state is None)


def test_an_older_health_table_gets_the_failing_kind_column(warehouse: Any) -> None:
    store = AlertStore(warehouse)
    table = store.table("dbt_sync_health")
    warehouse.execute(f"drop table {table}")
    warehouse.execute(f"create table {table} (sync_name varchar not null, state varchar not null, since timestamp, "
                      "last_run_id varchar, last_alert_at timestamp, dominant_error varchar, updated_at timestamp)")
    store.ensure_tables()
    store.ensure_tables()  # idempotent
    store.save_health(h.Health("s", h.FAILING, th.T0, "r1", th.T0, "E", th.T0, h.KIND_SYNC))
    assert store.load_health(["s"])["s"].failing_kind == h.KIND_SYNC
