"""Compiled describe metadata and value conversion.

Describe dicts are convenient to serve but slow to consult per value, so each
object is compiled once into :class:`ObjectMeta` with case-insensitive field
maps (Salesforce field names are case-insensitive) and one :class:`FieldMeta`
per field. Conversion turns a JSON or CSV value into the stored form, raising
:class:`TypeMismatch` for values the field's type cannot hold and returning a
:class:`RecordError` for values Salesforce rejects per record.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from .errors import RecordError

STRING_TYPES = frozenset(
    {"string", "textarea", "phone", "url", "email", "picklist", "multipicklist", "combobox",
     "encryptedstring"}
)
NUMBER_TYPES = frozenset({"double", "currency", "percent"})
_EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
_ID_RE = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")
_CHECKSUM_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_TRUE = frozenset({"true", "1", "yes", "y"})
_FALSE = frozenset({"false", "0", "no", "n"})
_JAVA_TYPE = {"int": "int", "double": "double", "currency": "double", "percent": "double",
              "boolean": "boolean", "date": "date", "datetime": "datetime"}


class TypeMismatch(Exception):
    """A value whose JSON/CSV form cannot be read as the field's type.

    The REST layer turns it into a whole-request ``JSON_PARSER_ERROR`` or a
    per-record ``INVALID_TYPE_ON_FIELD_IN_RECORD``, depending on configuration.
    """

    def __init__(self, field: FieldMeta, value: Any) -> None:
        super().__init__(f"{field.name}: {value!r}")
        self.field = field
        self.value = value

    def parser_message(self) -> str:
        kind = "VALUE_STRING" if isinstance(self.value, str) else "VALUE_" + type(self.value).__name__.upper()
        java = _JAVA_TYPE.get(self.field.type, self.field.type)
        return (f"Cannot deserialize instance of {java} from {kind} value {self.value} "
                "or request may be missing a required field at [line:1, column:1]")

    def record_error(self) -> RecordError:
        return RecordError(
            "INVALID_TYPE_ON_FIELD_IN_RECORD",
            f"{self.field.label}: value not of required type: {self.value}",
            (self.field.name,),
        )


def id18(id15: str) -> str:
    """Append Salesforce's case-safe checksum to a 15-character id."""
    suffix = ""
    for i in range(3):
        bits = 0
        for j, ch in enumerate(id15[i * 5:(i + 1) * 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << j
        suffix += _CHECKSUM_CHARS[bits]
    return id15 + suffix


def normalize_id(value: str) -> str | None:
    """The 18-character form of a 15/18-character id, or None when malformed."""
    if not _ID_RE.match(value):
        return None
    return id18(value) if len(value) == 15 else id18(value[:15])


def format_datetime(value: dt.datetime) -> str:
    """Salesforce's wire form: milliseconds and a ``+0000`` offset."""
    value = value.astimezone(dt.timezone.utc)
    return f"{value.year:04d}" + value.strftime("-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


#: The only dates Salesforce stores: "The earliest valid date is 1700-01-01T00:00:00Z GMT ... The latest
#: valid date is 4000-12-31T00:00:00Z GMT" (SOQL and SOSL Reference, Date Formats and Date Literals,
#: "Minimum and Maximum Dates"). A write outside it fails with FIELD_INTEGRITY_EXCEPTION.
MIN_DATETIME = dt.datetime(1700, 1, 1, tzinfo=dt.timezone.utc)
MAX_DATETIME = dt.datetime(4000, 12, 31, tzinfo=dt.timezone.utc)


def _date_range_error(f: FieldMeta, value: Any) -> RecordError:
    return RecordError("FIELD_INTEGRITY_EXCEPTION",
                       f"{f.label}: invalid date, outside 1700-01-01 to 4000-12-31: {value}", (f.name,))


@dataclass(eq=False)
class FieldMeta:
    """What the write path needs from one describe field."""

    name: str
    label: str
    type: str
    length: int
    precision: int
    scale: int
    digits: int
    createable: bool
    updateable: bool
    nillable: bool
    defaulted: bool
    default_value: Any
    external_id: bool
    id_lookup: bool
    unique: bool
    case_sensitive: bool
    reference_to: tuple[str, ...]
    relationship_name: str | None
    picklist: frozenset[str] | None
    restricted: bool
    convert: Callable[[FieldMeta, Any, bool], Any]

    @property
    def required_on_create(self) -> bool:
        return self.createable and not self.nillable and not self.defaulted

    @property
    def indexed(self) -> bool:
        """Whether the store keeps a value → ids index (upsert keys and lookup targets)."""
        return (self.external_id or self.id_lookup or self.unique) and self.type != "id"

    def norm(self, value: Any) -> str:
        text = value if isinstance(value, str) else str(value)
        return text if self.case_sensitive else text.lower()

    @classmethod
    def from_describe(cls, d: dict[str, Any]) -> FieldMeta:
        type_ = d["type"]
        values = [p["value"] for p in d.get("picklistValues") or [] if p.get("active", True)]
        return cls(
            name=d["name"],
            label=d.get("label") or d["name"],
            type=type_,
            length=int(d.get("length") or 0),
            precision=int(d.get("precision") or 0),
            scale=int(d.get("scale") or 0),
            digits=int(d.get("digits") or 0),
            createable=bool(d.get("createable", True)),
            updateable=bool(d.get("updateable", True)),
            nillable=bool(d.get("nillable", True)),
            defaulted=bool(d.get("defaultedOnCreate", False)),
            default_value=d.get("defaultValue"),
            external_id=bool(d.get("externalId", False)),
            id_lookup=bool(d.get("idLookup", False)),
            unique=bool(d.get("unique", False)),
            case_sensitive=bool(d.get("caseSensitive", False)),
            reference_to=tuple(d.get("referenceTo") or ()),
            relationship_name=d.get("relationshipName"),
            picklist=frozenset(values) if type_ in ("picklist", "multipicklist") else None,
            restricted=bool(d.get("restrictedPicklist", False)),
            convert=_CONVERTERS.get(type_, _convert_string),
        )


class ObjectMeta:
    """One object's compiled describe."""

    def __init__(self, describe: dict[str, Any]) -> None:
        self.describe = describe
        self.name: str = describe["name"]
        self.label: str = describe.get("label") or self.name
        self.key_prefix: str = describe["keyPrefix"]
        self.fields: dict[str, FieldMeta] = {}
        self.relationships: dict[str, FieldMeta] = {}
        for d in describe["fields"]:
            fm = FieldMeta.from_describe(d)
            self.fields[fm.name.lower()] = fm
            if fm.relationship_name:
                self.relationships[fm.relationship_name.lower()] = fm
        self.ordered: list[FieldMeta] = list(self.fields.values())
        self.required = [f for f in self.ordered if f.required_on_create]
        self.defaults = [f for f in self.ordered
                         if f.defaulted and f.createable and f.default_value is not None]
        self.indexed = [f for f in self.ordered if f.indexed]
        self.unique = [f for f in self.ordered if f.unique and f.type != "id"]

    def field(self, name: str) -> FieldMeta | None:
        return self.fields.get(name.lower())


def utf16_length(text: str) -> int:
    """A text's length as Salesforce counts it: UTF-16 code units, so a character outside the BMP
    (an emoji, "𠮟") counts as two (Salesforce Help, "Surrogate Pair Characters Are Treated as Two
    Characters", Knowledge Article 005166849: formula functions and the Apex String class)."""
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


# ---- converters: (field, value, from_csv) -> stored value; None stays None upstream ----

def _convert_string(f: FieldMeta, value: Any, from_csv: bool) -> Any:
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, (int, float, Decimal)):
        value = repr(value) if isinstance(value, float) else str(value)
    elif not isinstance(value, str):
        raise TypeMismatch(f, value)
    if f.length and utf16_length(value) > f.length:
        return RecordError("STRING_TOO_LONG",
                           f"{f.label}: data value too large: {value} (max length={f.length})", (f.name,))
    if f.type == "email" and not _EMAIL_RE.match(value):
        return RecordError("INVALID_EMAIL_ADDRESS", f"{f.label}: invalid email address: {value}", (f.name,))
    if f.picklist is not None and f.restricted:
        parts = value.split(";") if f.type == "multipicklist" else (value,)
        for part in parts:
            if part not in f.picklist:
                return RecordError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                                   f"bad value for restricted picklist field: {part}", (f.name,))
    return value


def _convert_id(f: FieldMeta, value: Any, from_csv: bool) -> Any:
    if not isinstance(value, str):
        raise TypeMismatch(f, value)
    norm = normalize_id(value)
    if norm is None:
        return RecordError("MALFORMED_ID", f"{f.label}: id value of incorrect type: {value}", (f.name,))
    return norm


def _convert_bool(f: FieldMeta, value: Any, from_csv: bool) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE if from_csv else low == "true":
            return True
        if low in _FALSE if from_csv else low == "false":
            return False
    raise TypeMismatch(f, value)


def _to_number(f: FieldMeta, value: Any) -> Decimal | int:
    """An exact number: ``int`` or ``Decimal``, never a binary float."""
    if isinstance(value, bool):
        raise TypeMismatch(f, value)
    num: Decimal | int
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        num = Decimal(repr(value))
    elif isinstance(value, Decimal):
        num = value
    elif isinstance(value, str):
        try:
            num = Decimal(value.strip())
        except InvalidOperation:
            raise TypeMismatch(f, value) from None
    else:
        raise TypeMismatch(f, value)
    if not num.is_finite():
        raise TypeMismatch(f, value)
    return num


def _range_error(f: FieldMeta, value: Any) -> RecordError:
    return RecordError("NUMBER_OUTSIDE_VALID_RANGE",
                       f"{f.label}: value outside of valid range on numeric field: {value}", (f.name,))


def _convert_int(f: FieldMeta, value: Any, from_csv: bool) -> Any:
    num = _to_number(f, value)
    if isinstance(num, Decimal):
        if num != num.to_integral_value():
            raise TypeMismatch(f, value)
        num = int(num)
    if abs(num) >= 10 ** (f.digits or 9):
        return _range_error(f, value)
    return num


def _convert_number(f: FieldMeta, value: Any, from_csv: bool) -> Any:
    """A ``Decimal`` (or ``int``) kept as sent; only its integer digits are bounded by precision - scale.

    Through the API Salesforce stores more decimal places than the field
    defines and returns them unrounded (Salesforce Help, "Salesforce Number
    Field Stores More Decimal Places Than Defined When Set via API or Apex");
    :func:`round_to_scale` is the UI's half-up rounding, used when the
    emulator is configured for it.
    """
    num = _to_number(f, value)
    if f.precision and abs(num) >= 10 ** (f.precision - f.scale):
        return _range_error(f, value)
    return as_double(num)


def as_double(num: Decimal | int) -> Decimal | int:
    """``num`` as Salesforce stores a number field: the nearest binary double.

    Custom number fields "are stored as Double values" (Salesforce Help,
    Knowledge Article 000221617) and "the precision of numbers is limited by
    the precision of the Java Double type" (000387302): ``111111111111111111``
    comes back as ``111111111111111104``. A value a double holds exactly is
    kept as sent, digits beyond the field's scale included.
    """
    nearest = Decimal(repr(float(num)))
    return num if nearest == num else nearest


def round_to_scale(f: FieldMeta, value: Decimal | int) -> Decimal | int:
    """``value`` rounded half up to the field's scale (``230.7550`` at scale 2 is ``230.76``)."""
    if isinstance(value, int):
        return value
    return value.quantize(Decimal(1).scaleb(-f.scale), rounding=ROUND_HALF_UP)


def _convert_date(f: FieldMeta, value: Any, from_csv: bool) -> Any:
    if isinstance(value, str) and len(value) >= 10:
        text = value[:10]
        rest = value[10:]
        try:
            parsed = dt.date.fromisoformat(text)
        except ValueError:
            parsed = None
        if parsed is not None and (not rest or (rest[0] in "T " and _parse_dt(value) is not None)):
            if not MIN_DATETIME.date() <= parsed <= MAX_DATETIME.date():
                return _date_range_error(f, value)
            return parsed.isoformat()
    raise TypeMismatch(f, value)


def _parse_dt(text: str) -> dt.datetime | None:
    t = text.strip()
    if t.endswith(("Z", "z")):
        t = t[:-1] + "+00:00"
    elif re.search(r"[+-]\d{4}$", t):
        t = t[:-2] + ":" + t[-2:]
    try:
        parsed = dt.datetime.fromisoformat(t)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed


def _convert_datetime(f: FieldMeta, value: Any, from_csv: bool) -> Any:
    if isinstance(value, str) and len(value) >= 10:
        parsed = _parse_dt(value) if len(value) > 10 else _parse_dt(value + "T00:00:00Z")
        if parsed is not None:
            if not MIN_DATETIME <= parsed <= MAX_DATETIME:
                return _date_range_error(f, value)
            return format_datetime(parsed)
    raise TypeMismatch(f, value)


_CONVERTERS: dict[str, Callable[[FieldMeta, Any, bool], Any]] = {
    "id": _convert_id,
    "reference": _convert_id,
    "boolean": _convert_bool,
    "int": _convert_int,
    "double": _convert_number,
    "currency": _convert_number,
    "percent": _convert_number,
    "date": _convert_date,
    "datetime": _convert_datetime,
}
