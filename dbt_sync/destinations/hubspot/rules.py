"""Spec rules of HubSpot syncs: what a sync to a HubSpot destination may declare.

Checked when the specs are read; ``SPEC_RULES`` in :mod:`dbt_sync.spec`
calls :func:`spec_problems` for every sync whose destination has
``type: hubspot``. (``options`` are not an error here: HubSpot takes none,
and ``dbt-sync validate`` warns that they are ignored.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dbt_sync.errors import Problem


def spec_problems(entry: Mapping[str, Any], loc: str) -> list[Problem]:
    """What a sync spec (``entry``, the raw meta mapping at ``loc``) declares that HubSpot cannot do."""
    problems: list[Problem] = []
    fields = entry.get("fields")
    if isinstance(fields, Mapping):
        for name, source in fields.items():
            if isinstance(source, Mapping) and isinstance(source.get("lookup"), Mapping):
                problems.append(Problem(
                    f"{loc}.fields.{name}.lookup",
                    "lookups set Salesforce relationships; for HubSpot declare 'associations' instead.",
                ))
    return problems
