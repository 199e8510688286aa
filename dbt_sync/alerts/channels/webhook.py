"""A signed JSON POST for anything else (PagerDuty bridges, incident tools, your own service).

Settings (``type: webhook``): ``url`` (required), ``secret`` (recommended:
the body is signed with HMAC-SHA256 and the hex digest sent as
``X-DbtSync-Signature: sha256=<hex>``), ``headers`` (extra headers, a
mapping), ``timeout_seconds``, ``ca_bundle`` / ``verify_tls``. Every request
also carries ``X-DbtSync-Timestamp`` (unix seconds) and
``X-DbtSync-Alert-Id``. The body's schema is documented in docs/alerts.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from dbt_sync.alerts import render
from dbt_sync.alerts.channels.base import ChannelError, Settings
from dbt_sync.alerts.channels.http import post

SIGNATURE_HEADER = "X-DbtSync-Signature"
TIMESTAMP_HEADER = "X-DbtSync-Timestamp"
ALERT_ID_HEADER = "X-DbtSync-Alert-Id"


def body_bytes(payload: dict[str, Any], alert_id: str, channel: str) -> bytes:
    """The exact bytes sent (and signed): compact, key-sorted JSON."""
    body = render.render_webhook(payload, alert_id, channel)
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, raw body)."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def send(settings: Settings, payload: dict[str, Any], alert_id: str) -> None:
    post_signed(settings, body_bytes(payload, alert_id, settings.name), {ALERT_ID_HEADER: alert_id})


def post_signed(settings: Settings, body: bytes, headers: Mapping[str, str]) -> None:
    """POST ``body`` (JSON) to the channel's ``url`` with its extra ``headers``, ``headers``,
    ``X-DbtSync-Timestamp`` and, with a ``secret``, ``X-DbtSync-Signature``; raises ``ChannelError``.

    Alerts and lifecycle events (dbt_sync/alerts/lifecycle.py) are sent and signed by this one function.
    """
    url = settings.text("url", required=True)
    assert url is not None
    extra = settings.raw.get("headers") or {}
    if not isinstance(extra, dict):
        raise ChannelError(f"{settings.where('headers')}: expected a mapping of header -> value", retriable=False)
    sent = {str(k): str(v) for k, v in extra.items()}
    sent.update({
        "Content-Type": "application/json; charset=utf-8",
        TIMESTAMP_HEADER: str(int(time.time())),
        **headers,
    })
    secret = settings.text("secret")
    if secret:
        sent[SIGNATURE_HEADER] = signature(secret, body)
    post(url, body, sent, settings.timeout(), settings.verify(),
         f"webhook channel {settings.name}")
