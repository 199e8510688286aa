"""Fault injection as the real client experiences it."""

from __future__ import annotations

import time

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts.exceptions import ApiException, ServiceException
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from dbt_sync_emulators.hubspot import HubSpotEmulator

from .conftest import body_of

UPSERT = {"inputs": [{"id": "a@x.com", "idProperty": "email", "properties": {"firstname": "A"}}]}


def upsert(client: HubSpot, **kw: object) -> object:
    return client.crm.contacts.batch_api.upsert(batch_input_simple_public_object_batch_input_upsert=UPSERT, **kw)


def test_fail_next_raises_service_exception_then_recovers(client: HubSpot, emu: HubSpotEmulator) -> None:
    emu.faults.fail_next(1, status=500)
    with pytest.raises(ServiceException) as err:
        upsert(client)
    assert err.value.status == 500 and body_of(err.value)["status"] == "error"
    assert emu.records("contacts") == []
    assert upsert(client) is not None
    assert emu.stats.count(500) == 1


def test_gateway_errors_have_html_bodies(client: HubSpot, emu: HubSpotEmulator) -> None:
    emu.faults.fail_next(1, status=502)
    with pytest.raises(ServiceException) as err:
        upsert(client)
    assert err.value.status == 502 and "<html>" in err.value.body


def test_path_contains_targets_matching_requests_only(client: HubSpot, emu: HubSpotEmulator) -> None:
    emu.faults.fail_next(1, status=503, path_contains="/batch/upsert")
    client.crm.contacts.basic_api.get_page()
    with pytest.raises(ServiceException):
        upsert(client)
    assert emu.faults.pending() == 0


def test_timeout_next_hangs_past_the_client_timeout(client: HubSpot, emu: HubSpotEmulator) -> None:
    emu.faults.timeout_next(1, seconds=2.0)
    started = time.monotonic()
    with pytest.raises(ReadTimeoutError):
        upsert(client, _request_timeout=0.3)
    assert time.monotonic() - started < 1.5
    assert upsert(client, _request_timeout=2) is not None


def test_drop_next_closes_without_response(client: HubSpot, emu: HubSpotEmulator) -> None:
    emu.faults.drop_next(1)
    with pytest.raises(ProtocolError):
        upsert(client)
    assert emu.request_log[-1][2] == 0
    assert upsert(client) is not None


def test_reject_batch_next_is_unattributed_400(client: HubSpot, emu: HubSpotEmulator) -> None:
    emu.faults.reject_batch_next(1)
    with pytest.raises(ApiException) as err:
        upsert(client)
    body = body_of(err.value)
    assert err.value.status == 400 and body["category"] == "VALIDATION_ERROR" and "context" not in body


def test_locked_next_is_423(client: HubSpot, emu: HubSpotEmulator) -> None:
    emu.faults.locked_next(1)
    with pytest.raises(ApiException) as err:
        upsert(client)
    assert err.value.status == 423


def test_rate_limit_next_with_policy_and_retry_after(client: HubSpot, emu: HubSpotEmulator) -> None:
    emu.faults.rate_limit_next(1, policy="SECONDLY", retry_after=3)
    with pytest.raises(ApiException) as err:
        upsert(client)
    assert body_of(err.value)["policyName"] == "SECONDLY"
    assert body_of(err.value)["message"] == "You have reached your secondly limit."
    assert err.value.headers["Retry-After"] == "3"


def test_latency_slows_every_answer(client: HubSpot, emu: HubSpotEmulator) -> None:
    emu.faults.latency = 0.2
    started = time.monotonic()
    upsert(client)
    assert time.monotonic() - started >= 0.2


def test_reset_clears_state_and_faults(client: HubSpot, emu: HubSpotEmulator) -> None:
    upsert(client)
    emu.faults.fail_next(3)
    emu.reset()
    assert emu.records("contacts") == [] and emu.request_log == [] and emu.faults.pending() == 0
    assert upsert(client) is not None


def test_dropped_get_is_retried_by_urllib3_default_retry(client: HubSpot, emu: HubSpotEmulator) -> None:
    emu.faults.drop_next(1)
    assert client.crm.contacts.basic_api.get_page() is not None
    assert [s for _, _, s in emu.request_log] == [0, 200]
