"""Logins, session renewal, API limits and whole-request failures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dbt_sync.destinations.base import DestinationError, Operation, Record, TransientError
from dbt_sync.destinations.salesforce import SalesforceDestination

from .conftest import CONSUMER_SECRET, PASSWORD, TOKEN

Make = Callable[..., SalesforceDestination]


def one(key: str = "E1") -> list[Record]:
    return [Record(key, {"External_Id__c": key, "LastName": "L"})]


def upsert(dest: SalesforceDestination, records: list[Record] | None = None) -> list[Any]:
    return dest.write("Contact", Operation.UPSERT, records or one(), match="External_Id__c", options={})


@pytest.mark.parametrize("flow", ["password", "client_credentials", "jwt"])
def test_expired_session_logs_in_again_once(emu: Any, make_dest: Make, flow: str) -> None:
    dest = make_dest(flow)
    assert upsert(dest, one("E1"))[0].success
    emu.faults.expire_sessions()
    out = upsert(dest, one("E2"))
    assert out[0].success
    assert dest.usage().extra["reauthentications"] == 1
    assert [p for _, p, s in emu.request_log if s == 401]


def test_expired_session_renewed_on_bulk_calls(emu: Any, dest: SalesforceDestination) -> None:
    assert upsert(dest)[0].success
    emu.faults.expire_sessions()
    records = [Record(f"B{i}", {"External_Id__c": f"B{i}", "LastName": "L"}) for i in range(3)]
    out = dest.write("Contact", Operation.UPSERT, records, match="External_Id__c", options={"bulk_threshold": 2})
    assert all(o.success for o in out)
    assert dest.usage().extra["reauthentications"] == 1


def test_session_auth_cannot_renew(emu: Any, make_dest: Make) -> None:
    dest = make_dest("session")
    assert upsert(dest)[0].success
    emu.faults.expire_sessions()
    with pytest.raises(DestinationError) as info:
        upsert(dest)
    assert info.value.code == "INVALID_SESSION_ID"


@pytest.mark.parametrize(
    ("flow", "bad"),
    [
        ("password", {"password": "wrong-" + PASSWORD}),
        ("password", {"security_token": "WRONG" + TOKEN}),
        ("client_credentials", {"consumer_secret": "bad-" + CONSUMER_SECRET}),
    ],
)
def test_bad_credentials_fail_without_the_secret(make_dest: Make, flow: str, bad: dict[str, str]) -> None:
    dest = make_dest(flow, **bad)
    with pytest.raises(DestinationError) as info:
        upsert(dest)
    assert info.value.code == "AUTHENTICATION_FAILED"
    secret = next(iter(bad.values()))
    assert secret not in str(info.value) and secret not in repr(info.value)
    assert secret in dest._client.secrets()
    assert info.value.__cause__ is None


def test_daily_limit_stops_the_sync(emu: Any, dest: SalesforceDestination) -> None:
    emu.faults.daily_limit_exceeded = True
    with pytest.raises(DestinationError) as info:
        upsert(dest)
    assert info.value.code == "DAILY_LIMIT_EXCEEDED"
    assert not isinstance(info.value, TransientError)
    assert dest.usage().rate_limited == 1


def test_concurrent_limit_is_transient(emu: Any, dest: SalesforceDestination) -> None:
    assert upsert(dest)[0].success  # log in first
    emu.faults.concurrent_limit = 0
    with pytest.raises(TransientError) as info:
        upsert(dest)
    assert info.value.code == "REQUEST_LIMIT_EXCEEDED"


def test_server_errors_timeouts_and_drops_are_transient(emu: Any, make_dest: Make) -> None:
    dest = make_dest("password", timeout=0.5)
    assert upsert(dest)[0].success
    emu.faults.fail_next(1, status=503, path_contains="composite")
    with pytest.raises(TransientError):
        upsert(dest)
    emu.faults.timeout_next(1, seconds=1.5, path_contains="composite")
    with pytest.raises(TransientError) as info:
        upsert(dest)
    assert info.value.code == "TIMEOUT"
    emu.faults.drop_next(1, path_contains="composite")
    with pytest.raises(TransientError):
        upsert(dest)
    assert upsert(dest)[0].success


def test_one_row_lock_is_a_retryable_record(emu: Any, dest: SalesforceDestination) -> None:
    emu.faults.row_lock_next(1)
    out = dest.write("Contact", Operation.UPSERT, one("W1") + one("W2"), match="External_Id__c", options={})
    locked = [o for o in out if not o.success]
    assert len(locked) == 1 and locked[0].error_code == "UNABLE_TO_LOCK_ROW" and locked[0].retryable


def test_a_batch_of_row_locks_asks_to_shrink(emu: Any, dest: SalesforceDestination) -> None:
    emu.faults.row_lock_next(3)
    with pytest.raises(TransientError) as info:
        dest.write("Contact", Operation.UPSERT, one("X1") + one("X2") + one("X3"), match="External_Id__c", options={})
    assert info.value.shrink and info.value.code == "UNABLE_TO_LOCK_ROW"


def test_unknown_object_is_a_destination_error(dest: SalesforceDestination) -> None:
    with pytest.raises(DestinationError) as info:
        dest.write("Nope__c", Operation.UPSERT, one(), match="External_Id__c", options={})
    assert info.value.code == "NOT_FOUND"


def test_secrets_never_in_outcomes_or_errors(emu: Any, dest: SalesforceDestination) -> None:
    out = upsert(dest, [Record("S1", {"External_Id__c": "S1", "LastName": None})])
    token = dest._client.secrets()[-1]
    assert token not in (PASSWORD, TOKEN)  # the live access token is listed too
    for text in (repr(out), repr(dest), repr(dest.usage())):
        for secret in dest._client.secrets():
            assert secret not in text
