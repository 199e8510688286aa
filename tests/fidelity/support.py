"""Shared pieces of the fidelity tests: a test object on both emulators, and read-back with the real clients.

``Fidelity__c`` (Salesforce) and the ``p_fidelity`` custom object (HubSpot)
carry one field of every type a warehouse column can feed. Read-back goes
through simple-salesforce's session and hubspot-api-client, with Salesforce
numbers parsed as ``Decimal`` so no digit is lost on the way back.
"""

from __future__ import annotations

from typing import Any

from simple_salesforce import Salesforce

from bench.fidelity_rules import hubspot_rows, query_exact
from dbt_sync_emulators.hubspot import HubSpotEmulator
from dbt_sync_emulators.salesforce import SalesforceEmulator

SF_OBJECT = "Fidelity__c"
HS_OBJECT = "p_fidelity"

#: (Salesforce field, Salesforce describe attrs, HubSpot property kwargs)
FIELDS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("Text__c", {"type": "string", "length": 255}, {"type": "string", "field_type": "text"}),
    ("Long_Text__c", {"type": "textarea", "length": 32000}, {"type": "string", "field_type": "textarea"}),
    ("Email__c", {"type": "email", "length": 80}, {"type": "string", "field_type": "text"}),
    ("Amount__c", {"type": "currency", "precision": 18, "scale": 2}, {"type": "number", "field_type": "number"}),
    ("Big__c", {"type": "double", "precision": 18, "scale": 6}, {"type": "number", "field_type": "number"}),
    ("Count__c", {"type": "int", "digits": 9}, {"type": "number", "field_type": "number"}),
    ("Day__c", {"type": "date"}, {"type": "date", "field_type": "date"}),
    ("Seen_At__c", {"type": "datetime"}, {"type": "datetime", "field_type": "date"}),
    ("Flag__c", {"type": "boolean", "nillable": False, "defaultedOnCreate": True, "defaultValue": False},
     {"type": "bool", "field_type": "booleancheckbox", "options": [("true", "Yes"), ("false", "No")]}),
    ("Tags__c", {"type": "multipicklist", "length": 4099}, {"type": "string", "field_type": "text"}),
]


def hs_name(sf_field: str) -> str:
    """The HubSpot property fed by the same column: ``Long_Text__c`` -> ``long_text``."""
    return sf_field[:-3].lower()


def define_salesforce(emu: SalesforceEmulator) -> None:
    fields = [
        {"name": "Name", "type": "string", "length": 80, "nameField": True},
        {"name": "External_Id__c", "type": "string", "length": 255, "externalId": True, "unique": True,
         "idLookup": True},
    ]
    fields += [{"name": name, **attrs} for name, attrs, _ in FIELDS]
    emu.define_object(SF_OBJECT, fields, keyPrefix="a0F")


def define_hubspot(emu: HubSpotEmulator) -> None:
    props: list[dict[str, Any]] = [{"name": "fidelity_key", "unique": True}]
    props += [{"name": hs_name(name), **kw} for name, _, kw in FIELDS]
    emu.define_object_type("2-9011", "fidelity", props)


def salesforce_client(emu: SalesforceEmulator) -> Salesforce:
    return Salesforce(session_id=emu.issue_session(), instance_url=emu.instance_url, session=emu.http_session())


def salesforce_rows(sf: Salesforce, object_name: str, fields: list[str], key: str = "External_Id__c") -> dict[str, Any]:
    rows = query_exact(sf, f"SELECT {', '.join([key, *fields])} FROM {object_name}")
    return {r[key]: r for r in rows}


__all__ = ["hubspot_rows", "query_exact", "salesforce_rows"]
