"""dbt-sync: reverse ETL that lives inside dbt."""

__version__ = "0.1.0"
