"""dbt-sync's version lives in one place, ``dbt_sync/version.py``; nothing that repeats it can drift.

``pyproject.toml`` reads it (setuptools dynamic metadata); what cannot read it is checked here:
the dbt package's ``dbt_project.yml`` (dbt has no dynamic version) and the ``sandbox`` extra's pin of
the emulators distribution, which keeps a version of its own.
"""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
import yaml

from dbt_sync.version import __version__

REPO = Path(__file__).resolve().parents[2]


def test_pyproject_reads_the_version_from_version_py() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "dbt_sync.version.__version__"}


def test_the_dbt_package_has_the_same_version() -> None:
    """The CLI refuses a project whose installed package differs (tests/integration/test_dbt_conventions.py)."""
    dbt_project = yaml.safe_load((REPO / "dbt_project.yml").read_text())
    assert dbt_project["name"] == "dbt_sync" and str(dbt_project["version"]) == __version__
    # the wheel's copy is a link to it (dbt_sync/dbt_package/dbt_project.yml)
    shipped = REPO / "dbt_sync" / "dbt_package" / "dbt_project.yml"
    assert shipped.resolve() == (REPO / "dbt_project.yml").resolve()


def test_the_sandbox_extra_pins_the_emulators_own_version() -> None:
    product = tomllib.loads((REPO / "pyproject.toml").read_text())
    emulators = tomllib.loads((REPO / "packages" / "dbt-sync-emulators" / "pyproject.toml").read_text())
    version = emulators["project"]["version"]
    assert product["project"]["optional-dependencies"]["sandbox"] == [f"dbt-sync-emulators=={version}"]


def test_no_other_file_repeats_the_version() -> None:
    """A release edits version.py, dbt_project.yml and, when the emulators change, their pyproject.toml."""
    pattern = re.compile(rf"(?<![\d.]){re.escape(__version__)}(?![\d.])")
    allowed = {Path("dbt_sync/version.py"), Path("dbt_project.yml"), Path("packages/dbt-sync-emulators/pyproject.toml"),
               Path("pyproject.toml")}
    found = []
    for path in [*REPO.glob("*.toml"), *REPO.glob("*.yml"), *REPO.glob("dbt_sync/**/*.py"),
                 *REPO.glob("packages/dbt-sync-emulators/**/*.py"), *REPO.glob("packages/dbt-sync-emulators/*.toml")]:
        relative = path.relative_to(REPO)
        if relative not in allowed and path.is_file() and pattern.search(path.read_text(errors="replace")):
            found.append(str(relative))
    assert found == []
