"""Rolling-window and daily request limits with HubSpot's headers and 429 bodies.

HubSpot counts requests per account in a rolling ten-second window (100, 190
or 250 depending on tier) plus a daily cap; search has its own per-second
limit and sends no rate-limit headers. Rejected requests do not consume the
window, so a client that backs off correctly always gets through.

Every private-app response carries ``X-HubSpot-RateLimit-Daily`` and
``-Daily-Remaining``; OAuth (public app) calls have no daily cap and no daily
headers (HubSpot's API usage guidelines).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass

from .errors import correlation_id

POLICY_MESSAGES = {
    "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
    "SECONDLY": "You have reached your secondly limit.",
    "DAILY": "You have reached your daily limit.",
}


def rate_limit_body(policy: str, portal_id: int) -> dict[str, str]:
    """The 429 body HubSpot sends; clients key their back-off on ``policyName``."""
    return {
        "status": "error",
        "message": POLICY_MESSAGES.get(policy, f"You have reached your {policy.lower()} limit."),
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": policy,
        "groupName": f"{policy.lower()}:{portal_id}",
    }


#: daily requests of a Professional account's private apps (HubSpot changelog; the usage page says 625,000)
DEFAULT_DAILY_LIMIT = 650_000


@dataclass
class Decision:
    """Outcome of one admission check: headers to send and, when refused, the policy and wait."""

    allowed: bool
    headers: dict[str, str]
    policy: str | None = None
    retry_after: float = 0.0


class RollingWindow:
    """At most ``limit`` admissions in any ``interval`` seconds."""

    def __init__(self, limit: int, interval: float) -> None:
        self.limit = limit
        self.interval = interval
        self._hits: deque[float] = deque()

    def _expire(self, now: float) -> None:
        while self._hits and self._hits[0] <= now - self.interval:
            self._hits.popleft()

    def try_acquire(self, now: float) -> tuple[bool, float]:
        """Admit if there is room; otherwise return how long until the oldest hit leaves the window."""
        self._expire(now)
        if len(self._hits) < self.limit:
            self._hits.append(now)
            return True, 0.0
        return False, self._hits[0] + self.interval - now

    def remaining(self, now: float) -> int:
        self._expire(now)
        return max(0, self.limit - len(self._hits))

    def clear(self) -> None:
        self._hits.clear()


class RateLimiter:
    """The account's limits: ten-secondly rolling, optional daily, and the search per-second one."""

    def __init__(self, limit: int, interval: float, daily_limit: int, search_limit: int) -> None:
        self._lock = threading.Lock()
        self.window = RollingWindow(limit, interval)
        self.search = RollingWindow(search_limit, 1.0)
        self.daily_limit = daily_limit
        self.daily_used = 0

    def headers(self, now: float, *, private_app: bool = True) -> dict[str, str]:
        h = {
            "X-HubSpot-RateLimit-Max": str(self.window.limit),
            "X-HubSpot-RateLimit-Remaining": str(self.window.remaining(now)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.window.interval * 1000)),
        }
        if private_app:
            h["X-HubSpot-RateLimit-Daily"] = str(self.daily_limit)
            h["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, self.daily_limit - self.daily_used))
        return h

    def admit(self, *, search: bool = False, private_app: bool = True) -> Decision:
        """Admit one request; only private-app requests count against (and report) the daily limit."""
        with self._lock:
            now = time.monotonic()
            if search:
                ok, wait = self.search.try_acquire(now)
                return Decision(ok, {}, None if ok else "SECONDLY", wait)
            if private_app and self.daily_used >= self.daily_limit:
                return Decision(False, self.headers(now), "DAILY", _seconds_to_midnight())
            ok, wait = self.window.try_acquire(now)
            if ok:
                if private_app:
                    self.daily_used += 1
                return Decision(True, self.headers(now, private_app=private_app))
            return Decision(False, self.headers(now, private_app=private_app), "TEN_SECONDLY_ROLLING", wait)

    def current_headers(self, *, search: bool = False, private_app: bool = True) -> dict[str, str]:
        if search:
            return {}
        with self._lock:
            return self.headers(time.monotonic(), private_app=private_app)

    def reset(self) -> None:
        with self._lock:
            self.window.clear()
            self.search.clear()
            self.daily_used = 0


def _seconds_to_midnight() -> float:
    now = time.time()
    return 86400 - (now % 86400)


def retry_after_header(wait: float) -> str:
    """Retry-After is whole seconds; round up so a client that obeys it is admitted."""
    return str(max(1, math.ceil(wait)))
