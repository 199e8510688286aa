"""Association targets: the HubSpot ids of records that other syncs wrote.

A sync declares ``associations: [{to: companies, column: company_key}]``;
when the ``companies`` records come from another sync to the same HubSpot
account, their ids are already in that sync's state, so the association
needs no lookup by a unique property. The engine hands this module the
page being sent and a reader of the syncs' state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dbt_sync.destinations.base import column_value


def association_targets(
    associations: Sequence[Any],
    page: Sequence[Mapping[str, Any]],
    writers: Sequence[Any],
    destination_ids: Callable[[str, list[str]], Mapping[str, str | None]],
) -> dict[tuple[str, str], str]:
    """HubSpot ids of association targets written by other syncs, read from their state.

    ``associations``: the sync's declared associations (``.to``, ``.column``);
    ``writers``: the syncs to the same destination (``.name``, ``.object``);
    ``destination_ids(sync_name, keys)``: the ids a sync recorded by record key.
    Returns ``(target object in lower case, record key) -> HubSpot id``; keys
    no sync recorded an id for are absent (the destination looks them up by
    the association's ``match`` property instead).
    """
    out: dict[tuple[str, str], str] = {}
    for assoc in associations:
        values = {str(v) for row in page if (v := column_value(row, assoc.column, None)) is not None}
        if not values:
            continue
        for target in writers:
            if target.object.lower() == assoc.to.lower():
                known = destination_ids(target.name, sorted(values))
                for key, dest_id in known.items():
                    if dest_id:
                        out.setdefault((assoc.to.lower(), key), dest_id)
    return out
