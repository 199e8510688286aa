"""Attaching a rate limiter to each destination account.

Limits come from what is known about the account (HubSpot's tier: 100, 190
or 250 requests per 10 s; Salesforce's concurrency) and are then corrected
by the destination's response headers. Destinations call the pacer before
every HTTP request, so a write that needs several requests (a split batch,
associations after objects) is paced request by request.
"""

from __future__ import annotations

from dbt_sync.destinations.base import Destination, RateLimited
from dbt_sync.engine.ratelimit import Limits, RateLimiter


def limits_for(destination: RateLimited) -> Limits:
    """The limits a destination states (see :class:`~dbt_sync.destinations.base.RateLimited`)."""
    rate = destination.rate_limit
    return Limits(
        requests=int(rate) if rate is not None and rate > 0 else None,
        per_seconds=float(destination.rate_interval) if destination.rate_interval > 0 else 10.0,
        concurrency=max(1, int(destination.concurrency)),
    )


def paced(destination: Destination) -> Destination:
    """Give a rate-limited ``destination`` a :class:`RateLimiter` as its ``pacer`` (once); others are left as is."""
    if isinstance(destination, RateLimited) and destination.pacer is None:
        destination.pacer = RateLimiter(limits_for(destination))
    return destination
