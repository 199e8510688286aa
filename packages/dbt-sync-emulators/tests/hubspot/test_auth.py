"""Bearer tokens, 401 bodies and the OAuth refresh-token flow."""

from __future__ import annotations

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts.exceptions import UnauthorizedException

from dbt_sync_emulators.hubspot import HubSpotEmulator

from .conftest import body_of


def read_contacts(client: HubSpot) -> object:
    return client.crm.contacts.basic_api.get_page(limit=1)


def test_unknown_token_is_401_invalid_authentication(emu: HubSpotEmulator) -> None:
    with pytest.raises(UnauthorizedException) as err:
        read_contacts(HubSpot(access_token="pat-na1-wrong", host=emu.url))
    assert body_of(err.value)["category"] == "INVALID_AUTHENTICATION"
    assert emu.stats.count(401) == 1


def test_added_token_is_accepted(emu: HubSpotEmulator) -> None:
    emu.add_token("pat-na1-second")
    assert read_contacts(HubSpot(access_token="pat-na1-second", host=emu.url)) is not None


def test_oauth_refresh_then_expiry(emu: HubSpotEmulator) -> None:
    emu.add_oauth_app("cid", "secret", "refresh-1")
    anon = HubSpot(host=emu.url)
    token = anon.oauth.tokens_api.create(
        grant_type="refresh_token", client_id="cid", client_secret="secret", refresh_token="refresh-1"
    )
    assert token.expires_in == 1800 and token.refresh_token == "refresh-1" and token.token_type == "bearer"
    oauth_client = HubSpot(access_token=token.access_token, host=emu.url)
    assert read_contacts(oauth_client) is not None
    emu.expire_access_tokens(seconds_ago=7)
    with pytest.raises(UnauthorizedException) as err:
        read_contacts(oauth_client)
    body = body_of(err.value)
    assert body["category"] == "EXPIRED_AUTHENTICATION"
    assert body["message"] == "The OAuth token used to make this call expired 7 second(s) ago."


def test_oauth_bad_refresh_token_is_400(emu: HubSpotEmulator) -> None:
    from hubspot.oauth.exceptions import ApiException

    emu.add_oauth_app("cid", "secret", "refresh-1")
    with pytest.raises(ApiException) as err:
        HubSpot(host=emu.url).oauth.tokens_api.create(
            grant_type="refresh_token", client_id="cid", client_secret="secret", refresh_token="other"
        )
    assert err.value.status == 400 and body_of(err.value)["status"] == "BAD_REFRESH_TOKEN"


def test_request_log_never_holds_credentials(client: HubSpot, emu: HubSpotEmulator) -> None:
    read_contacts(client)
    assert emu.request_log == [("GET", "/crm/v3/objects/contacts", 200)]
    assert emu.token not in repr(emu.request_log)
