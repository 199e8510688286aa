"""Default describe metadata: the objects every emulator starts with.

Field dicts carry the same keys as a real ``/sobjects/{obj}/describe`` field,
so code that validates a mapping against describe output can be tested
against the emulator unchanged. :func:`describe_field` fills in the keys a
test does not care about, using the defaults Salesforce shows for that type.
"""

from __future__ import annotations

from typing import Any

_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
}

_DEFAULT_LENGTH = {
    "id": 18,
    "reference": 18,
    "string": 255,
    "email": 80,
    "phone": 40,
    "url": 255,
    "picklist": 255,
    "multipicklist": 4099,
    "textarea": 255,
}


def describe_field(name: str, type: str = "string", **attrs: Any) -> dict[str, Any]:
    """A complete describe field dict for ``name``; ``attrs`` override the type's defaults."""
    custom = name.endswith("__c")
    label = attrs.pop("label", None) or _label_for(name)
    numeric = type in ("int", "double", "currency", "percent")
    field: dict[str, Any] = {
        "name": name,
        "label": label,
        "type": type,
        "soapType": _SOAP_TYPES.get(type, "xsd:string"),
        "length": _DEFAULT_LENGTH.get(type, 0),
        "byteLength": _DEFAULT_LENGTH.get(type, 0) * 3,
        "precision": 18 if type in ("double", "currency", "percent") else 0,
        "scale": 2 if type in ("currency",) else 0,
        "digits": 9 if type == "int" else 0,
        "custom": custom,
        "nillable": True,
        "createable": True,
        "updateable": True,
        "defaultedOnCreate": False,
        "defaultValue": None,
        "calculated": False,
        "autoNumber": False,
        "unique": False,
        "caseSensitive": False,
        "externalId": False,
        "idLookup": False,
        "nameField": False,
        "filterable": True,
        "sortable": type not in ("textarea",),
        "groupable": not numeric and type not in ("textarea", "datetime"),
        "aggregatable": True,
        "referenceTo": [],
        "relationshipName": None,
        "picklistValues": [],
        "restrictedPicklist": False,
        "htmlFormatted": False,
        "encrypted": False,
    }
    field.update(attrs)
    if field["type"] in ("picklist", "multipicklist"):
        field["picklistValues"] = [
            v if isinstance(v, dict) else picklist_value(v) for v in field.get("picklistValues") or []
        ]
    return field


def picklist_value(value: str, default: bool = False) -> dict[str, Any]:
    return {"active": True, "defaultValue": default, "label": value, "validFor": None, "value": value}


def _label_for(name: str) -> str:
    base = name[:-3] if name.endswith("__c") else name
    if base.endswith("Id") and len(base) > 2:
        base = base[:-2] + " ID"
    out = []
    for i, ch in enumerate(base.replace("_", " ")):
        if ch.isupper() and i and base[i - 1].islower():
            out.append(" ")
        out.append(ch)
    return "".join(out).replace("  ", " ")


def standard_fields(object_name: str) -> list[dict[str, Any]]:
    """Id and the audit timestamps every object has; the server sets them, clients cannot."""
    ro = {"createable": False, "updateable": False, "nillable": False, "defaultedOnCreate": True}
    return [
        describe_field("Id", "id", label=f"{object_name} ID", idLookup=True, **ro),
        describe_field("CreatedDate", "datetime", label="Created Date", **ro),
        describe_field("LastModifiedDate", "datetime", label="Last Modified Date", **ro),
        describe_field("SystemModstamp", "datetime", label="System Modstamp", **ro),
    ]


def _ext_id(**attrs: Any) -> dict[str, Any]:
    return {"externalId": True, "unique": True, "idLookup": True, "length": 255, **attrs}


def default_objects() -> list[dict[str, Any]]:
    """Describe dicts (``fields`` included) for Account, Contact, Lead and Opportunity.

    Salesforce's standard fields (:mod:`.standard`), plus the custom fields the
    emulator's org has: an ``External_Id__c`` external id on each object and a
    few typed fields on Contact for the value tests.
    """
    from . import standard

    def external_id() -> dict[str, Any]:
        return describe_field("External_Id__c", "string", label="External Id", **_ext_id())

    contact_custom = [
        describe_field("Lead_Score__c", "double", label="Lead Score", precision=18, scale=2),
        describe_field("Is_Customer__c", "boolean", label="Is Customer", nillable=False,
                       defaultedOnCreate=True, defaultValue=False),
        describe_field("Last_Seen_At__c", "datetime", label="Last Seen At"),
        describe_field("Tier__c", "picklist", label="Tier", restrictedPicklist=True,
                       picklistValues=["Gold", "Silver", "Bronze"]),
    ]
    return [
        {"name": "Account", "label": "Account", "labelPlural": "Accounts", "keyPrefix": "001",
         "fields": [*standard.account(), external_id()]},
        {"name": "Contact", "label": "Contact", "labelPlural": "Contacts", "keyPrefix": "003",
         "fields": [*standard.contact(), external_id(), *contact_custom]},
        {"name": "Lead", "label": "Lead", "labelPlural": "Leads", "keyPrefix": "00Q",
         "fields": [*standard.lead(), external_id()]},
        {"name": "Opportunity", "label": "Opportunity", "labelPlural": "Opportunities",
         "keyPrefix": "006", "fields": [*standard.opportunity(), external_id()]},
    ]


def object_describe(name: str, fields: list[dict[str, Any]], **attrs: Any) -> dict[str, Any]:
    """The top-level describe of an object, with standard fields added when missing."""
    custom = name.endswith("__c")
    have = {f["name"] for f in fields}
    full = [f for f in standard_fields(name) if f["name"] not in have]
    full += [describe_field(f["name"], f.get("type", "string"), **{k: v for k, v in f.items()
                                                                    if k not in ("name", "type")})
             for f in fields]
    desc: dict[str, Any] = {
        "name": name,
        "label": attrs.pop("label", None) or _label_for(name),
        "labelPlural": attrs.pop("labelPlural", None) or _label_for(name) + "s",
        "custom": custom,
        "createable": True,
        "updateable": True,
        "deletable": True,
        "queryable": True,
        "searchable": True,
        "retrieveable": True,
        "undeletable": True,
        "triggerable": True,
        "layoutable": True,
        "keyPrefix": attrs.pop("keyPrefix", None),
        "childRelationships": [],
        "recordTypeInfos": [],
    }
    desc.update(attrs)
    desc["fields"] = full
    return desc
