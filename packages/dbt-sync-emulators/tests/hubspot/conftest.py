"""Fixtures: a fresh emulator per test and a real hubspot-api-client pointed at it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hubspot import HubSpot

from dbt_sync_emulators.hubspot import HubSpotEmulator

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A hung request must fail its test quickly, not stall the suite."""
    for item in items:
        if HERE in Path(item.fspath).parents and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(30))


@pytest.fixture
def emu() -> Iterator[HubSpotEmulator]:
    # A generous limit so only the rate-limit tests ever see a 429.
    with HubSpotEmulator(rate_limit=10_000, rate_interval=10.0) as e:
        yield e


@pytest.fixture
def client(emu: HubSpotEmulator) -> HubSpot:
    return HubSpot(access_token=emu.token, host=emu.url)


def body_of(exc: Any) -> dict[str, Any]:
    """ApiException.body is a str; every HubSpot error body is JSON."""
    return json.loads(exc.body)


def embedded_issues(message: str) -> list[dict[str, Any]]:
    """Parse the JSON list HubSpot embeds in ``Property values were not valid: [...]``."""
    prefix = "Property values were not valid: "
    assert message.startswith(prefix), message
    return json.loads(message[len(prefix) :])
