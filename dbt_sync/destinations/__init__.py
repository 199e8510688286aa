"""Destinations: one package per CRM, each implementing :mod:`dbt_sync.destinations.base`.

Which class serves a destination ``type`` is looked up in
:mod:`dbt_sync.destinations.registry`.
"""

from __future__ import annotations

from dbt_sync.destinations.base import Destination
from dbt_sync.destinations.registry import destination_type
from dbt_sync.project.config import DestinationConfig


def open_destination(config: DestinationConfig) -> Destination:
    """Build the destination named in ``dbt_sync.yml``; imports its client library lazily.

    Raises :class:`~dbt_sync.destinations.base.DestinationError`: an unknown
    ``type`` (``UNKNOWN_DESTINATION_TYPE``) or settings the destination cannot use.
    """
    return destination_type(config.type, f"destination '{config.name}'").open(config.name, config.settings)
