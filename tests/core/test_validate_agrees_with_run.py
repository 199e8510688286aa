"""Whatever one key or value of a valid dbt_sync.yml becomes, a file that reading accepts is one `run` accepts.

The kind: a setting `run` checks later than `validate` (at the first login,
the first write, or when an alert fires). Each example mutates one key or
value of a valid file (a typo of the key, a key removed or added, a value of
another type or a near-miss of an allowed one); when `load_config` (what
`validate`, `plan` and `run` read the file with) accepts the result, every
destination must build as the run builds it, and every channel must get as
far as the network: a delivery to a closed local port may fail to connect,
never on a setting.
"""

from __future__ import annotations

import copy
import ipaddress
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbt_sync import secrets
from dbt_sync.alerts.channels import deliver
from dbt_sync.destinations import open_destination
from dbt_sync.destinations.base import DestinationError
from dbt_sync.errors import ConfigError
from dbt_sync.project.config import load_config
from tests.alerts.test_render import _payload

CLOSED = "127.0.0.1:9"  # discard port: nothing listens, a connection is refused at once
#: what a delivery's error says when the network (or a server), not a setting, stopped it
NETWORK = ("ConnectionError", "Connection refused", "gaierror", "name resolution", "Name or service not known",
           "timed out", ": HTTP ", ": SMTP ")

VALID: dict[str, Any] = {
    "version": 1,
    "destinations": {
        "sf": {"type": "salesforce", "auth": "password", "username": "u@example.com", "password": "pw-1",
               "security_token": "tok-1", "login_url": "https://login.salesforce.com", "api_version": "59.0",
               "bulk_threshold": 2000, "bulk_timeout": 3600, "timeout": 120, "concurrency": 2},
        "sf_cc": {"type": "salesforce", "auth": "client_credentials", "consumer_key": "ck", "consumer_secret": "cs",
                  "domain": "acme.my"},
        "hs": {"type": "hubspot", "access_token": "pat-na1-1", "host": "https://api.hubapi.com",
               "tier": "professional", "timeout": 60},
    },
    "channels": {
        "mail": {"type": "email", "host": "127.0.0.1", "port": 9, "security": "none", "username": "u",
                 "password": "p", "from": "a@example.com", "to": ["b@example.com"], "subject_prefix": "[x]",
                 "timeout_seconds": 1, "attempts": 1, "backoff_seconds": 0},
        "chat": {"type": "slack", "webhook_url": f"http://{CLOSED}/hook", "timeout_seconds": 1, "attempts": 1},
        "hook": {"type": "webhook", "url": f"http://{CLOSED}/hook", "secret": "s", "headers": {"X-Team": "data"},
                 "timeout_seconds": 1, "attempts": 1, "verify_tls": True},
    },
    "defaults": {
        "alerts": {"channels": ["mail"], "failed_records": 10, "failed_share": 0.05, "remind_after_hours": 24,
                   "enabled": True},
        "delete_threshold": 0.5,
        "retry_budget_seconds": 300,
    },
}


def leaves(node: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key path of the document (mappings only)."""
    out = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((*path, str(key)))
            out += leaves(value, (*path, str(key)))
    return out


PATHS = leaves(VALID)
#: values other settings take, near misses of allowed values, and other types
VALUES = st.sampled_from([
    None, "", "x", 0, 1, -1, 2.5, 10**6, True, False, [], ["b@example.com"], {}, {"a": 1}, "startls", "tls",
    "starttls", "pasword", "password", "session", "profesional", "enterprise", "59", "59.0", 59.0, "45.0",
    "https://x.example", "ftp://x", "/no/such/ca.pem", "587", "smtp", "login", "salesforce", "hubspot", "slack",
])


def typo(word: str) -> st.SearchStrategy[str]:
    """A one-character edit of ``word``: the typos people make."""
    letters = st.sampled_from("abcdefghijklmnopqrstuvwxyz_")
    at = st.integers(0, max(len(word) - 1, 0))
    return st.one_of(
        at.map(lambda i: word[:i] + word[i + 1:]),
        st.tuples(at, letters).map(lambda t: word[:t[0]] + t[1] + word[t[0]:]),
        st.tuples(at, letters).map(lambda t: word[:t[0]] + t[1] + word[t[0] + 1:]),
    ).filter(lambda w: w != word and w != "")


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    doc = copy.deepcopy(VALID)
    path = draw(st.sampled_from(PATHS))
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    action = draw(st.sampled_from(["value", "value", "rename", "delete"]))
    if action == "value":
        old = parent[key]
        choices = [VALUES] + ([typo(old)] if isinstance(old, str) and old else [])
        parent[key] = draw(st.one_of(*choices))
    elif action == "rename":
        parent[draw(typo(key))] = parent.pop(key)
    else:
        del parent[key]
    return doc


def offline_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    """Name resolution without a DNS server: IP literals resolve, names do not (as on a machine offline)."""
    try:
        ipaddress.ip_address(host.decode() if isinstance(host, bytes) else str(host))
    except ValueError:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
    return REAL_GETADDRINFO(host, *args, **kwargs)


REAL_GETADDRINFO = socket.getaddrinfo


def run_refusals(config: Any) -> list[str]:
    """What building the destinations and sending through each channel refuses on a setting."""
    refused = []
    for destination in config.destinations.values():
        try:
            open_destination(destination).close()
        except DestinationError as exc:
            refused.append(str(exc))
    for channel in config.channels.values():
        # within a budget, as a run delivers (docs/alerts.md: 5 s): `attempts: 1000000` is a setting a run
        # accepts, and without the budget its refusals alone would take minutes
        delivery = deliver(channel, _payload("failure"), "0" * 32, sleep=lambda s: None, deadline=time.monotonic() + 3)
        # nothing listens there: the acceptable failures are the network's (refused, or a host that does not resolve)
        if delivery.status != "sent" and not any(n in (delivery.error or "") for n in NETWORK):
            refused.append(f"{channel.name}: {delivery.error}")
    return refused


def test_the_valid_file_builds_and_reaches_the_network() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "dbt_sync.yml").write_text(yaml.safe_dump(VALID))
        assert run_refusals(load_config(Path(tmp), environ={})) == []


@settings(max_examples=int(__import__("os").environ.get("DBT_SYNC_MUTATION_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(doc=mutated())
def test_a_file_validate_accepts_is_one_run_accepts(doc: dict[str, Any]) -> None:
    secrets.clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", offline_getaddrinfo)
        check_agreement(doc)


def check_agreement(doc: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "dbt_sync.yml").write_text(yaml.safe_dump(doc))
        try:
            config = load_config(Path(tmp), environ={})
        except ConfigError:
            return
        assert run_refusals(config) == [], yaml.safe_dump(doc)


def test_a_huge_attempts_setting_stays_within_the_delivery_budget() -> None:
    """The example that once kept this test busy for minutes: a million attempts at a closed port."""
    doc = copy.deepcopy(VALID)
    doc["channels"]["hook"]["attempts"] = 10**6
    started = time.monotonic()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", offline_getaddrinfo)
        check_agreement(doc)
    assert time.monotonic() - started < 30
