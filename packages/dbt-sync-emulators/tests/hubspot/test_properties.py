"""Properties API shapes that dbt-sync's mapping validation reads."""

from __future__ import annotations

import pytest
from hubspot import HubSpot
from hubspot.crm.properties.exceptions import NotFoundException

from dbt_sync_emulators.hubspot import HubSpotEmulator


def test_get_all_describes_types_options_and_flags(client: HubSpot) -> None:
    data, status, _ = client.crm.properties.core_api.get_all_with_http_info(object_type="contacts")
    assert status == 200
    props = {p.name: p for p in data.results}
    assert props["lifecyclestage"].type == "enumeration"
    assert "marketingqualifiedlead" in [o.value for o in props["lifecyclestage"].options]
    assert props["interests"].field_type == "checkbox"
    assert props["is_customer"].type == "bool" and props["is_customer"].field_type == "booleancheckbox"
    assert props["contact_key"].has_unique_value is True
    assert props["hs_object_id"].modification_metadata.read_only_value is True
    assert props["firstname"].modification_metadata.read_only_value is False
    assert props["date_of_birth"].type == "date" and props["last_seen_at"].type == "datetime"


@pytest.mark.parametrize(
    ("object_type", "expected"),
    [
        ("companies", {"name", "domain", "industry", "annualrevenue", "numberofemployees", "company_key"}),
        ("0-3", {"dealname", "amount", "dealstage", "pipeline", "closedate", "deal_key"}),
    ],
)
def test_default_catalogues(client: HubSpot, object_type: str, expected: set[str]) -> None:
    names = {p.name for p in client.crm.properties.core_api.get_all(object_type=object_type).results}
    assert expected <= names


def test_get_by_name_and_defined_properties(client: HubSpot, emu: HubSpotEmulator) -> None:
    emu.define_property("contacts", "tier", type="enumeration", field_type="select", options=["gold", "silver"])
    prop = client.crm.properties.core_api.get_by_name("contacts", "tier")
    assert [o.value for o in prop.options] == ["gold", "silver"]
    with pytest.raises(NotFoundException):
        client.crm.properties.core_api.get_by_name("contacts", "nope")


def test_defined_property_is_enforced_on_write(client: HubSpot, emu: HubSpotEmulator) -> None:
    emu.define_property("contacts", "tier", type="enumeration", field_type="select", options=["gold"])
    emu.define_property("contacts", "locked_field", read_only=True)
    data, status, _ = client.crm.contacts.batch_api.create_with_http_info(
        batch_input_simple_public_object_batch_input_for_create={
            "inputs": [
                {"objectWriteTraceId": "1", "properties": {"tier": "gold"}},
                {"objectWriteTraceId": "2", "properties": {"tier": "bronze"}},
                {"objectWriteTraceId": "3", "properties": {"locked_field": "x"}},
            ]
        }
    )
    assert status == 207
    assert sorted(e.context["objectWriteTraceId"][0] for e in data.errors) == ["2", "3"]
