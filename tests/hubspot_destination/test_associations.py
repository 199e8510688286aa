"""Associations after the objects are written: lookups, ids from earlier writes, missing targets."""

from __future__ import annotations

from dbt_sync.destinations.base import Association, Operation, Record
from dbt_sync.destinations.hubspot import HubSpotDestination
from dbt_sync.engine.retry import RetryPolicy, call_with_retries
from dbt_sync_emulators.hubspot import HubSpotEmulator


def by_key(outcomes):
    return {o.key: o for o in outcomes}


def test_associations_by_lookup_and_missing_target(dest: HubSpotDestination, emu: HubSpotEmulator) -> None:
    acme = emu.seed("companies", {"name": "Acme", "company_key": "ACME"})
    records = [
        Record("1", {"email": "a@example.com"}, associations=[Association("companies", "ACME", match="company_key")]),
        Record("2", {"email": "b@example.com"}, associations=[Association("companies", "ACME", match="company_key")]),
        Record("3", {"email": "c@example.com"}, associations=[Association("companies", "GONE", match="company_key")]),
    ]
    out = by_key(dest.write("contacts", Operation.UPSERT, records, match="email", options={}))
    assert out["1"].success and out["2"].success
    assert not out["3"].success and out["3"].error_code == "ASSOCIATION_TARGET_NOT_FOUND"
    assert out["3"].destination_id  # the contact itself was written
    assert "companies" in out["3"].message and "company_key" in out["3"].message and "GONE" in out["3"].message
    for key in ("1", "2"):
        links = emu.associations("contacts", out[key].destination_id)
        assert [(t, i) for t, i, _ in links] == [("companies", acme)]
    assert emu.associations("contacts", out["3"].destination_id) == []
    reads = [p for _, p, _ in emu.request_log if p.endswith("/batch/read")]
    assert len(reads) == 1  # one lookup for the whole batch


def test_associations_with_ids_from_a_previous_write_and_type_ids(
    dest: HubSpotDestination, emu: HubSpotEmulator
) -> None:
    companies = dest.write(
        "companies", Operation.UPSERT, [Record("c1", {"company_key": "C1", "name": "One"})],
        match="company_key", options={},
    )
    company_id = companies[0].destination_id
    contact = emu.seed("contacts", {"email": "p@example.com"})
    records = [
        Record(
            "d1",
            {"dealname": "Big", "deal_key": "D1"},
            associations=[
                Association("companies", None, to_id=company_id, type_id=341),
                Association("contacts", None, to_id=contact),
            ],
        ),
        Record("d2", {"dealname": "Stale", "deal_key": "D2"},
               associations=[Association("companies", None, to_id="999999999")]),
    ]
    out = by_key(dest.write("deals", Operation.UPSERT, records, match="deal_key", options={}))
    assert out["d1"].success, out["d1"]
    links = emu.associations("deals", out["d1"].destination_id)
    assert ("companies", company_id, 341) in links
    assert any(t == "contacts" and i == contact for t, i, _ in links)
    # a stale stored id: named as a target that no longer exists, so the engine drops that link
    assert not out["d2"].success and out["d2"].error_code == "ASSOCIATION_TARGET_NOT_FOUND"
    assert out["d2"].missing_targets == [("companies", "999999999")]
    assert out["d2"].destination_id and "999999999" in out["d2"].message
    assert not [p for _, p, _ in emu.request_log if p.endswith("/batch/read")]  # ids known: no lookup


def test_transient_error_in_associations_does_not_recreate_objects(
    dest: HubSpotDestination, emu: HubSpotEmulator
) -> None:
    acme = emu.seed("companies", {"name": "Acme"})
    records = [
        Record(f"d{i}", {"dealname": f"Deal {i}"}, associations=[Association("companies", None, to_id=acme)])
        for i in range(3)
    ]
    emu.faults.fail_next(1, status=503, path_contains="/crm/v4/associations")
    policy = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02, budget_seconds=5)
    out = call_with_retries(lambda: dest.write("deals", Operation.CREATE, records, match=None, options={}), policy)
    assert all(o.success and o.created for o in out), out
    assert len(emu.records("deals")) == 3  # created once although the write ran twice
    for o in out:
        assert [i for _, i, _ in emu.associations("deals", o.destination_id)] == [acme]
    assert [s for _, p, s in emu.request_log if p.endswith("/batch/create")] == [201]


def test_association_label_unknown_fails_the_record_only(dest: HubSpotDestination, emu: HubSpotEmulator) -> None:
    acme = emu.seed("companies", {"name": "Acme"})
    records = [
        Record("1", {"email": "l@example.com"},
               associations=[Association("companies", None, to_id=acme, label="No Such Label")]),
        Record("2", {"email": "m@example.com"}, associations=[Association("companies", None, to_id=acme)]),
    ]
    out = by_key(dest.write("contacts", Operation.UPSERT, records, match="email", options={}))
    assert out["2"].success
    assert not out["1"].success and out["1"].error_code == "ASSOCIATION_LABEL_NOT_FOUND"
