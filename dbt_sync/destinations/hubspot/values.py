"""Turning warehouse values into the strings HubSpot's CRM API accepts.

HubSpot stores every property value as a string, but what string it accepts
depends on the property's type: a ``date`` must be midnight UTC (we send
``YYYY-MM-DD``), a ``datetime`` is epoch milliseconds, booleans are
``"true"``/``"false"``, multi-checkbox values are ``;``-joined, and numbers
must not go through float rounding. Keeping the rules here, pure and free of
I/O, lets them be tested exhaustively without an API.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

#: Sentinel returned by :func:`to_wire` when the property must be left out of
#: the request (a ``None`` on create: there is nothing to clear).
OMIT = object()

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class ValueProblem(ValueError):
    """A value cannot be expressed in the property's HubSpot format; the record fails with ``code``."""

    def __init__(self, message: str, code: str = "INVALID_VALUE") -> None:
        super().__init__(message)
        self.code = code


def _as_utc(value: dt.datetime) -> dt.datetime:
    """Naive datetimes from the warehouse are UTC by convention."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def epoch_ms(value: dt.date | dt.datetime) -> int:
    """Milliseconds since the epoch; a bare date means midnight UTC."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    delta = _as_utc(value) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def format_number(value: int | float | Decimal) -> str:
    """An exact decimal string: ``Decimal`` keeps its digits, floats use repr.

    ``format(d, 'f')`` never switches to exponent notation, which HubSpot's
    number parser rejects; floats go through ``repr`` so 0.1 stays ``0.1``.
    """
    if isinstance(value, bool):  # bool is an int; never a number here
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueProblem(f"{value!r} is not a finite number")
        value = Decimal(repr(value))
    if not value.is_finite():
        raise ValueProblem(f"{value} is not a finite number")
    return format(value, "f")


def _scalar(value: Any, prop_type: str | None) -> str:
    """Convert one non-list, non-None value for a property of ``prop_type``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if prop_type == "date":
            return _as_utc(value).date().isoformat()
        if prop_type == "datetime":
            return str(epoch_ms(value))
        return _as_utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        if prop_type == "datetime":
            return str(epoch_ms(value))
        return value.isoformat()
    if isinstance(value, (int, float, Decimal)):
        return format_number(value)
    if isinstance(value, str):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)  # DuckDB's uuid; PostgreSQL's driver already gives this text
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueProblem("binary value is not UTF-8 text") from None
    raise ValueProblem(f"a {type(value).__name__} value cannot be sent to HubSpot")


def to_wire(
    value: Any,
    prop_type: str | None,
    *,
    clearing: bool,
    is_email: bool = False,
) -> Any:
    """The wire string for ``value``, or :data:`OMIT`.

    ``clearing`` is true on update/upsert, where ``None`` must erase the value
    in HubSpot (sent as ``""``); on create a ``None`` is simply left out.
    ``is_email`` lower-cases the value, because HubSpot matches contacts on
    the exact email string and warehouses are rarely consistent about case.
    """
    if value is None:
        return "" if clearing else OMIT
    if isinstance(value, (list, tuple, set, frozenset)):
        text = _multiselect(value, prop_type)
    else:
        text = _scalar(value, prop_type)
    if is_email:
        text = normalize_email(text)
    return text


def _multiselect(value: Any, prop_type: str | None) -> str:
    """``;``-joined elements, NULL and ``''`` elements dropped (the Salesforce destination's rule too).

    An element containing ``;`` would come back as two values, so it fails
    the record with ``INVALID_MULTISELECT_VALUE`` instead.
    """
    items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else list(value)
    parts = []
    for item in items:
        if item is None:
            continue
        if isinstance(item, (list, tuple, set, frozenset, dict)):
            raise ValueProblem("a multi-select value cannot hold a nested list", "INVALID_MULTISELECT_VALUE")
        text = _scalar(item, prop_type)
        if text == "":
            continue
        if ";" in text:
            raise ValueProblem(
                f"the element {text!r} contains ';', the multi-select separator, so it cannot be stored as one value",
                "INVALID_MULTISELECT_VALUE",
            )
        parts.append(text)
    return ";".join(parts)


def normalize_email(text: str) -> str:
    """Emails compare and match case-insensitively; surrounding spaces are noise."""
    return text.strip().lower()


def convert_properties(
    fields: Mapping[str, Any],
    prop_types: Mapping[str, str],
    *,
    clearing: bool,
    email_property: str | None,
) -> tuple[dict[str, str], dict[str, ValueProblem]]:
    """Convert a record's fields; return ``(properties, problems by field)``.

    Problems are collected rather than raised so one bad value fails only its
    own record, naming every bad field at once.
    """
    properties: dict[str, str] = {}
    problems: dict[str, ValueProblem] = {}
    for name, value in fields.items():
        try:
            wire = to_wire(
                value,
                prop_types.get(name),
                clearing=clearing,
                is_email=name == email_property,
            )
        except ValueProblem as exc:
            problems[name] = exc
            continue
        if wire is not OMIT:
            properties[name] = wire
    return properties, problems
