"""Bulk API 2.0 path: shuffled result files mapped back to the right records."""

from __future__ import annotations

from typing import Any

import pytest

from dbt_sync.destinations.base import Lookup, Operation, Record, TransientError
from dbt_sync.destinations.salesforce import SalesforceDestination

BULK = {"bulk_threshold": 5}


def rows(n: int, prefix: str = "BK") -> list[Record]:
    return [Record(f"{prefix}{i}", {"External_Id__c": f"{prefix}{i}", "LastName": f"Name {i}"}) for i in range(n)]


def bulk_jobs(emu: Any) -> int:
    return len([1 for m, p, s in emu.request_log if m == "POST" and p.rstrip("/").endswith("jobs/ingest")])


def test_bulk_upsert_maps_shuffled_successes_and_failures(emu: Any, dest: SalesforceDestination) -> None:
    emu.seed("Account", [{"Name": "Acme", "External_Id__c": "ACC-1"}])
    records = rows(12)
    records[2].fields["LastName"] = None
    records[5].fields["Email"] = "bad-email"
    records[7].lookups.append(Lookup("AccountId", "Account", "External_Id__c", "ACC-404"))
    records[8].lookups.append(Lookup("AccountId", "Account", "External_Id__c", "ACC-1"))
    records[9].fields["LastName"] = 'Ünïcødé, "quoted"\nnewline'
    out = dest.write("Contact", Operation.UPSERT, records, match="External_Id__c", options=BULK)
    assert bulk_jobs(emu) == 1
    assert [o.key for o in out] == [r.key for r in records]
    failed = {o.key: o for o in out if not o.success}
    assert set(failed) == {"BK2", "BK5", "BK7"}
    assert failed["BK2"].error_code == "REQUIRED_FIELD_MISSING" and failed["BK2"].fields == ["LastName"]
    assert failed["BK5"].error_code == "INVALID_EMAIL_ADDRESS"
    assert "ACC-404" in (failed["BK7"].message or "")
    stored = {r["External_Id__c"]: r for r in emu.records("Contact")}
    for o in out:
        if o.success:
            assert stored[o.key]["Id"][:15] == (o.destination_id or "")[:15]
            assert o.created is True
    assert stored["BK9"]["LastName"] == 'Ünïcødé, "quoted"\nnewline'
    assert stored["BK8"]["AccountId"] == emu.records("Account")[0]["Id"]
    again = dest.write("Contact", Operation.UPSERT, rows(6), match="External_Id__c", options=BULK)
    assert [o.created for o in again] == [False, False, True, False, False, True]


def test_bulk_null_clears_and_missing_leaves(emu: Any, dest: SalesforceDestination) -> None:
    emu.seed("Contact", [{"LastName": "L", "Email": "a@example.com", "External_Id__c": f"NL{i}"} for i in range(6)])
    records = [
        Record(f"NL{i}", {"External_Id__c": f"NL{i}", "Email": None if i == 0 else f"n{i}@example.com"})
        for i in range(6)
    ]
    out = dest.write("Contact", Operation.UPDATE, records, match="External_Id__c", options=BULK)
    assert all(o.success for o in out), out
    stored = {r["External_Id__c"]: r for r in emu.records("Contact")}
    assert stored["NL0"].get("Email") is None
    assert stored["NL1"]["Email"] == "n1@example.com" and stored["NL1"]["LastName"] == "L"


def test_bulk_insert_and_delete(emu: Any, dest: SalesforceDestination) -> None:
    records = [Record(f"I{i}", {"LastName": f"Same {i % 3}"}) for i in range(9)]
    records[4].fields["LastName"] = None
    out = dest.write("Contact", Operation.CREATE, records, match=None, options=BULK)
    assert [o.success for o in out].count(False) == 1 and not out[4].success
    ids = [o.destination_id for o in out if o.success]
    assert len(set(ids)) == 8 and all(o.created for o in out if o.success)
    stored = {r["Id"]: r["LastName"] for r in emu.records("Contact")}
    for record, outcome in zip(records, out, strict=True):
        if outcome.success:
            assert stored[outcome.destination_id] == record.fields["LastName"]
    deletes = [Record(o.key, {}, destination_id=o.destination_id) for o in out if o.success]
    gone = dest.write("Contact", Operation.DELETE, deletes, match=None, options=BULK)
    assert all(o.success for o in gone)
    assert emu.records("Contact") == []


def test_failed_job_leaves_every_record_retryable(emu: Any, dest: SalesforceDestination) -> None:
    emu.faults.bulk_job_fails("InternalServerError : Internal error")
    out = dest.write("Contact", Operation.UPSERT, rows(7), match="External_Id__c", options=BULK)
    assert all(not o.success and o.retryable for o in out)
    assert {o.error_code for o in out} == {"UNPROCESSED"}
    assert all("InternalServerError" in (o.message or "") for o in out)


def test_invalid_batch_is_not_retryable(emu: Any, dest: SalesforceDestination) -> None:
    records = rows(6)
    for r in records:
        r.fields["No_Such_Field__c"] = "x"
    try:
        out = dest.write("Contact", Operation.UPSERT, records, match="External_Id__c", options=BULK)
    except TransientError:  # pragma: no cover - the assertion below explains
        pytest.fail("an InvalidBatch job must fail its records, not ask for a retry")
    assert all(not o.success and not o.retryable and o.error_code == "INVALID_BATCH" for o in out)
    assert "No_Such_Field__c" in (out[0].message or "")


def test_bulk_sends_decimals_exactly(emu: Any, dest: SalesforceDestination) -> None:
    from decimal import Decimal

    batch = [
        Record(f"DC{i}", {"External_Id__c": f"DC{i}", "LastName": "Dec", "Lead_Score__c": Decimal(f"{i}.25")})
        for i in range(8)
    ]
    outcomes = dest.write("Contact", Operation.UPSERT, batch, match="External_Id__c", options=BULK)
    assert all(o.success for o in outcomes), [o.message for o in outcomes if not o.success]
    assert bulk_jobs(emu) == 1
    scores = {r["External_Id__c"]: r["Lead_Score__c"] for r in emu.records("Contact")}
    assert scores["DC3"] == 3.25 and scores["DC7"] == 7.25


def test_update_and_delete_use_known_ids_without_looking_them_up(emu: Any, dest: SalesforceDestination) -> None:
    created = dest.write("Contact", Operation.UPSERT, rows(3, "KI"), match="External_Id__c", options={})
    ids = {o.key: o.destination_id for o in created}
    before = len(emu.request_log)
    # a delete row carries only the key and the id from the state (no match value)
    deletes = [Record(k, {}, destination_id=i) for k, i in ids.items()]
    outcomes = dest.write("Contact", Operation.DELETE, deletes, match="External_Id__c", options={})
    assert all(o.success for o in outcomes), [o.message for o in outcomes]
    assert emu.records("Contact") == []
    assert not [p for m, p, s in emu.request_log[before:] if "query" in p]  # no SOQL id lookup


def test_without_bulk_a_batch_fills_every_concurrent_request(make_dest: Any) -> None:
    dest = make_dest(bulk_threshold=0, concurrency=4)
    assert dest.max_batch_size(Operation.UPSERT, {}) == 800
    assert dest.max_batch_size(Operation.UPSERT, {"all_or_none": True}) == 200


def test_bulk_delete_of_an_already_deleted_record_counts_as_done(emu: Any, dest: SalesforceDestination) -> None:
    """ENTITY_IS_DELETED means the intended state holds, on the Bulk path exactly as on Collections."""
    ids = emu.seed("Contact", [{"LastName": f"D{i}", "External_Id__c": f"DD{i}"} for i in range(8)])
    deletes = [Record(f"DD{i}", {}, destination_id=rid) for i, rid in enumerate(ids)]
    first = dest.write("Contact", Operation.DELETE, deletes[:3], match=None, options={"bulk_threshold": 0})
    assert all(o.success for o in first)
    for options in (BULK, {"bulk_threshold": 0}):  # Bulk, then Collections: the same answer
        again = dest.write("Contact", Operation.DELETE, deletes, match=None, options=options)
        assert all(o.success for o in again), again
        assert [o.destination_id for o in again] == ids
    assert emu.records("Contact") == []


def test_update_by_match_reads_every_query_page(emu: Any, dest: SalesforceDestination) -> None:
    """More than 2,000 matches: the lookup follows nextRecordsUrl and counts every one."""
    emu.seed("Contact", [{"LastName": f"P{i}", "Email": "same@example.com"} for i in range(2_100)])
    out = dest.write(
        "Contact", Operation.UPDATE, [Record("P", {"Email": "same@example.com", "FirstName": "X"})],
        match="Email", options={},
    )
    assert out[0].error_code == "DUPLICATE_EXTERNAL_ID"
    assert "matches 2100 Contact records" in (out[0].message or "")
    queries = [p for m, p, s in emu.request_log if m == "GET" and "/query" in p]
    assert len(queries) == 2 and "/query/01g" in queries[1]
