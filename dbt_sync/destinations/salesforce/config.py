"""Reading and validating a Salesforce entry of ``dbt_sync.yml``.

The entry is flat: ``auth`` names the login flow and the credentials of
that flow sit next to it. Validation happens once, at construction, so a
typo fails the run before any data moves, with a message naming the
destination, the key and what is allowed. Secret values never appear in
those messages or in the config's ``repr``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dbt_sync.destinations.base import DestinationError

DEFAULT_API_VERSION = "59.0"
DEFAULT_BULK_THRESHOLD = 2000
DEFAULT_TIMEOUT = 120.0
DEFAULT_BULK_TIMEOUT = 3600.0

#: credentials each ``auth`` flow needs (required, optional)
AUTH_KEYS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "password": (frozenset({"username", "password"}), frozenset({"security_token"})),
    "client_credentials": (frozenset({"consumer_key", "consumer_secret"}), frozenset()),
    "jwt": (frozenset({"username", "consumer_key"}), frozenset({"private_key", "private_key_file"})),
    "session": (frozenset({"session_id", "instance_url"}), frozenset()),
}
SECRET_KEYS = ("password", "security_token", "consumer_secret", "private_key", "session_id")
COMMON_KEYS = frozenset(
    {
        "type",
        "auth",
        "domain",
        "login_url",
        "ca_bundle",
        "api_version",
        "bulk_threshold",
        "bulk_timeout",
        "timeout",
        "concurrency",
    }
)
ALL_CREDENTIAL_KEYS = frozenset().union(*(req | opt for req, opt in AUTH_KEYS.values()))


@dataclass(frozen=True)
class SalesforceConfig:
    """A validated destination entry. Secret fields are kept out of ``repr``."""

    name: str
    auth: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    security_token: str | None = field(default=None, repr=False)
    consumer_key: str | None = None
    consumer_secret: str | None = field(default=None, repr=False)
    private_key: str | None = field(default=None, repr=False)
    private_key_file: str | None = None
    session_id: str | None = field(default=None, repr=False)
    instance_url: str | None = None
    domain: str | None = None
    login_url: str | None = None
    ca_bundle: str | None = None
    api_version: str = DEFAULT_API_VERSION
    bulk_threshold: int | None = DEFAULT_BULK_THRESHOLD
    bulk_timeout: float = DEFAULT_BULK_TIMEOUT
    timeout: float = DEFAULT_TIMEOUT
    concurrency: int = 1

    def secrets(self) -> list[str]:
        """The secret strings of this entry, for redaction elsewhere."""
        return [v for k in SECRET_KEYS if isinstance(v := getattr(self, k), str) and v]


def _fail(name: str, message: str) -> DestinationError:
    return DestinationError(f"destination '{name}': {message}", code="INVALID_CONFIG")


def _number(name: str, key: str, value: Any, kind: type, minimum: float, also: str = "") -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        shown = repr(value) if isinstance(value, (int, float, bool)) or value is None else type(value).__name__
        raise _fail(name, f"'{key}' must be a number >= {minimum}{also} (got {shown})")
    if kind is int and not isinstance(value, int):
        raise _fail(name, f"'{key}' must be a whole number")
    return kind(value)


def parse_bulk_threshold(name: str, value: Any) -> int | None:
    """``bulk_threshold``: a record count, or ``false``/``0``/``null`` to never use Bulk."""
    if value is None or value is False or value == 0:
        return None
    return int(_number(name, "bulk_threshold", value, int, 1, ", or 0 or false to never use Bulk"))


def parse_config(name: str, config: Mapping[str, Any]) -> SalesforceConfig:
    """Check every key of a rendered ``dbt_sync.yml`` entry and build the config."""
    if not isinstance(config, Mapping):
        raise _fail(name, "the entry must be a mapping")
    kind = config.get("type", "salesforce")
    if kind != "salesforce":
        raise _fail(name, f"'type' must be 'salesforce' (got {kind!r})")
    auth = config.get("auth")
    if auth not in AUTH_KEYS:
        raise _fail(name, f"'auth' must be one of {', '.join(sorted(AUTH_KEYS))} (got {auth!r})")
    required, optional = AUTH_KEYS[auth]
    allowed = COMMON_KEYS | required | optional
    for key in config:
        if key not in allowed:
            hint = (
                f"it belongs to another auth flow; auth '{auth}' takes {', '.join(sorted(required | optional))}"
                if key in ALL_CREDENTIAL_KEYS
                else f"allowed keys: {', '.join(sorted(allowed))}"
            )
            raise _fail(name, f"unknown key '{key}' ({hint})")
    for key in sorted(required):
        if not isinstance(config.get(key), str) or not config.get(key):
            raise _fail(name, f"auth '{auth}' needs a non-empty string '{key}'")
    if auth == "jwt" and bool(config.get("private_key")) == bool(config.get("private_key_file")):
        raise _fail(name, "auth 'jwt' needs exactly one of 'private_key' or 'private_key_file'")
    for key in required | optional | {"domain", "login_url", "ca_bundle"}:
        if key in config and config[key] is not None and not isinstance(config[key], str):
            raise _fail(name, f"'{key}' must be a string")
    domain = config.get("domain")
    if auth == "client_credentials" and domain in (None, "login", "test"):
        raise _fail(
            name,
            "auth 'client_credentials' needs 'domain' set to the org's My Domain (e.g. 'acme.my'), "
            "not 'login' or 'test'",
        )
    login_url = config.get("login_url")
    if login_url is not None and not str(login_url).startswith(("https://", "http://")):
        raise _fail(name, "'login_url' must be an http(s) URL")
    instance_url = config.get("instance_url")
    if instance_url is not None and not str(instance_url).startswith("https://"):
        raise _fail(name, "'instance_url' must start with https://")
    version = str(config.get("api_version", DEFAULT_API_VERSION))
    parts = version.split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or int(parts[0]) < 46:
        raise _fail(name, f"'api_version' must look like '59.0' and be 46.0 or newer (got {version!r})")
    return SalesforceConfig(
        name=name,
        auth=auth,
        username=config.get("username"),
        password=config.get("password"),
        # simple-salesforce picks the SOAP flow only when a token is given; an
        # org with trusted IP ranges logs in with an empty one.
        security_token=config.get("security_token", "") if auth == "password" else None,
        consumer_key=config.get("consumer_key"),
        consumer_secret=config.get("consumer_secret"),
        private_key=config.get("private_key"),
        private_key_file=config.get("private_key_file"),
        session_id=config.get("session_id"),
        instance_url=instance_url,
        domain=domain,
        login_url=login_url,
        ca_bundle=config.get("ca_bundle"),
        api_version=version,
        bulk_threshold=parse_bulk_threshold(name, config.get("bulk_threshold", DEFAULT_BULK_THRESHOLD)),
        bulk_timeout=float(_number(name, "bulk_timeout", config.get("bulk_timeout", DEFAULT_BULK_TIMEOUT), float, 1)),
        timeout=float(_number(name, "timeout", config.get("timeout", DEFAULT_TIMEOUT), float, 0.001)),
        concurrency=int(_number(name, "concurrency", config.get("concurrency", 1), int, 1)),
    )
