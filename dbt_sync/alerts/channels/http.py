"""One HTTP POST for the Slack and webhook channels, with honest error classes."""

from __future__ import annotations

from collections.abc import Mapping

import requests

from dbt_sync.alerts.channels.base import ChannelError


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float, verify: bool | str, what: str) -> None:
    """POST ``body``; raise :class:`ChannelError` (retriable for network, 429 and 5xx)."""
    try:
        response = requests.post(url, data=body, headers=dict(headers), timeout=timeout, verify=verify)
    except requests.exceptions.SSLError as exc:
        raise ChannelError(f"{what}: TLS error: {exc}", retriable=False) from None
    except requests.RequestException as exc:
        raise ChannelError(f"{what}: cannot reach the server: {type(exc).__name__}: {exc}") from None
    if 200 <= response.status_code < 300:
        return
    retriable = response.status_code == 429 or response.status_code >= 500
    raise ChannelError(
        f"{what}: HTTP {response.status_code}: {response.text[:300]}", retriable=retriable
    )
