"""A running Salesforce emulator and destinations logged in to it over loopback HTTPS."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dbt_sync.destinations.salesforce import SalesforceDestination

USER = "ann@example.com"
PASSWORD = "pa&ss<word-7f3"
TOKEN = "SECTOKEN9x"
CONSUMER_KEY = "3MVG9-consumer-key"
CONSUMER_SECRET = "consumer-secret-91c2"

from dbt_sync_emulators import salesforce as emulator_module  # noqa: E402


@pytest.fixture(scope="session")
def rsa_key() -> tuple[str, str]:
    """(private PEM, public PEM) for the JWT bearer flow."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture
def emu(rsa_key: tuple[str, str]) -> Iterator[Any]:
    with emulator_module.SalesforceEmulator(host="127.0.0.1", port=0) as server:
        server.add_user(USER, PASSWORD, security_token=TOKEN)
        server.add_connected_app(CONSUMER_KEY, consumer_secret=CONSUMER_SECRET, public_key_pem=rsa_key[1])
        yield server


def base_config(emu: Any) -> dict[str, Any]:
    return {"type": "salesforce", "login_url": emu.instance_url, "ca_bundle": str(emu.ca_cert_path), "timeout": 10}


def auth_config(emu: Any, flow: str, rsa_key: tuple[str, str]) -> dict[str, Any]:
    config = base_config(emu)
    if flow == "password":
        config.update(auth="password", username=USER, password=PASSWORD, security_token=TOKEN)
    elif flow == "client_credentials":
        config.update(
            auth="client_credentials", consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET, domain="acme.my"
        )
    elif flow == "jwt":
        config.update(auth="jwt", username=USER, consumer_key=CONSUMER_KEY, private_key=rsa_key[0])
    else:
        config.update(auth="session", session_id=emu.issue_session(), instance_url=emu.instance_url)
    return config


@pytest.fixture
def make_dest(emu: Any, rsa_key: tuple[str, str]) -> Iterator[Callable[..., SalesforceDestination]]:
    made: list[SalesforceDestination] = []

    def make(flow: str = "password", **overrides: Any) -> SalesforceDestination:
        config = auth_config(emu, flow, rsa_key)
        config.update(overrides)
        dest = SalesforceDestination(f"sf_{flow}", config)
        made.append(dest)
        return dest

    yield make
    for dest in made:
        dest.close()


@pytest.fixture
def dest(make_dest: Callable[..., SalesforceDestination]) -> SalesforceDestination:
    return make_dest("password")
