"""The foundation on a real dbt project: `dbt build` of integration_tests, then validate and plan.

Runs on DuckDB and on the throwaway PostgreSQL server, through the CLI as a
user would, and checks mapping validation against both emulators.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dbt_sync_emulators.sandbox import running_sandbox

pytestmark = pytest.mark.slow


def cli(project: Any, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**project.env, **(extra_env or {})}
    paths = ["--project-dir", str(project.path), "--profiles-dir", str(project.path)]
    return subprocess.run(
        [sys.executable, "-m", "dbt_sync", *args, *paths],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )


SANDBOX_ENV = {"DBT_SYNC_SF_PASSWORD": "unused", "DBT_SYNC_HUBSPOT_TOKEN": "unused"}


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_build_then_validate_and_plan_json(dbt_project_factory: Any, target: str) -> None:
    project = dbt_project_factory(target)
    done = cli(project, "validate", extra_env=SANDBOX_ENV)
    assert done.returncode == 0, done.stderr
    assert "OK: 6 sync(s) in 3 model(s) are valid." in done.stdout

    done = cli(project, "plan", "--json", extra_env=SANDBOX_ENV)
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    stages = [[s["name"] for s in stage["syncs"]] for stage in plan["stages"]]
    assert stages == [
        ["accounts_to_hubspot", "accounts_to_salesforce"],
        ["contacts_to_hubspot", "contacts_to_salesforce"],
        ["deals_to_hubspot", "deals_to_salesforce"],
    ]
    assert plan["skipped"] == []
    # the plan is for the dbt invocation that built the models
    run_results = json.loads((project.path / "target" / "run_results.json").read_text())
    assert plan["run_results"]["invocation_id"] == run_results["metadata"]["invocation_id"]
    deals = plan["stages"][2]["syncs"][0]
    assert {"sync": "contacts_to_hubspot", "kind": "association",
            "reason": "deals_to_hubspot associates with contacts records that contacts_to_hubspot writes",
            } in deals["after"]
    # dbt ancestry orders syncs of the same destination only
    assert {a["sync"] for a in deals["after"]} == {"accounts_to_hubspot", "contacts_to_hubspot"}


def test_broken_spec_in_a_real_project_reports_yaml_paths(dbt_project_factory: Any, tmp_path: Path) -> None:
    project = dbt_project_factory("duckdb", "broken_spec", build=False)
    crm = project.path / "models" / "crm" / "crm.yml"
    doc = yaml.safe_load(crm.read_text())
    contacts = doc["models"][1]["config"]["meta"]["dbt_sync"]
    contacts[1]["fields"]["lastname"] = "last_nmae"
    contacts[0]["destination"] = "salesforse"
    crm.write_text(yaml.safe_dump(doc, sort_keys=False))
    project.dbt("parse")
    done = cli(project, "validate", extra_env=SANDBOX_ENV)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert (
        "models/crm/crm.yml: dim_contacts.config.meta.dbt_sync[1].fields.lastname: column 'last_nmae' does not "
        "exist in model dim_contacts. Did you mean 'last_name'?" in done.stderr
    )
    assert (
        "models/crm/crm.yml: dim_contacts.config.meta.dbt_sync[0].destination: unknown destination 'salesforse'. "
        "Did you mean 'salesforce'?" in done.stderr
    )


def test_check_destinations_against_both_emulators(dbt_project_factory: Any) -> None:
    project = dbt_project_factory("duckdb", "check_destinations", build=False)
    project.dbt("parse")
    with running_sandbox() as box:
        done = cli(project, "validate", "--check-destinations", extra_env=box.env())
        assert done.returncode == 0, done.stdout + done.stderr

        # break mappings in ways only the destinations' metadata can tell
        crm = project.path / "models" / "crm" / "crm.yml"
        doc = yaml.safe_load(crm.read_text())
        accounts, contacts = doc["models"][0], doc["models"][1]
        accounts["config"]["meta"]["dbt_sync"][0]["fields"]["Industri"] = "industry"
        accounts["config"]["meta"]["dbt_sync"][1]["fields"]["hs_object_id"] = "account_id"
        contacts["config"]["meta"]["dbt_sync"][0]["fields"]["LastName"] = {"value": None}
        contacts["config"]["meta"]["dbt_sync"][0]["fields"]["Tier__c"] = {"value": "Platinum"}
        contacts["config"]["meta"]["dbt_sync"][1]["fields"]["lifecyclestage"] = {"value": "vip"}
        # a custom object whose schema defines no association with contacts, and a label that does not exist
        box.hubspot.define_object_type("2-777001", "projects", properties=[{"name": "project_key", "unique": True}])
        contacts["config"]["meta"]["dbt_sync"][1]["associations"] += [
            {"to": "p_projects", "column": "account_id", "match": "project_key"},
            {"to": "companies", "column": "account_id", "match": "company_key", "label": "Billing contcat"},
        ]
        box.hubspot.define_association_label("contacts", "companies", "Billing contact")
        crm.write_text(yaml.safe_dump(doc, sort_keys=False))
        project.dbt("parse")
        done = cli(project, "validate", "--check-destinations", extra_env=box.env())
    assert done.returncode == 2
    report = done.stderr
    assert "dim_accounts.config.meta.dbt_sync[0].fields.Industri" in report and "Industry" in report
    assert "dim_accounts.config.meta.dbt_sync[1].fields.hs_object_id" in report
    assert "dim_contacts.config.meta.dbt_sync[0].fields.Tier__c" in report and "Platinum" in report
    assert "dim_contacts.config.meta.dbt_sync[1].fields.lifecyclestage" in report and "vip" in report
    n = len(yaml.safe_load(crm.read_text())["models"][1]["config"]["meta"]["dbt_sync"][1]["associations"])
    assert (f"dim_contacts.config.meta.dbt_sync[1].associations[{n - 2}].to: HubSpot defines no association "
            "between contacts and p_projects") in report
    assert (f"dim_contacts.config.meta.dbt_sync[1].associations[{n - 1}].label: no association label "
            "'Billing contcat' from contacts to companies (did you mean 'Billing contact'?)") in report
    assert box.sf_password not in report and box.hubspot.token not in report
