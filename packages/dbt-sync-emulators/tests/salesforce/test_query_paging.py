"""Query results page at 2,000 records with a working ``nextRecordsUrl`` (queryMore)."""

from __future__ import annotations

import pytest
from simple_salesforce import Salesforce, SalesforceMalformedRequest

from dbt_sync_emulators.salesforce import SalesforceEmulator


def _seed(emu: SalesforceEmulator, n: int) -> None:
    emu.seed("Contact", [{"LastName": f"L{i}", "External_Id__c": f"Q{i}"} for i in range(n)])


def test_query_pages_at_2000_and_query_more_follows(emu: SalesforceEmulator, sf: Salesforce) -> None:
    _seed(emu, 4_500)
    first = sf.query("SELECT Id, External_Id__c FROM Contact")
    assert first["totalSize"] == 4_500 and first["done"] is False and len(first["records"]) == 2_000
    assert first["nextRecordsUrl"].startswith("/services/data/v") and "/query/01g" in first["nextRecordsUrl"]
    assert first["nextRecordsUrl"].endswith("-2000")
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert second["done"] is False and len(second["records"]) == 2_000
    third = sf.query_more(second["nextRecordsUrl"], identifier_is_url=True)
    assert third["done"] is True and len(third["records"]) == 500 and "nextRecordsUrl" not in third
    seen = [r["External_Id__c"] for page in (first, second, third) for r in page["records"]]
    assert sorted(seen) == sorted(f"Q{i}" for i in range(4_500))
    assert len(sf.query_all("SELECT Id FROM Contact")["records"]) == 4_500


def test_small_results_come_in_one_page(emu: SalesforceEmulator, sf: Salesforce) -> None:
    _seed(emu, 2_000)
    page = sf.query("SELECT Id FROM Contact")
    assert page["done"] is True and len(page["records"]) == 2_000 and "nextRecordsUrl" not in page


def test_unknown_locator_is_refused(emu: SalesforceEmulator, sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.query_more("01g5g0000000000AAA-2000")
    assert info.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
