"""Whole-request trouble: rate limits, 5xx, timeouts, drops, auth; never record failures."""

from __future__ import annotations

import pytest

from dbt_sync.destinations.base import DestinationError, Operation, Record, TransientError
from dbt_sync.destinations.hubspot import HubSpotDestination
from dbt_sync.engine.retry import RetryPolicy, call_with_retries
from dbt_sync_emulators.hubspot import HubSpotEmulator

FAST = RetryPolicy(max_attempts=10, base_delay=0.01, max_delay=0.05, budget_seconds=5)


def upsert(dest: HubSpotDestination, n: int = 3, prefix: str = "t"):
    records = [Record(f"{prefix}{i}", {"email": f"{prefix}{i}@example.com"}) for i in range(n)]
    return dest.write("contacts", Operation.UPSERT, records, match="email", options={})


def test_429_with_retry_after_is_transient(dest: HubSpotDestination, emu: HubSpotEmulator) -> None:
    dest.write("contacts", Operation.UPSERT, [], match="email", options={})  # loads properties
    emu.faults.rate_limit_next(1, retry_after=3, path_contains="/batch/")
    with pytest.raises(TransientError) as info:
        upsert(dest)
    assert info.value.code == "RATE_LIMITED" and info.value.retry_after == 3
    assert dest.usage().rate_limited == 1 and dest.rate_limit_info()["rate_limited"] == 1


def test_429_without_retry_after_uses_the_policy(dest: HubSpotDestination, emu: HubSpotEmulator) -> None:
    dest.write("contacts", Operation.UPSERT, [], match="email", options={})
    emu.faults.rate_limit_next(1, policy="SECONDLY", path_contains="/batch/")
    with pytest.raises(TransientError) as info:
        upsert(dest)
    assert info.value.retry_after == 1.0
    emu.faults.rate_limit_next(1, policy="TEN_SECONDLY_ROLLING", path_contains="/batch/")
    with pytest.raises(TransientError) as info:
        upsert(dest)
    assert info.value.retry_after is not None and 1.0 <= info.value.retry_after <= 10.0


def test_daily_limit_stops_the_sync(dest: HubSpotDestination, emu: HubSpotEmulator) -> None:
    emu.faults.rate_limit_next(1, policy="DAILY")
    with pytest.raises(DestinationError) as info:
        upsert(dest)
    assert info.value.code == "DAILY_LIMIT_EXCEEDED"
    assert not isinstance(info.value, TransientError)


def test_429_storm_with_engine_retries_ends_with_no_failed_record(
    dest: HubSpotDestination, emu: HubSpotEmulator
) -> None:
    dest.write("contacts", Operation.UPSERT, [], match="email", options={})
    emu.faults.rate_limit_next(4, retry_after=0, path_contains="/batch/")
    retries: list[str] = []
    out = call_with_retries(lambda: upsert(dest, 5), FAST, on_retry=lambda e, a, w: retries.append(e.code))
    assert retries == ["RATE_LIMITED"] * 4
    assert len(out) == 5 and all(o.success for o in out)
    assert len(emu.records("contacts")) == 5
    assert emu.stats.rate_limited == 4 and dest.usage().rate_limited == 4


def test_real_limiter_429s_are_transient_and_headers_are_read(
    dest: HubSpotDestination, emu: HubSpotEmulator
) -> None:
    emu.set_rate_limit(3, 10.0)
    upsert(dest, 1, "a")  # properties + upsert: two requests
    info = dest.rate_limit_info()
    assert info["max"] == 3 and info["interval_ms"] == 10000 and info["remaining"] == 1
    # a private-app token: the daily allowance is on every answer, and the destination reports it
    assert info["daily"] == 650000 and info["daily_remaining"] == 650000 - emu.stats.requests
    assert dest.usage().extra["rate_limit_daily_remaining"] == info["daily_remaining"]
    upsert(dest, 1, "b")
    with pytest.raises(TransientError) as caught:
        upsert(dest, 1, "c")
    assert caught.value.code == "RATE_LIMITED" and caught.value.retry_after is not None
    usage = dest.usage()
    assert usage.limit_max == 3 and usage.rate_limited == 1 and usage.requests == 4


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(dest: HubSpotDestination, emu: HubSpotEmulator, status: int) -> None:
    dest.write("contacts", Operation.UPSERT, [], match="email", options={})
    emu.faults.fail_next(1, status=status, path_contains="/batch/")
    with pytest.raises(TransientError) as info:
        upsert(dest)
    assert info.value.code == f"HTTP_{status}"
    assert len(upsert(dest)) == 3  # next call goes through


def test_locked_is_transient_with_a_hint(dest: HubSpotDestination, emu: HubSpotEmulator) -> None:
    dest.write("contacts", Operation.UPSERT, [], match="email", options={})
    emu.faults.locked_next(1, path_contains="/batch/")
    with pytest.raises(TransientError) as info:
        upsert(dest)
    assert info.value.code == "HTTP_423" and info.value.retry_after is not None


def test_timeout_and_dropped_connection_are_transient(make_destination, emu: HubSpotEmulator) -> None:
    dest = make_destination(timeout=0.5)
    dest.write("contacts", Operation.UPSERT, [], match="email", options={})
    emu.faults.timeout_next(1, seconds=2.0, path_contains="/batch/")
    with pytest.raises(TransientError) as info:
        upsert(dest)
    assert info.value.code == "TIMEOUT"
    emu.faults.drop_next(1, path_contains="/batch/")
    with pytest.raises(TransientError) as info:
        upsert(dest)
    assert info.value.code == "CONNECTION_ERROR"
    out = call_with_retries(lambda: upsert(dest), FAST)
    assert all(o.success for o in out)


def test_nothing_listening_is_transient(make_destination) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dest = make_destination(host=f"http://127.0.0.1:{port}")
    with pytest.raises(TransientError):
        upsert(dest)


def test_bad_token_is_fatal_and_secret_free(make_destination, emu: HubSpotEmulator) -> None:
    secret = "pat-na1-00000000-secret-token"
    dest = make_destination(access_token=secret)
    with pytest.raises(DestinationError) as info:
        upsert(dest)
    assert info.value.code == "AUTHENTICATION_FAILED"
    assert secret not in str(info.value) and secret not in repr(info.value.__cause__)
    assert secret in dest._transport.secrets()
    assert secret not in repr(dest) and secret not in repr(dest.config)


def test_unknown_object_type_is_fatal(dest: HubSpotDestination) -> None:
    with pytest.raises(DestinationError) as info:
        dest.write("p_nothing_here", Operation.UPSERT, [Record("1", {"x": "y"})], match="x", options={})
    assert info.value.code == "UNKNOWN_OBJECT_TYPE"


def test_oauth_refreshes_on_start_and_on_expiry(make_destination, emu: HubSpotEmulator) -> None:
    emu.add_oauth_app("client-1", "client-secret-xyz", "refresh-secret-abc")
    dest = make_destination(
        access_token=None, client_id="client-1", client_secret="client-secret-xyz", refresh_token="refresh-secret-abc"
    )
    assert all(o.success for o in upsert(dest, 2, "o"))
    assert dest.usage().extra["oauth_refreshes"] == 1
    emu.expire_access_tokens()
    assert all(o.success for o in upsert(dest, 2, "p"))
    assert dest.usage().extra["oauth_refreshes"] == 2
    statuses = [s for _, p, s in emu.request_log if "/batch/upsert" in p]
    assert statuses == [200, 401, 200]  # refreshed once, then the same request again
    secrets = dest._transport.secrets()
    assert "client-secret-xyz" in secrets and "refresh-secret-abc" in secrets
    assert any(s.startswith("emu-oauth-") for s in secrets)  # issued access tokens too


def test_oauth_bad_refresh_token_is_fatal_without_leaking(make_destination, emu: HubSpotEmulator) -> None:
    emu.add_oauth_app("client-1", "client-secret-xyz", "refresh-secret-abc")
    dest = make_destination(
        access_token=None, client_id="client-1", client_secret="client-secret-xyz", refresh_token="wrong-refresh"
    )
    with pytest.raises(DestinationError) as info:
        upsert(dest)
    assert info.value.code == "OAUTH_REFRESH_FAILED"
    for secret in dest._transport.secrets():
        assert secret not in str(info.value)


def test_429_wait_comes_from_the_accounts_one_window(dest: HubSpotDestination, emu: HubSpotEmulator) -> None:
    """A rolling 429 without Retry-After waits for the engine limiter's oldest request to leave its window.

    The transport keeps no window of its own: the pacer's is the account's one count of requests.
    """
    from dbt_sync.engine.pacing import paced

    paced(dest)
    assert dest.pacer is not None
    dest.write("contacts", Operation.UPSERT, [], match="email", options={})
    upsert(dest)  # one request in the window a moment ago
    emu.faults.rate_limit_next(1, policy="TEN_SECONDLY_ROLLING", path_contains="/batch/")
    with pytest.raises(TransientError) as info:
        upsert(dest)
    window = dest.pacer.window_remainder(10.0)
    assert window is None  # the 429 paused the limiter and emptied its window estimate
    assert info.value.retry_after is not None and 1.0 <= info.value.retry_after < 10.0


def test_rate_limiter_window_remainder() -> None:
    from dbt_sync.engine.ratelimit import Limits, RateLimiter

    now = [100.0]
    limiter = RateLimiter(Limits(requests=100, per_seconds=10.0), clock=lambda: now[0], sleep=lambda s: None)
    assert limiter.window_remainder() is None
    limiter.acquire()
    now[0] += 4.0
    limiter.acquire()
    assert limiter.window_remainder() == pytest.approx(6.0)
    now[0] += 7.0  # the first left the window; the second has 3 s to go
    assert limiter.window_remainder() == pytest.approx(3.0)
    assert limiter.window_remainder(2.0) is None
