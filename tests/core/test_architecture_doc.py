"""docs/architecture.md names the modules that exist, and every product module has a row."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "architecture.md").read_text()
TABLE = DOC[DOC.index("## Modules") : DOC.index("## Why it is built this way")]
PATHS = set(re.findall(r"`((?:dbt_sync|macros|packages)/[^`\s]*)`", TABLE))


def test_every_path_in_the_modules_table_exists() -> None:
    assert PATHS
    missing = sorted(p for p in PATHS if not (ROOT / p).exists())
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


def test_every_product_module_has_a_row() -> None:
    """A module is named by its path, by its file name in its package's row, or by its package."""
    named = {ROOT / p for p in PATHS}
    unnamed = []
    for module in sorted((ROOT / "dbt_sync").rglob("*.py")):
        if module.name == "__init__.py" or "dbt_package" in module.parts:
            continue
        covered = module in named or any(d in named for d in module.parents) or f"`{module.name}`" in TABLE
        if not covered:
            unnamed.append(str(module.relative_to(ROOT)))
    assert not unnamed, f"modules docs/architecture.md does not place: {unnamed}"
