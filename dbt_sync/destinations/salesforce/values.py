"""Warehouse values to Salesforce wire values, for JSON (REST) and CSV (Bulk).

Why not ``json.dumps``: a ``Decimal`` must reach Salesforce digit for digit
(``12345678901234567.89`` is not a float), so the JSON text is written here
and sent with ``data=``. Datetimes go out in UTC with milliseconds and a
``Z`` (naive values are taken as UTC, the warehouse convention), dates as
``YYYY-MM-DD``. Floats go out as the exact decimal text of their shortest
``repr``, never re-rounded.

One rule for every path: an empty string is NULL (Salesforce stores ``''``
in a text field as null; sending null keeps number and date fields from
rejecting it), a list is a multi-select value whose NULL and ``''``
elements are dropped, and an element containing ``;`` (the separator) fails
the record with ``INVALID_MULTISELECT_VALUE``. In Bulk CSV an empty cell
means "leave unchanged", so NULL is written as ``#N/A``; Bulk has no escape
for a real ``#N/A`` text, so :func:`is_null_marker` finds values that must
go through Collections instead.

Salesforce number, currency and percent fields hold a binary double
(Salesforce Help, "Why do I see exponential values for custom number
field?", Knowledge Article 000221617; and 000387302: "the precision of
numbers is limited by the precision of the Java Double type"). A number
the double cannot hold exactly (``123456789012.123456``,
``111111111111111111``) would be stored changed, so
:func:`check_double` fails its record with ``NUMBER_PRECISION_LOST``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

CSV_NULL = "#N/A"


class ValueConversionError(ValueError):
    """A value has no Salesforce representation; the record fails alone with ``code``."""

    def __init__(self, field: str, message: str, code: str = "INVALID_TYPE_ON_FIELD_IN_RECORD") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.code = code


class Raw:
    """A JSON number already rendered exactly (a Decimal)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


#: every integer of at most this magnitude is a double exactly (2 ** 53)
_EXACT_INT = 2**53

#: Salesforce field types whose values are stored as a binary double
DOUBLE_TYPES = frozenset({"double", "currency", "percent"})


def check_double(name: str, value: Any) -> None:
    """Raise :class:`ValueConversionError` (``NUMBER_PRECISION_LOST``) when a double cannot hold ``value``.

    ``value`` is what the model sent (``int``, ``Decimal``, ``float``; other
    types are left to Salesforce's own type check). Exact means the double
    nearest to ``value``, printed shortest, is numerically ``value``:
    ``230.7550`` passes (it is ``230.755``), ``123456789012.123456`` does not.
    """
    if double_exact(value):
        return
    number = _as_decimal(value)
    nearest = _nearest_double(number)
    raise ValueConversionError(
        name,
        f"{number} has more significant digits than a Salesforce number field holds (a binary double, "
        f"about 15 to 17 digits); it would be stored as {nearest}. Round it in the model or send it to a text field.",
        code="NUMBER_PRECISION_LOST",
    )


def double_exact(value: Any) -> bool:
    """False only for a number (``int``, ``Decimal``, ``float``) that no binary double holds exactly."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, float, Raw)):
        return True
    if value.__class__ is int:
        if -_EXACT_INT <= value <= _EXACT_INT:
            return True
    elif value.__class__ is Decimal:
        # at most 15 significant digits (DBL_DIG) in a double's normal range: the nearest double reads back
        # as the same number, so the check below would say so too, at about ten times the cost
        _sign, digits, exponent = value.as_tuple()
        if isinstance(exponent, int) and len(digits) <= 15 and -290 < exponent + len(digits) < 290:
            return True
    number = _as_decimal(value)
    if not number.is_finite():
        return True  # refused by to_wire with its own message
    return _nearest_double(number) == number


def _as_decimal(value: int | Decimal | float | Raw) -> Decimal:
    if isinstance(value, Raw):
        return Decimal(value.text)
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def _nearest_double(number: Decimal) -> Decimal | None:
    """The double nearest to ``number``, as its shortest decimal text; None beyond a double's range."""
    try:
        nearest = float(number)
    except OverflowError:
        return None
    return Decimal(repr(nearest)) if math.isfinite(nearest) else None


def format_datetime(value: dt.datetime) -> str:
    """UTC ISO 8601 with milliseconds: ``2024-01-02T03:04:05.000Z``."""
    if value.tzinfo is not None and value.utcoffset() is not None:
        value = value.astimezone(dt.timezone.utc)
    return f"{value.year:04d}" + value.strftime("-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def format_time(value: dt.time) -> str:
    """``HH:MM:SS.mmmZ``; a time with an offset (``timetz``) is converted to UTC, as timestamps are."""
    offset = value.utcoffset()
    if offset:
        value = (dt.datetime.combine(dt.date(2000, 1, 3), value.replace(tzinfo=None)) - offset).time()
    return value.strftime("%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def format_decimal(value: Decimal) -> str:
    """Plain positional digits: no exponent, no rounding."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite number")
    text = format(value, "f")
    return "0" if text in ("-0", "") else text


def to_wire(name: str, value: Any) -> Any:
    """Convert one field value to a JSON-ready value (``Raw`` for Decimals and floats).

    ``''`` becomes ``None``; lists become ``;``-joined multi-select text.
    Raises :class:`ValueConversionError` for a value with no Salesforce form.
    """
    try:
        if value == "" and isinstance(value, str):
            return None  # Salesforce stores '' as null; say so on every path
        if value is None or isinstance(value, (bool, str, int, Raw)):
            return value  # Raw: already converted (a Decimal on its way to a Bulk CSV)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError(f"{value} is not a finite number")
            return Raw(format_decimal(Decimal(repr(value))))
        if isinstance(value, Decimal):
            return Raw(format_decimal(value))
        if isinstance(value, uuid.UUID):
            return str(value)  # DuckDB's uuid; PostgreSQL's driver already gives this text
        if isinstance(value, dt.datetime):
            return format_datetime(value)
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, dt.time):
            return format_time(value)
        if isinstance(value, (list, tuple, set, frozenset)):
            return _multiselect(name, value)
    except ValueConversionError:
        raise
    except (ValueError, OverflowError) as exc:
        raise ValueConversionError(name, str(exc)) from exc
    raise ValueConversionError(name, f"values of type {type(value).__name__} cannot be sent to Salesforce")


def _multiselect(name: str, value: Any) -> str | None:
    """A multi-select picklist value: elements joined by ``;``, NULL and ``''`` elements dropped."""
    items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else list(value)
    parts: list[str] = []
    for item in items:
        if isinstance(item, (list, tuple, set, frozenset, dict)):
            raise ValueConversionError(name, "a multi-select value cannot hold a nested list")
        wire = to_wire(name, item)
        if wire is None:
            continue
        if isinstance(wire, bool):
            text = "true" if wire else "false"
        else:
            text = wire.text if isinstance(wire, Raw) else str(wire)
        if ";" in text:
            raise ValueConversionError(
                name,
                f"the element {text!r} contains ';', the multi-select separator, so it cannot be stored as one value",
                code="INVALID_MULTISELECT_VALUE",
            )
        parts.append(text)
    return ";".join(parts) or None


def is_null_marker(value: Any) -> bool:
    """Whether Bulk API 2.0 would read this wire value as NULL (``#N/A``, which has no escape)."""
    return isinstance(value, str) and value.strip().upper() == CSV_NULL


def to_csv(name: str, value: Any) -> str:
    """Convert one field value to its Bulk API 2.0 CSV cell."""
    return wire_to_csv(to_wire(name, value))


def wire_to_csv(wire: Any) -> str:
    """A value :func:`to_wire` already converted, as its Bulk API 2.0 CSV cell."""
    if wire is None or wire == "":
        return CSV_NULL
    if wire.__class__ is str:
        return wire
    if isinstance(wire, bool):
        return "true" if wire else "false"
    if isinstance(wire, Raw):
        return wire.text
    return str(wire)


def csv_text(rows: Sequence[Sequence[str]]) -> str:
    """RFC 4180 CSV with LF line endings, every field quoted that needs it.

    A field is quoted when it holds the delimiter, a double quote, CR or LF
    (a bare CR too: Salesforce's reader, like any RFC 4180 reader, ends a
    line at an unquoted CR) or starts or ends with white space; quotes are
    doubled. ``#N/A`` and empty cells stay bare, since Bulk reads them as
    markers.
    """
    out = []
    for row in rows:
        out.append(",".join(_csv_field(cell) for cell in row))
        out.append("\n")
    return "".join(out)


#: what makes a CSV field need quotes: the delimiter, a quote, CR or LF anywhere, white space at either end
_NEEDS_QUOTES = re.compile(r'[,"\r\n]|\A\s|\s\Z')


def _csv_field(cell: str) -> str:
    if cell and _NEEDS_QUOTES.search(cell):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def dumps(value: Any) -> str:
    """JSON text of dicts/lists/scalars with ``Raw`` numbers written verbatim.

    The C encoder does the work: each ``Raw`` goes in as a string carrying a
    per-call marker and the markers are then unwrapped in the text, so a
    Decimal keeps every digit without a pure-Python encoder walking every
    value of every record.
    """
    marker = f"\u0001raw{secrets.token_hex(4)}:"

    def default(obj: Any) -> Any:
        raise TypeError(f"values of type {type(obj).__name__} cannot be sent as JSON")

    def mark(obj: Any) -> Any:
        if isinstance(obj, Raw):
            return marker + obj.text
        if isinstance(obj, Mapping):
            return {str(k): mark(v) for k, v in obj.items()}
        if isinstance(obj, Sequence) and not isinstance(obj, (str, bytes)):
            return [mark(v) for v in obj]
        return obj

    text = json.dumps(mark(value), ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=default)
    escaped = json.dumps(marker, ensure_ascii=False)[1:-1]  # the marker as it appears inside a JSON string
    if escaped not in text:
        return text
    return re.sub('"' + re.escape(escaped) + r'([-0-9.eE+]+)"', r"\1", text)
