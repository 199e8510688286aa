"""Salesforce destination: sObject Collections and Bulk API 2.0 via simple-salesforce.

See ``docs/destinations-salesforce.md`` for the ``dbt_sync.yml`` keys, the
write options and how results are mapped back to records.
"""

from dbt_sync.destinations.salesforce.config import SalesforceConfig, parse_config
from dbt_sync.destinations.salesforce.destination import SalesforceDestination

__all__ = ["SalesforceConfig", "SalesforceDestination", "parse_config"]
