"""The warehouse session's dbt manifest comes from the manifest.json dbt already wrote, where that is safe.

dbt-sync loads dbt in-process to run its macros. Parsing the project again
(dbt's ManifestLoader) is not needed when ``manifest.json`` holds exactly
what a parse would give; these tests pin that the fast path is taken (the
ManifestLoader is never called, no model is parsed into dbt node objects)
and that every case where it would not be the same (a macro override added
or edited, ``dispatch:`` changed, other ``--vars``, another dbt-core
version, ``DBT_SYNC_REPARSE``) parses the project, with the override still
winning as dbt's dispatch rules say. See dbt_sync/warehouse/artifacts.py.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from dbt_sync.warehouse import Warehouse
from dbt_sync.warehouse.artifacts import REPARSE_ENV
from tests.fixtures.warehouses import DbtProject

pytestmark = pytest.mark.slow

MODEL = "model.dbt_sync_integration_tests.dim_contacts"
OVERRIDE = """
{% macro duckdb__open_failure_syncs_sql() -%}
  {{- return("select 'VALUE' as sync_name") -}}
{%- endmacro %}
"""
DISPATCH = """
dispatch:
  - macro_namespace: dbt_sync
    search_order: [dbt_sync_integration_tests, dbt_sync]
"""


def no_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any parse of the project fail the test."""
    from dbt.parser.manifest import ManifestLoader

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the project was parsed although its manifest.json could be used")

    monkeypatch.setattr(ManifestLoader, "get_full_manifest", classmethod(refuse))
    monkeypatch.setattr(ManifestLoader, "load_macros", classmethod(refuse))


def open_wh(project: DbtProject, **kwargs: Any) -> Warehouse:
    with project.environ():
        return Warehouse.open(str(project.path), profiles_dir=str(project.path), target=project.target, **kwargs)


def later(path: Path) -> None:
    """Make sure a file written next has a newer modification time than ``path``."""
    stamp = path.stat().st_mtime
    while time.time() <= stamp + 0.01:
        time.sleep(0.02)


def test_session_takes_macros_and_nodes_from_manifest_json(dbt_project_factory: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    project = dbt_project_factory("duckdb", "startup_fast")
    monkeypatch.delenv(REPARSE_ENV, raising=False)
    no_parse(monkeypatch)
    written = json.loads((project.path / "target" / "manifest.json").read_text())
    wh = open_wh(project)
    try:
        assert wh.manifest_source == "artifacts"
        assert wh.manifest.nodes == {}  # no model, test or seed parsed into dbt's node objects
        assert set(wh.manifest.macros) == set(written["macros"])
        # the macros run: the audit schema, the capture's reading of a model's meta and the built relation
        assert wh.audit_schema == "analytics_dbt_sync"
        assert [s["name"] for s in wh.model_syncs(MODEL)] == ["contacts_to_salesforce", "contacts_to_hubspot"]
        found = wh.resolve_columns(MODEL, ["contact_id", "EMAIL"])
        assert found is not None and found.resolved["EMAIL"] == "email"
        wh.capture(MODEL)  # a model built without the hook: its node comes from graph, as dbt wrote it
        assert wh.claim_changeset("contacts_to_salesforce") is not None
    finally:
        wh.close()


def test_override_added_or_edited_after_manifest_is_parsed_and_wins(dbt_project_factory: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    project = dbt_project_factory("duckdb", "startup_override", build=False)
    project.dbt("parse")
    monkeypatch.delenv(REPARSE_ENV, raising=False)
    manifest = project.path / "target" / "manifest.json"
    later(manifest)
    with (project.path / "dbt_project.yml").open("a") as f:
        f.write(DISPATCH)
    override = project.path / "macros" / "override.sql"
    override.parent.mkdir(exist_ok=True)
    override.write_text(OVERRIDE.replace("VALUE", "first"))
    wh = open_wh(project)
    try:
        assert wh.manifest_source == "parsed" and "override.sql" in wh._runtime.parse_reason
        assert wh.pending_retry_syncs() == {"first"}  # the project's override, by its dispatch search order
    finally:
        wh.close()

    project.dbt("parse")  # manifest.json now holds the override: no parse needed, and it still wins
    with monkeypatch.context() as patched:
        no_parse(patched)
        wh = open_wh(project)
        try:
            assert wh.manifest_source == "artifacts"
            assert wh.pending_retry_syncs() == {"first"}
        finally:
            wh.close()

    later(manifest)
    override.write_text(OVERRIDE.replace("VALUE", "second"))  # edited: manifest.json's text is not the file's
    wh = open_wh(project)
    try:
        assert wh.manifest_source == "parsed" and "override.sql" in wh._runtime.parse_reason
        assert wh.pending_retry_syncs() == {"second"}
    finally:
        wh.close()

    override.unlink()  # removed: manifest.json holds a macro the project no longer has
    wh = open_wh(project)
    try:
        assert wh.manifest_source == "parsed" and "override.sql" in wh._runtime.parse_reason
    finally:
        wh.close()


def test_other_vars_another_dbt_version_or_reparse_env_parse(dbt_project_factory: Any, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    project = dbt_project_factory("duckdb", "startup_fast")
    monkeypatch.delenv(REPARSE_ENV, raising=False)
    wh = open_wh(project, vars={"dbt_sync_schema": "elsewhere_sync"})
    try:  # dbt built the project without vars: a var can change a model's schema, so parse
        assert wh.manifest_source == "parsed" and "--vars" in wh._runtime.parse_reason
        assert wh.audit_schema == "elsewhere_sync"
    finally:
        wh.close()

    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    data = json.loads((project.path / "target" / "manifest.json").read_text())
    data["metadata"]["dbt_version"] = "1.8.0"
    (artifacts / "manifest.json").write_text(json.dumps(data))
    shutil.copy(project.path / "target" / "run_results.json", artifacts / "run_results.json")
    wh = open_wh(project, artifacts_dir=artifacts)
    try:  # another dbt-core's macros are not this one's
        assert wh.manifest_source == "parsed" and "dbt-core 1.8.0" in wh._runtime.parse_reason
    finally:
        wh.close()

    monkeypatch.setenv(REPARSE_ENV, "true")
    wh = open_wh(project)
    try:
        assert wh.manifest_source == "parsed" and REPARSE_ENV in wh._runtime.parse_reason
    finally:
        wh.close()
