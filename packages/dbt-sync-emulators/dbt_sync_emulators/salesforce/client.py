"""``requests`` sessions that point real clients at the emulator.

simple-salesforce builds login URLs as ``https://{domain}.salesforce.com/...``
with no way to override the host, so login flows are tested by handing it a
session that rewrites those URLs to the emulator. ``trust_env`` is off because
``REQUESTS_CA_BUNDLE`` in the environment would otherwise override ``verify``.
"""

from __future__ import annotations

import re
from typing import Any

import requests

_SALESFORCE_HOST = re.compile(r"^https://[^/]*\.salesforce\.com", re.IGNORECASE)


def verified_session(ca_cert_path: str) -> requests.Session:
    """A plain session that trusts the emulator's CA and ignores proxy/CA environment variables."""
    s = requests.Session()
    s.verify = ca_cert_path
    s.trust_env = False
    return s


class RewritingSession(requests.Session):
    """Sends every ``https://*.salesforce.com`` request to ``base_url`` instead."""

    def __init__(self, base_url: str, ca_cert_path: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.verify = ca_cert_path
        self.trust_env = False

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if isinstance(url, bytes):
            url = url.decode()
        url = _SALESFORCE_HOST.sub(self.base_url, url)
        return super().request(method, url, *args, **kwargs)
