"""Config validation (no secrets in messages) and error-body parsing."""

from __future__ import annotations

import json

import pytest

from dbt_sync.destinations.base import DestinationError, TransientError
from dbt_sync.destinations.hubspot import HubSpotDestination
from dbt_sync.destinations.hubspot.errors import HttpFailure, error_detail, transient_for

TOKEN = "pat-na1-very-secret-token"


def make(**config):
    return HubSpotDestination("crm", {"type": "hubspot", **config})


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ({"access_token": TOKEN, "acess_token": "x"}, "unknown key 'acess_token'"),
        ({}, "'access_token'"),
        ({"access_token": TOKEN, "client_id": "c"}, "not both"),
        ({"client_id": "c", "client_secret": "s"}, "missing refresh_token"),
        ({"access_token": TOKEN, "tier": "gold"}, "unknown tier 'gold'"),
        ({"access_token": TOKEN, "rate_limit": 0}, "'rate_limit'"),
        ({"access_token": TOKEN, "timeout": "soon"}, "'timeout'"),
        ({"access_token": TOKEN, "host": "api.hubapi.com"}, "'host'"),
        ({"access_token": TOKEN, "ca_bundle": "/nonexistent/ca.pem"}, "'ca_bundle'"),
        ({"access_token": 123}, "'access_token'"),
    ],
)
def test_bad_config_names_destination_and_key(config, needle) -> None:
    with pytest.raises(DestinationError) as info:
        make(**config)
    message = str(info.value)
    assert info.value.code == "CONFIG_ERROR"
    assert "'crm'" in message and needle in message
    assert TOKEN not in message


def test_tiers_and_explicit_rate_limit() -> None:
    assert make(access_token=TOKEN).rate_limit == 100
    assert make(access_token=TOKEN, tier="professional").rate_limit == 190
    assert make(access_token=TOKEN, tier="enterprise").rate_limit == 190
    assert make(access_token=TOKEN, tier="api_add_on").rate_limit == 250
    assert make(access_token=TOKEN, tier="starter", rate_limit=42).rate_limit == 42
    assert make(access_token=TOKEN).rate_interval == 10.0


def test_secrets_listed_and_hidden_from_repr() -> None:
    dest = make(client_id="cid", client_secret="shh-secret", refresh_token="rt-secret")
    assert set(dest._transport.secrets()) == {"shh-secret", "rt-secret"}
    assert "shh-secret" not in repr(dest.config) and "rt-secret" not in repr(dest)


def test_inner_validation_list_is_parsed() -> None:
    inner = [
        {"isValid": False, "message": "Email address bad is invalid", "error": "INVALID_EMAIL", "name": "email"},
        {"isValid": False, "message": "x was not one of the allowed options", "error": "INVALID_OPTION",
         "name": "lifecyclestage"},
    ]
    detail = error_detail(
        {"status": "error", "category": "VALIDATION_ERROR",
         "message": "Property values were not valid: " + json.dumps(inner)}
    )
    assert detail.code == "INVALID_EMAIL"
    assert detail.fields == ["email", "lifecyclestage"]
    assert "Email address bad is invalid" in detail.message and detail.category == "VALIDATION_ERROR"


def test_conflict_and_plain_errors() -> None:
    detail = error_detail({"category": "CONFLICT", "message": "Contact already exists. Existing ID: 3401"})
    assert detail.code == "CONFLICT" and detail.existing_id == "3401"
    assert error_detail({"category": "OBJECT_NOT_FOUND", "message": "nope"}).code == "OBJECT_NOT_FOUND"
    assert error_detail({"message": "Property values were not valid: [broken"}).code == "ERROR"


def test_rate_limit_policies() -> None:
    ten = transient_for(HttpFailure(429, {"policyName": "TEN_SECONDLY_ROLLING"}, {}), 6.5)
    assert isinstance(ten, TransientError) and ten.retry_after == 6.5
    hinted = transient_for(HttpFailure(429, {"policyName": "SECONDLY"}, {"Retry-After": "4"}), 6.5)
    assert isinstance(hinted, TransientError) and hinted.retry_after == 4.0
    daily = transient_for(HttpFailure(429, {"policyName": "DAILY"}, {}), None)
    assert isinstance(daily, DestinationError) and daily.code == "DAILY_LIMIT_EXCEEDED"
