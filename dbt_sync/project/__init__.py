"""The project layer: locating a dbt project and loading everything dbt-sync knows about it.

``dbt_sync.project.config`` reads ``dbt_sync.yml`` and ``dbt_sync.project.models``
holds the typed models it is validated with (also the source of
``docs/dbt_sync.schema.json``). The sync specs are read by :mod:`dbt_sync.spec`,
imported here when a project is loaded (it depends on this package's config).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from dbt_sync.errors import ConfigError, Problem, ProjectError, SpecError, yaml_problem
from dbt_sync.manifest import Manifest, RunResults, load_manifest, load_run_results
from dbt_sync.project.config import SyncConfig, load_config

if TYPE_CHECKING:
    from dbt_sync.spec import SyncSpec


@dataclass(frozen=True)
class ProjectOptions:
    """dbt-style options shared by every command (``dbt_sync.api.build_options`` resolves them).

    ``profile``: the profiles.yml profile (None: ``profile:`` of dbt_project.yml);
    ``target_path``: dbt's target directory (None: :func:`target_dir`'s rules);
    ``artifacts_dir``: the folder ``manifest.json`` and ``run_results.json`` are read from (None: the
    target directory), e.g. the artifacts of a dbt Cloud job run; dbt-sync writes nothing there.
    """

    project_dir: Path
    profiles_dir: Path | None = None
    target: str | None = None
    vars: dict[str, Any] | None = None
    config_path: str | None = None
    profile: str | None = None
    target_path: Path | None = None
    artifacts_dir: Path | None = None

    @property
    def target_dir(self) -> Path:
        """dbt's target directory for these options (see :func:`target_dir`)."""
        return target_dir(self.project_dir, self.target_path)

    @property
    def artifacts_path(self) -> Path:
        """Where ``manifest.json`` and ``run_results.json`` are read: ``artifacts_dir``, else the target directory."""
        return self.artifacts_dir if self.artifacts_dir is not None else self.target_dir


@dataclass
class Project:
    options: ProjectOptions
    target_dir: Path
    manifest: Manifest
    run_results: RunResults | None
    config: SyncConfig
    specs: list[SyncSpec]
    #: things to tell the person that do not stop the command (e.g. a stale manifest)
    warnings: list[str] = field(default_factory=list)


def target_dir(project_dir: Path, target_path: str | os.PathLike[str] | None = None) -> Path:
    """dbt's target directory, by dbt's precedence: ``target_path`` (``--target-path``), else
    ``DBT_TARGET_PATH``, else ``target-path`` in dbt_project.yml, else ``target``; a relative path is
    relative to the project directory, as in dbt.

    Every file dbt-sync reads from or writes to the target directory (``manifest.json``,
    ``run_results.json``, the results file, the dry-run file, the report) goes through here.
    """
    given = target_path if target_path is not None and str(target_path) else os.environ.get("DBT_TARGET_PATH")
    if given:
        path = Path(given)
        return path if path.is_absolute() else project_dir / path
    project_file = project_dir / "dbt_project.yml"
    if not project_file.exists():
        raise ProjectError(
            f"{project_dir}: no dbt_project.yml here. Run dbt-sync from your dbt project, or pass --project-dir."
        )
    try:
        data = yaml.safe_load(project_file.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ProjectError(f"{project_file}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ProjectError(f"{project_file}: not valid YAML: {yaml_problem(exc)}") from None
    configured = data.get("target-path") if isinstance(data, dict) else None
    return project_dir / (configured if isinstance(configured, str) and "{{" not in configured else "target")


def load_project(options: ProjectOptions, *, require_config: bool = True, check_columns: bool = True) -> Project:
    """Everything dbt-sync reads about a project; ``warnings`` says when the manifest is stale.

    Raises :class:`ProjectError`, :class:`ConfigError` (which then also lists
    the specs' problems that need no ``dbt_sync.yml``, so one run shows every
    problem) or :class:`SpecError` (which then also lists a stale manifest,
    the likely cause).
    """
    from dbt_sync.spec import load_specs

    tdir = options.target_dir
    if options.target or options.profile:
        from dbt_sync.warehouse.runtime import check_target

        check_target(options.project_dir, options.profiles_dir, options.target, profile=options.profile)
    warnings: list[str] = []
    artifacts = options.artifacts_path
    if options.artifacts_dir is not None:
        if not artifacts.is_dir():
            raise ProjectError(
                f"{artifacts}: no such folder (--artifacts-dir / DBT_SYNC_ARTIFACTS_DIR). Download the dbt job "
                "run's manifest.json and run_results.json into it."
            )
        if not (artifacts / "manifest.json").is_file():
            raise ProjectError(
                f"{artifacts / 'manifest.json'}: not found (--artifacts-dir / DBT_SYNC_ARTIFACTS_DIR). Download "
                "the dbt job run's manifest.json into that folder."
            )
    manifest = load_manifest(artifacts)
    run_results = load_run_results(artifacts)
    if options.artifacts_dir is not None and run_results is None:
        warnings.append(
            f"{artifacts / 'run_results.json'}: not found, so no model counts as built: only syncs with records "
            "waiting for retry (or, with --all, every sync) are planned. Download the job run's run_results.json too."
        )
    try:
        config = load_config(options.project_dir, options.config_path, required=require_config)
    except ConfigError as exc:
        # every problem at once: the specs' own too (those that need no dbt_sync.yml)
        try:
            load_specs(manifest, None, check_columns=check_columns)
        except SpecError as spec_exc:
            raise ConfigError(f"{exc}\n{spec_exc}") from None
        raise
    stale = stale_manifest(manifest, options.project_dir)
    try:
        specs = load_specs(manifest, config if config.path else None, check_columns=check_columns)
        cycle = dependency_cycle(specs, manifest)
        if cycle:
            raise SpecError([cycle])
    except SpecError as exc:
        if stale is None:
            raise
        raise SpecError([*exc.problems, Problem(str(manifest.path), stale)]) from None
    from dbt_sync.project.package import version_problem

    warnings += [w for w in (stale, version_problem(options.project_dir)) if w]
    return Project(options, tdir, manifest, run_results, config, specs, warnings)


def dependency_cycle(specs: list[SyncSpec], manifest: Manifest) -> Problem | None:
    """A cycle among the syncs' ordering needs (depends_on, lookups, associations, the dbt DAG), or None.

    The graph and the check :func:`dbt_sync.plan.build_plan` uses, run when the
    project is read so ``validate`` refuses what ``plan`` and ``run`` would.
    The problem sits at the first sync of the cycle and names every sync in it.
    """
    import networkx as nx

    from dbt_sync.errors import PlanError
    from dbt_sync.plan import check_acyclic, dependency_edges, sync_graph

    graph = sync_graph([s.name for s in specs], dependency_edges(specs, manifest))
    try:
        check_acyclic(graph)
    except PlanError as exc:
        first = nx.find_cycle(graph)[0][0]
        return Problem(next(s.location for s in specs if s.name == first), str(exc))
    return None


def stale_manifest(manifest: Manifest, project_dir: Path, shown: int = 3) -> str | None:
    """A warning when a file dbt reads into the manifest changed after dbt wrote it, else None.

    Compares the manifest's modification time with ``dbt_project.yml`` and
    each model's SQL and properties (yml) file of the project (not of
    installed packages). ``dbt_sync.yml`` is not one of them: dbt-sync reads
    it directly each time.
    """
    try:
        written = manifest.path.stat().st_mtime
    except OSError:
        return None
    candidates = {project_dir / "dbt_project.yml"}
    for model in manifest.models.values():
        if manifest.project_name and model.package_name and model.package_name != manifest.project_name:
            continue
        candidates.update(project_dir / rel for rel in (model.properties_file, model.original_file_path) if rel)
    newer = []
    for path in sorted(candidates):
        try:
            if path.stat().st_mtime > written:
                newer.append(path)
        except OSError:
            continue
    if not newer:
        return None
    names = ", ".join(str(p.relative_to(project_dir)) for p in newer[:shown])
    more = f" and {len(newer) - shown} more" if len(newer) > shown else ""
    return (
        f"{manifest.path} is older than {names}{more}: the specs and DAG read from it may be out of date. "
        "Run `dbt parse` (or dbt run / dbt build) to write it again."
    )
