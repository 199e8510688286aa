"""The one retry helper of dbt-sync: how waits grow (:func:`backoff_delay`) and the loop (:func:`tries`).

Each caller keeps its own attempts and budget: alert deliveries
(``alerts/channels/base.py``), releasing locks after a lost warehouse
(``engine/scheduler.py``) and polling a Salesforce Bulk job
(``destinations/salesforce/bulk.py``) loop with :func:`tries`; the engine's
request retries (:mod:`dbt_sync.engine.retry`), whose wait depends on the
error (a server's ``Retry-After``, rate limits), draw full jitter under
:func:`backoff_delay`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator


def backoff_delay(first: float, attempt: int, *, factor: float = 2.0, cap: float | None = None) -> float:
    """Seconds to wait after failed try number ``attempt`` (1-based): ``first * factor ** (attempt - 1)``.

    ``cap``: the longest wait, in seconds (None: no cap).
    """
    try:
        delay = first * factor ** (max(1, attempt) - 1)
    except OverflowError:  # thousands of tries (a long rate-limit storm): the cap is all that is left
        delay = float("inf")
    return delay if cap is None else min(cap, delay)


def tries(
    attempts: int | None,
    first_delay: float,
    *,
    factor: float = 2.0,
    cap: float | None = None,
    deadline: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[int]:
    """Try numbers 1, 2, … ``attempts`` (None: no limit), sleeping :func:`backoff_delay` between two.

    The loop body is one try, and leaves the loop when the try succeeds. The
    iteration ends after try ``attempts``, or at once, without sleeping, when
    the next wait would reach ``deadline`` (a ``clock()`` instant, seconds): a
    caller that needs to tell the two apart compares the last try number it
    saw with ``attempts``.
    """
    attempt = 0
    while attempts is None or attempt < attempts:
        attempt += 1
        yield attempt
        if attempts is not None and attempt >= attempts:
            return
        pause = backoff_delay(first_delay, attempt, factor=factor, cap=cap)
        if deadline is not None and clock() + pause >= deadline:
            return
        sleep(pause)
