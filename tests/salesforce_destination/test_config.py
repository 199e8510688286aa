"""Validating ``dbt_sync.yml`` entries and keeping secrets out of messages."""

from __future__ import annotations

import pytest

from dbt_sync.destinations.base import DestinationError
from dbt_sync.destinations.salesforce import SalesforceDestination


def test_unknown_key_names_destination_key_and_allowed() -> None:
    with pytest.raises(DestinationError) as info:
        SalesforceDestination(
            "sf_prod", {"auth": "session", "session_id": "x", "instance_url": "https://a", "bulk_treshold": 5}
        )
    text = str(info.value)
    assert info.value.code == "INVALID_CONFIG"
    assert "sf_prod" in text and "bulk_treshold" in text and "bulk_threshold" in text


def test_credential_of_another_flow_is_rejected() -> None:
    with pytest.raises(DestinationError, match="another auth flow"):
        SalesforceDestination("sf", {"auth": "password", "username": "u", "password": "p", "consumer_secret": "c"})


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"auth": "oauth"}, "'auth' must be one of"),
        ({"auth": "password", "username": "u"}, "needs a non-empty string 'password'"),
        ({"auth": "client_credentials", "consumer_key": "k", "consumer_secret": "s"}, "My Domain"),
        ({"auth": "jwt", "username": "u", "consumer_key": "k"}, "exactly one of"),
        ({"auth": "session", "session_id": "s", "instance_url": "https://x", "api_version": "v59.0"}, "api_version"),
        ({"auth": "session", "session_id": "s", "instance_url": "https://x", "timeout": "soon"}, "'timeout'"),
        ({"auth": "session", "session_id": "s", "instance_url": "https://x", "type": "hubspot"}, "'type'"),
    ],
)
def test_invalid_entries(config: dict[str, object], fragment: str) -> None:
    with pytest.raises(DestinationError, match=fragment):
        SalesforceDestination("sf", config)


def test_secrets_listed_and_absent_from_repr() -> None:
    dest = SalesforceDestination(
        "sf", {"auth": "password", "username": "ann@example.com", "password": "hunter2-pw", "security_token": "TOK3N"}
    )
    assert set(dest._client.secrets()) == {"hunter2-pw", "TOK3N"}
    for text in (repr(dest), repr(dest.config), str(dest.config)):
        assert "hunter2-pw" not in text and "TOK3N" not in text


def test_max_batch_size_follows_bulk_threshold() -> None:
    dest = SalesforceDestination("sf", {"auth": "session", "session_id": "s", "instance_url": "https://x"})
    from dbt_sync.destinations.base import Operation

    assert dest.max_batch_size(Operation.UPSERT, {}) == 10_000
    assert dest.max_batch_size(Operation.UPSERT, {"bulk_threshold": 50_000}) == 50_001
    assert dest.max_batch_size(Operation.UPSERT, {"bulk_threshold": False}) == 200
    assert dest.max_batch_size(Operation.CREATE, {"all_or_none": True}) == 200
