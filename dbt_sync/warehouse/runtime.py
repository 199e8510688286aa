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

import gc
import logging
import os
import re
from argparse import Namespace
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml

from dbt_sync.errors import (
    DbtSyncError,
    ProfileError,
    ProjectError,
    WarehouseError,
    classify,
    one_line,
    yaml_problem,
)

log = logging.getLogger("dbt_sync.warehouse")


@dataclass
class DbtRuntime:
    """A loaded dbt project: its RuntimeConfig, adapter and manifest."""

    config: Any
    adapter: Any
    manifest: Any
    profiles_dir: Path | None = None
    #: where the manifest came from: ``"artifacts"`` (dbt's manifest.json, see :mod:`.artifacts`) or
    #: ``"parsed"`` (dbt's ManifestLoader, partial parsing applies)
    manifest_source: str = "parsed"
    #: why the project was parsed rather than taken from the artifacts ("" when it was not)
    parse_reason: str = ""

    def explain(self, exc: BaseException) -> DbtSyncError | None:
        """A clear error for a failure to open the warehouse (see :func:`explain_connection_error`)."""
        return explain_connection_error(exc, self.config, self.profiles_dir)


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
    profile: str | None = None,
    target_path: str | os.PathLike[str] | None = None,
    artifacts_dir: str | os.PathLike[str] | None = None,
) -> DbtRuntime:
    """Load the dbt project and return a ready adapter.

    ``profiles_dir`` defaults to dbt's own rules (``DBT_PROFILES_DIR``, the
    project directory when it holds a profiles.yml, then ``~/.dbt``);
    ``profile`` to ``profile:`` of dbt_project.yml; ``target_path`` (where dbt
    keeps its partial-parse state) to ``DBT_TARGET_PATH``, then dbt_project.yml's.

    The macros and model nodes come from the ``manifest.json`` dbt already
    wrote (in ``artifacts_dir``, else the target directory) where that gives
    what parsing the project would (:func:`.artifacts.manifest_from_artifacts`);
    otherwise, or with ``DBT_SYNC_REPARSE`` set, the project is parsed as
    ``dbt run-operation`` parses it.
    """
    project_path = Path(project_dir).resolve()
    profiles_path = resolve_profiles_dir(project_path, profiles_dir)  # before importing dbt: says it at once

    import dbt.tracking
    from dbt.adapters.factory import get_adapter, register_adapter
    from dbt.config.runtime import RuntimeConfig
    from dbt.context.providers import generate_runtime_macro_context
    from dbt.context.query_header import generate_query_header_context
    from dbt.events.logging import setup_event_logger
    from dbt.flags import get_flags, set_from_args
    from dbt.mp_context import get_mp_context
    from dbt_common.context import set_invocation_context

    from dbt_sync.warehouse.artifacts import manifest_from_artifacts, reparse_requested

    args = Namespace(
        project_dir=str(project_path),
        profiles_dir=str(profiles_path),
        target=target,
        vars=vars or {},
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
    # left out when not given, so dbt's own reading of DBT_PROFILE / DBT_TARGET_PATH applies
    if profile is not None:
        args.profile = profile
    if target_path is not None:
        args.target_path = str(target_path)
    set_invocation_context(dict(os.environ))
    try:
        set_from_args(args, {})  # reads dbt_project.yml's `flags:` already
        setup_event_logger(get_flags())
        # No anonymous usage events from a library call inside dbt-sync.
        dbt.tracking.disable_tracking()
        config = RuntimeConfig.from_args(get_flags())
    except Exception as exc:
        clear = explain_load_error(exc, project_path, profiles_path)
        if clear is None:
            raise
        raise clear from exc
    _replace_registered_adapter(config.credentials.type)
    register_adapter(config, get_mp_context())
    adapter = get_adapter(config)
    adapter.set_macro_context_generator(generate_runtime_macro_context)
    if reparse_requested():
        manifest, reason = None, "DBT_SYNC_REPARSE is set"
    else:
        folder = Path(artifacts_dir) if artifacts_dir is not None else Path(config.project_target_path)
        manifest, reason = manifest_from_artifacts(config, folder / "manifest.json", vars)
    if manifest is None:
        log.debug("parsing the dbt project: %s", reason)
        manifest = _parse_manifest(config, project_path, profiles_path)
    else:
        log.debug("dbt manifest from %s: macros and nodes as dbt wrote them", folder / "manifest.json")
    adapter.set_macro_resolver(manifest)
    adapter.connections.set_query_header(generate_query_header_context(config, manifest))
    # The manifest and dbt's other start-up objects live as long as the run: move them out of the cyclic
    # garbage collector's generations, so its full collections stop re-scanning them (undone by
    # Warehouse.close, which calls gc.unfreeze()).
    gc.freeze()
    return DbtRuntime(
        config=config,
        adapter=adapter,
        manifest=manifest,
        profiles_dir=profiles_path,
        manifest_source="parsed" if reason else "artifacts",
        parse_reason=reason,
    )


def _parse_manifest(config: Any, project_path: Path, profiles_path: Path) -> Any:
    """The project parsed by dbt's ManifestLoader (partial parsing applies), with its ``graph`` built."""
    from dbt.parser.manifest import ManifestLoader

    try:
        manifest = ManifestLoader.get_full_manifest(config)
    except Exception as exc:
        clear = explain_load_error(exc, project_path, profiles_path)
        if clear is None:
            raise
        raise clear from exc
    manifest.build_flat_graph()
    return manifest


def check_target(
    project_dir: Path, profiles_dir: str | os.PathLike[str] | None, target: str | None, profile: str | None = None
) -> None:
    """Refuse a ``--target`` / ``DBT_TARGET`` the profile does not define, or a ``--profile`` /
    ``DBT_PROFILE`` profiles.yml does not define, without connecting.

    The profile is ``profile`` when given, else ``profile:`` of dbt_project.yml.

    For the commands that read only the dbt artifacts (``validate``, ``plan``),
    so that a misspelt target is said at once, as dbt and the warehouse
    commands say it. Says nothing when there is no profiles.yml (these commands
    do not need one) or the profile cannot be read plainly (a Jinja-rendered
    profile name or target names): dbt checks those when it loads the profile.

    Raises :class:`ProfileError` naming profiles.yml, the profile and the valid targets.
    """
    project_path = Path(project_dir).resolve()
    try:
        profiles_yml = resolve_profiles_dir(project_path, profiles_dir) / "profiles.yml"
    except ProfileError:  # no profiles.yml where these commands do not need one: nothing to check against
        return
    try:
        project = yaml.safe_load(_read_text(project_path / "dbt_project.yml"))
        profiles = yaml.safe_load(_read_text(profiles_yml))
    except yaml.YAMLError:
        return
    if profile is not None:
        if isinstance(profiles, dict) and profile not in profiles and not any("{{" in str(k) for k in profiles):
            known = ", ".join(sorted(str(k) for k in profiles if k != "config")) or "none"
            raise ProfileError(
                f"{profiles_yml}: Could not find profile named '{profile}' (--profile / DBT_PROFILE). "
                f"Profiles defined there: {known}."
            )
        name: Any = profile
    else:
        name = project.get("profile") if isinstance(project, dict) else None
    settings = profiles.get(name) if isinstance(profiles, dict) and isinstance(name, str) else None
    outputs = settings.get("outputs") if isinstance(settings, dict) else None
    if target is None or not isinstance(name, str) or not isinstance(outputs, dict) or "{{" in name:
        return
    if any("{{" in str(key) for key in outputs):
        return
    if target not in outputs:
        raise ProfileError(
            f"{profiles_yml}: The profile '{name}' does not have a target named '{target}'. The valid target "
            f"names for this profile are: {', '.join(sorted(map(str, outputs)))} (--target / DBT_TARGET)"
        )


def resolve_profiles_dir(project_path: Path, profiles_dir: str | os.PathLike[str] | None) -> Path:
    """The folder holding ``profiles.yml``, by dbt's rules (``--profiles-dir``,
    ``DBT_PROFILES_DIR``, the project directory when it holds a profiles.yml,
    then ``~/.dbt``).

    Raises :class:`ProfileError` naming the folder when it or its
    ``profiles.yml`` does not exist (dbt would only say "Could not find
    profile named ...").
    """
    if profiles_dir is not None:
        path, source = Path(profiles_dir).resolve(), "--profiles-dir / DBT_PROFILES_DIR"
    elif os.environ.get("DBT_PROFILES_DIR"):
        path, source = Path(os.environ["DBT_PROFILES_DIR"]).resolve(), "DBT_PROFILES_DIR"
    elif (project_path / "profiles.yml").exists():
        return project_path
    else:
        path, source = Path.home() / ".dbt", "dbt's default, as neither --profiles-dir nor DBT_PROFILES_DIR is set"
    if not path.is_dir():
        raise ProfileError(
            f"{path}: profiles directory not found ({source}). "
            "Point --profiles-dir or DBT_PROFILES_DIR at the folder holding profiles.yml."
        )
    if not (path / "profiles.yml").is_file():
        raise ProfileError(
            f"{path / 'profiles.yml'}: not found ({source}). "
            "Point --profiles-dir or DBT_PROFILES_DIR at the folder holding your dbt profiles.yml."
        )
    return path


def _profile_names(profiles_yml: Path) -> list[str]:
    try:
        data = yaml.safe_load(profiles_yml.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return []
    return sorted(str(k) for k in data if k != "config") if isinstance(data, dict) else []


def explain_load_error(exc: BaseException, project_path: Path, profiles_path: Path) -> DbtSyncError | None:
    """One line naming the file and setting at fault for an error dbt raised
    while reading the project and profile; None when it is not one of those."""
    names = {klass.__name__ for klass in type(exc).__mro__}
    message = one_line(getattr(exc, "msg", None) or str(exc))
    profiles_yml = profiles_path / "profiles.yml"
    project_yml = project_path / "dbt_project.yml"
    if "EnvVarMissingError" in names:
        var = str(getattr(exc, "var", "") or "")
        where = next(
            (f for f in (profiles_yml, project_yml) if var and var in _read_text(f)),
            project_path,
        )
        return ProfileError(
            f"{where}: environment variable '{var}' is not set and env_var('{var}') has no default. "
            f"Set it, or write env_var('{var}', 'default')."
        )
    if "Syntax error near line" in message:  # dbt's YAML error quotes the source over many lines, without a file
        for yml in (project_yml, profiles_yml):
            try:
                yaml.safe_load(_read_text(yml))
            except yaml.YAMLError as bad:
                error_type = ProjectError if yml == project_yml else ProfileError
                return error_type(f"{yml}: not valid YAML: {yaml_problem(bad)}")
    missing_profile = re.search(r"Could not find profile named '([^']*)'", message)
    if missing_profile:
        known = ", ".join(_profile_names(profiles_yml)) or "none"
        return ProfileError(
            f"{profiles_yml}: no profile named '{missing_profile.group(1)}' (the 'profile' set in {project_yml}). "
            f"Profiles in that file: {known}."
        )
    if "DbtProfileError" in names:
        hint = " (--target / DBT_TARGET)" if "target" in message else ""
        return ProfileError(f"{profiles_yml}: {message}{hint}")
    if names & {"DbtProjectError", "DbtConfigError", "ParsingError", "CompilationError", "DbtValidationError"}:
        return ProjectError(f"{project_path}: dbt cannot load the project: {message}")
    return classify(exc)


def explain_connection_error(exc: BaseException, config: Any, profiles_dir: Path | None) -> DbtSyncError | None:
    """One line for a failure to connect: which target of which profile, and why."""
    profiles_yml = (profiles_dir / "profiles.yml") if profiles_dir else Path("profiles.yml")
    where = f"target '{getattr(config, 'target_name', '?')}' of profile '{getattr(config, 'profile_name', '?')}'"
    message = one_line(getattr(exc, "msg", None) or str(exc))
    module = type(exc).__module__
    if module.startswith(("duckdb", "_duckdb")) and "lock" in message.lower():
        path = getattr(getattr(config, "credentials", None), "path", None) or "the DuckDB database file"
        holder = re.search(r"Conflicting lock is held in (.*?)(?:\. See also|$)", message)
        by = f" ({holder.group(1).rstrip('.')})" if holder else ""
        return WarehouseError(
            f"{path}: the DuckDB database file is locked by another process{by}. DuckDB lets one process "
            f"use a file at a time: wait for that process (a dbt or dbt-sync run) to end, then retry ({where})."
        )
    names = {klass.__name__ for klass in type(exc).__mro__}
    if names & {"FailedToConnectError", "DbtDatabaseError"} or (
        isinstance(exc, OSError) and not getattr(exc, "filename", None)
    ):
        return WarehouseError(f"cannot connect to the warehouse ({where} in {profiles_yml}): {message}")
    return classify(exc)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""
