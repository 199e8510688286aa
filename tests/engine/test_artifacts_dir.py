"""``--artifacts-dir`` / ``DBT_SYNC_ARTIFACTS_DIR``: follow a dbt job that ran elsewhere (dbt Cloud).

The job ran ``dbt build`` with the capture post-hook, so the changesets are
in the warehouse; its ``manifest.json`` and ``run_results.json`` were
downloaded into a folder. ``dbt-sync run --artifacts-dir`` plans from them
(which models the job built, the specs) while the project's own ``target/``
is missing or stale, and the warehouse session takes its macros from them
without parsing the project.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dbt_sync.cli import main
from tests.engine.conftest import stack_for
from tests.engine.test_end_to_end import edit_contacts, sf_contacts
from tests.warehouse.test_startup import no_parse

pytestmark = pytest.mark.slow

ARTIFACTS = ("manifest.json", "run_results.json")


def download(target: Path, folder: Path) -> None:
    """What downloading a job run's artifacts gives: the two files, in a folder of their own."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ARTIFACTS:
        shutil.copy(target / name, folder / name)


def test_run_follows_a_job_that_ran_elsewhere(dbt_project_factory: Any, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    project = dbt_project_factory("duckdb", "artifacts_dir")  # the job: dbt build, the hook captured
    target = project.path / "target"
    cloud = tmp_path / "job_run_1"
    download(target, cloud)
    for name in (*ARTIFACTS, "partial_parse.msgpack"):  # this machine never ran dbt
        (target / name).unlink()
    runner = CliRunner()
    with stack_for(project) as stack, stack.environ():
        with monkeypatch.context() as patched:
            no_parse(patched)  # the job's manifest.json gives the warehouse session its macros too
            out = runner.invoke(main, ["run", "--project-dir", str(project.path), "--profiles-dir",
                                       str(project.path), "--artifacts-dir", str(cloud)])
        assert out.exit_code == 1, out.output  # the two bad contacts fail, as in any first run
        assert "records: planned 36, created 33" in out.output
        assert set(sf_contacts(stack)) == {"C-2001", "C-2002", "C-2003", "C-2004", "C-2005", "C-2008"}
        assert sorted(p.name for p in cloud.iterdir()) == sorted(ARTIFACTS)  # nothing written there
        results = json.loads((target / "dbt_sync_results.json").read_text())  # but in the target directory
        assert {s["name"] for s in results["syncs"]} >= {"contacts_to_salesforce", "accounts_to_hubspot"}

        # the next job run changes a contact; the local target/ is stale (a later `dbt seed` built no model)
        edit_contacts(project, {"C-2002": {"last_name": "Hopper-Murray"}})
        stack.dbt("build")
        download(target, tmp_path / "job_run_2")
        stack.dbt("seed")
        stale = runner.invoke(main, ["plan", "--project-dir", str(project.path), "--json"])
        assert stale.exit_code == 0, stale.output
        planned = {sync["name"] for stage in json.loads(stale.output)["stages"] for sync in stage}
        assert "contacts_to_salesforce" not in planned  # by target/, the latest dbt invocation built no model
        monkeypatch.setenv("DBT_SYNC_ARTIFACTS_DIR", str(tmp_path / "job_run_2"))
        out = runner.invoke(main, ["run", "--project-dir", str(project.path), "--profiles-dir",
                                   str(project.path), "--select", "contacts_to_salesforce"])
        assert out.exit_code == 1, out.output  # the two bad contacts are retried and fail again
        assert sf_contacts(stack)["C-2002"]["LastName"] == "Hopper-Murray"


def test_artifacts_dir_errors_name_the_folder(dbt_project_factory: Any, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    project = dbt_project_factory("duckdb", "artifacts_dir_errors", build=False)
    for name in ("DBT_SYNC_SF_PASSWORD", "DBT_SYNC_HUBSPOT_TOKEN"):  # dbt_sync.yml's; plan sends nothing
        monkeypatch.setenv(name, "unused")
    monkeypatch.delenv("DBT_SYNC_ARTIFACTS_DIR", raising=False)
    runner = CliRunner()
    missing = tmp_path / "nowhere"
    out = runner.invoke(main, ["plan", "--project-dir", str(project.path), "--artifacts-dir", str(missing)])
    assert out.exit_code == 2 and f"{missing}: no such folder (--artifacts-dir" in out.output
    missing.mkdir()
    out = runner.invoke(main, ["plan", "--project-dir", str(project.path), "--artifacts-dir", str(missing)])
    assert out.exit_code == 2 and f"{missing / 'manifest.json'}: not found (--artifacts-dir" in out.output
    project.dbt("parse")
    shutil.copy(project.path / "target" / "manifest.json", missing / "manifest.json")  # no run_results.json
    out = runner.invoke(main, ["plan", "--project-dir", str(project.path), "--artifacts-dir", str(missing)])
    assert out.exit_code == 0 and "run_results.json: not found, so no model counts as built" in out.output
