"""The one backoff schedule of every retry loop in dbt-sync.

Each loop keeps its own attempts and budget; they share how the wait grows:
the engine's request retries (:mod:`dbt_sync.engine.retry`, with jitter under
this ceiling), alert deliveries (``alerts/channels/base.py``), releasing locks
after a lost warehouse (``engine/scheduler.py``) and polling a Salesforce Bulk
job (``destinations/salesforce/bulk.py``).
"""

from __future__ import annotations


def backoff_delay(first: float, attempt: int, *, factor: float = 2.0, cap: float | None = None) -> float:
    """Seconds to wait after failed try number ``attempt`` (1-based): ``first * factor ** (attempt - 1)``.

    ``cap``: the longest wait, in seconds (None: no cap).
    """
    try:
        delay = first * factor ** (max(1, attempt) - 1)
    except OverflowError:  # thousands of tries (a long rate-limit storm): the cap is all that is left
        delay = float("inf")
    return delay if cap is None else min(cap, delay)
