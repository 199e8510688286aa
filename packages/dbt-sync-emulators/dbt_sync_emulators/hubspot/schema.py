"""Object types and the default property definitions the emulator starts with.

The property list is what makes validation faithful: HubSpot answers a write
to an unknown property with ``PROPERTY_DOESNT_EXIST`` and a write to a
read-only one with ``READ_ONLY_VALUE``, so the emulator needs the same
catalogue (types, field types, options, unique flags) a real portal has for
the properties dbt-sync maps to.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

SCHEMA_TIMESTAMP = "2020-01-01T00:00:00.000Z"


@dataclass
class Option:
    """One enumeration option; ``value`` is the internal name writes must use."""

    value: str
    label: str
    display_order: int = 0
    hidden: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "value": self.value,
            "displayOrder": self.display_order,
            "hidden": self.hidden,
            "description": "",
        }


@dataclass
class PropertyDef:
    """A property as the Properties API describes it."""

    name: str
    type: str = "string"
    field_type: str = "text"
    label: str = ""
    options: list[Option] = field(default_factory=list)
    unique: bool = False
    read_only: bool = False
    hubspot_defined: bool = True
    group_name: str = "properties"

    @property
    def is_multi(self) -> bool:
        """Multi-select checkboxes take ``;``-separated option values."""
        return self.type == "enumeration" and self.field_type == "checkbox"

    def option_values(self) -> list[str]:
        return [o.value for o in self.options]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label or self.name,
            "type": self.type,
            "fieldType": self.field_type,
            "description": "",
            "groupName": self.group_name,
            "options": [o.to_json() for o in self.options],
            "displayOrder": -1,
            "calculated": False,
            "externalOptions": False,
            "hasUniqueValue": self.unique,
            "hidden": False,
            "hubspotDefined": self.hubspot_defined,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only,
            },
            "formField": not self.read_only,
            "createdAt": SCHEMA_TIMESTAMP,
            "updatedAt": SCHEMA_TIMESTAMP,
            "archived": False,
        }


def make_options(values: Iterable[str | tuple[str, str] | dict[str, Any] | Option]) -> list[Option]:
    """Accept option values as plain strings, ``(value, label)`` pairs, dicts or Options."""
    out: list[Option] = []
    for i, v in enumerate(values):
        if isinstance(v, Option):
            out.append(v)
        elif isinstance(v, tuple):
            out.append(Option(v[0], v[1], i))
        elif isinstance(v, dict):
            out.append(Option(str(v["value"]), str(v.get("label", v["value"])), i, bool(v.get("hidden"))))
        else:
            out.append(Option(str(v), str(v).replace("_", " ").title(), i))
    return out


BOOL_OPTIONS = [Option("true", "Yes", 0), Option("false", "No", 1)]


def _p(name: str, type: str = "string", field_type: str = "text", **kw: Any) -> PropertyDef:
    options = kw.pop("options", None)
    if type == "bool" and options is None:
        options = BOOL_OPTIONS
    return PropertyDef(name, type, field_type, options=make_options(options or []), **kw)


def _system() -> list[PropertyDef]:
    """Properties HubSpot maintains itself on every object."""
    return [
        _p("hs_object_id", "number", "number", read_only=True, label="Record ID"),
        _p("createdate", "datetime", "date", read_only=True, label="Create Date"),
        _p("hs_lastmodifieddate", "datetime", "date", read_only=True, label="Last Modified Date"),
    ]


LIFECYCLE_STAGES = [
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
]

LEAD_STATUSES = [
    ("NEW", "New"),
    ("OPEN", "Open"),
    ("IN_PROGRESS", "In Progress"),
    ("OPEN_DEAL", "Open Deal"),
    ("UNQUALIFIED", "Unqualified"),
    ("ATTEMPTED_TO_CONTACT", "Attempted to Contact"),
    ("CONNECTED", "Connected"),
    ("BAD_TIMING", "Bad Timing"),
]

INDUSTRIES = [
    ("ACCOUNTING", "Accounting"),
    ("COMPUTER_SOFTWARE", "Computer Software"),
    ("FINANCIAL_SERVICES", "Financial Services"),
    ("HOSPITAL_HEALTH_CARE", "Hospital & Health Care"),
    ("INFORMATION_TECHNOLOGY_AND_SERVICES", "Information Technology and Services"),
    ("MARKETING_AND_ADVERTISING", "Marketing and Advertising"),
    ("RETAIL", "Retail"),
]

DEAL_STAGES = [
    ("appointmentscheduled", "Appointment Scheduled"),
    ("qualifiedtobuy", "Qualified To Buy"),
    ("presentationscheduled", "Presentation Scheduled"),
    ("decisionmakerboughtin", "Decision Maker Bought-In"),
    ("contractsent", "Contract Sent"),
    ("closedwon", "Closed Won"),
    ("closedlost", "Closed Lost"),
]


def default_contact_properties() -> list[PropertyDef]:
    return [
        *_system(),
        # Contacts use lastmodifieddate rather than hs_lastmodifieddate as their echo property.
        _p("lastmodifieddate", "datetime", "date", read_only=True, label="Last Modified Date"),
        _p("email", label="Email"),
        _p("firstname", label="First Name"),
        _p("lastname", label="Last Name"),
        _p("phone", "string", "phonenumber", label="Phone Number"),
        _p("company", label="Company Name"),
        _p("lifecyclestage", "enumeration", "radio", options=LIFECYCLE_STAGES, label="Lifecycle Stage"),
        _p("hs_lead_status", "enumeration", "radio", options=LEAD_STATUSES, label="Lead Status"),
        _p("date_of_birth", "date", "date", label="Date of birth"),
        _p("last_seen_at", "datetime", "date", hubspot_defined=False, label="Last seen at"),
        _p("lead_score", "number", "number", hubspot_defined=False, label="Lead score"),
        _p("is_customer", "bool", "booleancheckbox", hubspot_defined=False, label="Is customer"),
        _p(
            "interests",
            "enumeration",
            "checkbox",
            options=["analytics", "automation", "crm", "email", "reporting"],
            hubspot_defined=False,
            label="Interests",
        ),
        _p("contact_key", unique=True, hubspot_defined=False, label="Contact key"),
    ]


def default_company_properties() -> list[PropertyDef]:
    return [
        *_system(),
        _p("name", label="Company name"),
        _p("domain", label="Company Domain Name"),
        _p("industry", "enumeration", "select", options=INDUSTRIES, label="Industry"),
        _p("annualrevenue", "number", "number", label="Annual Revenue"),
        _p("numberofemployees", "number", "number", label="Number of Employees"),
        _p("company_key", unique=True, hubspot_defined=False, label="Company key"),
    ]


def default_deal_properties() -> list[PropertyDef]:
    return [
        *_system(),
        _p("dealname", label="Deal Name"),
        _p("amount", "number", "number", label="Amount"),
        _p("dealstage", "enumeration", "radio", options=DEAL_STAGES, label="Deal Stage"),
        _p("pipeline", "enumeration", "select", options=[("default", "Sales Pipeline")], label="Pipeline"),
        _p("closedate", "datetime", "date", label="Close Date"),
        _p("deal_key", unique=True, hubspot_defined=False, label="Deal key"),
    ]


@dataclass
class ObjectTypeDef:
    """An object type and every name a URL may use for it."""

    type_id: str
    name: str
    singular: str
    label: str
    properties: dict[str, PropertyDef]
    # Properties echoed on every result even when not requested.
    echo: tuple[str, ...] = ("hs_object_id", "createdate", "hs_lastmodifieddate")
    # Read returns these when the request names no properties.
    read_defaults: tuple[str, ...] = ()
    aliases: set[str] = field(default_factory=set)

    def all_names(self) -> set[str]:
        return {self.type_id, self.name, self.singular, *self.aliases}


def standard_object_types() -> list[ObjectTypeDef]:
    def index(props: Sequence[PropertyDef]) -> dict[str, PropertyDef]:
        return {p.name: p for p in props}

    return [
        ObjectTypeDef(
            "0-1",
            "contacts",
            "contact",
            "CONTACT",
            index(default_contact_properties()),
            echo=("hs_object_id", "createdate", "lastmodifieddate"),
            read_defaults=("email", "firstname", "lastname"),
        ),
        ObjectTypeDef(
            "0-2",
            "companies",
            "company",
            "COMPANY",
            index(default_company_properties()),
            read_defaults=("name", "domain"),
        ),
        ObjectTypeDef(
            "0-3",
            "deals",
            "deal",
            "DEAL",
            index(default_deal_properties()),
            read_defaults=("dealname", "amount", "dealstage", "pipeline", "closedate"),
        ),
    ]


def custom_object_type(type_id: str, name: str, properties: Iterable[PropertyDef]) -> ObjectTypeDef:
    """A custom object: addressable by ``2-…`` id, ``p_<name>`` and its bare name."""
    bare = name[2:] if name.startswith("p_") else name
    props = {p.name: p for p in _system()}
    for p in properties:
        props[p.name] = p
    return ObjectTypeDef(
        type_id,
        bare,
        bare,
        bare.upper(),
        props,
        aliases={f"p_{bare}"},
    )
