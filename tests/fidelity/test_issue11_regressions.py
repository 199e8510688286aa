"""Issue 11's cases 1-5, each as it was reported: a value that changed on its way and was called a success."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import requests
from hubspot import HubSpot
from simple_salesforce import Salesforce

from dbt_sync.destinations.base import Operation, Record
from dbt_sync.destinations.hubspot import HubSpotDestination
from dbt_sync.destinations.salesforce import SalesforceDestination
from dbt_sync_emulators.hubspot import HubSpotEmulator
from dbt_sync_emulators.salesforce import SalesforceEmulator

from .support import SF_OBJECT, hubspot_rows, salesforce_rows

BULK = {"bulk_threshold": 1}  # a batch of 2+ records goes through Bulk API 2.0
COLLECTIONS = {"bulk_threshold": 0}  # never Bulk


def _upsert(dest: SalesforceDestination, object_name: str, records: list[Record], options: dict[str, Any]) -> list[Any]:
    return dest.write(object_name, Operation.UPSERT, records, match="External_Id__c", options=options)


def test_case1_bare_carriage_return_survives_bulk(
    sf_emu: SalesforceEmulator, sf_dest: SalesforceDestination, sf_client: Salesforce
) -> None:
    records = [
        Record("B-1", {"External_Id__c": "B-1", "Name": "Alpha\rBeta", "Description": "ok"}),
        Record("B-2", {"External_Id__c": "B-2", "Name": "Gamma\r\nDelta\n", "Description": "\r"}),
    ]
    out = _upsert(sf_dest, "Account", records, BULK)
    assert all(o.success for o in out), out
    stored = salesforce_rows(sf_client, "Account", ["Name", "Description"])
    assert set(stored) == {"B-1", "B-2"}  # no bogus third Account
    assert stored["B-1"]["Name"] == "Alpha\rBeta" and stored["B-1"]["Description"] == "ok"
    assert stored["B-2"]["Name"] == "Gamma\r\nDelta\n" and stored["B-2"]["Description"] == "\r"


def test_case2_na_literal_is_kept_whatever_the_path(
    sf_emu: SalesforceEmulator, sf_dest: SalesforceDestination, sf_client: Salesforce
) -> None:
    for options, prefix in ((BULK, "NB"), (COLLECTIONS, "NC")):
        records = [
            Record(f"{prefix}-1", {"External_Id__c": f"{prefix}-1", "Name": "#N/A", "Description": "x"}),
            Record(f"{prefix}-2", {"External_Id__c": f"{prefix}-2", "Name": "plain", "Description": "#N/A"}),
            Record(f"{prefix}-3", {"External_Id__c": f"{prefix}-3", "Name": "plain", "Description": None}),
        ]
        out = _upsert(sf_dest, "Account", records, options)
        assert all(o.success for o in out), out
    stored = salesforce_rows(sf_client, "Account", ["Name", "Description"])
    for prefix in ("NB", "NC"):
        assert stored[f"{prefix}-1"]["Name"] == "#N/A"
        assert stored[f"{prefix}-2"]["Description"] == "#N/A"
        assert stored[f"{prefix}-3"]["Description"] is None


def test_case2_emulator_bulk_reads_na_as_null(sf_emu: SalesforceEmulator, sf_client: Salesforce) -> None:
    sf_emu.seed("Account", [{"Name": "Before", "External_Id__c": "E-1", "Description": "was set"}])
    [result] = sf_client.bulk2.Account.upsert(
        records=[{"External_Id__c": "E-1", "Description": "#N/A"}], external_id_field="External_Id__c", wait=0
    )
    assert result["numberRecordsFailed"] == 0
    assert salesforce_rows(sf_client, "Account", ["Description"])["E-1"]["Description"] is None


def test_case3_null_array_elements_are_dropped_in_both_crms(
    sf_emu: SalesforceEmulator,
    hs_emu: HubSpotEmulator,
    sf_dest: SalesforceDestination,
    hs_dest: HubSpotDestination,
    sf_client: Salesforce,
    hs_client: HubSpot,
) -> None:
    values = ["Alpha", None, "Beta"]
    for options, prefix in ((BULK, "AB"), (COLLECTIONS, "AC")):
        records = [Record(f"{prefix}-{i}", {"External_Id__c": f"{prefix}-{i}", "Tags__c": values}) for i in range(2)]
        assert all(o.success for o in _upsert(sf_dest, SF_OBJECT, records, options))
    stored = salesforce_rows(sf_client, SF_OBJECT, ["Tags__c"])
    assert {r["Tags__c"] for r in stored.values()} == {"Alpha;Beta"}
    out = hs_dest.write("p_fidelity", Operation.UPSERT, [Record("H-1", {"fidelity_key": "H-1", "tags": values})],
                        match="fidelity_key", options={})
    assert out[0].success, out
    assert hubspot_rows(hs_client, "p_fidelity", ["tags"], "fidelity_key")["H-1"]["tags"] == "Alpha;Beta"


def test_case4_empty_strings_are_null_on_both_salesforce_paths(
    sf_emu: SalesforceEmulator, sf_dest: SalesforceDestination, sf_client: Salesforce
) -> None:
    for options, prefix in ((BULK, "EB"), (COLLECTIONS, "EC")):
        records = [
            Record(f"{prefix}-{i}", {"External_Id__c": f"{prefix}-{i}", "LastName": "L", "FirstName": "",
                                     "Email": ""})
            for i in range(2)
        ]
        out = _upsert(sf_dest, "Contact", records, options)
        assert all(o.success for o in out), out
    stored = salesforce_rows(sf_client, "Contact", ["FirstName", "Email"])
    assert len(stored) == 4
    assert all(r["FirstName"] is None and r["Email"] is None for r in stored.values())


def test_case4_emulator_stores_empty_json_text_as_null(sf_emu: SalesforceEmulator, sf_client: Salesforce) -> None:
    body = {"allOrNone": False, "records": [
        {"attributes": {"type": "Contact"}, "LastName": "L", "FirstName": "", "Email": "", "Phone": ""},
    ]}
    [result] = sf_client.restful("composite/sobjects", method="POST", json=body)
    assert result["success"] is True, result  # not INVALID_EMAIL_ADDRESS
    [row] = sf_emu.records("Contact")
    assert row["FirstName"] is None and row["Email"] is None and row["Phone"] is None
    # a required text field given '' is missing, as in Salesforce
    body["records"][0]["LastName"] = ""
    [result] = sf_client.restful("composite/sobjects", method="POST", json=body)
    assert result["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"


def test_case5_numbers_keep_every_digit_on_both_paths(
    sf_emu: SalesforceEmulator, sf_dest: SalesforceDestination, sf_client: Salesforce
) -> None:
    """Digits beyond the scale are kept; a number no double holds is refused, not stored changed."""
    for options, prefix in ((BULK, "DB"), (COLLECTIONS, "DC")):
        records = [
            Record(f"{prefix}-0", {"External_Id__c": f"{prefix}-0", "Amount__c": Decimal("230.7550")}),
            Record(f"{prefix}-1", {"External_Id__c": f"{prefix}-1", "Big__c": Decimal("123456789012.123456")}),
            Record(f"{prefix}-2", {"External_Id__c": f"{prefix}-2", "Big__c": Decimal("123456789012.125")}),
        ]
        ok, lost, exact = _upsert(sf_dest, SF_OBJECT, records, options)
        assert ok.success and exact.success, (ok, exact)
        assert not lost.success and lost.error_code == "NUMBER_PRECISION_LOST", lost
        assert "123456789012.123456" in (lost.message or "") and not lost.retryable
    stored = salesforce_rows(sf_client, SF_OBJECT, ["Big__c", "Amount__c"])
    assert set(stored) == {"DB-0", "DB-2", "DC-0", "DC-2"}  # the refused records were never written
    for prefix in ("DB", "DC"):
        assert stored[f"{prefix}-0"]["Amount__c"] == Decimal("230.7550")  # the API stores the value as sent
        assert stored[f"{prefix}-2"]["Big__c"] == Decimal("123456789012.125")


def test_case5_emulator_stores_numbers_as_doubles(sf_emu: SalesforceEmulator, sf_client: Salesforce) -> None:
    """What the destination guards against: Salesforce keeps a number field's value as a binary double."""
    url = f"{sf_client.base_url}composite/sobjects"
    body = ('{"allOrNone":false,"records":[{"attributes":{"type":"Fidelity__c"},"External_Id__c":"D-1",'
            '"Big__c":123456789012.123456,"Amount__c":230.7550}]}')
    response = requests.post(url, data=body, headers=sf_client.headers, verify=sf_emu.ca_cert_path, timeout=10)
    assert json.loads(response.text)[0]["success"] is True
    row = salesforce_rows(sf_client, SF_OBJECT, ["Amount__c", "Big__c"])["D-1"]
    assert row["Big__c"] == Decimal("123456789012.12346")
    assert row["Amount__c"] == Decimal("230.755")


def test_case5_emulator_rounds_half_up_when_configured(sf_emu: SalesforceEmulator, sf_client: Salesforce) -> None:
    sf_emu.config.number_scale = "round_half_up"
    try:
        url = f"{sf_client.base_url}composite/sobjects"
        body = ('{"allOrNone":false,"records":[{"attributes":{"type":"Fidelity__c"},"External_Id__c":"R-1",'
                '"Amount__c":230.7550,"Big__c":1234.1234565}]}')
        response = requests.post(url, data=body, headers=sf_client.headers, verify=sf_emu.ca_cert_path, timeout=10)
        assert json.loads(response.text)[0]["success"] is True
    finally:
        sf_emu.config.number_scale = "as_sent"
    row = salesforce_rows(sf_client, SF_OBJECT, ["Amount__c", "Big__c"])["R-1"]
    assert row["Amount__c"] == Decimal("230.76")
    assert row["Big__c"] == Decimal("1234.123457")


def test_case2_na_records_are_not_resent_when_the_bulk_job_cannot_start(
    sf_emu: SalesforceEmulator, sf_dest: SalesforceDestination, sf_client: Salesforce
) -> None:
    """Collections went first and wrote; a failed Bulk job then fails only its own records, retryably."""
    sf_emu.faults.fail_next(1, status=503, path_contains="jobs/ingest")
    records = [Record(f"F-{i}", {"External_Id__c": f"F-{i}", "Name": "#N/A" if i == 0 else f"n{i}"})
               for i in range(3)]
    out = _upsert(sf_dest, "Account", records, BULK)
    assert out[0].success and out[0].created is True
    assert [o.success for o in out[1:]] == [False, False]
    assert all(o.retryable for o in out[1:])
    assert set(salesforce_rows(sf_client, "Account", ["Name"])) == {"F-0"}
