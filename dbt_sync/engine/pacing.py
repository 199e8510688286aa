"""Attaching a rate limiter to each destination account.

Limits come from what is known about the account (HubSpot's tier: 100, 190
or 250 requests per 10 s; Salesforce's concurrency) and are then corrected
by the destination's response headers. Destinations call the pacer before
every HTTP request, so a write that needs several requests (a split batch,
associations after objects) is paced request by request.
"""

from __future__ import annotations

from dbt_sync.destinations.base import Destination
from dbt_sync.engine.ratelimit import Limits, RateLimiter


def limits_for(destination: Destination) -> Limits:
    rate = getattr(destination, "rate_limit", None)
    interval = getattr(destination, "rate_interval", None)
    concurrency = getattr(destination, "concurrency", None)
    return Limits(
        requests=int(rate) if isinstance(rate, (int, float)) and rate > 0 else None,
        per_seconds=float(interval) if isinstance(interval, (int, float)) and interval > 0 else 10.0,
        concurrency=int(concurrency) if isinstance(concurrency, int) and concurrency > 0 else 8,
    )


def paced(destination: Destination) -> Destination:
    """Give ``destination`` a :class:`RateLimiter` as its ``pacer`` (once)."""
    if hasattr(destination, "pacer") and destination.pacer is None:
        destination.pacer = RateLimiter(limits_for(destination))
    return destination
