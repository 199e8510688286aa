"""Collections writes against the emulator: outcomes per record, values, lookups."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from dbt_sync.destinations.base import Lookup, Operation, Record
from dbt_sync.destinations.salesforce import SalesforceDestination


def contact(key: str, **fields: Any) -> Record:
    lookups = fields.pop("lookups", [])
    destination_id = fields.pop("destination_id", None)
    base = {"External_Id__c": key, "LastName": f"Last {key}"}
    base.update(fields)
    return Record(key=key, fields=base, lookups=lookups, destination_id=destination_id)


def by_ext(emu: Any, obj: str = "Contact") -> dict[str, dict[str, Any]]:
    return {r["External_Id__c"]: r for r in emu.records(obj) if r.get("External_Id__c")}


def test_upsert_partial_failure_keeps_the_rest(emu: Any, dest: SalesforceDestination) -> None:
    records = [contact("C1"), contact("C2", LastName=None), contact("C3", Email="not-an-email")]
    out = dest.write("Contact", Operation.UPSERT, records, match="External_Id__c", options={})
    assert [o.key for o in out] == ["C1", "C2", "C3"]
    assert out[0].success and out[0].created is True and out[0].destination_id
    assert not out[1].success and out[1].error_code == "REQUIRED_FIELD_MISSING"
    assert out[1].fields == ["LastName"] and out[1].retryable is False
    assert not out[2].success and out[2].error_code == "INVALID_EMAIL_ADDRESS"
    assert set(by_ext(emu)) == {"C1"}
    again = dest.write("Contact", Operation.UPSERT, [contact("C1", LastName="New")], match="External_Id__c", options={})
    assert again[0].success and again[0].created is False
    assert again[0].destination_id == out[0].destination_id
    assert by_ext(emu)["C1"]["LastName"] == "New"


def test_all_or_none_rolls_back_and_marks_siblings_retryable(emu: Any, dest: SalesforceDestination) -> None:
    records = [contact("A1"), contact("A2", LastName=None)]
    out = dest.write("Contact", Operation.UPSERT, records, match="External_Id__c", options={"all_or_none": True})
    assert not out[0].success and out[0].error_code == "ALL_OR_NONE_OPERATION_ROLLED_BACK" and out[0].retryable
    assert not out[1].success and out[1].error_code == "REQUIRED_FIELD_MISSING" and not out[1].retryable
    assert by_ext(emu) == {}


def test_values_reach_salesforce_exactly(emu: Any, dest: SalesforceDestination) -> None:
    aware = dt.datetime(2024, 3, 10, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    records = [
        contact(
            "V1",
            LastName="Zoë Ångström 日本語",
            Lead_Score__c=Decimal("1234567890123.45"),
            Birthdate=dt.date(1990, 2, 28),
            Last_Seen_At__c=dt.datetime(2024, 1, 2, 3, 4, 5, 123456),
            Is_Customer__c=True,
            Email=None,
        ),
        contact("V2", Last_Seen_At__c=aware, Is_Customer__c=False),
    ]
    out = dest.write("Contact", Operation.UPSERT, records, match="External_Id__c", options={})
    assert all(o.success for o in out), out
    stored = by_ext(emu)
    v1, v2 = stored["V1"], stored["V2"]
    assert v1["LastName"] == "Zoë Ångström 日本語"
    assert Decimal(str(v1["Lead_Score__c"])) == Decimal("1234567890123.45")
    assert str(v1["Birthdate"]) == "1990-02-28"
    assert str(v1["Last_Seen_At__c"]).startswith("2024-01-02T03:04:05.123")
    assert v1["Is_Customer__c"] is True and v1.get("Email") is None
    assert str(v2["Last_Seen_At__c"]).startswith("2024-03-09T23:30:00")
    assert v2["Is_Customer__c"] is False


def test_decimal_goes_out_digit_for_digit(emu: Any, dest: SalesforceDestination) -> None:
    emu.define_object(
        "Invoice__c",
        fields=[
            {"name": "Id", "type": "id"},
            {"name": "External_Id__c", "type": "string", "externalId": True, "unique": True, "length": 40},
            {"name": "Amount__c", "type": "double", "precision": 20, "scale": 2},
        ],
    )
    bodies: list[bytes] = []

    def capture(response: Any, *args: Any, **kwargs: Any) -> None:
        body = response.request.body or b""
        bodies.append(body.encode() if isinstance(body, str) else body)

    # observe the real traffic through requests' response hook
    dest._client.session.hooks["response"].append(capture)
    amount = Decimal("1234567890123.25")  # 15 digits: a double holds it, a float's str would not print it so
    out = dest.write(
        "Invoice__c",
        Operation.UPSERT,
        [Record("I1", {"External_Id__c": "I1", "Amount__c": amount})],
        match="External_Id__c",
        options={},
    )
    assert out[0].success, out
    sent = b"".join(b for b in bodies if b"Amount__c" in b)
    assert b'"Amount__c":1234567890123.25' in sent
    assert emu.records("Invoice__c")[0]["Amount__c"] is not None
    # more digits than the field's double holds: refused before sending, never stored changed
    lost = Record("I3", {"External_Id__c": "I3", "Amount__c": Decimal("12345678901234567.89")})
    [refused] = dest.write("Invoice__c", Operation.UPSERT, [lost], match="External_Id__c", options={})
    assert not refused.success and refused.error_code == "NUMBER_PRECISION_LOST"
    # over precision: Salesforce's own error, never rounded to fit
    big = Record("I2", {"External_Id__c": "I2", "Amount__c": Decimal(10) ** 19})
    over = dest.write("Invoice__c", Operation.UPSERT, [big], match="External_Id__c", options={})
    assert not over[0].success and over[0].error_code == "NUMBER_OUTSIDE_VALID_RANGE"


def test_too_long_value_fails_that_record_untruncated(emu: Any, dest: SalesforceDestination) -> None:
    out = dest.write(
        "Contact",
        Operation.UPSERT,
        [contact("L1", LastName="x" * 81), contact("L2")],
        match="External_Id__c",
        options={},
    )
    assert out[0].error_code == "STRING_TOO_LONG" and "LastName" in out[0].fields
    assert out[1].success
    assert set(by_ext(emu)) == {"L2"}


def test_unsendable_value_fails_alone(emu: Any, dest: SalesforceDestination) -> None:
    out = dest.write(
        "Contact",
        Operation.UPSERT,
        [contact("N1", Lead_Score__c=float("nan")), contact("N2")],
        match="External_Id__c",
        options={},
    )
    assert out[0].error_code == "INVALID_TYPE_ON_FIELD_IN_RECORD" and out[0].fields == ["Lead_Score__c"]
    assert out[1].success


def test_type_error_in_one_record_is_isolated(emu: Any, dest: SalesforceDestination) -> None:
    records = [contact(f"T{i}") for i in range(5)]
    records[3].fields["Birthdate"] = "not a date"
    out = dest.write("Contact", Operation.UPSERT, records, match="External_Id__c", options={})
    assert [o.success for o in out] == [True, True, True, False, True]
    assert out[3].error_code == "JSON_PARSER_ERROR" and "date" in (out[3].message or "")


def test_lookup_by_parent_external_id_and_missing_parent(emu: Any, dest: SalesforceDestination) -> None:
    emu.seed("Account", [{"Name": "Acme", "External_Id__c": "ACC-1"}])
    records = [
        contact("K1", lookups=[Lookup("AccountId", "Account", "External_Id__c", "ACC-1")]),
        contact("K2", lookups=[Lookup("AccountId", "Account", "External_Id__c", "ACC-404")]),
    ]
    out = dest.write("Contact", Operation.UPSERT, records, match="External_Id__c", options={})
    account_id = next(a["Id"] for a in emu.records("Account") if a["External_Id__c"] == "ACC-1")
    assert out[0].success and by_ext(emu)["K1"]["AccountId"] == account_id
    assert not out[1].success and "ACC-404" in (out[1].message or "")
    assert out[1].error_code in ("INVALID_FIELD", "INVALID_CROSS_REFERENCE_KEY")


def test_create_update_by_id_and_delete(emu: Any, dest: SalesforceDestination) -> None:
    created = dest.write("Contact", Operation.CREATE, [contact("R1"), contact("R2")], match=None, options={})
    assert all(o.success and o.created for o in created)
    ids = [o.destination_id for o in created]
    updates = [
        contact("R1", LastName="Renamed", destination_id=ids[0]),
        contact("R2", destination_id=None),
        contact("R3", destination_id="003000000000000AAA"),
    ]
    out = dest.write("Contact", Operation.UPDATE, updates, match=None, options={})
    assert out[0].success and out[0].destination_id == ids[0]
    assert not out[1].success and out[1].error_code == "NOT_FOUND"
    assert not out[2].success
    assert by_ext(emu)["R1"]["LastName"] == "Renamed"
    deleted = dest.write(
        "Contact",
        Operation.DELETE,
        [Record("R1", {}, destination_id=ids[0]), Record("R9", {})],
        match=None,
        options={},
    )
    assert deleted[0].success and not deleted[1].success
    assert set(by_ext(emu)) == {"R2"}


def test_update_by_external_id_never_creates(emu: Any, dest: SalesforceDestination) -> None:
    emu.seed("Contact", [{"LastName": "Old", "External_Id__c": "U1"}])
    out = dest.write(
        "Contact",
        Operation.UPDATE,
        [contact("U1", LastName="New"), contact("U2")],
        match="External_Id__c",
        options={},
    )
    assert out[0].success and out[0].created is False
    assert not out[1].success and out[1].error_code == "NOT_FOUND"
    assert out[1].message == "No Contact with External_Id__c = U2"
    assert {k: v["LastName"] for k, v in by_ext(emu).items()} == {"U1": "New"}


def test_more_than_200_records_are_split(emu: Any, dest: SalesforceDestination) -> None:
    records = [contact(f"S{i:03d}") for i in range(450)]
    out = dest.write("Contact", Operation.UPSERT, records, match="External_Id__c", options={"bulk_threshold": 0})
    assert len(out) == 450 and all(o.success for o in out)
    assert len(by_ext(emu)) == 450
    collections = [p for m, p, s in emu.request_log if "composite/sobjects" in p]
    assert len(collections) == 3


def test_usage_reads_limit_info(emu: Any, dest: SalesforceDestination) -> None:
    dest.write("Contact", Operation.UPSERT, [contact("G1")], match="External_Id__c", options={})
    usage = dest.usage()
    assert usage.requests >= 1
    assert usage.limit_max is not None and usage.limit_used is not None and usage.limit_used <= usage.limit_max


def test_parallel_requests_and_clearing_a_lookup(emu: Any, make_dest: Any) -> None:
    dest = make_dest("jwt", concurrency=3)
    emu.seed("Account", [{"Name": "Acme", "External_Id__c": "ACC-1"}])
    parent = [Lookup("AccountId", "Account", "External_Id__c", "ACC-1")]
    records = [contact(f"P{i:03d}", lookups=list(parent)) for i in range(420)]
    out = dest.write("Contact", Operation.UPSERT, records, match="External_Id__c", options={"bulk_threshold": 0})
    assert [o.key for o in out] == [r.key for r in records] and all(o.success for o in out)
    cleared = [contact("P000", lookups=[Lookup("AccountId", "Account", "External_Id__c", None)])]
    assert dest.write("Contact", Operation.UPSERT, cleared, match="External_Id__c", options={})[0].success
    stored = by_ext(emu)
    assert stored["P000"]["AccountId"] is None and stored["P001"]["AccountId"]
