"""Destinations: one module per CRM, each implementing :mod:`dbt_sync.destinations.base`."""
