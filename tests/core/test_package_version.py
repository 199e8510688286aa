"""Finding dbt-sync's dbt package where ``dbt deps`` installed it, and comparing its version with this one.

The real-project test (dbt deps, another version installed, the CLI's error, dbt deps again) is
tests/integration/test_dbt_conventions.py::test_installed_package_of_another_version.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dbt_sync import secrets
from dbt_sync.api import build_options, open_warehouse
from dbt_sync.cli import main
from dbt_sync.errors import ProjectError
from dbt_sync.project.package import installed_package, same_version, version_problem
from dbt_sync.version import __version__
from tests.core.builders import ProjectBuilder, sf_sync


@pytest.fixture(autouse=True)
def _forget_secrets() -> None:
    secrets.clear()


def install(project: Path, folder: str, version: object, name: str = "dbt_sync", under: str = "dbt_packages") -> Path:
    path = project / under / folder
    path.mkdir(parents=True)
    (path / "dbt_project.yml").write_text(f"name: {name}\nversion: {version!r}\nconfig-version: 2\n")
    return path / "dbt_project.yml"


def test_found_where_dbt_deps_installs_it(tmp_path: Path) -> None:
    (tmp_path / "dbt_project.yml").write_text("name: shop\nprofile: shop\n")
    assert installed_package(tmp_path) is None  # dbt deps not run: nothing to compare
    install(tmp_path, "dbt_utils", "1.3.0", name="dbt_utils")
    assert installed_package(tmp_path) is None
    # a git install in a folder of another name is found by its project name
    found = install(tmp_path, "dbt-sync-main", "0.0.9")
    package = installed_package(tmp_path)
    assert package is not None and package.project_file == found and package.version == "0.0.9"
    # packages-install-path, as dbt reads it
    (tmp_path / "dbt_project.yml").write_text("name: shop\nprofile: shop\npackages-install-path: vendor/pkgs\n")
    assert installed_package(tmp_path) is None
    install(tmp_path, "dbt_sync", __version__, under="vendor/pkgs")
    assert version_problem(tmp_path) is None


def test_a_local_install_is_the_link_dbt_deps_makes(tmp_path: Path) -> None:
    elsewhere = tmp_path / "checkout"
    elsewhere.mkdir()
    (elsewhere / "dbt_project.yml").write_text("name: dbt_sync\nversion: '0.0.1'\n")
    project = tmp_path / "project"
    (project / "dbt_packages").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: shop\n")
    (project / "dbt_packages" / "dbt_sync").symlink_to(elsewhere)
    problem = version_problem(project)
    assert problem is not None and "version 0.0.1" in problem and f"this dbt-sync is {__version__}" in problem


def test_versions_compare_as_versions() -> None:
    assert same_version("0.1", "0.1.0") and same_version("0.1.0", "0.1.0")
    assert not same_version("0.1.0", "0.1.1") and not same_version("0.1.0", "0.1.0.dev1")
    assert not same_version("unknown", "0.1.0") and same_version("unknown", "unknown")


def test_the_message_names_both_versions_and_what_to_run(tmp_path: Path) -> None:
    (tmp_path / "dbt_project.yml").write_text("name: shop\n")
    found = install(tmp_path, "dbt_sync", "0.0.9")
    problem = version_problem(tmp_path)
    assert problem is not None
    assert problem.startswith(f"{found}: the dbt package dbt_sync installed in this project is version 0.0.9")
    assert f"but this dbt-sync is {__version__}" in problem
    assert "run `dbt deps`" in problem and 'pip install "dbt-sync==0.0.9"' in problem
    # the commands that call the package's macros refuse before connecting
    with pytest.raises(ProjectError, match=r"installed in this project is version 0\.0\.9"):
        open_warehouse(build_options(tmp_path))


def test_commands_that_only_read_artifacts_warn(tmp_path: Path) -> None:
    b = ProjectBuilder(tmp_path)
    b.model("dim_accounts", sf_sync("accounts_sf", "Account"))
    b.write({"dim_accounts": "success"})
    install(tmp_path, "dbt_sync", "0.0.9")
    for command in (["validate"], ["plan"]):
        result = CliRunner().invoke(main, [*command, "--project-dir", str(tmp_path)])
        assert result.exit_code == 0, result.output
        assert "Warning:" in result.output and "is version 0.0.9" in result.output
    result = CliRunner().invoke(main, ["status", "--project-dir", str(tmp_path)])
    assert result.exit_code == 2 and "Error:" in result.output and "is version 0.0.9" in result.output
    assert "Traceback" not in result.output
