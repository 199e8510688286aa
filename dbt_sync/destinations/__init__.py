"""Destinations: one module per CRM, each implementing :mod:`dbt_sync.destinations.base`."""

from __future__ import annotations

from dbt_sync.destinations.base import Destination, DestinationError
from dbt_sync.project.config import DestinationConfig


def open_destination(config: DestinationConfig) -> Destination:
    """Build the destination named in ``dbt_sync.yml``; imports its client library lazily."""
    if config.type == "salesforce":
        from dbt_sync.destinations.salesforce import SalesforceDestination

        return SalesforceDestination(config.name, config.settings)
    if config.type == "hubspot":
        from dbt_sync.destinations.hubspot import HubSpotDestination

        return HubSpotDestination(config.name, config.settings)
    raise DestinationError(
        f"destination '{config.name}': type '{config.type}' is not supported (salesforce, hubspot).",
        code="UNKNOWN_DESTINATION_TYPE",
    )
