"""The version of dbt-sync (``dbt_sync.__version__``), importable without the package's lazy API."""

__version__ = "0.1.0"
