"""Checking and normalising one property value the way HubSpot does on write.

HubSpot stores every value as a string and returns it as one, so a write is
turned into its stored text here. Anything HubSpot would refuse becomes an
*issue* dict, which the caller embeds (as JSON) in a ``Property values were
not valid`` message.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

from .schema import PropertyDef

# Deliberately simple: HubSpot rejects obvious garbage, not every RFC oddity.
EMAIL_RE = re.compile(r"^[^@\s;,]+@[^@\s;,]+\.[^@\s;,]+$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
INT_RE = re.compile(r"^-?\d+$")

CLEAR = object()  # sentinel: the write clears the value


def issue(name: str, error: str, message: str) -> dict[str, Any]:
    """One element of the JSON list inside a ``Property values were not valid`` message."""
    return {"isValid": False, "message": message, "error": error, "name": name}


def iso_ms(dt: datetime) -> str:
    """HubSpot's timestamp style: UTC, milliseconds, ``Z``."""
    dt = dt.astimezone(timezone.utc)
    return f"{dt.year:04d}" + dt.strftime("-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def from_epoch_ms(ms: int) -> datetime | None:
    """The UTC instant ``ms`` milliseconds from the epoch, exactly (no float); None when out of range."""
    try:
        return _EPOCH + timedelta(milliseconds=ms)
    except OverflowError:
        return None


def as_text(value: Any) -> str:
    """Render a JSON value as the text HubSpot would see (bools lower-case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def normalize(prop: PropertyDef, value: Any, *, is_email: bool = False) -> str | object | dict[str, Any]:
    """Return the stored text, :data:`CLEAR`, or an issue dict describing why HubSpot refuses it."""
    if value is None:
        return CLEAR
    text = as_text(value)
    if text == "":
        return CLEAR
    if prop.read_only:
        return issue(prop.name, "READ_ONLY_VALUE", f"{prop.name} is a read only property; its value cannot be set.")
    if is_email:
        text = text.strip().lower()
        if not EMAIL_RE.match(text):
            return issue(prop.name, "INVALID_EMAIL", f"Email address {as_text(value)} is invalid")
        return text
    kind = prop.type
    if kind != "string" and any(_edge_space(part) for part in ([text, *text.split(";")] if prop.is_multi else [text])):
        return issue(prop.name, "LEADING_TRAILING_WHITESPACE", f'"{text}" includes leading or trailing whitespace.')
    if kind == "number":
        return _number(prop, text)
    if kind == "date":
        return _date(prop, text)
    if kind == "datetime":
        return _datetime(prop, text)
    if kind in ("enumeration", "bool"):
        return _enumeration(prop, text)
    return text


#: invisible characters HubSpot counts as whitespace at a value's ends, besides str.isspace() ones
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff")


def _edge_space(text: str) -> bool:
    """Whether ``text`` starts or ends with whitespace or an invisible character (a no-break space, a BOM).

    Non-string properties refuse such values with ``LEADING_TRAILING_WHITESPACE`` (HubSpot developer
    changelog, "Breaking Change: Enhanced Validations for Non-String Properties in HubSpot's CRMObject APIs").
    """
    return bool(text) and any(c.isspace() or c in _INVISIBLE for c in (text[0], text[-1]))


def _number(prop: PropertyDef, text: str) -> str | dict[str, Any]:
    try:
        f = float(text)
    except ValueError:
        f = math.nan
    if math.isnan(f) or math.isinf(f):
        return issue(prop.name, "INVALID_FLOAT", f"{text} was not a valid number.")
    return text.strip()


def _date(prop: PropertyDef, text: str) -> str | dict[str, Any]:
    if DATE_RE.match(text):
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            pass
    elif INT_RE.match(text):
        ms = int(text)
        dt = from_epoch_ms(ms)
        if dt is None:
            return issue(prop.name, "INVALID_DATE", f"{text} is not a valid date.")
        if ms % 86_400_000 == 0:
            return dt.date().isoformat()
        clock = dt.strftime("%H:%M:%S.") + f"{ms % 1000:03d}"
        return issue(prop.name, "INVALID_DATE", f"{text} is at {clock} UTC, not midnight!")
    return issue(prop.name, "INVALID_DATE", f"{text} is not a valid date. Use YYYY-MM-DD or epoch milliseconds.")


def _datetime(prop: PropertyDef, text: str) -> str | dict[str, Any]:
    if INT_RE.match(text):
        instant = from_epoch_ms(int(text))
        if instant is None:
            return issue(prop.name, "INVALID_DATE", f"{text} is not a valid datetime.")
        return iso_ms(instant)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return issue(prop.name, "INVALID_DATE", f"{text} is not a valid datetime.")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return iso_ms(dt)


def _enumeration(prop: PropertyDef, text: str) -> str | dict[str, Any]:
    allowed = prop.option_values()
    if prop.type == "bool":
        text = text.lower()
    parts = [p for p in text.split(";") if p != ""] if prop.is_multi else [text]
    bad = [p for p in parts if p not in allowed]
    if bad:
        return issue(
            prop.name,
            "INVALID_OPTION",
            f"{bad[0]} was not one of the allowed options: [{', '.join(allowed)}]",
        )
    return ";".join(parts)
