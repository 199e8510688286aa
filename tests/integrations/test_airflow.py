"""dbt_sync.airflow for real: the README's example DAG run by Airflow 3 (``dag.test()``) against the emulators.

Airflow lives in its own environment (``.venv-airflow``, made by
``scripts/ensure-airflow``, pinned by ``constraints-airflow.txt``); this test
drives it through a subprocess (``tests/integrations/airflow_run.py``) with
a fresh ``AIRFLOW_HOME`` and a SQLite metadata database, on a built copy of
integration_tests (DuckDB) and both CRM emulators started here.

Two DAG runs in one Airflow process:

1. the example DAG (``docs/examples/airflow_dag.py``, shown verbatim in
   README): dbt build, then one task per sync. The task dependencies are the
   plan's edges (as ``dbt-sync plan`` prints them), each task starts after the
   tasks it needs ended, the CRMs hold the models' rows with lookups and
   associations resolved, each task's XCom figures agree with the CRM, and
   the two syncs with rejected records fail their task (exit code 1) while
   the syncs after them still run, as in one ``dbt-sync run``.
2. ``airflow_failures_dag.py`` with a HubSpot token the emulator refuses: the
   whole-sync failure fails its task and skips the HubSpot syncs that need it
   (their XCom says why), and ``record_failures_fatal=False`` lets a sync
   with rejected records succeed.

No secret and no record value reaches the task logs or XCom. Without Airflow:
README shows the example verbatim, and constraints-airflow.txt pins what
constraints.txt pins at the same versions.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from dbt_sync.orchestration import sync_tasks
from dbt_sync_emulators.sandbox import running_sandbox
from tests.fixtures.warehouses import REPO_ROOT

pytestmark = pytest.mark.slow

AIRFLOW_VENV = REPO_ROOT / ".venv-airflow"
EXAMPLE_DAG = REPO_ROOT / "docs" / "examples" / "airflow_dag.py"
FAILURES_DAG = Path(__file__).with_name("airflow_failures_dag.py")
DRIVER = Path(__file__).with_name("airflow_run.py")
GROUP = "dbt_sync"
REFUSED_TOKEN = "pat-na1-refused-by-the-emulator"
#: airflow_run.PROBE_SECRET
PROBE_SECRET = "probe-secret-7d1f0c"
#: values of integration_tests' seeds that must never reach a log or XCom (emails, a name, a phone number)
RECORD_VALUES = ("ada.lovelace@acme-robotics.example", "chloe.dubois(at)elan-etudes.example", "Lindqvist", "555 0107")


def test_readme_shows_the_example_dag_verbatim() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert EXAMPLE_DAG.read_text(encoding="utf-8") in blocks


def pins(path: Path) -> dict[str, str]:
    """name (normalized) -> version of every ``name==version`` line of a constraints file."""
    found = (re.match(r"([A-Za-z0-9_.-]+)==(\S+)", line.split("#")[0].strip()) for line in path.open())
    return {re.sub(r"[-_.]+", "-", m[1]).lower(): m[2] for m in found if m}


def test_airflow_constraints_pin_what_constraints_txt_pins() -> None:
    """.venv-airflow runs dbt-sync on the versions CI tests it with; after a change of constraints.txt,
    ``scripts/ensure-airflow --lock`` resolves constraints-airflow.txt again."""
    ours, airflow = pins(REPO_ROOT / "constraints.txt"), pins(REPO_ROOT / "constraints-airflow.txt")
    assert airflow["apache-airflow"].startswith("3.") and "dbt-core" in airflow
    differ = {name: (ours[name], airflow[name]) for name in ours.keys() & airflow.keys() if ours[name] != airflow[name]}
    assert not differ, f"constraints-airflow.txt and constraints.txt differ: {differ}: scripts/ensure-airflow --lock"


def sync_task(name: str) -> str:
    return f"{GROUP}.{name}"


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def plan_after(project: Any, env: dict[str, str]) -> dict[str, set[str]]:
    """Each planned sync -> the syncs it runs after, as ``dbt-sync plan --all --json`` prints them."""
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("dbt-sync")), "plan", "--all", "--json",
         "--project-dir", str(project.path), "--profiles-dir", str(project.path)],
        env={**os.environ, **env}, capture_output=True, text=True, check=True,
    )
    plan = json.loads(proc.stdout)
    return {s["name"]: {a["sync"] for a in s["after"]} for stage in plan["stages"] for s in stage["syncs"]}


def run_airflow(tmp_path: Path, env: dict[str, str], runs: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    python = AIRFLOW_VENV / "bin" / "python"
    if not python.exists():
        pytest.fail(f"{python} is missing: run scripts/ensure-airflow (scripts/test does)", pytrace=False)
    home = tmp_path / "airflow_home"
    dags = home / "dags"
    dags.mkdir(parents=True)
    for run in runs:
        run["file"] = str(shutil.copy(run["file"], dags / Path(run["file"]).name))
    out = tmp_path / "airflow_report.json"
    proc = subprocess.run(
        [str(python), str(DRIVER), json.dumps(runs), str(out)],
        env={
            **os.environ,
            **env,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            # the example's BashOperator runs `dbt` from the Airflow environment, as on a worker
            "PATH": f"{AIRFLOW_VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        },
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )
    logs = proc.stdout + proc.stderr
    assert proc.returncode == 0, logs[-8000:]
    return json.loads(out.read_text(encoding="utf-8")), logs


def test_example_dag_runs_the_plan_in_airflow(dbt_project_factory: Any, tmp_path: Path) -> None:
    project = dbt_project_factory("duckdb", "airflow", build=False)
    project.dbt("parse")  # the DAG file reads the syncs from target/manifest.json when Airflow parses it
    with running_sandbox() as sandbox:
        env = {**project.env, **sandbox.env(), "DBT_PROJECT_DIR": str(project.path)}
        expected_after = plan_after(project, env)
        # the group reads the same plan, also from a folder of downloaded artifacts (a dbt Cloud job run's)
        artifacts, empty_target = tmp_path / "artifacts", tmp_path / "empty_target"
        artifacts.mkdir(), empty_target.mkdir()
        shutil.copy(project.path / "target" / "manifest.json", artifacts)
        from_artifacts = sync_tasks(project.path, target_path=empty_target, artifacts_dir=artifacts)
        assert from_artifacts == sync_tasks(project.path)
        assert {t.name: set(t.after) for t in from_artifacts} == expected_after
        report, logs = run_airflow(tmp_path, env, [
            {"file": str(EXAMPLE_DAG)},
            {"file": str(FAILURES_DAG), "env": {"DBT_SYNC_HUBSPOT_TOKEN": REFUSED_TOKEN}},
        ])
        sf = {name: sandbox.salesforce.records(name) for name in ("Account", "Contact", "Opportunity")}
        hs = {name: sandbox.hubspot.records(name) for name in ("companies", "contacts", "deals")}
        hs_links = {r["properties"]["contact_key"]: sandbox.hubspot.associations("contacts", r["id"])
                    for r in hs["contacts"]}
        secrets = (sandbox.sf_password, sandbox.hubspot.token, REFUSED_TOKEN)

    example = report["dbt_sync"]
    syncs = set(expected_after)
    assert len(syncs) == 6 and any(expected_after.values())
    # -- one task per sync, its dependencies the plan's edges; dbt build first, `done` last --------------------
    assert set(example["upstream"]) == {"dbt_build", sync_task("done"), *map(sync_task, syncs)}
    for name, after in expected_after.items():
        assert set(example["upstream"][sync_task(name)]) == ({sync_task(a) for a in after} or {"dbt_build"})
    assert set(example["upstream"][sync_task("done")]) == set(map(sync_task, syncs))
    # the destinations are independent branches: a worker may run a HubSpot sync beside a Salesforce one
    assert all(a.split("_to_")[1] == name.split("_to_")[1] for name, after in expected_after.items() for a in after)

    # -- each task that ran started after every task it depends on ended -----------------------------------
    tasks = example["tasks"]
    ran = {t for t, v in tasks.items() if v["state"] in ("success", "failed")}
    assert ran == set(example["upstream"]) - {sync_task("done")}
    for task_id in ran:
        for up in example["upstream"][task_id]:
            assert when(tasks[up]["end"]) <= when(tasks[task_id]["start"]), (up, task_id)

    # -- the CLI's exit code rule per task; syncs after one with record failures still run ------------------
    xcom = {name: example["xcom"][f"{sync_task(name)}/return_value"] for name in syncs}
    for name in syncs:
        figures = xcom[name]
        (sync,) = figures["syncs"]
        assert sync["name"] == name
        assert tasks[sync_task(name)]["state"] == ("failed" if figures["exit_code"] else "success"), name
        assert "error_samples" not in sync and "samples" not in sync
    assert {n for n in syncs if xcom[n]["exit_code"] == 1} == {"contacts_to_salesforce", "contacts_to_hubspot"}
    assert tasks["dbt_build"]["state"] == "success"
    assert tasks[sync_task("done")]["state"] == "upstream_failed" and example["dag_runs"] == ["failed"]

    # -- the CRMs hold what the figures say, lookups and associations resolved --------------------------------
    created = {name: xcom[name]["syncs"][0]["created"] for name in syncs}
    assert created["accounts_to_salesforce"] == len(sf["Account"]) > 0
    assert created["contacts_to_salesforce"] == len(sf["Contact"]) > 0
    assert created["deals_to_salesforce"] == len(sf["Opportunity"]) > 0
    assert created["accounts_to_hubspot"] == len(hs["companies"]) > 0
    assert created["contacts_to_hubspot"] == len(hs["contacts"]) > 0
    assert created["deals_to_hubspot"] == len(hs["deals"]) > 0
    assert xcom["contacts_to_salesforce"]["syncs"][0]["error_codes"] == {
        "INVALID_EMAIL_ADDRESS": 1, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": 1}
    account_ids = {a["Id"] for a in sf["Account"]}
    assert all(c["AccountId"] in account_ids for c in sf["Contact"])
    assert all(o["AccountId"] in account_ids for o in sf["Opportunity"])
    company_ids = {c["id"] for c in hs["companies"]}
    assert all(any(t == "companies" and i in company_ids for t, i, _ in links) for links in hs_links.values())

    # -- a whole-sync failure skips what needs it; record failures pass with record_failures_fatal=False ----
    failures = report["dbt_sync_failures"]
    states = {t: v["state"] for t, v in failures["tasks"].items()}
    assert states == {
        sync_task("accounts_to_hubspot"): "failed",
        sync_task("contacts_to_hubspot"): "skipped",
        sync_task("deals_to_hubspot"): "skipped",
        sync_task("contacts_to_salesforce"): "success",
        sync_task("done"): "upstream_failed",
    }
    fx = {t.split("/")[0]: v for t, v in failures["xcom"].items()}
    assert fx[sync_task("accounts_to_hubspot")]["exit_code"] == 2
    assert fx[sync_task("accounts_to_hubspot")]["syncs"][0]["status"] == "error"
    assert [s["skip_cause"] for s in fx[sync_task("contacts_to_hubspot")]["syncs"]] == ["upstream_failed"]
    assert fx[sync_task("deals_to_hubspot")]["syncs"][0]["status"] == "skipped"
    resent = fx[sync_task("contacts_to_salesforce")]
    assert resent["syncs"][0]["failed"] == 2 and resent["syncs"][0]["status"] == "partial"
    assert resent["exit_code"] == 0 and resent["metadata"]["record_failures_fatal"] is False

    # -- nothing secret, no record value, in the task logs or XCom ---------------------------------------------
    text = logs + json.dumps(report)
    for value in (*secrets, *RECORD_VALUES, PROBE_SECRET):
        assert value not in text
    assert "log masking probe: ****" in logs  # dbt-sync's log lines are masked in Airflow's task logging
