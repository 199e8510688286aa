"""Load the user's dbt project, profile and adapter in-process.

dbt-sync reaches the warehouse only through the user's dbt profile and the
dbt adapter it names: no second set of credentials, and the same code for
DuckDB, PostgreSQL, Redshift or any other adapter. This module does what
dbt's own tasks do before running a macro (see ``dbt/cli/requires.py`` and
``dbt/task/run_operation.py``): set the global flags, build a RuntimeConfig,
register the adapter, parse the manifest (partial parsing applies) and wire
the adapter's macro resolver and macro context generator so
``adapter.execute_macro`` can run the ``dbt_sync`` package's macros.
"""

from __future__ import annotations

import os
from argparse import Namespace
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast


@dataclass
class DbtRuntime:
    """A loaded dbt project: its RuntimeConfig, adapter and manifest."""

    config: Any
    adapter: Any
    manifest: Any


def _replace_registered_adapter(adapter_type: str) -> None:
    """Drop a previously registered adapter of this type.

    dbt's adapter factory is process-global and keeps the first adapter
    registered per type; a Warehouse opened on another project or target of
    the same type must not silently reuse it.
    """
    from dbt.adapters.factory import FACTORY

    with FACTORY.lock:
        old = FACTORY.adapters.pop(adapter_type, None)
    if old is not None:
        cast(Any, old).cleanup_connections()


def ensure_invocation_context() -> None:
    """dbt keeps the environment (for ``env_var``) in a context variable that
    each thread starts without; set it where it is missing."""
    from dbt_common.context import get_invocation_context, set_invocation_context

    try:
        get_invocation_context()
    except LookupError:
        set_invocation_context(dict(os.environ))


def load_runtime(
    project_dir: str | os.PathLike[str],
    profiles_dir: str | os.PathLike[str] | None = None,
    target: str | None = None,
    vars: dict[str, Any] | None = None,
) -> DbtRuntime:
    """Parse the dbt project and return a ready adapter.

    ``profiles_dir`` defaults to dbt's own rules (``DBT_PROFILES_DIR``, the
    project directory when it holds a profiles.yml, then ``~/.dbt``).
    """
    import dbt.tracking
    from dbt.adapters.factory import get_adapter, register_adapter
    from dbt.config.runtime import RuntimeConfig
    from dbt.context.providers import generate_runtime_macro_context
    from dbt.context.query_header import generate_query_header_context
    from dbt.events.logging import setup_event_logger
    from dbt.flags import get_flags, set_from_args
    from dbt.mp_context import get_mp_context
    from dbt.parser.manifest import ManifestLoader
    from dbt_common.context import set_invocation_context

    project_path = Path(project_dir).resolve()
    if profiles_dir is None:
        env_dir = os.environ.get("DBT_PROFILES_DIR")
        if env_dir:
            profiles_dir = env_dir
        elif (project_path / "profiles.yml").exists():
            profiles_dir = project_path
        else:
            profiles_dir = Path.home() / ".dbt"
    args = Namespace(
        project_dir=str(project_path),
        profiles_dir=str(Path(profiles_dir).resolve()),
        target=target,
        vars=vars or {},
        profile=None,
        threads=None,
        which="run-operation",
        log_level="none",
        log_level_file="none",
        quiet=True,
        send_anonymous_usage_stats=False,
        write_json=False,
        partial_parse=True,
        static_parser=True,
    )
    set_invocation_context(dict(os.environ))
    set_from_args(args, {})
    setup_event_logger(get_flags())
    # No anonymous usage events from a library call inside dbt-sync.
    dbt.tracking.disable_tracking()
    config = RuntimeConfig.from_args(get_flags())
    _replace_registered_adapter(config.credentials.type)
    register_adapter(config, get_mp_context())
    adapter = get_adapter(config)
    adapter.set_macro_context_generator(generate_runtime_macro_context)
    manifest = ManifestLoader.get_full_manifest(config)
    manifest.build_flat_graph()
    adapter.set_macro_resolver(manifest)
    adapter.connections.set_query_header(generate_query_header_context(config, manifest))
    return DbtRuntime(config=config, adapter=adapter, manifest=manifest)
