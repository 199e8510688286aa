"""Both distributions as a user gets them: built wheels installed into a fresh venv, then ``dbt-sync demo``.

The fresh venv reads third-party dependencies (dbt-core, dbt-duckdb, the CRM
clients, ...) from the test environment's site-packages through a ``.pth``
line, which adds that folder to ``sys.path`` without running its ``.pth``
files, so the editable installs of this checkout stay inactive there:
``dbt_sync`` and ``dbt_sync_emulators`` can only come from the wheels.
"""

from __future__ import annotations

import email.message
import email.parser
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dbt_sync.cli.plugins import MISSING_SANDBOX
from dbt_sync.version import __version__

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
EMULATORS = Path("packages") / "dbt-sync-emulators"
#: what the wheels are built from: the sources and their package data, nothing the checkout has built or cached
SOURCE_ONLY = shutil.ignore_patterns(
    ".git", ".venv", "tests", "bench", "docs", "scripts", "build", "dist", "*.egg-info", "target", "dbt_packages",
    "logs", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis", "*.duckdb*", ".user.yml",
)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{"dbt-sync": wheel, "dbt-sync-emulators": wheel}`` built from a copy of the sources (links kept)."""
    base = tmp_path_factory.mktemp("wheels")
    source = base / "source"
    shutil.copytree(REPO, source, symlinks=True, ignore=SOURCE_ONLY)
    out = base / "dist"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "--quiet",
         "--wheel-dir", str(out), str(source), str(source / EMULATORS)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    built = {path.name.split("-")[0].replace("_", "-"): path for path in out.glob("*.whl")}
    assert set(built) == {"dbt-sync", "dbt-sync-emulators"}, sorted(out.iterdir())
    return built


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv (no pip of its own) that sees the test environment's third-party packages."""
    root = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    python = root / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    Path(purelib, "test-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    yield root


def metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(archive.read(name).decode())


def requirement_names(wheel: Path) -> set[str]:
    names = set()
    for requirement in metadata(wheel).get_all("Requires-Dist") or []:
        name = requirement.split(";")[0].split("[")[0]
        for stop in "<>=!~ (":
            name = name.split(stop)[0]
        names.add(name.strip().lower().replace("_", "-"))
    return names


def test_product_wheel_holds_no_emulator_and_does_not_require_cryptography(wheels: dict[str, Path]) -> None:
    with zipfile.ZipFile(wheels["dbt-sync"]) as archive:
        names = archive.namelist()
    assert "dbt_sync/cli/__init__.py" in names and "dbt_sync/dbt_package/macros/capture.sql" in names
    assert "dbt_sync/dbt_package/dbt_project.yml" in names
    emulator_files = [n for n in names if "emulator" in n or n.startswith(("dbt_sync/sandbox", "dbt_sync/demo"))]
    assert emulator_files == [] and "dbt_sync/cli/sandbox.py" not in names
    assert "cryptography" not in requirement_names(wheels["dbt-sync"])
    extras = metadata(wheels["dbt-sync"])
    assert "sandbox" in (extras.get_all("Provides-Extra") or [])
    assert any(r.startswith("dbt-sync-emulators") and "sandbox" in r for r in extras.get_all("Requires-Dist") or [])
    # the version comes from dbt_sync/version.py alone; the sandbox extra pins the emulators' own version
    assert extras["Version"] == __version__
    emulators_version = metadata(wheels["dbt-sync-emulators"])["Version"]
    assert f"dbt-sync-emulators=={emulators_version}; extra == \"sandbox\"" in (extras.get_all("Requires-Dist") or [])

    with zipfile.ZipFile(wheels["dbt-sync-emulators"]) as archive:
        names = archive.namelist()
        entry_points = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "dbt_sync_emulators/demo_project/seeds/raw_contacts.csv" in names
    assert "dbt_sync_emulators/demo_project/models/crm/crm.yml" in names
    assert "[dbt_sync.commands]" in entry_points and "demo = dbt_sync_emulators.commands:demo" in entry_points
    assert not [n for n in names if n.startswith("dbt_sync/")]


def test_demo_from_the_installed_wheels(wheels: dict[str, Path], venv: Path, tmp_path: Path) -> None:
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # dbt's own command comes from the test environment (a dependency, like dbt-core itself)
    env["PATH"] = os.pathsep.join([str(venv / "bin"), str(Path(sys.executable).parent), env.get("PATH", "")])

    def install(*wheel_files: Path) -> None:
        subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
             "--quiet", *map(str, wheel_files)],
            check=True, timeout=300, env=env,
        )

    def dbt_sync(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(venv / "bin" / "dbt-sync"), *args], capture_output=True, text=True, cwd=tmp_path, env=env,
            timeout=timeout, check=False,
        )

    # the product alone: `demo` names the extra to install
    install(wheels["dbt-sync"])
    alone = dbt_sync("demo")
    assert alone.returncode == 2, alone.stdout + alone.stderr
    assert alone.stderr.strip() == MISSING_SANDBOX.format(name="demo")

    install(wheels["dbt-sync-emulators"])
    where = subprocess.run(
        [str(python), "-c", "import sys, dbt_sync, dbt_sync_emulators; "
         "print(dbt_sync.__file__); print(dbt_sync_emulators.__file__); print(*sys.path, sep='\\n')"],
        capture_output=True, text=True, cwd=tmp_path, env=env, check=True,
    ).stdout.splitlines()
    assert all(line.startswith(str(venv)) for line in where[:2]), where[:2]
    assert not [p for p in where[2:] if p and Path(p).resolve().is_relative_to(REPO) and ".venv" not in p], where

    done = dbt_sync("demo", "--work-dir", str(tmp_path / "demo"), timeout=400)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "Salesforce now holds 8 contacts; HubSpot holds 8." in output, output[-4000:]
    # the two records the demo data gets wrong on purpose, with Salesforce's codes, then fixed and retried
    assert "INVALID_EMAIL_ADDRESS" in output and "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" in output, output[-4000:]
    assert "No failed records: every record is in sync." in output, output[-4000:]

    # regression: a second demo in the same folder kept the first one's warehouse state while the emulators
    # started empty (0 contacts created, "Foreign key external ID ... not found", exit 1)
    again = dbt_sync("demo", "--work-dir", str(tmp_path / "demo"), timeout=400)
    output = again.stdout + again.stderr
    assert again.returncode == 0, output[-4000:]
    assert "Starting over: removing" in output and "Salesforce now holds 8 contacts; HubSpot holds 8." in output, \
        output[-4000:]
