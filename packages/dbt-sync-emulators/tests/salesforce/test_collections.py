"""sObject Collections (create/update/upsert/delete), through ``sf.restful``."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce import Salesforce, SalesforceMalformedRequest

from dbt_sync_emulators.salesforce import SalesforceEmulator


def contact(**fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Contact"}, **fields}


def test_create_reports_per_record_results_with_status_200(emu: SalesforceEmulator, sf: Salesforce) -> None:
    resp = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": [
        contact(LastName="Ok"), contact(FirstName="NoLast"), contact(LastName="Ok2", Tier__c="Nope")]})
    assert resp[0]["success"] is True and resp[0]["id"].startswith("003") and "created" not in resp[0]
    assert resp[1] == {"success": False, "errors": [{"statusCode": "REQUIRED_FIELD_MISSING",
                                                     "message": "Required fields are missing: [LastName]",
                                                     "fields": ["LastName"]}]}
    assert resp[2]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert [r["LastName"] for r in emu.records("Contact")] == ["Ok"]
    assert emu.request_log[-1] == ("POST", "/services/data/v59.0/composite/sobjects", 200)


def test_all_failing_is_still_200(emu: SalesforceEmulator, sf: Salesforce) -> None:
    raw = emu.http_session().post(f"{emu.instance_url}/services/data/v59.0/composite/sobjects",
                                  headers={"Authorization": f"Bearer {sf.session_id}"},
                                  json={"records": [contact(FirstName="x")]})
    assert raw.status_code == 200 and raw.json()[0]["success"] is False
    assert raw.headers["Sforce-Limit-Info"].startswith("api-usage=")


def test_all_or_none_rolls_back_every_record(emu: SalesforceEmulator, sf: Salesforce) -> None:
    [existing] = emu.seed("Contact", [{"LastName": "Before", "External_Id__c": "E0"}])
    resp = sf.restful("composite/sobjects/Contact/External_Id__c", method="PATCH", json={
        "allOrNone": True,
        "records": [contact(External_Id__c="E0", LastName="After"), contact(External_Id__c="E1", LastName="New"),
                    contact(External_Id__c="E2", LastName="x" * 81)],
    })
    assert [r["success"] for r in resp] == [False, False, False]
    rolled = {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
              "message": "Record rolled back because not all records were valid and the request was using "
                         "AllOrNone header", "fields": []}
    assert resp[0]["errors"] == [rolled] and resp[1]["errors"] == [rolled]
    assert resp[2]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert [(r["Id"], r["LastName"]) for r in emu.records("Contact")] == [(existing, "Before")]
    # the index was restored too: E1 is free again and E0 still points at the old record
    again = sf.restful("composite/sobjects/Contact/External_Id__c", method="PATCH", json={
        "allOrNone": True, "records": [contact(External_Id__c="E1", LastName="New"),
                                       contact(External_Id__c="E0", LastName="After")]})
    assert [(r["success"], r["created"]) for r in again] == [(True, True), (True, False)]
    assert again[1]["id"] == existing


def test_upsert_mixes_creates_and_updates_in_input_order(emu: SalesforceEmulator, sf: Salesforce) -> None:
    emu.seed("Contact", [{"LastName": "Old", "External_Id__c": "K2"}])
    resp = sf.restful("composite/sobjects/Contact/External_Id__c", method="PATCH", json={
        "allOrNone": False, "records": [contact(External_Id__c="K1", LastName="A"),
                                        contact(External_Id__c="K2", LastName="B")]})
    assert [(r["success"], r["created"]) for r in resp] == [(True, True), (True, False)]
    assert sorted(r["LastName"] for r in emu.records("Contact")) == ["A", "B"]


def test_duplicate_external_ids_in_one_request_fail_each_row(emu: SalesforceEmulator, sf: Salesforce) -> None:
    resp = sf.restful("composite/sobjects/Contact/External_Id__c", method="PATCH", json={
        "records": [contact(External_Id__c="D", LastName="1"), contact(External_Id__c="OK", LastName="2"),
                    contact(External_Id__c="D", LastName="3")]})
    dup = {"statusCode": "DUPLICATE_VALUE", "message": "Duplicate external id specified: D", "fields": []}
    assert resp[0] == {"success": False, "errors": [dup]} and resp[2] == {"success": False, "errors": [dup]}
    assert resp[1]["success"] is True
    assert [r["External_Id__c"] for r in emu.records("Contact")] == ["OK"]


def test_more_than_200_records_is_rejected_whole(emu: SalesforceEmulator, sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.restful("composite/sobjects", method="POST",
                   json={"records": [contact(LastName=str(i)) for i in range(201)]})
    assert exc.value.status == 400 and exc.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert emu.records("Contact") == []
    emu.config.collection_limit_code = "INVALID_BATCH_SIZE"
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.restful("composite/sobjects", method="DELETE", params={"ids": ",".join(["003"] * 201)})
    assert exc.value.content[0]["errorCode"] == "INVALID_BATCH_SIZE"
    ok = sf.restful("composite/sobjects", method="POST",
                    json={"records": [contact(LastName=str(i)) for i in range(200)]})
    assert len(ok) == 200 and all(r["success"] for r in ok)


def test_lookups_and_missing_parents_are_per_record(emu: SalesforceEmulator, sf: Salesforce) -> None:
    [acct] = emu.seed("Account", [{"Name": "Acme", "External_Id__c": "A1"}])
    resp = sf.restful("composite/sobjects/Contact/External_Id__c", method="PATCH", json={"records": [
        contact(External_Id__c="C1", LastName="A", Account={"attributes": {"type": "Account"}, "External_Id__c": "A1"}),
        contact(External_Id__c="C2", LastName="B", Account={"External_Id__c": "A404"}),
        contact(External_Id__c="C3", LastName="C", Bogus__c="x"),
    ]})
    assert resp[0]["success"] is True
    assert resp[1]["errors"] == [{"statusCode": "INVALID_FIELD", "fields": [],
                                  "message": "Foreign key external ID: A404 not found for field External_Id__c "
                                             "in entity Account"}]
    assert resp[2]["errors"][0]["message"] == "No such column 'Bogus__c' on sobject of type Contact"
    assert [(r["External_Id__c"], r["AccountId"]) for r in emu.records("Contact")] == [("C1", acct)]


def test_mixed_types_create_can_reference_a_parent_created_earlier(emu: SalesforceEmulator, sf: Salesforce) -> None:
    resp = sf.restful("composite/sobjects", method="POST", json={"records": [
        {"attributes": {"type": "Account"}, "Name": "Acme", "External_Id__c": "A9"},
        contact(LastName="Kid", Account={"External_Id__c": "A9"})]})
    assert all(r["success"] for r in resp)
    assert emu.records("Contact")[0]["AccountId"] == resp[0]["id"]


def test_update_and_delete_collections(emu: SalesforceEmulator, sf: Salesforce) -> None:
    ids = emu.seed("Contact", [{"LastName": "A"}, {"LastName": "B"}])
    resp = sf.restful("composite/sobjects", method="PATCH", json={"records": [
        contact(id=ids[0], FirstName="Ann"), contact(id="003000000000000AAA", FirstName="Ghost"),
        contact(FirstName="NoId")]})
    assert resp[0] == {"id": ids[0], "success": True, "errors": []}
    assert resp[1]["success"] is False and resp[1]["id"] == "003000000000000AAA"
    assert resp[2]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    deleted = sf.restful("composite/sobjects", method="DELETE", params={"ids": ",".join(ids), "allOrNone": "false"})
    assert [d["success"] for d in deleted] == [True, True]
    again = sf.restful("composite/sobjects", method="DELETE", params={"ids": ids[0]})
    assert again[0]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    assert emu.records("Contact") == []


def test_type_mismatch_fails_the_whole_collection_request(emu: SalesforceEmulator, sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.restful("composite/sobjects", method="POST", json={"records": [
            contact(LastName="Fine"), contact(LastName="Bad", Lead_Score__c="high")]})
    assert exc.value.content[0]["errorCode"] == "JSON_PARSER_ERROR"
    assert emu.records("Contact") == []
    emu.config.type_errors = "record"
    resp = sf.restful("composite/sobjects", method="POST", json={"records": [
        contact(LastName="Fine"), contact(LastName="Bad", Lead_Score__c="high")]})
    assert resp[0]["success"] and resp[1]["errors"][0]["statusCode"] == "INVALID_TYPE_ON_FIELD_IN_RECORD"


def test_row_lock_fault_hits_exactly_n_records(emu: SalesforceEmulator, sf: Salesforce) -> None:
    emu.faults.row_lock_next(2)
    resp = sf.restful("composite/sobjects", method="POST",
                      json={"records": [contact(LastName=str(i)) for i in range(4)]})
    assert [r["success"] for r in resp] == [False, False, True, True]
    assert resp[0]["errors"] == [{"statusCode": "UNABLE_TO_LOCK_ROW",
                                  "message": "unable to obtain exclusive access to this record", "fields": []}]
