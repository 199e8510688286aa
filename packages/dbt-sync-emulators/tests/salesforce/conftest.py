"""Fixtures: one emulator per test, and simple-salesforce clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from simple_salesforce import Salesforce

from dbt_sync_emulators.salesforce import SalesforceEmulator

USERNAME = "integration@acme.example"
PASSWORD = "p&ss<word>"
TOKEN = "TOKEN123"


@pytest.fixture
def emu() -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator(api_usage_max=15000) as e:
        e.add_user(USERNAME, PASSWORD, TOKEN)
        yield e


@pytest.fixture
def sf(emu: SalesforceEmulator) -> Salesforce:
    """A direct-session client (no login), like a destination configured with a session id."""
    return Salesforce(session_id=emu.issue_session(), instance_url=emu.instance_url,
                      session=emu.http_session())


@pytest.fixture
def sf_login(emu: SalesforceEmulator) -> Salesforce:
    """A SOAP-password client: it can log in again after a 401."""
    return Salesforce(username=USERNAME, password=PASSWORD, security_token=TOKEN,
                      session=emu.login_session())
