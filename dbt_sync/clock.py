"""The one clock of every timestamp dbt-sync writes."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """Naive UTC: every audit timestamp dbt-sync writes uses this clock.

    The audit tables store instants (timestamps with time zone), so SQL
    comparing them with ``current_timestamp`` is right in any session time
    zone; Python reads them back as naive UTC (:meth:`Warehouse.query`).
    """
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)



def utcnow_iso(timespec: str = "seconds") -> str:
    """Now in UTC as ISO 8601 with its offset (``2026-01-31T12:00:00+00:00``), for results JSON and run rows.

    ``timespec`` as :meth:`datetime.datetime.isoformat` takes it (``"auto"``: microseconds when not 0).
    """
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec=timespec)
