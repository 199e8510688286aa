"""The destination registry: every ``type`` opens its class, states its capabilities, and unknown types fail clearly."""

from __future__ import annotations

import pytest

from dbt_sync.destinations import open_destination
from dbt_sync.destinations.base import (
    DEFAULT_CONCURRENCY,
    Associations,
    Destination,
    DestinationError,
    Lookups,
    RateLimited,
)
from dbt_sync.destinations.registry import DESTINATION_TYPES, destination_type
from dbt_sync.engine.pacing import limits_for, paced
from dbt_sync.engine.ratelimit import Limits, RateLimiter
from dbt_sync.project.config import DestinationConfig
from dbt_sync.project.models import DESTINATION_TYPES as CONFIG_TYPES

SETTINGS = {
    "salesforce": {"type": "salesforce", "auth": "password", "username": "u@example.com", "password": "pw",
                   "security_token": "tok", "domain": "login"},
    "hubspot": {"type": "hubspot", "access_token": "pat-na1-00000000-0000-0000-0000-000000000000"},
}


def test_every_type_the_config_accepts_is_registered() -> None:
    assert set(CONFIG_TYPES) == set(DESTINATION_TYPES) == set(SETTINGS)


@pytest.mark.parametrize("kind", sorted(SETTINGS))
def test_each_type_opens_its_class_with_the_capabilities_the_engine_uses(kind: str) -> None:
    dest = open_destination(DestinationConfig(name="crm", type=kind, settings=SETTINGS[kind]))
    try:
        assert isinstance(dest, destination_type(kind).destination_class())
        assert isinstance(dest, Destination) and dest.name == "crm"
        assert isinstance(dest, RateLimited) and isinstance(dest, Lookups)
        assert isinstance(dest, Associations) == (kind == "hubspot")
        limits = limits_for(dest)
        assert limits.concurrency >= 1
        assert (limits.requests is None) == (kind == "salesforce")
        assert paced(dest).pacer is not None
    finally:
        dest.close()


@pytest.mark.parametrize("kind", sorted(SETTINGS))
def test_each_type_brings_its_config_model_and_spec_rules(kind: str) -> None:
    entry = destination_type(kind)
    assert entry.config_model is not None and entry.spec_rules is not None
    entry.config_model.model_validate(SETTINGS[kind])  # a valid entry passes its own model
    assert entry.spec_problems({}, "models/x.yml") == []


def test_unknown_type_names_the_destination_and_the_known_types() -> None:
    with pytest.raises(DestinationError) as err:
        open_destination(DestinationConfig(name="crm", type="pipedrive", settings={}))
    assert err.value.code == "UNKNOWN_DESTINATION_TYPE"
    assert str(err.value) == "destination 'crm': type 'pipedrive' is not supported (salesforce, hubspot)."


def test_one_default_concurrency() -> None:
    """The limiter's default and the default for a destination stating none are one value (was 4 and 8)."""
    assert Limits().concurrency == DEFAULT_CONCURRENCY
    hubspot = open_destination(DestinationConfig(name="hs", type="hubspot", settings=SETTINGS["hubspot"]))
    assert isinstance(hubspot, RateLimited)
    assert limits_for(hubspot).concurrency == DEFAULT_CONCURRENCY


def test_a_destination_without_rate_limits_gets_no_pacer() -> None:
    class Plain:
        name = "plain"
        pacer = None

    dest = Plain()
    assert paced(dest) is dest and dest.pacer is None  # type: ignore[comparison-overlap]
    assert not isinstance(RateLimiter(Limits()), RateLimited)
