"""dbt-sync: reverse ETL that lives inside dbt.

``dbt_sync.run(...)`` runs the project's syncs and returns the run results
(see :mod:`dbt_sync.api`). It is imported on first use, so ``import
dbt_sync`` stays cheap.
"""

from __future__ import annotations

from typing import Any

from dbt_sync.version import __version__

__all__ = ["__version__", "run"]


def __getattr__(name: str) -> Any:
    if name == "run":
        from dbt_sync.api import run

        return run
    raise AttributeError(f"module 'dbt_sync' has no attribute {name!r}")
