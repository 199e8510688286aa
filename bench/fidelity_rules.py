"""The documented conversion rules, as an oracle: what each CRM must hold for a warehouse value.

These restate docs/destinations-salesforce.md and docs/destinations-hubspot.md
("Values") independently of the product code, so the fidelity test and
``bench/run fidelity`` can compare what was stored with what the rule says.
Each function returns ``(error_code, stored)``: ``error_code`` is the code
the record must fail with (the value cannot be stored), else ``None`` and
``stored`` is the value read back through the real client
(:func:`query_exact`, :func:`hubspot_rows`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

from hubspot import HubSpot
from simple_salesforce import Salesforce

TEXT_TYPES = frozenset({"string", "textarea", "phone", "url", "email", "picklist", "multipicklist", "combobox"})
NUMBER_TYPES = frozenset({"double", "currency", "percent"})
# Salesforce stores dates and times from 1700-01-01T00:00:00Z to 4000-12-31T00:00:00Z only
# (SOQL and SOSL Reference, "Minimum and Maximum Dates").
SF_MIN_DATE = dt.datetime(1700, 1, 1, tzinfo=dt.timezone.utc)
SF_MAX_DATE = dt.datetime(4000, 12, 31, tzinfo=dt.timezone.utc)
# Salesforce's own check is not published; this is the emulator's (docs/emulators-salesforce.md).
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")


def _exact(value: int | float | Decimal) -> Decimal:
    """The number as sent: floats by their shortest repr, never re-rounded."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (float, Decimal)):
        return format(_exact(value), "f")
    return str(value)


def _multiselect(value: list[Any] | tuple[Any, ...]) -> tuple[str | None, str | None]:
    """NULL and '' elements dropped, ';' inside an element refused, nothing left means NULL."""
    parts = []
    for item in value:
        if item is None or item == "":
            continue
        text = _text(item)
        if ";" in text:
            return "INVALID_MULTISELECT_VALUE", None
        parts.append(text)
    return None, ";".join(parts) or None


def salesforce(field: dict[str, Any], value: Any) -> tuple[str | None, Any]:
    """What a Salesforce field (a describe dict) holds after a write of ``value``, on either path."""
    ftype = field["type"]
    if isinstance(value, (list, tuple)):
        problem, value = _multiselect(value)
        if problem:
            return problem, None
    if value is None or value == "":
        if ftype == "boolean":
            return None, False  # a NULL checkbox is false
        if field.get("nillable") is False and not field.get("defaultedOnCreate"):
            return "REQUIRED_FIELD_MISSING", None
        return None, None  # '' is NULL
    if ftype in TEXT_TYPES:
        text = _text(value)
        # Salesforce counts UTF-16 code units: a character beyond the BMP (an emoji) counts twice
        if field.get("length") and len(text) + sum(ord(c) > 0xFFFF for c in text) > field["length"]:
            return "STRING_TOO_LONG", None
        if ftype == "email" and not _EMAIL.match(text):
            return "INVALID_EMAIL_ADDRESS", None
        return None, text
    if ftype in NUMBER_TYPES:
        number = _exact(value)
        if Decimal(repr(float(number))) != number:
            return "NUMBER_PRECISION_LOST", None  # a number field holds a binary double
        precision, scale = field.get("precision") or 0, field.get("scale") or 0
        if precision and abs(number) >= 10 ** (precision - scale):
            return "NUMBER_OUTSIDE_VALID_RANGE", None
        return None, number  # the API keeps digits beyond the scale (see docs/emulators-salesforce.md)
    if ftype == "int":
        if abs(int(value)) >= 10 ** (field.get("digits") or 9):
            return "NUMBER_OUTSIDE_VALID_RANGE", None
        return None, int(value)
    if ftype == "date":
        day = _utc(value).date() if isinstance(value, dt.datetime) else value
        if not SF_MIN_DATE.date() <= day <= SF_MAX_DATE.date():
            return "FIELD_INTEGRITY_EXCEPTION", None
        return None, day.isoformat()
    if ftype == "datetime":
        if not isinstance(value, dt.datetime):
            value = dt.datetime(value.year, value.month, value.day)
        utc = _utc(value)
        if not SF_MIN_DATE <= utc <= SF_MAX_DATE:
            return "FIELD_INTEGRITY_EXCEPTION", None
        return None, f"{utc.year:04d}" + utc.strftime("-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"
    if ftype == "boolean":
        return None, bool(value)
    raise ValueError(f"no rule for Salesforce type {ftype}")


def hubspot(prop_type: str, value: Any) -> tuple[str | None, str | None]:
    """What a HubSpot property of ``prop_type`` holds (always text, or None) after an upsert of ``value``."""
    if isinstance(value, (list, tuple)):
        problem, value = _multiselect(value)
        if problem:
            return problem, None
    if value is None or value == "":
        return None, None  # '' clears, as NULL does
    if isinstance(value, bool):
        return None, "true" if value else "false"
    if isinstance(value, dt.datetime):
        if prop_type == "date":
            return None, _utc(value).date().isoformat()
        utc = _utc(value)
        if prop_type != "datetime":
            return None, utc.isoformat().replace("+00:00", "Z")
        return None, f"{utc.year:04d}" + utc.strftime("-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    if isinstance(value, dt.date):
        if prop_type == "datetime":
            return None, f"{value.isoformat()}T00:00:00.000Z"
        return None, value.isoformat()
    return None, _text(value)


def same_salesforce(field: dict[str, Any], stored: Any, expected: Any) -> bool:
    """Stored equals expected; numbers compare by value (``230.7550`` is ``230.755``)."""
    if field["type"] in NUMBER_TYPES or field["type"] == "int":
        return stored is None if expected is None else stored is not None and Decimal(str(stored)) == expected
    return bool(stored == expected)


def same_hubspot(prop_type: str, stored: Any, expected: str | None) -> bool:
    if expected is None:
        return stored in (None, "")
    if prop_type == "number":
        return stored is not None and Decimal(stored) == Decimal(expected)
    return bool(stored == expected)


# -- reading back with the real clients --------------------------------------------------


def query_exact(sf: Salesforce, soql: str) -> list[dict[str, Any]]:
    """Every row of ``soql`` through simple-salesforce's session, numbers as ``Decimal``.

    ``sf.query_all`` parses numbers as floats; this follows ``nextRecordsUrl``
    the same way but keeps every digit.
    """
    url = f"{sf.base_url}query/"
    params: dict[str, str] | None = {"q": soql}
    rows: list[dict[str, Any]] = []
    while True:
        response = sf.session.get(url, params=params, headers=sf.headers, timeout=60)
        response.raise_for_status()
        page = json.loads(response.text, parse_float=Decimal)
        rows.extend(page["records"])
        if page.get("done", True) or not page.get("nextRecordsUrl"):
            return rows
        url, params = f"https://{sf.sf_instance}{page['nextRecordsUrl']}", None


def hubspot_rows(client: HubSpot, object_type: str, properties: list[str], key: str) -> dict[str, dict[str, Any]]:
    """Every record's properties, paged with hubspot-api-client's ``get_page``."""
    out: dict[str, dict[str, Any]] = {}
    after = None
    while True:
        page = client.crm.objects.basic_api.get_page(
            object_type, limit=100, after=after, properties=[key, *properties]
        )
        for obj in page.results:
            out[obj.properties[key]] = obj.properties
        if page.paging is None or page.paging.next is None:
            return out
        after = page.paging.next.after
