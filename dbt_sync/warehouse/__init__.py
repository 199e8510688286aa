"""Warehouse side of dbt-sync: audit tables, change capture, state commits.

See docs/warehouse.md for the tables and the capture model.
"""

from dbt_sync.warehouse.warehouse import META_COLUMNS, Confirmed, FailureRow, Warehouse

__all__ = ["META_COLUMNS", "Confirmed", "FailureRow", "Warehouse"]
