"""Rolling-window and daily limits, 429 bodies/headers, and urllib3 Retry behaviour."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts.exceptions import ApiException
from urllib3 import Retry
from urllib3.exceptions import MaxRetryError

from dbt_sync_emulators.hubspot import HubSpotEmulator

from .conftest import body_of

UPSERT = {"inputs": [{"id": "a@x.com", "idProperty": "email", "properties": {"firstname": "A"}}]}


@pytest.fixture
def tight() -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(rate_limit=5, rate_interval=1.0) as e:
        yield e


def upsert(client: HubSpot) -> object:
    return client.crm.contacts.batch_api.upsert(batch_input_simple_public_object_batch_input_upsert=UPSERT)


def test_rolling_window_429_body_headers_and_recovery(tight: HubSpotEmulator) -> None:
    client = HubSpot(access_token=tight.token, host=tight.url)
    for _ in range(5):
        upsert(client)
    with pytest.raises(ApiException) as err:
        upsert(client)
    e = err.value
    body = body_of(e)
    assert e.status == 429
    assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert body["correlationId"] and body["groupName"]
    assert e.headers["X-HubSpot-RateLimit-Max"] == "5"
    assert e.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert e.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "1000"
    assert e.headers["Retry-After"] == "1"
    assert tight.stats.rate_limited == 1 and tight.stats["requests"] == 6
    time.sleep(1.05)
    _, status, headers = client.crm.contacts.batch_api.upsert_with_http_info(
        batch_input_simple_public_object_batch_input_upsert=UPSERT
    )
    assert status == 200 and headers["X-HubSpot-RateLimit-Remaining"] == "4"


def test_retry_after_can_be_switched_off(tight: HubSpotEmulator) -> None:
    tight.settings.retry_after_on_429 = False
    client = HubSpot(access_token=tight.token, host=tight.url)
    for _ in range(5):
        upsert(client)
    with pytest.raises(ApiException) as err:
        upsert(client)
    assert "Retry-After" not in err.value.headers


def test_daily_cap_headers_and_daily_policy() -> None:
    with HubSpotEmulator(rate_limit=100, rate_interval=10.0, daily_limit=2) as emu:
        client = HubSpot(access_token=emu.token, host=emu.url)
        _, _, headers = client.crm.contacts.basic_api.get_page_with_http_info()
        assert headers["X-HubSpot-RateLimit-Daily"] == "2"
        assert headers["X-HubSpot-RateLimit-Daily-Remaining"] == "1"
        client.crm.contacts.basic_api.get_page()
        with pytest.raises(ApiException) as err:
            client.crm.contacts.basic_api.get_page()
        assert body_of(err.value)["policyName"] == "DAILY"
        assert err.value.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"


def test_daily_headers_on_every_private_app_call_and_none_for_oauth(emu: HubSpotEmulator, client: HubSpot) -> None:
    """HubSpot's usage guidelines: the daily headers are on private-app responses, not on OAuth ones."""
    _, _, headers = client.crm.contacts.basic_api.get_page_with_http_info()
    assert headers["X-HubSpot-RateLimit-Daily"] == "650000"
    used = 650000 - int(headers["X-HubSpot-RateLimit-Daily-Remaining"])
    _, _, again = client.crm.contacts.batch_api.read_with_http_info(
        batch_read_input_simple_public_object_id={"inputs": [], "properties": []})
    assert int(again["X-HubSpot-RateLimit-Daily-Remaining"]) == 650000 - used - 1
    emu.add_oauth_app("cid", "secret", "refresh-1")
    token = HubSpot(host=emu.url).oauth.tokens_api.create(
        grant_type="refresh_token", client_id="cid", client_secret="secret", refresh_token="refresh-1")
    oauth = HubSpot(access_token=token.access_token, host=emu.url)
    _, _, oauth_headers = oauth.crm.contacts.basic_api.get_page_with_http_info()
    assert "X-HubSpot-RateLimit-Max" in oauth_headers
    assert "X-HubSpot-RateLimit-Daily" not in oauth_headers
    assert "X-HubSpot-RateLimit-Daily-Remaining" not in oauth_headers


def test_search_has_its_own_secondly_limit_and_no_headers(emu: HubSpotEmulator, client: HubSpot) -> None:
    emu.seed("contacts", {"email": "s@x.com"})
    search = {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": "S@x.com"}]}]}
    data, _, headers = client.crm.contacts.search_api.do_search_with_http_info(public_object_search_request=search)
    assert data.total == 1 and data.results[0].properties["email"] == "s@x.com"
    assert not any(h.lower().startswith("x-hubspot-ratelimit") for h in headers)
    for _ in range(4):
        client.crm.contacts.search_api.do_search(public_object_search_request=search)
    with pytest.raises(ApiException) as err:
        client.crm.contacts.search_api.do_search(public_object_search_request=search)
    assert body_of(err.value)["policyName"] == "SECONDLY"


def test_readme_retry_does_not_retry_post_batches(emu: HubSpotEmulator) -> None:
    """urllib3's default allowed_methods excludes POST, so a batch 429 surfaces at once."""
    emu.faults.rate_limit_next(1)
    client = HubSpot(access_token=emu.token, host=emu.url, retry=Retry(total=2, status_forcelist=(429,)))
    with pytest.raises(ApiException) as err:
        upsert(client)
    assert err.value.status == 429
    assert emu.stats.requests == 1


def test_retry_with_allowed_methods_none_retries_post(emu: HubSpotEmulator) -> None:
    emu.faults.rate_limit_next(1)
    retry = Retry(total=2, status_forcelist=(429,), allowed_methods=None)
    client = HubSpot(access_token=emu.token, host=emu.url, retry=retry)
    assert upsert(client) is not None
    assert [s for _, _, s in emu.request_log] == [429, 200]


def test_exhausted_retries_raise_max_retry_error(emu: HubSpotEmulator) -> None:
    emu.faults.rate_limit_next(5)
    retry = Retry(total=2, status_forcelist=(429,), allowed_methods=None, raise_on_status=True)
    client = HubSpot(access_token=emu.token, host=emu.url, retry=retry)
    with pytest.raises(MaxRetryError):
        upsert(client)
    assert emu.stats.rate_limited == 3


def test_exhausted_retries_without_raise_on_status_give_api_exception(emu: HubSpotEmulator) -> None:
    emu.faults.rate_limit_next(5, retry_after=0)
    retry = Retry(total=1, status_forcelist=(429,), allowed_methods=None, raise_on_status=False)
    client = HubSpot(access_token=emu.token, host=emu.url, retry=retry)
    with pytest.raises(ApiException) as err:
        upsert(client)
    assert err.value.status == 429 and err.value.headers["Retry-After"] == "0"


def test_default_client_silently_retries_gets_that_carry_retry_after(emu: HubSpotEmulator, client: HubSpot) -> None:
    """urllib3's default Retry(3) honours Retry-After on 429 for idempotent methods."""
    emu.faults.rate_limit_next(2, retry_after=0)
    assert client.crm.contacts.basic_api.get_page() is not None
    assert [s for _, _, s in emu.request_log] == [429, 429, 200]
