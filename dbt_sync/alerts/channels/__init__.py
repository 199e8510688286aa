"""Alert channels: email, Slack, webhook. :func:`deliver` is the one entry point."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from dbt_sync.alerts.channels import email, slack, webhook
from dbt_sync.alerts.channels.base import ChannelError, Delivery, Settings, with_retries
from dbt_sync.project.config import ChannelConfig

SENDERS: dict[str, Callable[[Settings, dict[str, Any], str], None]] = {
    "email": email.send,
    "slack": slack.send,
    "webhook": webhook.send,
}


def deliver(
    channel: ChannelConfig,
    payload: dict[str, Any],
    alert_id: str,
    sleep: Callable[[float], None] = time.sleep,
    *,
    deadline: float | None = None,
) -> Delivery:
    """Send one alert to one channel with retries; never raises.

    ``deadline`` (``time.monotonic()`` seconds): no attempt starts after it,
    and each request's timeout is cut to what is left.
    """
    sender = SENDERS.get(channel.type)
    if sender is None:
        return Delivery("failed", 0, f"channels.{channel.name}.type: {channel.type!r} is not supported")

    def once() -> None:
        assert sender is not None
        sender(Settings(channel, deadline), payload, alert_id)

    return with_retries(channel, once, sleep, deadline=deadline)


__all__ = ["ChannelError", "Delivery", "deliver"]
