"""The ``dbt-sync`` command line.

Flags and environment variables follow dbt's (``--project-dir`` /
``DBT_PROJECT_DIR``, ``--profiles-dir`` / ``DBT_PROFILES_DIR``, ``--target``
/ ``DBT_TARGET``, ``--vars``, ``--select``, ``--exclude``), so a dbt user
already knows them.

Exit codes: 0 everything synced (or valid); 1 some records failed (0 with
``run --warn-on-record-failures``); 2 a sync failed as a whole, or bad input /
usage; 3 a sync held by another run; see ``RunResult.exit_code_for``.
"""

from dbt_sync.cli import alerts, audit, plan, report, run, validate  # noqa: F401  (registers the commands)
from dbt_sync.cli.base import main
from dbt_sync.cli.plugins import add_plugin_commands

add_plugin_commands(main)  # `demo` and `sandbox` (dbt-sync[sandbox]), and any other distribution's commands

__all__ = ["main"]
