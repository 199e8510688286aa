"""Warehouse values to Salesforce JSON and Bulk CSV, without a server."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbt_sync.column_types import column_family
from dbt_sync.destinations.salesforce.bulk import parse_sf_error
from dbt_sync.destinations.salesforce.resolve import soql_literal
from dbt_sync.destinations.salesforce.values import ValueConversionError, dumps, to_csv, to_wire


def test_decimal_is_sent_digit_for_digit() -> None:
    text = dumps({"Amount": to_wire("Amount", Decimal("12345678901234567.89"))})
    assert text == '{"Amount":12345678901234567.89}'
    # a float would have rounded it
    assert json.loads(text, parse_float=Decimal)["Amount"] == Decimal("12345678901234567.89")


def test_decimal_exponent_is_written_positionally() -> None:
    assert dumps(to_wire("X", Decimal("1E+3"))) == "1000"
    assert dumps(to_wire("X", Decimal("-0.000001"))) == "-0.000001"
    assert to_csv("X", Decimal("12345678901234567.89")) == "12345678901234567.89"


def test_datetimes_become_utc_with_milliseconds() -> None:
    naive = dt.datetime(2024, 1, 2, 3, 4, 5, 678901)
    assert to_wire("D", naive) == "2024-01-02T03:04:05.678Z"
    aware = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert to_wire("D", aware) == "2024-01-02T08:04:05.000Z"
    assert to_wire("D", dt.date(2024, 2, 29)) == "2024-02-29"


def test_time_with_a_zone_becomes_utc() -> None:
    """A ``timetz`` value keeps its instant: 10:00+02:00 is 08:00Z (the offset used to be dropped)."""
    plus_two = dt.timezone(dt.timedelta(hours=2))
    assert to_wire("T", dt.time(10, 0, 0, 123456, tzinfo=plus_two)) == "08:00:00.123Z"
    assert to_wire("T", dt.time(1, 30, tzinfo=plus_two)) == "23:30:00.000Z"
    assert to_wire("T", dt.time(23, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))) == "04:00:00.000Z"
    assert to_wire("T", dt.time(10, 0)) == "10:00:00.000Z"  # naive = UTC
    assert to_csv("T", dt.time(10, 0, tzinfo=plus_two)) == "08:00:00.000Z"


def test_years_before_1000_keep_four_digits() -> None:
    """ISO 8601 needs four year digits; strftime's %Y writes ``999``."""
    assert to_wire("D", dt.datetime(999, 1, 2, 3, 4, 5)) == "0999-01-02T03:04:05.000Z"
    assert to_wire("D", dt.date(999, 1, 2)) == "0999-01-02"
    with pytest.raises(ValueConversionError):  # 0001-01-01T00:00+05:00 is before year 1 in UTC
        to_wire("D", dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5))))


def test_uuid_is_sent_as_its_text() -> None:
    """DuckDB hands a ``uuid`` column over as ``uuid.UUID`` (PostgreSQL's driver as text): same text either way."""
    value = uuid.UUID("6f9619ff-8b86-d011-b42d-00cf4fc964ff")
    assert to_wire("X", value) == "6f9619ff-8b86-d011-b42d-00cf4fc964ff"
    assert to_csv("X", value) == "6f9619ff-8b86-d011-b42d-00cf4fc964ff"
    assert to_wire("X", [value]) == "6f9619ff-8b86-d011-b42d-00cf4fc964ff"


def test_scalars_unicode_and_null() -> None:
    body = dumps({"a": None, "b": True, "c": 'Zoë 日本 "q"', "d": 3, "e": 1.5})
    assert json.loads(body) == {"a": None, "b": True, "c": 'Zoë 日本 "q"', "d": 3, "e": 1.5}
    assert "Zoë" in body  # sent as UTF-8, not escaped


def test_csv_cells() -> None:
    assert to_csv("X", None) == "#N/A"
    assert to_csv("X", "") == "#N/A"  # an empty cell would mean "leave unchanged"
    assert to_csv("X", True) == "true"
    assert to_csv("X", False) == "false"
    assert to_csv("X", dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)) == "2024-05-06T07:08:09.000Z"
    assert to_csv("X", ["a", "b"]) == "a;b"


@pytest.mark.parametrize("value", [float("nan"), Decimal("Infinity"), b"bytes", object()])
def test_unsendable_values_name_the_field(value: object) -> None:
    with pytest.raises(ValueConversionError) as info:
        to_wire("Score__c", value)
    assert info.value.field == "Score__c"


def test_bulk_error_column_is_split() -> None:
    assert parse_sf_error("REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --") == (
        "REQUIRED_FIELD_MISSING",
        "Required fields are missing: [LastName]",
        ["LastName"],
    )
    assert parse_sf_error("INVALID_FIELD:Foreign key external ID: A-9 not found:--") == (
        "INVALID_FIELD",
        "Foreign key external ID: A-9 not found",
        [],
    )


def test_soql_literals_escape_quotes() -> None:
    assert soql_literal("O'Brien\\x") == "'O\\'Brien\\\\x'"
    assert soql_literal(42) == "42"


@pytest.mark.parametrize(
    ("column_type", "family"),
    [
        ("varchar(255)", "text"),
        ("character varying", "text"),
        ("integer", "integer"),
        ("bigint", "integer"),
        ("numeric(18,2)", "decimal"),
        ("double precision", "float"),
        ("boolean", "boolean"),
        ("date", "date"),
        ("timestamp", "timestamp"),
        ("timestamp with time zone", "timestamp"),
        ("time", "time"),
        ("time with time zone", "time"),
        ("timestamp_ntz", "timestamp"),
        ("integer[]", "array"),
        ("_int4", "array"),
        ("money", "decimal"),
        ("int unsigned", "integer"),
        ("float8", "float"),
        (None, None),
        ("geography", None),
    ],
)
def test_column_families(column_type: str | None, family: str | None) -> None:
    assert column_family(column_type) == family


def test_csv_quotes_every_field_that_needs_it() -> None:
    from dbt_sync.destinations.salesforce.values import csv_text

    cells = ["Alpha\rBeta", "a\nb", "a\r\nb", 'say "hi"', "a,b", " lead", "trail\t", "#N/A", "", "plain"]
    text = csv_text([cells])
    assert text == (
        '"Alpha\rBeta","a\nb","a\r\nb","say ""hi""","a,b"," lead","trail\t",#N/A,,plain\n'
    )
    import csv
    import io

    assert next(csv.reader(io.StringIO(text, newline=""))) == cells


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=8), min_size=1, max_size=5),
                min_size=1, max_size=4))
def test_csv_any_cells_read_back_as_written(rows: list[list[str]]) -> None:
    """Whatever the cells hold, an RFC 4180 reader gets them back, and a cell with white space at either end
    (which a reader may trim) or any delimiter, quote, CR or LF is quoted."""
    import csv
    import io

    from dbt_sync.destinations.salesforce.values import csv_text

    text = csv_text(rows)
    assert list(csv.reader(io.StringIO(text, newline=""))) == [r if r != [""] else [] for r in rows]

    def field(cell: str) -> str:
        needs = bool(cell) and (any(c in cell for c in ',"\r\n') or cell[0].isspace() or cell[-1].isspace())
        return '"' + cell.replace('"', '""') + '"' if needs else cell

    assert text == "".join(",".join(field(c) for c in row) + "\n" for row in rows)


def test_empty_string_is_null_and_floats_are_exact() -> None:
    assert to_wire("X", "") is None
    assert to_csv("X", "") == "#N/A"
    assert dumps(to_wire("X", 0.1)) == "0.1"
    assert to_csv("X", 1e16) == "10000000000000000"


def test_multiselect_drops_null_and_empty_elements() -> None:
    assert to_wire("Tags__c", ["Alpha", None, "Beta", ""]) == "Alpha;Beta"
    assert to_wire("Tags__c", [None, ""]) is None
    assert to_wire("Tags__c", [1, Decimal("2.50"), True]) == "1;2.50;true"
    with pytest.raises(ValueConversionError) as info:
        to_wire("Tags__c", ["x;y"])
    assert info.value.code == "INVALID_MULTISELECT_VALUE" and info.value.field == "Tags__c"


@pytest.mark.parametrize(("value", "marker"), [("#N/A", True), (" #n/a ", True), ("#N/A!", False), (None, False)])
def test_bulk_null_marker(value: object, marker: bool) -> None:
    from dbt_sync.destinations.salesforce.values import is_null_marker

    assert is_null_marker(value) is marker


def _double_exact_slow(value: object) -> bool:
    """double_exact without its fast paths: the nearest double, printed shortest, is numerically the value."""
    from dbt_sync.destinations.salesforce import values

    number = values._as_decimal(value)  # type: ignore[arg-type]
    return not number.is_finite() or values._nearest_double(number) == number


@given(st.one_of(
    st.integers(min_value=-(2**60), max_value=2**60),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.builds(lambda digits, exp: Decimal(f"{digits}E{exp}"), st.integers(-(10**17), 10**17),
              st.integers(-330, 330)),
))
def test_double_exact_fast_paths_agree_with_the_full_check(value: object) -> None:
    from dbt_sync.destinations.salesforce.values import double_exact

    assert double_exact(value) == _double_exact_slow(value), value


@given(st.one_of(st.none(), st.text(), st.booleans(), st.integers(), st.decimals(allow_nan=False, allow_infinity=False),
                 st.floats(allow_nan=False, allow_infinity=False), st.dates(), st.datetimes()))
def test_a_wire_value_becomes_the_same_csv_cell_as_the_value(value: object) -> None:
    from dbt_sync.destinations.salesforce.values import wire_to_csv

    assert wire_to_csv(to_wire("X", value)) == to_csv("X", value)
