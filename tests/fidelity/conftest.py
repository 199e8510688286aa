"""Both emulators with the fidelity test object, and destinations logged in to them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hubspot import HubSpot
from simple_salesforce import Salesforce

from dbt_sync.destinations.hubspot import HubSpotDestination
from dbt_sync.destinations.salesforce import SalesforceDestination
from dbt_sync_emulators.hubspot import HubSpotEmulator
from dbt_sync_emulators.salesforce import SalesforceEmulator

from .support import define_hubspot, define_salesforce, salesforce_client

USER, PASSWORD, TOKEN = "fidelity@example.com", "fid-pass", "FIDTOKEN"


@pytest.fixture(scope="module")
def sf_server() -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator(host="127.0.0.1", port=0) as emu:
        emu.add_user(USER, PASSWORD, security_token=TOKEN)
        define_salesforce(emu)
        yield emu


@pytest.fixture
def sf_emu(sf_server: SalesforceEmulator) -> SalesforceEmulator:
    sf_server.reset()
    return sf_server


@pytest.fixture(scope="module")
def hs_server() -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(host="127.0.0.1", port=0, rate_limit=100_000, rate_interval=10.0) as emu:
        define_hubspot(emu)
        yield emu


@pytest.fixture
def hs_emu(hs_server: HubSpotEmulator) -> HubSpotEmulator:
    hs_server.reset()
    define_hubspot(hs_server)
    return hs_server


def sf_config(emu: SalesforceEmulator) -> dict[str, Any]:
    return {
        "type": "salesforce",
        "login_url": emu.instance_url,
        "ca_bundle": str(emu.ca_cert_path),
        "timeout": 30,
        "auth": "password",
        "username": USER,
        "password": PASSWORD,
        "security_token": TOKEN,
    }


@pytest.fixture(scope="module")
def sf_dest(sf_server: SalesforceEmulator) -> Iterator[SalesforceDestination]:
    dest = SalesforceDestination("sf_fidelity", sf_config(sf_server))
    yield dest
    dest.close()


@pytest.fixture(scope="module")
def hs_dest(hs_server: HubSpotEmulator) -> Iterator[HubSpotDestination]:
    dest = HubSpotDestination("hs_fidelity", {"type": "hubspot", "access_token": hs_server.token,
                                              "host": hs_server.url, "timeout": 30})
    yield dest
    dest.close()


@pytest.fixture(scope="module")
def sf_client(sf_server: SalesforceEmulator) -> Salesforce:
    return salesforce_client(sf_server)


@pytest.fixture(scope="module")
def hs_client(hs_server: HubSpotEmulator) -> HubSpot:
    return HubSpot(access_token=hs_server.token, host=hs_server.url)
