"""Slack through an incoming webhook: Block Kit blocks plus a ``text`` fallback.

Settings (``type: slack``): ``webhook_url`` (required; a secret, masked
everywhere), ``timeout_seconds``, ``ca_bundle`` / ``verify_tls``.
"""

from __future__ import annotations

import json
from typing import Any

from dbt_sync.alerts import render
from dbt_sync.alerts.channels.base import Settings
from dbt_sync.alerts.channels.http import post


def send(settings: Settings, payload: dict[str, Any], alert_id: str) -> None:
    url = settings.text("webhook_url", required=True)
    assert url is not None
    body = json.dumps(render.render_slack(payload), ensure_ascii=False).encode("utf-8")
    post(url, body, {"Content-Type": "application/json; charset=utf-8"},
         settings.timeout(), settings.verify(),
         f"slack channel {settings.name}")
