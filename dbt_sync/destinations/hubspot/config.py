"""Validating a HubSpot entry of ``dbt_sync.yml``.

A typo in a destination config should stop the run before any API call,
with a message that names the destination, the key and what is allowed,
and never echoes a secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dbt_sync.destinations.base import DestinationError

DEFAULT_HOST = "https://api.hubapi.com"
DEFAULT_TIMEOUT = 60.0

#: Burst limits per 10 s for private apps, by HubSpot subscription tier.
TIER_LIMITS: dict[str, int] = {
    "free": 100,
    "starter": 100,
    "professional": 190,
    "enterprise": 190,
    "api_add_on": 250,
}
DEFAULT_TIER = "starter"
RATE_INTERVAL_SECONDS = 10.0

SECRET_KEYS = ("access_token", "client_secret", "refresh_token")
OAUTH_KEYS = ("client_id", "client_secret", "refresh_token")
ALLOWED_KEYS = (
    "type",
    "access_token",
    "client_id",
    "client_secret",
    "refresh_token",
    "host",
    "tier",
    "rate_limit",
    "timeout",
    "ca_bundle",
)


@dataclass(frozen=True)
class HubSpotConfig:
    """A validated destination entry. ``repr`` hides the secrets."""

    name: str
    host: str
    rate_limit: int
    timeout: float
    access_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    refresh_token: str | None = None
    ca_bundle: str | None = None
    tier: str | None = None

    @property
    def uses_oauth(self) -> bool:
        return self.refresh_token is not None

    def secrets(self) -> list[str]:
        return [s for s in (self.access_token, self.client_secret, self.refresh_token) if s]

    def __repr__(self) -> str:  # never print a token, even in a debugger
        return f"HubSpotConfig(name={self.name!r}, host={self.host!r}, rate_limit={self.rate_limit})"


def _fail(name: str, message: str) -> DestinationError:
    return DestinationError(f"destination {name!r}: {message}", code="CONFIG_ERROR")


def _text(name: str, config: Mapping[str, Any], key: str) -> str | None:
    value = config.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        shown = "a secret" if key in SECRET_KEYS else repr(value)
        raise _fail(name, f"{key!r} must be a non-empty string (got {shown})")
    return value.strip()


def parse_config(name: str, config: Mapping[str, Any]) -> HubSpotConfig:
    """Check every key and build a :class:`HubSpotConfig`."""
    unknown = sorted(k for k in config if k not in ALLOWED_KEYS)
    if unknown:
        raise _fail(
            name,
            f"unknown key {unknown[0]!r} for a hubspot destination; allowed keys: {', '.join(ALLOWED_KEYS)}",
        )
    kind = config.get("type", "hubspot")
    if kind != "hubspot":
        raise _fail(name, f"'type' must be 'hubspot' (got {kind!r})")

    token = _text(name, config, "access_token")
    oauth = {k: _text(name, config, k) for k in OAUTH_KEYS}
    given_oauth = [k for k, v in oauth.items() if v is not None]
    if token and given_oauth:
        raise _fail(
            name,
            f"give either 'access_token' (private app) or OAuth keys ({', '.join(OAUTH_KEYS)}), not both",
        )
    if not token and len(given_oauth) != len(OAUTH_KEYS):
        missing = [k for k in OAUTH_KEYS if oauth[k] is None]
        if given_oauth:
            raise _fail(name, f"OAuth needs {', '.join(OAUTH_KEYS)}; missing {', '.join(missing)}")
        raise _fail(name, "'access_token' (private app) or OAuth keys (" + ", ".join(OAUTH_KEYS) + ") required")

    host = (_text(name, config, "host") or DEFAULT_HOST).rstrip("/")
    if not host.startswith(("http://", "https://")):
        raise _fail(name, f"'host' must start with http:// or https:// (got {host!r})")

    tier = config.get("tier")
    rate_limit_value = config.get("rate_limit")
    if tier is not None and tier not in TIER_LIMITS:
        raise _fail(name, f"unknown tier {tier!r}; allowed: {', '.join(TIER_LIMITS)}")
    if rate_limit_value is not None:
        if isinstance(rate_limit_value, bool) or not isinstance(rate_limit_value, int) or rate_limit_value <= 0:
            raise _fail(
                name, f"'rate_limit' must be a positive integer of requests per 10 s (got {rate_limit_value!r})"
            )
        rate_limit = rate_limit_value
    else:
        rate_limit = TIER_LIMITS[tier or DEFAULT_TIER]

    timeout_value = config.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout_value, bool) or not isinstance(timeout_value, (int, float)) or timeout_value <= 0:
        raise _fail(name, f"'timeout' must be a positive number of seconds (got {timeout_value!r})")

    ca_bundle = _text(name, config, "ca_bundle")
    if ca_bundle is not None and not os.path.isfile(ca_bundle):
        raise _fail(name, f"'ca_bundle' file not found: {ca_bundle}")

    return HubSpotConfig(
        name=name,
        host=host,
        rate_limit=rate_limit,
        timeout=float(timeout_value),
        access_token=token,
        client_id=oauth["client_id"],
        client_secret=oauth["client_secret"],
        refresh_token=oauth["refresh_token"],
        ca_bundle=ca_bundle,
        tier=tier,
    )
