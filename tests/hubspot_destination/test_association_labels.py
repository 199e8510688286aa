"""Association labels (issue 11, case 7).

The destination resolved a label's type id through
``GET /crm/v4/associations/{from}/{to}/labels`` but sent it with the
``HUBSPOT_DEFINED`` category instead of the category HubSpot returned
(``USER_DEFINED`` for an account's own labels), so HubSpot refused every such
association. The emulator serves the labels API as HubSpot's CRM associations
v4 schema spec defines it and refuses a category/typeId pair that does not
exist, so the destination, through the real hubspot-api-client, must send the
pair HubSpot returned.
"""

from __future__ import annotations

import pytest

from dbt_sync.destinations.base import Association, Operation, Record
from dbt_sync.destinations.hubspot import HubSpotDestination
from dbt_sync_emulators.hubspot import HubSpotEmulator


def test_custom_label_is_sent_with_the_category_hubspot_returned(
    dest: HubSpotDestination, emu: HubSpotEmulator
) -> None:
    acme = emu.seed("companies", {"name": "Acme", "company_key": "ACME"})
    billing = emu.define_association_label("contacts", "companies", "Billing contact", "Billed company")
    records = [
        Record("1", {"email": "ada@example.com"},
               associations=[Association("companies", "ACME", match="company_key", label="Billing contact")]),
        Record("2", {"email": "grace@example.com"},
               associations=[Association("companies", None, to_id=acme, label="billing CONTACT")]),
    ]
    out = {o.key: o for o in dest.write("contacts", Operation.UPSERT, records, match="email", options={})}
    assert out["1"].success and out["2"].success, (out["1"].message, out["2"].message)
    for key in ("1", "2"):
        links = emu.associations("contacts", out[key].destination_id)
        assert ("companies", acme, billing) in links          # the labelled type
        assert ("companies", acme, 279) in links              # and the default one HubSpot adds
    creates = [(m, p, s) for m, p, s in emu.request_log if p.endswith("/associations/contacts/companies/batch/create")]
    assert creates == [("POST", "/crm/v4/associations/contacts/companies/batch/create", 201)]
    labels = [p for _, p, _ in emu.request_log if p.endswith("/labels")]
    assert labels == ["/crm/v4/associations/contacts/companies/labels"]  # looked up once, then cached


def test_hubspot_defined_label_keeps_its_category(dest: HubSpotDestination, emu: HubSpotEmulator) -> None:
    emu.seed("companies", {"name": "Acme", "company_key": "ACME"})
    records = [Record("1", {"email": "ada@example.com"},
                      associations=[Association("companies", "ACME", match="company_key", label="Primary")])]
    (outcome,) = dest.write("contacts", Operation.UPSERT, records, match="email", options={})
    assert outcome.success, outcome.message
    assert any(type_id == 1 for _, _, type_id in emu.associations("contacts", outcome.destination_id))


def test_wrong_category_for_a_label_type_is_refused_by_the_emulator(
    dest: HubSpotDestination, emu: HubSpotEmulator
) -> None:
    """What real HubSpot did to the old code: a USER_DEFINED type id sent as HUBSPOT_DEFINED."""
    emu.seed("companies", {"name": "Acme", "company_key": "ACME"})
    billing = emu.define_association_label("contacts", "companies", "Billing contact")
    records = [Record("1", {"email": "ada@example.com"},
                      associations=[Association("companies", "ACME", match="company_key", type_id=billing,
                                                category="HUBSPOT_DEFINED")])]
    (outcome,) = dest.write("contacts", Operation.UPSERT, records, match="email", options={})
    assert not outcome.success and outcome.error_code == "ASSOCIATION_FAILED"
    assert f"HUBSPOT_DEFINED {billing} is not a valid association type between 0-1 and 0-2" in outcome.message
    assert outcome.destination_id  # the contact itself was written


@pytest.mark.parametrize("prefix", ["/crm/v4/associations", "/crm/associations/v4"])
def test_labels_api_lists_and_creates_as_the_spec_says(emu: HubSpotEmulator, prefix: str) -> None:
    import requests

    headers = {"Authorization": f"Bearer {emu.token}"}
    url = f"{emu.url}{prefix}/contacts/companies/labels"
    created = requests.post(url, json={"label": "Billing contact", "name": "billing_contact",
                                       "inverseLabel": "Billed company"}, headers=headers, timeout=5)
    assert created.status_code == 200
    forward, inverse = created.json()["results"]
    assert forward["category"] == inverse["category"] == "USER_DEFINED"
    assert (forward["label"], inverse["label"]) == ("Billing contact", "Billed company")
    listed = requests.get(url, headers=headers, timeout=5)
    assert listed.status_code == 200
    results = listed.json()["results"]
    assert {"category": "HUBSPOT_DEFINED", "typeId": 279} in results      # the unlabelled default
    assert {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": "Primary"} in results
    assert {"category": "USER_DEFINED", "typeId": forward["typeId"], "label": "Billing contact"} in results
    back = requests.get(f"{emu.url}{prefix}/companies/contacts/labels", headers=headers, timeout=5).json()["results"]
    assert {"category": "USER_DEFINED", "typeId": inverse["typeId"], "label": "Billed company"} in back
    bad = requests.post(url, json={"label": "No name"}, headers=headers, timeout=5)
    assert bad.status_code == 400 and bad.json()["category"] == "VALIDATION_ERROR"
    assert "[name]" in bad.json()["message"]


def test_custom_object_pair_the_schema_does_not_define_fails_the_record(
    dest: HubSpotDestination, emu: HubSpotEmulator
) -> None:
    emu.define_object_type("2-123456", "projects", properties=[{"name": "project_key", "unique": True}],
                           associated_objects=["companies"])
    emu.seed("companies", {"name": "Acme", "company_key": "ACME"})
    ada = emu.seed("contacts", {"email": "ada@example.com"})
    records = [Record("P-1", {"project_key": "P-1"}, associations=[
        Association("companies", "ACME", match="company_key"),
        Association("contacts", None, to_id=ada),
    ])]
    (outcome,) = dest.write("p_projects", Operation.UPSERT, records, match="project_key", options={})
    assert not outcome.success and outcome.error_code == "ASSOCIATION_FAILED"
    assert "No association is defined between 2-123456 and 0-1" in outcome.message
    assert outcome.destination_id  # the project was written, and its defined association made
    assert [t for t, _, _ in emu.associations("p_projects", outcome.destination_id)] == ["companies"]
    emu.define_association("p_projects", "contacts")
    (again,) = dest.write("p_projects", Operation.UPSERT, records, match="project_key", options={})
    assert again.success, again.message
    assert {t for t, _, _ in emu.associations("p_projects", again.destination_id)} == {"companies", "contacts"}
