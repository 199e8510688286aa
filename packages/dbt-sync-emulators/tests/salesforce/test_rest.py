"""Single-record REST, describe, query and limits, through simple-salesforce."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from simple_salesforce import (
    Salesforce,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from dbt_sync_emulators.salesforce import SalesforceEmulator


def _error(exc: pytest.ExceptionInfo[Any]) -> dict[str, Any]:
    content = exc.value.content
    assert isinstance(content, list) and len(content) >= 1
    return dict(content[0])


def test_describe_has_the_fields_a_mapping_validator_needs(sf: Salesforce) -> None:
    d = sf.Contact.describe()
    assert d["name"] == "Contact" and d["keyPrefix"] == "003"
    fields = {f["name"]: f for f in d["fields"]}
    assert {"Id", "CreatedDate", "LastModifiedDate", "SystemModstamp"} <= set(fields)
    last = fields["LastName"]
    assert (last["type"], last["length"], last["nillable"], last["createable"]) == ("string", 80, False, True)
    ext = fields["External_Id__c"]
    assert ext["externalId"] and ext["unique"] and ext["idLookup"]
    acct = fields["AccountId"]
    assert acct["type"] == "reference" and acct["referenceTo"] == ["Account"]
    assert acct["relationshipName"] == "Account"
    tier = fields["Tier__c"]
    assert tier["restrictedPicklist"] and [p["value"] for p in tier["picklistValues"]] == ["Gold", "Silver",
                                                                                          "Bronze"]
    score = fields["Lead_Score__c"]
    assert (score["type"], score["precision"], score["scale"]) == ("double", 18, 2)
    assert fields["Is_Customer__c"]["defaultedOnCreate"] and fields["Email"]["idLookup"]
    assert not fields["CreatedDate"]["createable"] and not fields["Id"]["updateable"]
    names = {o["name"] for o in sf.describe()["sobjects"]}
    assert {"Account", "Contact", "Opportunity"} <= names


def test_define_object_is_served_by_describe(emu: SalesforceEmulator, sf: Salesforce) -> None:
    emu.define_object("Invoice__c", [
        {"name": "Name", "type": "string", "length": 80, "nillable": False},
        {"name": "Invoice_Key__c", "type": "string", "externalId": True, "unique": True},
    ], label="Invoice")
    d = sf.Invoice__c.describe()
    assert d["custom"] is True and d["label"] == "Invoice" and len(d["keyPrefix"]) == 3
    created = sf.Invoice__c.create({"Name": "INV-1"})
    assert created["id"].startswith(d["keyPrefix"]) and len(created["id"]) == 18
    with pytest.raises(SalesforceMalformedRequest):
        sf.Invoice__c.create({"Invoice_Key__c": "K"})


def test_create_get_update_delete(emu: SalesforceEmulator, sf: Salesforce) -> None:
    created = sf.Contact.create({"LastName": "Smith", "Email": "s@acme.example"})
    assert created["success"] is True and created["errors"] == []
    cid = created["id"]
    assert cid.startswith("003") and len(cid) == 18
    rec = sf.Contact.get(cid)
    assert rec["LastName"] == "Smith" and rec["Is_Customer__c"] is False
    assert rec["CreatedDate"].endswith("+0000")
    assert sf.Contact.update(cid, {"FirstName": "Ann", "Lead_Score__c": 12.345}) == 204
    stored = emu.records("Contact")[0]
    assert stored["FirstName"] == "Ann" and stored["Lead_Score__c"] == Decimal("12.345")  # kept as sent
    assert sf.Contact.delete(cid) == 204
    assert emu.records("Contact") == []
    with pytest.raises(SalesforceResourceNotFound):
        sf.Contact.get(cid)


def test_upsert_created_then_updated_then_multiple_then_bad_field(emu: SalesforceEmulator, sf: Salesforce) -> None:
    first = sf.Contact.upsert("External_Id__c/C-1", {"LastName": "One"}, raw_response=True)
    assert first.status_code == 201
    assert first.json()["created"] is True and first.json()["success"] is True
    again = sf.Contact.upsert("External_Id__c/C-1", {"LastName": "Uno"}, raw_response=True)
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["id"] == first.json()["id"]
    assert [r["LastName"] for r in emu.records("Contact")] == ["Uno"]
    assert sf.Contact.get_by_custom_id("External_Id__c", "C-1")["LastName"] == "Uno"

    emu.config.upsert_update_status = 204
    assert sf.Contact.upsert("External_Id__c/C-1", {"LastName": "Eins"}) == 204

    emu.define_object("Lead__c", [{"name": "Code__c", "type": "string", "externalId": True}])
    emu.seed("Lead__c", [{"Code__c": "DUP"}, {"Code__c": "DUP"}])
    with pytest.raises(SalesforceMoreThanOneRecord) as multi:
        sf.Lead__c.upsert("Code__c/DUP", {})
    assert multi.value.status == 300 and len(multi.value.content) == 2

    with pytest.raises(SalesforceResourceNotFound) as bad:
        sf.Contact.upsert("LastName/x", {"FirstName": "A"})
    assert _error(bad) == {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
    with pytest.raises(SalesforceResourceNotFound):
        sf.Contact.upsert("Nope__c/x", {"FirstName": "A"})


def test_upsert_update_only_does_not_create(emu: SalesforceEmulator, sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound):
        sf.restful("sobjects/Contact/External_Id__c/NEW", method="PATCH", params={"updateOnly": "true"},
                   json={"LastName": "X"})
    assert emu.records("Contact") == []


@pytest.mark.parametrize(
    ("body", "code", "message", "fields"),
    [
        ({"FirstName": "A"}, "REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", ["LastName"]),
        ({"LastName": "x" * 81}, "STRING_TOO_LONG",
         f"Last Name: data value too large: {'x' * 81} (max length=80)", ["LastName"]),
        ({"LastName": "A", "Email": "not-an-email"}, "INVALID_EMAIL_ADDRESS",
         "Email: invalid email address: not-an-email", ["Email"]),
        ({"LastName": "A", "Tier__c": "Platinum"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
         "bad value for restricted picklist field: Platinum", ["Tier__c"]),
        ({"LastName": "A", "Foo__c": 1}, "INVALID_FIELD", "No such column 'Foo__c' on sobject of type Contact", []),
        ({"LastName": "A", "CreatedDate": "2024-01-01T00:00:00Z"}, "INVALID_FIELD_FOR_INSERT_UPDATE",
         "Unable to create/update fields: CreatedDate. Please check the security settings of this field and "
         "verify that it is read/write for your profile or permission set.", ["CreatedDate"]),
        ({"LastName": "A", "Account": {"External_Id__c": "MISSING"}}, "INVALID_FIELD",
         "Foreign key external ID: MISSING not found for field External_Id__c in entity Account", []),
    ],
)
def test_per_record_errors_on_single_create(
    emu: SalesforceEmulator, sf: Salesforce, body: dict[str, Any], code: str, message: str, fields: list[str]
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.create(body)
    assert exc.value.status == 400
    assert _error(exc) == {"message": message, "errorCode": code, "fields": fields}
    assert emu.records("Contact") == []


def test_type_mismatch_is_a_json_parser_error_or_a_record_error(emu: SalesforceEmulator, sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.create({"LastName": "A", "Lead_Score__c": "abc"})
    assert _error(exc)["errorCode"] == "JSON_PARSER_ERROR"
    for bad in ({"Birthdate": "2024-13-45"}, {"Is_Customer__c": "maybe"}, {"Last_Seen_At__c": "yesterday"}):
        with pytest.raises(SalesforceMalformedRequest) as exc:
            sf.Contact.create({"LastName": "A", **bad})
        assert _error(exc)["errorCode"] == "JSON_PARSER_ERROR"
    emu.config.type_errors = "record"
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.create({"LastName": "A", "Lead_Score__c": "abc"})
    assert _error(exc) == {"errorCode": "INVALID_TYPE_ON_FIELD_IN_RECORD", "fields": ["Lead_Score__c"],
                           "message": "Lead Score: value not of required type: abc"}


def test_values_are_parsed_by_type(emu: SalesforceEmulator, sf: Salesforce) -> None:
    sf.Contact.create({"LastName": "A", "Lead_Score__c": "7.5", "Is_Customer__c": True,
                       "Birthdate": "1990-02-03", "Last_Seen_At__c": "2024-05-06T07:08:09.123+02:00"})
    rec = emu.records("Contact")[0]
    assert rec["Lead_Score__c"] == 7.5 and rec["Is_Customer__c"] is True
    assert rec["Birthdate"] == "1990-02-03" and rec["Last_Seen_At__c"] == "2024-05-06T05:08:09.123+0000"


@pytest.mark.parametrize(
    ("field", "bad", "good"),
    [
        ("Birthdate", "1699-12-31", "1700-01-01"),
        ("Birthdate", "4001-01-01", "4000-12-31"),
        ("Birthdate", "9999-12-31", "2024-01-01"),
        ("Last_Seen_At__c", "1699-12-31T23:59:59.999Z", "1700-01-01T00:00:00.000Z"),
        ("Last_Seen_At__c", "1700-01-01T00:30:00+01:00", "1700-01-01T00:30:00Z"),
        ("Last_Seen_At__c", "4000-12-31T00:00:01Z", "4000-12-31T00:00:00Z"),
    ],
)
def test_dates_outside_1700_to_4000_fail_field_integrity(
    emu: SalesforceEmulator, sf: Salesforce, field: str, bad: str, good: str
) -> None:
    """Salesforce keeps dates from 1700-01-01T00:00:00Z to 4000-12-31T00:00:00Z only (SOQL reference,
    "Minimum and Maximum Dates"); a value outside fails its record, it is never stored."""
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.create({"LastName": "A", field: bad})
    assert _error(exc)["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert _error(exc)["fields"] == [field]
    assert emu.records("Contact") == []
    sf.Contact.create({"LastName": "A", field: good})
    assert len(emu.records("Contact")) == 1


def test_text_length_counts_utf16_code_units(emu: SalesforceEmulator, sf: Salesforce) -> None:
    """An emoji is two characters to Salesforce (a surrogate pair), so 41 of them overflow LastName (80)."""
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.create({"LastName": "😀" * 41})
    assert _error(exc)["errorCode"] == "STRING_TOO_LONG"
    sf.Contact.create({"LastName": "😀" * 40})
    sf.Contact.create({"LastName": "é" * 80})  # a BMP character is one, whatever its UTF-8 length
    assert len(emu.records("Contact")) == 2


def test_duplicate_external_id_value(emu: SalesforceEmulator, sf: Salesforce) -> None:
    first = sf.Contact.create({"LastName": "A", "External_Id__c": "X1"})
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.create({"LastName": "B", "External_Id__c": "x1"})
    err = _error(exc)
    assert err["errorCode"] == "DUPLICATE_VALUE"
    assert err["message"] == f"duplicate value found: External_Id__c duplicates value on record with id: {first['id']}"


def test_lookup_by_external_id_in_json(emu: SalesforceEmulator, sf: Salesforce) -> None:
    [acct] = emu.seed("Account", [{"Name": "Acme", "External_Id__c": "A1"}])
    sf.Contact.create({"LastName": "A", "Account": {"External_Id__c": "A1"}})
    assert emu.records("Contact")[0]["AccountId"] == acct
    rows = sf.query("SELECT LastName, Account.Name FROM Contact WHERE Account.External_Id__c = 'A1'")
    assert rows["records"][0]["Account"]["Name"] == "Acme"
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.create({"LastName": "B", "AccountId": "001000000000000AAA"})
    assert _error(exc)["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"


def test_validation_rule_blocks_the_write(emu: SalesforceEmulator, sf: Salesforce) -> None:
    emu.add_validation_rule("Contact", "Gold_needs_email", lambda r: r.get("Tier__c") == "Gold" and not r.get("Email"),
                            "Gold contacts need an email", fields=["Email"])
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.create({"LastName": "A", "Tier__c": "Gold"})
    assert _error(exc) == {"errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                           "message": "Gold contacts need an email", "fields": ["Email"]}
    cid = sf.Contact.create({"LastName": "A", "Tier__c": "Gold", "Email": "a@b.co"})["id"]
    with pytest.raises(SalesforceMalformedRequest):
        sf.Contact.update(cid, {"Email": None})
    assert emu.records("Contact")[0]["Email"] == "a@b.co"


def test_null_on_required_field_update_is_rejected(sf: Salesforce) -> None:
    cid = sf.Contact.create({"LastName": "A"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.update(cid, {"LastName": None})
    assert _error(exc)["errorCode"] == "REQUIRED_FIELD_MISSING"


def test_limit_info_header_feeds_api_usage_and_limits(emu: SalesforceEmulator, sf: Salesforce) -> None:
    sf.query("SELECT COUNT() FROM Contact")
    first = sf.api_usage["api-usage"]
    assert first.total == 15000 and first.used >= 1
    sf.query("SELECT COUNT() FROM Contact")
    assert sf.api_usage["api-usage"].used == first.used + 1
    limits = sf.limits()
    assert limits["DailyApiRequests"] == {"Max": 15000, "Remaining": 15000 - first.used - 2}


def test_query_filters_orders_and_counts(emu: SalesforceEmulator, sf: Salesforce) -> None:
    emu.seed("Contact", [{"LastName": n, "Tier__c": t, "Lead_Score__c": s}
                         for n, t, s in [("A", "Gold", 3), ("B", "Silver", 1), ("C", "Gold", 2)]])
    res = sf.query("SELECT LastName FROM Contact WHERE Tier__c = 'Gold' ORDER BY Lead_Score__c DESC")
    assert [r["LastName"] for r in res["records"]] == ["A", "C"]
    res = sf.query("SELECT Id, LastName FROM Contact WHERE LastName IN ('A', 'B') AND Tier__c != 'Gold'")
    assert [r["LastName"] for r in res["records"]] == ["B"]
    assert sf.query("SELECT COUNT() FROM Contact WHERE Tier__c = 'Gold'")["totalSize"] == 2
    assert len(sf.query("SELECT Id FROM Contact LIMIT 1")["records"]) == 1
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query("SELECT Nope FROM Contact")
    assert _error(exc)["errorCode"] == "INVALID_FIELD"


def test_unknown_object_is_404(sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound) as exc:
        sf.Nothing__c.describe()
    assert _error(exc)["errorCode"] == "NOT_FOUND"


def test_opportunity_lists_every_missing_required_field(emu: SalesforceEmulator, sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Opportunity.create({"Amount": 10})
    assert _error(exc) == {"errorCode": "REQUIRED_FIELD_MISSING",
                           "message": "Required fields are missing: [Name, StageName, CloseDate]",
                           "fields": ["Name", "StageName", "CloseDate"]}
    oid = sf.Opportunity.create({"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2025-01-31",
                                 "Amount": "1234.567"})["id"]
    assert oid.startswith("006") and emu.records("Opportunity")[0]["Amount"] == Decimal("1234.567")
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Account.create({"Name": "A", "Industry": "Mining"})
    assert _error(exc)["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


# (object, field) -> (type, length, nillable, createable): from Salesforce's Object Reference / Field Reference
STANDARD_FIELDS = {
    ("Account", "Name"): ("string", 255, False, True),
    ("Account", "Type"): ("picklist", 255, True, True),
    ("Account", "BillingCity"): ("string", 40, True, True),
    ("Account", "Phone"): ("phone", 40, True, True),
    ("Account", "ParentId"): ("reference", 18, True, True),
    ("Contact", "LeadSource"): ("picklist", 255, True, True),
    ("Contact", "Title"): ("string", 128, True, True),
    ("Contact", "Department"): ("string", 80, True, True),
    ("Contact", "MailingPostalCode"): ("string", 20, True, True),
    ("Contact", "HasOptedOutOfEmail"): ("boolean", 0, False, True),
    ("Contact", "Name"): ("string", 121, True, False),
    ("Lead", "LastName"): ("string", 80, False, True),
    ("Lead", "Company"): ("string", 255, False, True),
    ("Lead", "Status"): ("picklist", 40, False, True),
    ("Lead", "Email"): ("email", 80, True, True),
    ("Lead", "ConvertedAccountId"): ("reference", 18, True, False),
    ("Opportunity", "Name"): ("string", 120, False, True),
    ("Opportunity", "Probability"): ("percent", 0, True, True),
    ("Opportunity", "IsWon"): ("boolean", 0, False, False),
    ("Opportunity", "NextStep"): ("string", 255, True, True),
}


def test_standard_objects_carry_salesforce_standard_fields(emu: SalesforceEmulator, sf: Salesforce) -> None:
    """Regression: the README maps Contact.LeadSource, a standard field the emulator's Contact lacked."""
    described = {name: {f["name"]: f for f in getattr(sf, name).describe()["fields"]}
                 for name in ("Account", "Contact", "Lead", "Opportunity")}
    for (obj, name), (type_, length, nillable, createable) in STANDARD_FIELDS.items():
        f = described[obj][name]
        assert (f["type"], f["length"], f["nillable"], f["createable"]) == (type_, length, nillable, createable), (
            obj, name)
    assert [p["value"] for p in described["Contact"]["LeadSource"]["picklistValues"]] == [
        "Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"]
    # a Lead needs LastName and Company; Status defaults to the first value
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Lead.create({"FirstName": "Ada"})
    assert _error(exc)["fields"] == ["LastName", "Company"]
    lead_id = sf.Lead.create({"LastName": "Lovelace", "Company": "Analytical Engines", "LeadSource": "Web"})["id"]
    assert lead_id.startswith("00Q")
    lead = sf.Lead.get(lead_id)
    assert (lead["Status"], lead["IsConverted"], lead["LeadSource"]) == ("Open - Not Contacted", False, "Web")
    # read-only standard fields are refused as in a real org
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Opportunity.create({"Name": "D", "StageName": "Prospecting", "CloseDate": "2025-01-31", "IsWon": True})
    assert _error(exc)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    contact_id = sf.Contact.create({"LastName": "Hopper", "LeadSource": "Partner Referral", "Title": "RADM"})["id"]
    assert sf.Contact.get(contact_id)["LeadSource"] == "Partner Referral"
