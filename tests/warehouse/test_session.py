"""What dbt-sync sets up in its own process when it opens a warehouse:
DuckDB's memory and threads bounded (DuckDB runs in-process), and dbt's
start-up objects moved out of the cyclic garbage collector's generations."""

from __future__ import annotations

import gc
from typing import Any

import duckdb
import pytest

from dbt_sync.errors import ConfigError
from dbt_sync.warehouse.warehouse import DUCKDB_SESSION_SETTINGS, duckdb_session_settings


def duckdb_reports(**config: str) -> dict[str, str]:
    """How DuckDB itself reports these settings (a fresh in-memory database)."""
    con = duckdb.connect(config=config)
    try:
        return {name: str(con.execute(f"select current_setting('{name}')").fetchone()[0])  # type: ignore[index]
                for name in ("memory_limit", "threads")}
    finally:
        con.close()


def settings_of(wh: Any) -> dict[str, str]:
    (row,) = wh.query("select current_setting('memory_limit') as memory_limit, "
                      "current_setting('threads') as threads")
    return {k: str(v) for k, v in row.items()}


@pytest.mark.slow
def test_duckdb_memory_and_threads_are_bounded_and_overridable(dbt_project_factory: Any,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    project = dbt_project_factory("duckdb", name="session", build=False)
    for variable, _ in DUCKDB_SESSION_SETTINGS.values():
        monkeypatch.delenv(variable, raising=False)
    defaults = {name: default for name, (_, default) in DUCKDB_SESSION_SETTINGS.items()}
    unbounded = duckdb_reports()  # DuckDB's own default memory_limit: 80% of the machine's RAM
    assert duckdb_reports(**defaults)["memory_limit"] != unbounded["memory_limit"]
    with project.warehouse() as wh:
        assert settings_of(wh) == duckdb_reports(**defaults)
    monkeypatch.setenv("DBT_SYNC_DUCKDB_MEMORY_LIMIT", "300MB")
    monkeypatch.setenv("DBT_SYNC_DUCKDB_THREADS", "1")
    with project.warehouse() as wh:
        assert settings_of(wh) == duckdb_reports(memory_limit="300MB", threads="1")
    monkeypatch.setenv("DBT_SYNC_DUCKDB_MEMORY_LIMIT", "lots")
    with pytest.raises(ConfigError, match="DBT_SYNC_DUCKDB_MEMORY_LIMIT"), project.warehouse():
        pass


def test_duckdb_settings_resolution_order() -> None:
    assert duckdb_session_settings({}, {}) == {"memory_limit": "256MB", "threads": "2"}
    # a value the profile's settings give is left to dbt-duckdb; the environment variable still wins
    assert duckdb_session_settings({"memory_limit": "1GB"}, {}) == {"threads": "2"}
    assert duckdb_session_settings({"memory_limit": "1GB"}, {"DBT_SYNC_DUCKDB_MEMORY_LIMIT": "128MB"}) == {
        "memory_limit": "128MB", "threads": "2"}
    for bad in ("0", "-1", "two"):
        with pytest.raises(ConfigError, match="DBT_SYNC_DUCKDB_THREADS"):
            duckdb_session_settings({}, {"DBT_SYNC_DUCKDB_THREADS": bad})


@pytest.mark.slow
def test_manifest_is_frozen_out_of_the_collector_while_open(dbt_project_factory: Any) -> None:
    project = dbt_project_factory("duckdb", name="session", build=False)
    gc.unfreeze()
    with project.warehouse() as wh:
        manifest = wh.manifest
        assert gc.get_freeze_count() > 0
        assert not any(o is manifest for o in gc.get_objects())  # the collector no longer scans it
    assert gc.get_freeze_count() == 0
    assert any(o is manifest for o in gc.get_objects())  # collectable again once closed
