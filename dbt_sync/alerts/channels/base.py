"""What every channel shares: settings access, errors, and retries.

A channel that is down must never fail the sync, and must not hold up the
other channels for long: each delivery is tried ``attempts`` times (default
3) with a short exponential backoff (``backoff_seconds``, default 1 s), and
only errors that may heal (network, timeouts, 5xx, 429) are retried. The
outcome is a :class:`Delivery`, whose error text is always redacted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dbt_sync import secrets
from dbt_sync.backoff import tries
from dbt_sync.project.config import ChannelConfig, UnsetEnvVar

DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF_SECONDS = 1.0
DEFAULT_TIMEOUT_SECONDS = 10.0


class ChannelError(Exception):
    """A delivery failed; ``retriable`` says whether trying again may help."""

    def __init__(self, message: str, retriable: bool = True) -> None:
        super().__init__(secrets.redact(message))
        self.retriable = retriable


@dataclass(frozen=True)
class Delivery:
    status: str  # "sent" or "failed"
    attempts: int
    error: str | None = None


class Settings:
    """Typed, located access to a channel's settings (errors name the yaml path)."""

    def __init__(self, channel: ChannelConfig, deadline: float | None = None) -> None:
        self.name = channel.name
        self.raw: Mapping[str, Any] = channel.settings
        self.deadline = deadline
        unset = [v for v in self.raw.values() if isinstance(v, UnsetEnvVar)]
        if unset:  # only needed to send: reading dbt_sync.yml did not require it
            raise ChannelError(str(unset[0]), retriable=False)
        # A config built in code (not by load_config) still gets its secrets masked.
        secrets.register(str(v) for k, v in self.raw.items() if isinstance(v, str) and secrets.is_secret_key(k))

    def where(self, key: str) -> str:
        return f"channels.{self.name}.{key}"

    def text(self, key: str, default: str | None = None, required: bool = False) -> str | None:
        value = self.raw.get(key, default)
        if value in (None, "") and required:
            raise ChannelError(f"{self.where(key)} is required", retriable=False)
        if value is not None and not isinstance(value, str):
            raise ChannelError(f"{self.where(key)}: expected a string", retriable=False)
        return value or default

    def number(self, key: str, default: float) -> float:
        value = self.raw.get(key, default)
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise ChannelError(f"{self.where(key)}: expected a number, got {value!r}", retriable=False) from None
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise ChannelError(f"{self.where(key)}: expected a number >= 0, got {value!r}", retriable=False)
        return float(value)

    def str_list(self, key: str, required: bool = False) -> list[str]:
        value = self.raw.get(key)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if value is None or value == []:
            if required:
                raise ChannelError(f"{self.where(key)} is required (one address or a list)", retriable=False)
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ChannelError(f"{self.where(key)}: expected a string or a list of strings", retriable=False)
        return list(value)

    def timeout(self) -> float:
        """``timeout_seconds``, cut to what is left of the delivery budget."""
        timeout = self.number("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)
        if self.deadline is not None:
            timeout = min(timeout, max(self.deadline - time.monotonic(), 0.05))
        return timeout

    def verify(self) -> bool | str:
        """TLS verification: ``ca_bundle`` (a PEM path) or ``verify_tls: false``; default the system store."""
        bundle = self.raw.get("ca_bundle")
        if isinstance(bundle, str) and bundle:
            return bundle
        return self.raw.get("verify_tls", True) is not False


def with_retries(
    channel: ChannelConfig,
    send: Callable[[], None],
    sleep: Callable[[float], None] = time.sleep,
    *,
    deadline: float | None = None,
) -> Delivery:
    """Run ``send`` until it succeeds, fails for good, runs out of attempts or passes ``deadline``."""
    try:
        settings = Settings(channel)
        attempts = max(int(settings.number("attempts", DEFAULT_ATTEMPTS)), 1)
        backoff = settings.number("backoff_seconds", DEFAULT_BACKOFF_SECONDS)
    except ChannelError as exc:
        return Delivery("failed", 0, str(exc))
    error = ""
    tried = 0
    for tried in tries(attempts, backoff, deadline=deadline, sleep=sleep):
        try:
            send()
            return Delivery("sent", tried)
        except ChannelError as exc:
            error = str(exc)
            if not exc.retriable:
                return Delivery("failed", tried, error)
        except Exception as exc:  # a bug or an unexpected library error: report, never raise
            error = secrets.redact(f"{type(exc).__name__}: {exc}")
    if tried < attempts:
        return Delivery("failed", tried, f"{error} (after {tried} attempt(s); out of time)")
    return Delivery("failed", attempts, f"{error} (after {attempts} attempts)")
