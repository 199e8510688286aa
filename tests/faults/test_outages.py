"""A CRM that is down or keeps rate limiting is a sync failure, never hundreds of record failures.

Once the retry budget is spent on transient errors (5xx, dropped
connections, timeouts), the sync stops as a whole: one ``error`` with
``DESTINATION_UNAVAILABLE``, exit 2, its dependants skipped, no failure row
per record, the records left in the changeset; the next run converges.
Rate limiting (HTTP 429) only ever waits, within the budget; when the budget
runs out the sync fails as a whole with ``RATE_LIMITED``.
"""

from __future__ import annotations

import random

import pytest

from dbt_sync.destinations.base import Operation, Record, RecordOutcome, TransientError
from dbt_sync.engine.retry import RetryPolicy
from dbt_sync.engine.sender import Sender
from tests.engine.test_faults import (
    MODEL_ACCOUNTS,
    FaultStack,
    crm_keys,
    fresh,
    hs,
    open_failures,
    sf,
    state_keys,
)

pytestmark = pytest.mark.slow

HS_SYNCS = ["accounts_to_hubspot", "contacts_to_hubspot", "deals_to_hubspot"]


def run_rows(stack: FaultStack, run_id: str, sync: str) -> list[dict[str, object]]:
    return stack.query(
        f"select status, error_message from {{schema}}.dbt_sync_runs where run_id = '{run_id}' "
        f"and sync_name = '{sync}'"
    )


def health(stack: FaultStack, sync: str) -> str | None:
    rows = stack.query(f"select state from {{schema}}.dbt_sync_health where sync_name = '{sync}'")
    return str(rows[0]["state"]) if rows else None


@pytest.mark.parametrize("status", [503, 0])
def test_hubspot_outage_is_one_sync_failure(stack: FaultStack, status: int) -> None:
    """issue 14.1: HubSpot answering 503 (or dropping every connection) is not a failure per record."""
    fresh(stack, HS_SYNCS)
    if status:
        hs(stack).faults.fail_next(100_000, status=status)
    else:
        hs(stack).faults.drop_next(100_000)
    result = stack.run(all_syncs=True, select=HS_SYNCS, threads=1, recapture=True)
    accounts = result.sync("accounts_to_hubspot")
    assert accounts.status == "error", (accounts.status, accounts.message)
    assert accounts.error_codes == {"DESTINATION_UNAVAILABLE": 1}
    assert accounts.failed == 0
    assert "retry budget" in (accounts.message or "")
    assert result.exit_code == 2
    for name in ("contacts_to_hubspot", "deals_to_hubspot"):
        assert result.sync(name).status == "skipped", name
    for name in HS_SYNCS:
        assert open_failures(stack, name) == {}, name  # no record is blamed for an outage
    assert [r["status"] for r in run_rows(stack, result.run_id, "accounts_to_hubspot")] == ["error"]
    assert health(stack, "accounts_to_hubspot") == "failing"  # one sync failure: the sync is down

    hs(stack).faults.clear()
    again = stack.run(all_syncs=True, select=HS_SYNCS, threads=1)
    assert again.sync("accounts_to_hubspot").status == "success"
    assert again.sync("accounts_to_hubspot").planned == len(MODEL_ACCOUNTS)
    assert crm_keys(stack, "accounts_to_hubspot") == sorted(MODEL_ACCOUNTS)
    assert state_keys(stack, "accounts_to_hubspot") == sorted(MODEL_ACCOUNTS)
    assert health(stack, "accounts_to_hubspot") == "healthy"  # and it recovers


def test_salesforce_outage_mid_sync_keeps_what_was_confirmed(stack: FaultStack, arming: list) -> None:
    """The first batch is confirmed, then Salesforce goes down: the batch is kept, nothing is blamed."""
    from tests.engine.test_faults import Arming

    fresh(stack, ["faults_sf"])
    arming.append(Arming("Account", 2, lambda: sf(stack).faults.fail_next(100_000, status=503)))
    result = stack.run(all_syncs=True, select=["faults_sf"], threads=1, recapture=True)
    res = result.sync("faults_sf")
    assert res.status == "error" and res.error_codes == {"DESTINATION_UNAVAILABLE": 1}, res.message
    assert res.failed == 0 and open_failures(stack, "faults_sf") == {}
    confirmed = state_keys(stack, "faults_sf")
    assert len(confirmed) == 2 and set(confirmed) <= set(crm_keys(stack, "faults_sf"))
    sf(stack).faults.clear()
    again = stack.run(all_syncs=True, select=["faults_sf"], threads=1)
    assert again.sync("faults_sf").status == "success"
    assert again.sync("faults_sf").planned == len(MODEL_ACCOUNTS) - 2
    assert crm_keys(stack, "faults_sf") == sorted(MODEL_ACCOUNTS)


def test_429_storm_only_waits(stack: FaultStack, arming: list) -> None:
    """issue 14.2: more consecutive 429s than retry attempts: the sync waits them out, no record fails."""
    fresh(stack, ["faults_hs"])
    # (arming: one batch in flight) more 429s in a row than attempts x record rounds (2 x 3): each only waits
    hs(stack).faults.rate_limit_next(7, policy="SECONDLY", path_contains="batch/upsert")
    policy = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.2, budget_seconds=60)
    result = stack.run(all_syncs=True, select=["faults_hs"], threads=1, recapture=True, retry_policy=policy)
    res = result.sync("faults_hs")
    assert res.status == "success", (res.status, res.message, res.error_codes)
    assert res.failed == 0 and open_failures(stack, "faults_hs") == {}
    assert hs(stack).faults.pending() == 0
    assert res.api_usage["rate_limited"] == 7
    assert crm_keys(stack, "faults_hs") == sorted(MODEL_ACCOUNTS)


def test_429_past_the_budget_fails_the_sync_as_a_whole(stack: FaultStack) -> None:
    fresh(stack, ["faults_hs"])
    hs(stack).faults.rate_limit_next(100_000, policy="SECONDLY")
    policy = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.2, budget_seconds=3)
    result = stack.run(all_syncs=True, select=["faults_hs"], threads=1, recapture=True, retry_policy=policy)
    res = result.sync("faults_hs")
    assert res.status == "error" and res.error_codes == {"RATE_LIMITED": 1}, (res.status, res.message)
    assert res.failed == 0 and open_failures(stack, "faults_hs") == {}
    assert result.exit_code == 2
    hs(stack).faults.clear()
    again = stack.run(all_syncs=True, select=["faults_hs"], threads=1)
    assert again.sync("faults_hs").status == "success"
    assert crm_keys(stack, "faults_hs") == sorted(MODEL_ACCOUNTS)


# -- the sender alone: the kind, over many fault sequences ------------------------------------


class Flaky:
    """A destination that raises the queued errors, then confirms every record."""

    name = "flaky"

    def __init__(self, errors: list[TransientError]) -> None:
        self.errors = list(errors)
        self.writes = 0

    def write(self, object_name: str, operation: Operation, records: list[Record], **_: object) -> list[RecordOutcome]:
        self.writes += 1
        if self.errors:
            raise self.errors.pop(0)
        return [RecordOutcome.ok(r.key, f"id-{r.key}") for r in records]


def _send(errors: list[TransientError], policy: RetryPolicy) -> tuple[Sender, list[RecordOutcome]]:
    clock = [0.0]
    sender = Sender(Flaky(errors), "obj", None, {}, policy=policy, rng=random.Random(1))  # type: ignore[arg-type]
    sender.sleep = lambda s: clock.__setitem__(0, clock[0] + s)
    sender.clock = lambda: clock[0]
    records = [Record(key=f"k{i}", fields={}) for i in range(5)]
    return sender, sender.send(Operation.UPSERT, records)


def test_sender_waits_out_rate_limits_beyond_max_attempts() -> None:
    storm = [TransientError("429", code="RATE_LIMITED", retry_after=0.001) for _ in range(40)]
    sender, outcomes = _send(storm, RetryPolicy(max_attempts=8, budget_seconds=300))
    assert all(o.success for o in outcomes)
    assert sender.down is None and sender.stats.rate_limited == 40


@pytest.mark.parametrize("code", ["HTTP_503", "TIMEOUT", "CONNECTION_ERROR", "RATE_LIMITED"])
def test_sender_never_turns_a_spent_budget_into_record_failures(code: str) -> None:
    down = [TransientError("down", code=code, retry_after=0.001 if code == "RATE_LIMITED" else None)] * 10_000
    sender, outcomes = _send(down, RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01, budget_seconds=5))
    assert sender.down is not None and sender.down.code == code
    assert all(o.unsent and not o.success for o in outcomes)
    # once down, the sender sends nothing more
    writes = sender.destination.writes  # type: ignore[attr-defined]
    again = sender.send(Operation.UPSERT, [Record(key="x", fields={})])
    assert again[0].unsent and sender.destination.writes == writes  # type: ignore[attr-defined]


def test_timeouts_after_apply_past_the_budget_stop_the_sync_and_duplicate_nothing(stack: FaultStack) -> None:
    """Every request is applied by the CRM but answered after the client's timeout (2 s), until the budget is spent."""
    fresh(stack, ["faults_hs"])
    hs(stack).faults.timeout_next(100_000, seconds=2.5, path_contains="batch/upsert")
    policy = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.2, budget_seconds=30)
    result = stack.run(all_syncs=True, select=["faults_hs"], threads=1, recapture=True, retry_policy=policy)
    res = result.sync("faults_hs")
    assert res.status == "error" and res.error_codes == {"DESTINATION_UNAVAILABLE": 1}, (res.status, res.message)
    assert "TIMEOUT" in (res.message or "") or "timed out" in (res.message or "").lower()
    assert open_failures(stack, "faults_hs") == {}
    hs(stack).faults.clear()
    again = stack.run(all_syncs=True, select=["faults_hs"], threads=1)
    assert again.sync("faults_hs").status == "success"
    assert crm_keys(stack, "faults_hs") == sorted(MODEL_ACCOUNTS)  # applied late, matched on resend: once each
    assert state_keys(stack, "faults_hs") == sorted(MODEL_ACCOUNTS)
