"""Logging in with simple-salesforce, for the four supported flows.

simple-salesforce builds every login URL as ``https://{domain}.salesforce.com``
and cannot be aimed elsewhere through arguments, so ``login_url`` (an
emulator, a proxy) is applied by a ``requests.Session`` subclass that
rewrites that prefix on every request it sends. The same session carries
the TLS trust file (``ca_bundle``) and the default timeout, which
simple-salesforce's login helpers do not take.
"""

from __future__ import annotations

import re
from typing import Any

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError

from dbt_sync.destinations.base import DestinationError, TransientError
from dbt_sync.destinations.salesforce.config import SalesforceConfig
from dbt_sync.secrets import redact_values

_SALESFORCE_HOST = re.compile(r"^https://[^/]*\.salesforce\.com")


class SalesforceSession(requests.Session):
    """A session with a default timeout that may send ``*.salesforce.com`` elsewhere."""

    def __init__(self, timeout: float, login_url: str | None = None) -> None:
        super().__init__()
        self.default_timeout = timeout
        self.login_url = login_url.rstrip("/") if login_url else None

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if self.login_url and isinstance(url, str):
            url = _SALESFORCE_HOST.sub(self.login_url, url, count=1)
        kwargs.setdefault("timeout", self.default_timeout)
        return super().request(method, url, *args, **kwargs)


def make_session(config: SalesforceConfig) -> SalesforceSession:
    """The HTTP session every call of this destination goes through."""
    session = SalesforceSession(config.timeout, config.login_url)
    if config.ca_bundle:
        session.verify = config.ca_bundle
        # Otherwise REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE would override verify.
        session.trust_env = False
    return session


#: SOAP fault codes (or HTTP statuses) of a login server that is down, not of bad credentials
_OUTAGE_CODES = frozenset({"SERVER_UNAVAILABLE", "UNKNOWN_EXCEPTION", "REQUEST_LIMIT_EXCEEDED"})


def _login_outage(code: object) -> bool:
    """A login that failed because Salesforce is unavailable: retry it, don't fail the sync."""
    text = str(code or "")
    return text.upper() in _OUTAGE_CODES or (text.isdigit() and int(text) >= 500)


def login_server(config: SalesforceConfig) -> tuple[str, str]:
    """The URL a login goes to, and the ``dbt_sync.yml`` setting that chooses it."""
    if config.auth == "session" and config.instance_url:
        return config.instance_url, "'instance_url'"
    if config.login_url:
        return config.login_url, "'login_url'"
    if config.domain:
        return f"https://{config.domain}.salesforce.com", "'domain' (or 'login_url')"
    return "https://login.salesforce.com", "'login_url' (not set: the default is used)"


def login(config: SalesforceConfig, session: requests.Session) -> Salesforce:
    """Log in (or wrap the given session id) and return the client.

    Bad credentials raise ``DestinationError(code="AUTHENTICATION_FAILED")``;
    an unreachable login server raises ``TransientError``. Neither message
    carries a secret, and the original exception is not chained because
    tracebacks would print it.
    """
    kwargs: dict[str, Any] = {"session": session, "version": config.api_version}
    if config.domain:
        kwargs["domain"] = config.domain
    if config.auth == "password":
        kwargs.update(username=config.username, password=config.password, security_token=config.security_token)
    elif config.auth == "client_credentials":
        kwargs.update(consumer_key=config.consumer_key, consumer_secret=config.consumer_secret)
    elif config.auth == "jwt":
        kwargs.update(username=config.username, consumer_key=config.consumer_key)
        if config.private_key:
            kwargs["privatekey"] = config.private_key
        else:
            kwargs["privatekey_file"] = config.private_key_file
    else:
        kwargs.update(session_id=config.session_id, instance_url=config.instance_url)
    where = f"destination '{config.name}'"
    failure: Exception
    try:
        return Salesforce(**kwargs)
    except SalesforceAuthenticationFailed as exc:
        detail = f"{exc.code}: {exc.auth_message}" if exc.code is not None else exc.auth_message
        message = redact_values(f"{where}: Salesforce login ({config.auth}) failed: {detail}", config.secrets())
        if _login_outage(exc.code):
            failure = TransientError(message, code="LOGIN_UNAVAILABLE")
        else:
            failure = DestinationError(message, code="AUTHENTICATION_FAILED")
    except (requests.Timeout, requests.ConnectionError) as exc:
        url, setting = login_server(config)
        failure = TransientError(
            redact_values(
                f"{where}: Salesforce login server {url} unreachable ({type(exc).__name__}): check the network, "
                f"or set {setting} of destinations.{config.name} in dbt_sync.yml",
                config.secrets(),
            ),
            code="LOGIN_UNREACHABLE",
        )
    except (SalesforceError, OSError, ValueError, TypeError, KeyError) as exc:
        # e.g. an unreadable or malformed JWT private key, an HTML error page
        failure = DestinationError(
            redact_values(f"{where}: Salesforce login ({config.auth}) failed: {type(exc).__name__}", config.secrets()),
            code="AUTHENTICATION_FAILED",
        )
    raise failure
