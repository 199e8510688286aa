"""The dbt package of dbt-sync installed in the user's project, and whether it is this dbt-sync's version.

dbt-sync is two halves released together: the Python distribution (this
command) and the dbt package (``dbt_project.yml`` named ``dbt_sync`` and
its ``macros/``) that ``packages.yml`` installs with ``dbt deps``. The
post-hook writes what the engine reads, and the engine calls the package's
macros by name, so both halves must be the same version.

:func:`installed_package` finds the package where ``dbt deps`` put it (the
project's ``packages-install-path``, ``dbt_packages`` by default; a
``local:`` install is a link there, a git or hub install a folder), and
:func:`version_problem` says what to run when the versions differ. The rule
(docs/spec.md, "Versions"):

* a command that uses the warehouse (``run``, ``status``, ``failures``,
  ``reset``, ``resolve``, ``report``, ``alerts test``, ``validate
  --check-destinations``) refuses to start (exit 2): it would call macros of
  another version;
* ``validate`` and ``plan``, which read only dbt's artifacts, print it as a
  warning.

A project without the package installed (``dbt deps`` not run yet) is not
checked here: dbt itself then stops at the missing ``dbt_sync.capture``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import yaml

from dbt_sync.errors import ProjectError
from dbt_sync.version import __version__

#: the dbt project name of dbt-sync's package (``name:`` in its dbt_project.yml)
PACKAGE_NAME = "dbt_sync"
#: dbt's default ``packages-install-path``
DEFAULT_INSTALL_PATH = "dbt_packages"


@dataclass(frozen=True)
class InstalledPackage:
    """dbt-sync's dbt package as installed in a project: its ``dbt_project.yml`` and the version it declares."""

    project_file: Path
    version: str | None


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def install_path(project_dir: Path) -> Path:
    """Where ``dbt deps`` installs packages: ``packages-install-path`` of dbt_project.yml, else ``dbt_packages``;
    relative to the project directory, as in dbt."""
    project = _read_yaml(project_dir / "dbt_project.yml")
    configured = project.get("packages-install-path") if isinstance(project, dict) else None
    where = Path(configured) if isinstance(configured, str) and "{{" not in configured else Path(DEFAULT_INSTALL_PATH)
    return where if where.is_absolute() else project_dir / where


def installed_package(project_dir: Path) -> InstalledPackage | None:
    """dbt-sync's package installed in the project at ``project_dir``, or None when none is installed.

    Looks in :func:`install_path` for a folder (or link) whose ``dbt_project.yml``
    is named ``dbt_sync``: ``dbt deps`` names the folder after the package's
    project name, so ``dbt_sync`` is looked at first.
    """
    root = install_path(project_dir)
    if not root.is_dir():
        return None
    candidates = [root / PACKAGE_NAME / "dbt_project.yml"]
    with contextlib.suppress(OSError):
        candidates += sorted(p for p in root.glob("*/dbt_project.yml") if p.parent.name != PACKAGE_NAME)
    for project_file in candidates:
        data = _read_yaml(project_file)
        if isinstance(data, dict) and data.get("name") == PACKAGE_NAME:
            version = data.get("version")
            return InstalledPackage(project_file, None if version is None else str(version))
    return None


def same_version(a: str, b: str) -> bool:
    """Whether two version strings name one version (PEP 440 when both parse: ``1.2`` is ``1.2.0``)."""
    from packaging.version import InvalidVersion, Version

    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a.strip() == b.strip()


def version_problem(project_dir: Path) -> str | None:
    """What is wrong when the project's installed dbt-sync package is not this dbt-sync's version, else None.

    The text names both versions, the package's ``dbt_project.yml`` and what
    to run: ``dbt deps`` with packages.yml naming this version, or installing
    the dbt-sync distribution of the package's version.
    """
    package = installed_package(project_dir)
    if package is None or package.version is None or same_version(package.version, __version__):
        return None
    from dbt_sync.api import dbt_package_dir

    return (
        f"{package.project_file}: the dbt package dbt_sync installed in this project is version "
        f"{package.version}, but this dbt-sync is {__version__}; they must be the same version (dbt-sync calls the "
        f"package's macros and reads what its post-hook writes). Either install the package of dbt-sync "
        f"{__version__}: point packages.yml at it (a git `revision:` of {__version__}, or `local: "
        f"{dbt_package_dir()}`, the package this dbt-sync ships) and run `dbt deps`; or install dbt-sync "
        f"{package.version}: pip install \"dbt-sync=={package.version}\"."
    )


def check_version(project_dir: Path) -> None:
    """Raise :class:`~dbt_sync.errors.ProjectError` (exit 2) with :func:`version_problem`'s text when the
    versions differ; for the commands that call the package's macros."""
    problem = version_problem(project_dir)
    if problem is not None:
        raise ProjectError(problem)
