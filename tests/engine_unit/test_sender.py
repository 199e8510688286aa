"""``Sender``: retries, splits, per-record resends and unknown outcomes, against the in-memory destination.

Time is a fake clock (``sleep`` moves it), so retry budgets of minutes run in
microseconds and the waits the sender chose can be asserted.
"""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbt_sync.destinations.base import Operation, Record
from dbt_sync.engine.inflight import IN_DOUBT
from dbt_sync.engine.retry import RetryPolicy
from dbt_sync.engine.sender import UNKNOWN_OUTCOME, Sender
from tests.engine_unit.clock import FakeClock
from tests.fixtures.fake_destination import FakeDestination, Fault

POLICY = RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=30.0, budget_seconds=300.0)


def records(n: int, prefix: str = "k") -> list[Record]:
    return [Record(f"{prefix}{i}", {"email": f"{prefix}{i}@example.com", "name": f"Name {i}"}) for i in range(n)]


def sender(dest: FakeDestination, clock: FakeClock, match: str | None = "email", **kwargs: object) -> Sender:
    return Sender(
        dest, "contacts", match, {}, policy=POLICY, sleep=clock.sleep, clock=clock, rng=random.Random(1),
        **kwargs,  # type: ignore[arg-type]
    )


def test_one_outcome_per_record_in_input_order_when_the_destination_answers_in_any_order() -> None:
    dest, clock = FakeDestination(shuffle=True), FakeClock()
    batch = records(30)
    out = sender(dest, clock).send(Operation.UPSERT, batch)
    assert [o.key for o in out] == [r.key for r in batch]
    assert all(o.success and o.created for o in out)
    assert len(dest.records("contacts")) == 30


def test_a_5xx_is_retried_with_backoff_until_it_succeeds() -> None:
    dest, clock = FakeDestination(), FakeClock()
    dest.fail_next("5xx", "5xx")
    s = sender(dest, clock)
    out = s.send(Operation.UPSERT, records(3))
    assert all(o.success for o in out)
    assert [c.raised for c in dest.calls] == ["5xx", "5xx", None]
    assert s.stats.retries == 2 and s.stats.requests == 3 and s.stats.transient_codes == {"HTTP_503": 2}
    # full jitter under an exponential ceiling: 0.5 s, then 1 s
    assert len(clock.sleeps) == 2 and clock.sleeps[0] <= 0.5 and clock.sleeps[1] <= 1.0
    assert s.down is None


def test_rate_limits_wait_the_servers_hint_and_do_not_spend_attempts() -> None:
    dest, clock = FakeDestination(), FakeClock()
    # more 429s than max_attempts: they only wait (within the time budget)
    dest.fail_next(*[Fault("rate_limit", retry_after=2.0)] * (POLICY.max_attempts + 2))
    s = sender(dest, clock)
    out = s.send(Operation.UPSERT, records(2))
    assert all(o.success for o in out)
    assert s.stats.rate_limited == POLICY.max_attempts + 2
    assert all(2.0 <= w <= 2.05 for w in clock.sleeps), clock.sleeps


def test_a_destination_that_stays_down_leaves_every_record_unsent_and_stops_sending() -> None:
    dest, clock = FakeDestination(), FakeClock()
    dest.fail_next(*["5xx"] * 50)
    s = sender(dest, clock)
    out = s.send(Operation.UPSERT, records(4))
    assert all(o.unsent and not o.success and o.category == "TRANSIENT" for o in out)
    assert s.down is not None and s.down.code == "HTTP_503" and s.down.attempts == POLICY.max_attempts
    calls = len(dest.calls)
    assert calls == POLICY.max_attempts
    later = s.send(Operation.UPSERT, records(2, "later"))
    assert all(o.unsent for o in later)
    assert len(dest.calls) == calls, "nothing is sent after the retry budget is spent"
    assert dest.records("contacts") == {}


def test_the_time_budget_bounds_rate_limit_waits() -> None:
    dest, clock = FakeDestination(), FakeClock()
    dest.fail_next(*[Fault("rate_limit", retry_after=25.0)] * 100)
    s = sender(dest, clock)
    out = s.send(Operation.UPSERT, records(1))
    assert out[0].unsent and s.down is not None and s.down.rate_limited
    assert sum(clock.sleeps) <= POLICY.budget_seconds


def test_shrink_splits_the_request_in_halves_until_it_goes_through() -> None:
    dest, clock = FakeDestination(), FakeClock()
    # requests of more than 2 records fail with a row lock that asks for smaller requests
    dest.fail_next(*[Fault("lock", shrink=True, above=2)] * 3)
    s = sender(dest, clock)
    batch = records(8)
    out = s.send(Operation.UPSERT, batch)
    assert [o.key for o in out] == [r.key for r in batch] and all(o.success for o in out)
    assert [len(c.keys) for c in dest.calls] == [8, 4, 2, 2, 4, 2, 2]
    assert s.stats.splits == 3
    assert not clock.sleeps, "a split is sent at once, not after a backoff"


def test_a_retryable_record_is_sent_again_alone() -> None:
    dest, clock = FakeDestination(), FakeClock()
    dest.lock_rows(["k3"], times=1)
    s = sender(dest, clock)
    out = s.send(Operation.UPSERT, records(5))
    assert all(o.success for o in out)
    assert [c.keys for c in dest.calls] == [[f"k{i}" for i in range(5)], ["k3"]]


def test_a_record_that_stays_locked_fails_after_the_record_attempts() -> None:
    dest, clock = FakeDestination(), FakeClock()
    dest.lock_rows(["k1"], times=10)
    s = sender(dest, clock, record_attempts=3)
    out = s.send(Operation.UPSERT, records(3))
    assert [o.success for o in out] == [True, False, True]
    assert out[1].error_code == "UNABLE_TO_LOCK_ROW" and out[1].retryable and not out[1].unsent
    assert len(dest.calls) == 3 and s.down is None


def test_a_refused_record_is_final_and_not_sent_again() -> None:
    dest, clock = FakeDestination(invalid={"email": {"k1@example.com"}}), FakeClock()
    out = sender(dest, clock).send(Operation.UPSERT, records(3))
    assert [o.success for o in out] == [True, False, True]
    assert out[1].error_code == "INVALID_FIELD_VALUE" and out[1].fields == ["email"] and out[1].message
    assert len(dest.calls) == 1


def test_a_create_that_timed_out_is_not_resent_its_outcome_is_unknown() -> None:
    """A create request that timed out may have been applied: resending could duplicate it."""
    dest, clock = FakeDestination(), FakeClock()
    dest.fail_next(Fault("timeout", applied=True))
    out = sender(dest, clock).send(Operation.CREATE, records(3))
    assert all(o.error_code == UNKNOWN_OUTCOME and not o.success and not o.unsent for o in out)
    assert len(dest.calls) == 1
    assert len(dest.records("contacts")) == 3, "the CRM applied it: the engine finds them by the match key"


def test_a_create_that_got_a_5xx_is_not_resent_either() -> None:
    dest, clock = FakeDestination(), FakeClock()
    dest.fail_next(Fault("5xx", partial=1))
    out = sender(dest, clock).send(Operation.CREATE, records(3))
    assert [o.error_code for o in out] == [UNKNOWN_OUTCOME] * 3 and len(dest.calls) == 1


def test_a_create_without_a_match_key_that_timed_out_is_in_doubt() -> None:
    dest, clock = FakeDestination(), FakeClock()
    dest.fail_next(Fault("timeout", applied=True))
    s = sender(dest, clock, match=None, resend_unanswered=False)
    out = s.send(Operation.CREATE, records(2))
    assert [o.error_code for o in out] == [IN_DOUBT, IN_DOUBT] and len(dest.calls) == 1
    assert all("may have applied" in (o.message or "") for o in out)


def test_an_upsert_that_timed_out_after_being_applied_is_resent_without_duplicates() -> None:
    dest, clock = FakeDestination(), FakeClock()
    dest.fail_next(Fault("timeout", applied=True))
    out = sender(dest, clock).send(Operation.UPSERT, records(4))
    assert all(o.success for o in out)
    assert [o.created for o in out] == [False] * 4, "the resend met the records the first request created"
    assert len(dest.records("contacts")) == 4


def test_a_batch_cut_short_is_resent_whole_and_every_record_ends_once() -> None:
    dest, clock = FakeDestination(), FakeClock()
    dest.fail_next(Fault("5xx", partial=2))
    out = sender(dest, clock).send(Operation.UPSERT, records(5))
    assert all(o.success for o in out)
    assert [o.created for o in out] == [False, False, True, True, True]
    assert len(dest.records("contacts")) == 5


# -- any mix --------------------------------------------------------------------------------------------------

_record_kind = st.sampled_from(["ok", "refused", "locked1", "locked9"])
_fault = st.one_of(
    st.none(),
    st.builds(Fault, kind=st.sampled_from(["5xx", "timeout", "connection"]), applied=st.booleans()),
    st.builds(Fault, kind=st.just("rate_limit"), retry_after=st.sampled_from([None, 0.5, 3.0])),
    st.builds(Fault, kind=st.just("lock"), shrink=st.just(True), above=st.integers(0, 6)),
    st.builds(Fault, kind=st.just("5xx"), partial=st.integers(0, 5)),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kinds=st.lists(_record_kind, min_size=0, max_size=25),
    faults=st.lists(_fault, max_size=6),
    operation=st.sampled_from([Operation.UPSERT, Operation.CREATE]),
    shuffle=st.booleans(),
)
def test_every_record_ends_exactly_once_as_success_or_failure(
    kinds: list[str], faults: list[Fault | None], operation: Operation, shuffle: bool
) -> None:
    """Any mix of per-record outcomes and request faults: one final outcome per record, in input order;
    a success is in the CRM under the id it reports, and an upsert never creates a record twice."""
    dest, clock = FakeDestination(shuffle=shuffle, invalid={"name": {"refused"}}), FakeClock()
    batch = []
    for i, kind in enumerate(kinds):
        batch.append(Record(f"r{i}", {"email": f"r{i}@example.com", "name": "refused" if kind == "refused" else "x"}))
        if kind.startswith("locked"):
            dest.lock_rows([f"r{i}"], times=int(kind[-1]))
    for fault in faults:
        if fault is not None:
            dest.fail_next(fault)
    s = sender(dest, clock, record_attempts=3)
    out = s.send(operation, batch)
    assert [o.key for o in out] == [r.key for r in batch]
    stored = dest.records("contacts")
    for kind, outcome in zip(kinds, out, strict=True):
        if outcome.success:
            assert outcome.destination_id in stored
            assert not outcome.unsent and outcome.error_code is None
        else:
            assert outcome.error_code and outcome.message is not None
        if kind == "refused" and not outcome.unsent and outcome.error_code != UNKNOWN_OUTCOME:
            assert not outcome.success and outcome.error_code == "INVALID_FIELD_VALUE"
        if kind == "locked9" and not outcome.unsent and outcome.error_code != UNKNOWN_OUTCOME:
            assert outcome.error_code == "UNABLE_TO_LOCK_ROW"
    if operation is Operation.UPSERT:
        emails = Counter(fields["email"] for fields in stored.values())
        assert all(n == 1 for n in emails.values()), emails
    if s.down is not None:
        assert any(o.unsent for o in out) or not batch
