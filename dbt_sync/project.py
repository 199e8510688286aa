"""Locating a dbt project and loading everything dbt-sync knows about it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dbt_sync.config import SyncConfig, load_config
from dbt_sync.errors import ProjectError
from dbt_sync.manifest import Manifest, RunResults, load_manifest, load_run_results
from dbt_sync.spec import SyncSpec, load_specs


@dataclass(frozen=True)
class ProjectOptions:
    """dbt-style options shared by every command."""

    project_dir: Path
    profiles_dir: Path | None = None
    target: str | None = None
    vars: dict[str, Any] | None = None
    config_path: str | None = None


@dataclass
class Project:
    options: ProjectOptions
    target_dir: Path
    manifest: Manifest
    run_results: RunResults | None
    config: SyncConfig
    specs: list[SyncSpec]


def target_dir(project_dir: Path) -> Path:
    """dbt's target directory: DBT_TARGET_PATH, else ``target-path`` in dbt_project.yml, else target/."""
    env = os.environ.get("DBT_TARGET_PATH")
    if env:
        path = Path(env)
        return path if path.is_absolute() else project_dir / path
    project_file = project_dir / "dbt_project.yml"
    if not project_file.exists():
        raise ProjectError(
            f"{project_dir}: no dbt_project.yml here. Run dbt-sync from your dbt project, or pass --project-dir."
        )
    try:
        data = yaml.safe_load(project_file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ProjectError(f"{project_file}: cannot read: {exc}") from None
    configured = data.get("target-path") if isinstance(data, dict) else None
    return project_dir / (configured if isinstance(configured, str) and "{{" not in configured else "target")


def load_project(options: ProjectOptions, *, require_config: bool = True, check_columns: bool = True) -> Project:
    tdir = target_dir(options.project_dir)
    manifest = load_manifest(tdir)
    run_results = load_run_results(tdir)
    config = load_config(options.project_dir, options.config_path, required=require_config)
    specs = load_specs(manifest, config if config.path else None, check_columns=check_columns)
    return Project(options, tdir, manifest, run_results, config, specs)
