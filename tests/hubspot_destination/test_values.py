"""Pure value conversion: warehouse Python values → HubSpot strings."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbt_sync.destinations.hubspot.values import OMIT, ValueProblem, convert_properties, epoch_ms, to_wire

UTC = dt.timezone.utc


@pytest.mark.parametrize(
    ("value", "prop_type", "expected"),
    [
        (True, "bool", "true"),
        (False, "enumeration", "false"),
        (42, "number", "42"),
        (Decimal("1.10"), "number", "1.10"),
        (Decimal("1E+3"), "number", "1000"),
        (Decimal("0.000001"), "number", "0.000001"),
        (0.1, "number", "0.1"),
        (1e-7, "number", "0.0000001"),
        (dt.date(2024, 2, 29), "date", "2024-02-29"),
        (dt.datetime(2024, 2, 29, 23, 0, tzinfo=dt.timezone(dt.timedelta(hours=-3))), "date", "2024-03-01"),
        (dt.datetime(2024, 2, 29, 23, 0), "date", "2024-02-29"),  # naive = UTC
        (dt.date(1970, 1, 2), "datetime", "86400000"),
        (dt.datetime(1970, 1, 1, 0, 0, 1, 500000), "datetime", "1500"),
        (dt.datetime(2024, 1, 1, 12, tzinfo=UTC), "string", "2024-01-01T12:00:00Z"),
        (["a", "b", "c"], "enumeration", "a;b;c"),
        (("x",), "enumeration", "x"),
        ("Zoë 山田", "string", "Zoë 山田"),
        # DuckDB's uuid column arrives as uuid.UUID, PostgreSQL's as text: the same text is sent
        (uuid.UUID("6f9619ff-8b86-d011-b42d-00cf4fc964ff"), "string", "6f9619ff-8b86-d011-b42d-00cf4fc964ff"),
    ],
)
def test_to_wire(value, prop_type, expected) -> None:
    assert to_wire(value, prop_type, clearing=False) == expected


def test_none_is_omitted_on_create_and_cleared_on_update() -> None:
    assert to_wire(None, "string", clearing=False) is OMIT
    assert to_wire(None, "string", clearing=True) == ""


def test_email_is_lower_cased() -> None:
    assert to_wire("  Ada@Example.COM ", "string", clearing=False, is_email=True) == "ada@example.com"


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), Decimal("NaN"), {"a": 1}, object()])
def test_unconvertible_values_raise(bad) -> None:
    with pytest.raises(ValueProblem):
        to_wire(bad, "number", clearing=False)


def test_convert_properties_collects_problems_per_field() -> None:
    props, problems = convert_properties(
        {"a": float("nan"), "b": None, "email": "X@Y.Z", "d": dt.date(2020, 1, 1)},
        {"d": "date"},
        clearing=False,
        email_property="email",
    )
    assert props == {"email": "x@y.z", "d": "2020-01-01"}
    assert list(problems) == ["a"]


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_decimals_round_trip_exactly(value: Decimal) -> None:
    text = to_wire(value, "number", clearing=False)
    assert "E" not in text and "e" not in text
    assert Decimal(text) == value


@given(st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(UTC)))
def test_epoch_ms_matches_timestamp(value: dt.datetime) -> None:
    assert abs(epoch_ms(value) - value.timestamp() * 1000) < 1


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 1, 1)))
def test_dates_into_datetime_are_midnight_utc(value: dt.date) -> None:
    ms = int(to_wire(value, "datetime", clearing=False))
    assert ms % 86_400_000 == 0
    assert dt.datetime.fromtimestamp(ms / 1000, UTC).date() == value


def test_multiselect_elements_follow_the_salesforce_rule() -> None:
    assert to_wire(["Alpha", None, "Beta", ""], "enumeration", clearing=True) == "Alpha;Beta"
    with pytest.raises(ValueProblem) as info:
        to_wire(["x;y"], "enumeration", clearing=True)
    assert info.value.code == "INVALID_MULTISELECT_VALUE"
