"""One HubSpot emulator per test module, reset between tests, and a destination on it.

The destination talks to the emulator with the real hubspot-api-client over
loopback HTTP; nothing under test is mocked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dbt_sync.destinations.hubspot import HubSpotDestination
from dbt_sync_emulators.hubspot import HubSpotEmulator


@pytest.fixture(scope="module")
def emulator_server() -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(host="127.0.0.1", port=0) as emu:
        yield emu


@pytest.fixture
def emu(emulator_server: HubSpotEmulator) -> HubSpotEmulator:
    emulator_server.reset()
    emulator_server.set_rate_limit(1000, 10.0)
    return emulator_server


@pytest.fixture
def make_destination(emu: HubSpotEmulator) -> Iterator[Callable[..., HubSpotDestination]]:
    made: list[HubSpotDestination] = []

    def make(**overrides: Any) -> HubSpotDestination:
        config: dict[str, Any] = {"type": "hubspot", "access_token": emu.token, "host": emu.url, "timeout": 5}
        config.update(overrides)
        config = {k: v for k, v in config.items() if v is not None}
        dest = HubSpotDestination("hubspot_test", config)
        made.append(dest)
        return dest

    yield make
    for dest in made:
        dest.close()


@pytest.fixture
def dest(make_destination: Callable[..., HubSpotDestination]) -> HubSpotDestination:
    return make_destination()
