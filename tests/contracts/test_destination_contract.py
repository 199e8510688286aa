"""The destination contract (dbt_sync/destinations/base.py), one set of tests run against every destination.

What the engine relies on, whatever the CRM: one outcome per input record, in input order; created vs
updated; ids that work for a later update and delete by id; a record the CRM refuses is a failure with a
code, a message and the field, and the rest of the batch goes on; a record the CRM no longer has is
reported as gone (see engine/identity.py); a create that meets an existing unique value is reported as a
duplicate; a request that fails as a whole is a ``TransientError`` (or retryable outcomes), not record
failures; an empty batch sends nothing; text survives the round trip; ``find`` finds by the match key.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbt_sync.destinations.base import (
    Destination,
    FieldSpec,
    Lookups,
    Operation,
    RateLimited,
    RecordOutcome,
    TransientError,
)
from dbt_sync.engine import identity
from tests.contracts.conftest import Harness

UNICODE = 'Zoë Ångström — 北京 🙂 "quoted", back\\slash'


def successes(outcomes: list[RecordOutcome]) -> list[RecordOutcome]:
    assert all(o.success for o in outcomes), [(o.key, o.error_code, o.message) for o in outcomes if not o.success]
    return outcomes


def test_it_is_a_destination_and_says_what_else_it_can_do(contract: Harness) -> None:
    assert isinstance(contract.dest, Destination)
    assert isinstance(contract.dest, RateLimited)
    assert contract.dest.concurrency >= 1 and contract.dest.rate_interval > 0
    for operation in Operation:
        assert contract.dest.max_batch_size(operation, contract.options) >= 1


@pytest.mark.parametrize("operation", list(Operation))
def test_an_empty_batch_has_no_outcomes(contract: Harness, operation: Operation) -> None:
    assert contract.write(operation, []) == []


def test_one_outcome_per_input_record_in_input_order(contract: Harness) -> None:
    records = [contract.record("a1"), contract.record("a2"), contract.refused_record("a3"), contract.record("a4")]
    out = contract.write(Operation.UPSERT, records)
    assert [o.key for o in out] == [r.key for r in records]
    assert [o.success for o in out] == [True, True, False, True]


def test_an_upsert_creates_then_updates_the_same_record(contract: Harness) -> None:
    records = [contract.record("u1", "First"), contract.record("u2", "Second")]
    first = successes(contract.write(Operation.UPSERT, records))
    assert [o.created for o in first] == [True, True]
    assert all(o.destination_id for o in first)
    records[0].fields[contract.text_field] = "First again"
    again = successes(contract.write(Operation.UPSERT, records))
    assert [o.created for o in again] == [False, False]
    assert [o.destination_id for o in again] == [o.destination_id for o in first]
    stored = contract.read(first[0].destination_id)
    assert stored is not None and stored[contract.text_field] == "First again"
    assert len(contract.read_all()) == 2


def test_ids_returned_by_a_create_serve_to_update_and_delete_by_id(contract: Harness) -> None:
    created = successes(contract.write(Operation.CREATE, [contract.record("i1"), contract.record("i2")], match=None))
    assert all(o.destination_id and o.created is not False for o in created)
    ids = [o.destination_id for o in created]
    assert len(set(ids)) == 2
    updates = [contract.record(f"i{n}", f"Updated {n}", destination_id=ids[n - 1]) for n in (1, 2)]
    updated = successes(contract.write(Operation.UPDATE, updates, match=None))
    assert [o.destination_id for o in updated] == ids and [o.created for o in updated] == [False, False]
    assert [(contract.read(i) or {}).get(contract.text_field) for i in ids] == ["Updated 1", "Updated 2"]
    deletes = [contract.record(f"i{n}", destination_id=ids[n - 1]) for n in (1, 2)]
    successes(contract.write(Operation.DELETE, deletes, match=None))
    assert [contract.read(i) for i in ids] == [None, None]


def test_a_refused_record_fails_alone_with_code_message_and_field(contract: Harness) -> None:
    records = [contract.record("r1"), contract.refused_record("r2"), contract.record("r3")]
    out = contract.write(Operation.UPSERT, records)
    good1, bad, good3 = out
    assert good1.success and good3.success
    assert not bad.success and not bad.unsent
    assert bad.error_code and bad.message
    field, _ = contract.refused
    assert field.lower() in [f.lower() for f in bad.fields], bad
    assert bad.retryable is False, "a refused value fails again on a resend"
    assert bad.category != "TRANSIENT"
    assert len(contract.read_all()) == 2


def test_an_update_of_a_record_gone_from_the_crm_is_reported_gone(contract: Harness) -> None:
    created = successes(contract.write(Operation.UPSERT, [contract.record("g1"), contract.record("g2")]))
    gone_id, live_id = created[0].destination_id, created[1].destination_id
    assert gone_id and live_id
    contract.remove(gone_id)
    out = contract.write(
        Operation.UPDATE,
        [contract.record("g1", "X", destination_id=gone_id), contract.record("g2", "Y", destination_id=live_id)],
        match=None,
    )
    assert not out[0].success and identity.is_gone(out[0]), out[0]
    assert out[0].message
    assert out[1].success


def test_a_delete_of_a_record_gone_from_the_crm_is_done_or_reported_gone(contract: Harness) -> None:
    created = successes(contract.write(Operation.UPSERT, [contract.record("d1"), contract.record("d2")]))
    ids = [o.destination_id for o in created]
    assert ids[0] and ids[1]
    contract.remove(ids[0])
    out = contract.write(
        Operation.DELETE,
        [contract.record("d1", destination_id=ids[0]), contract.record("d2", destination_id=ids[1])],
        match=None,
    )
    assert out[0].success or identity.is_gone(out[0]), out[0]
    assert out[1].success
    assert contract.read_all() == {}


def test_a_create_that_meets_an_existing_unique_value_is_a_duplicate(contract: Harness) -> None:
    successes(contract.write(Operation.UPSERT, [contract.record("x1"), contract.record("x2")]))
    out = contract.write(Operation.CREATE, [contract.record("x1"), contract.record("x3")])
    assert not out[0].success and identity.is_duplicate(out[0]), out[0]
    assert out[1].success and out[1].created is not False
    assert len(contract.read_all()) == 3


def test_text_survives_the_round_trip(contract: Harness) -> None:
    out = successes(contract.write(Operation.UPSERT, [contract.record("t1", UNICODE), contract.record("t2", "ok")]))
    stored = contract.read(out[0].destination_id)
    assert stored is not None and stored[contract.text_field] == UNICODE


def test_find_returns_the_ids_of_records_with_the_match_values(contract: Harness) -> None:
    created = successes(contract.write(Operation.UPSERT, [contract.record("f1"), contract.record("f2")]))
    assert isinstance(contract.dest, Lookups)
    found = contract.dest.find(
        contract.object_name, contract.match, [contract.record("f1"), contract.record("f2"), contract.record("nope")]
    )
    assert {k: v[:15] for k, v in found.items()} == {
        "f1": str(created[0].destination_id)[:15], "f2": str(created[1].destination_id)[:15],
    }


def test_a_request_that_fails_as_a_whole_is_transient_not_record_failures(contract: Harness) -> None:
    successes(contract.write(Operation.UPSERT, [contract.record("s0"), contract.record("s00")]))  # logged in
    contract.fail_next_request()
    try:
        out = contract.write(Operation.UPSERT, [contract.record("s1"), contract.record("s2")])
    except TransientError as exc:
        assert exc.code and not exc.rate_limited
    else:
        assert all(not o.success and o.retryable for o in out), out
    again = successes(contract.write(Operation.UPSERT, [contract.record("s1"), contract.record("s2")]))
    assert len(again) == 2 and len(contract.read_all()) == 4


def test_a_request_over_the_accounts_limit_is_rate_limited(contract: Harness) -> None:
    """The engine waits on these without counting them as failed attempts (engine/retry.py)."""
    successes(contract.write(Operation.UPSERT, [contract.record("l0"), contract.record("l00")]))
    contract.limit_requests(True)
    try:
        with pytest.raises(TransientError) as raised:
            contract.write(Operation.UPSERT, [contract.record("l1"), contract.record("l2")])
    finally:
        contract.limit_requests(False)
    assert raised.value.rate_limited, (raised.value.code, str(raised.value))
    successes(contract.write(Operation.UPSERT, [contract.record("l1"), contract.record("l2")]))
    assert len(contract.read_all()) == 4


def test_usage_counts_the_requests(contract: Harness) -> None:
    before = contract.dest.usage().requests
    successes(contract.write(Operation.UPSERT, [contract.record("q1"), contract.record("q2")]))
    assert contract.dest.usage().requests > before


def test_an_update_by_match_value_that_matches_nothing_fails_as_not_found(contract: Harness) -> None:
    successes(contract.write(Operation.UPSERT, [contract.record("m1")]))
    out = contract.write(Operation.UPDATE, [contract.record("m1", "New"), contract.record("m404", "Nope")])
    assert out[0].success and out[0].created is False
    assert not out[1].success and out[1].error_code and out[1].message and not out[1].retryable
    assert len(contract.read_all()) == 1


def test_a_delete_by_match_value_finds_the_record(contract: Harness) -> None:
    created = successes(contract.write(Operation.UPSERT, [contract.record("k1"), contract.record("k2")]))
    out = contract.write(Operation.DELETE, [contract.record("k1"), contract.record("k2")])
    assert [o.success for o in out] == [True, True] and not any(o.created for o in out)
    assert [o.destination_id for o in out] == [o.destination_id for o in created]
    assert [contract.read(o.destination_id) for o in created] == [None, None]


def test_none_clears_a_field(contract: Harness) -> None:
    created = successes(contract.write(Operation.UPSERT, [contract.record("n1", "Kept"), contract.record("n2")]))
    record = contract.record("n1")
    record.fields[contract.clearable] = "to be cleared"
    successes(contract.write(Operation.UPSERT, [record]))
    record.fields[contract.clearable] = None
    successes(contract.write(Operation.UPSERT, [record, contract.record("n2")]))
    stored = contract.read(created[0].destination_id) or {}
    assert stored.get(contract.clearable) in (None, "")


def test_writes_from_several_threads_at_once(contract: Harness) -> None:
    """The engine runs the syncs of a stage in threads that share one destination object."""
    batches = [[contract.record(f"c{t}x{i}") for i in range(3)] for t in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda b: contract.write(Operation.UPSERT, b), batches))
    for batch, out in zip(batches, results, strict=True):
        assert [o.key for o in successes(out)] == [r.key for r in batch]
    ids = [o.destination_id for out in results for o in out]
    assert len(set(ids)) == 18 and len(contract.read_all()) == 18


def test_check_mapping_names_a_field_the_object_does_not_have(contract: Harness) -> None:
    fields = [
        FieldSpec(name=contract.match, column="m", column_type="varchar"),
        FieldSpec(name=contract.text_field, column="t", column_type="varchar"),
    ]
    assert contract.dest.check_mapping(contract.object_name, Operation.UPSERT, contract.match, fields, "syncs.x") == []
    bad = [*fields, FieldSpec(name="no_such_field_zz", column="z", column_type="varchar")]
    problems = contract.dest.check_mapping(contract.object_name, Operation.UPSERT, contract.match, bad, "syncs.x")
    assert problems and all(p.path.startswith("syncs.x") and p.message for p in problems)
    assert any("no_such_field_zz" in p.path + p.message for p in problems)


def test_a_locked_record_is_retryable(contract: Harness) -> None:
    """Salesforce answers UNABLE_TO_LOCK_ROW for the record, HubSpot 423 for the request: either way a
    resend may succeed, so the record is retryable (or the request transient), never a final failure."""
    successes(contract.write(Operation.UPSERT, [contract.record("o0"), contract.record("o00")]))
    contract.lock_next("o1")
    try:
        out = contract.write(Operation.UPSERT, [contract.record("o1"), contract.record("o2")])
    except TransientError as exc:
        assert exc.code and not exc.rate_limited
    else:
        failed = [o for o in out if not o.success]
        assert failed, "the lock was not met"
        assert all(o.retryable and o.error_code for o in failed), failed
    successes(contract.write(Operation.UPSERT, [contract.record("o1"), contract.record("o2")]))


def test_a_full_batch_gets_one_outcome_per_record(contract: Harness) -> None:
    """As many records as the destination takes in one batch (at most 250 here): it splits them into the
    API's requests itself."""
    size = min(250, contract.dest.max_batch_size(Operation.UPSERT, contract.options))
    records = [contract.record(f"b{i}") for i in range(size)]
    out = successes(contract.write(Operation.UPSERT, records))
    assert [o.key for o in out] == [r.key for r in records]
    assert len({o.destination_id for o in out}) == size == len(contract.read_all())


def test_a_delete_of_a_record_the_crm_never_had_is_done_or_reported_gone(contract: Harness) -> None:
    successes(contract.write(Operation.UPSERT, [contract.record("v1")]))
    out = contract.write(Operation.DELETE, [contract.record("never1"), contract.record("v1")])
    assert out[0].success or identity.is_gone(out[0]), out[0]
    assert out[1].success and contract.read_all() == {}


def test_an_update_that_takes_another_records_unique_value_is_a_duplicate(contract: Harness) -> None:
    """Mirror syncs rely on this: a key that moved to another row meets its old record (engine/identity.py)."""
    created = successes(contract.write(Operation.UPSERT, [contract.record("y1"), contract.record("y2")]))
    moved = contract.record("y2", destination_id=created[1].destination_id)
    moved.fields[contract.match] = contract.match_value("y1")
    still = contract.record("y1", "still", destination_id=created[0].destination_id)
    out = contract.write(Operation.UPDATE, [moved, still], match=None)
    assert not out[0].success and identity.is_duplicate(out[0]), out[0]
    assert out[1].success


_examples = itertools.count()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from(["new", "existing", "refused"]), min_size=2, max_size=12))
def test_any_mix_of_new_existing_and_refused_records(contract: Harness, kinds: list[str]) -> None:
    """Whatever the mix: one outcome per record in input order; new records are created, existing ones
    updated under their id, refused ones fail alone with a code and the field, and the CRM holds exactly
    the records that succeeded."""
    run = next(_examples)
    keys = [f"h{run}n{i}" for i in range(len(kinds))]
    existing = [k for k, kind in zip(keys, kinds, strict=True) if kind == "existing"]
    ids: dict[str, str | None] = {}
    if existing:
        seeded = successes(contract.write(Operation.UPSERT, [contract.record(k) for k in existing]))
        ids = {o.key: o.destination_id for o in seeded}
    before = len(contract.read_all())
    records = [
        contract.refused_record(k) if kind == "refused" else contract.record(k, f"v{run}")
        for k, kind in zip(keys, kinds, strict=True)
    ]
    out = contract.write(Operation.UPSERT, records)
    assert [o.key for o in out] == keys
    field, _ = contract.refused
    for kind, outcome in zip(kinds, out, strict=True):
        if kind == "refused":
            assert not outcome.success and outcome.error_code and outcome.message
            assert field.lower() in [f.lower() for f in outcome.fields]
        else:
            assert outcome.success, outcome
            assert outcome.created is (kind == "new")
            if kind == "existing":
                assert outcome.destination_id == ids[outcome.key]
            assert (contract.read(outcome.destination_id) or {}).get(contract.text_field) == f"v{run}"
    assert len(contract.read_all()) == before + kinds.count("new")
