"""A local Salesforce API emulator served over HTTPS for tests and demos.

``SalesforceEmulator`` speaks the subset of the REST, Collections, Bulk API 2.0,
SOAP login and OAuth APIs that dbt-sync's Salesforce destination uses, with the
status codes and body shapes simple-salesforce parses.
"""

from .emulator import SalesforceEmulator
from .errors import ApiError, RecordError
from .faults import Faults
from .objects import describe_field

__all__ = ["ApiError", "Faults", "RecordError", "SalesforceEmulator", "describe_field"]
