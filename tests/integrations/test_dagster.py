"""dbt_sync.dagster for real: the README's Dagster example materialized with ``dagster.materialize``.

Dagster and dagster-dbt live in their own environment, ``.venv-dagster``
(``scripts/ensure-dagster``, which ``scripts/test`` runs); this test drives it
through a subprocess (``dagster_driver.py``), with ``DAGSTER_HOME`` in a
temporary folder, over a copy of integration_tests on DuckDB, against both
emulators running here. The first materialization has dagster-dbt's
``@dbt_assets`` build the models and the sync assets push them, with a HubSpot
token the emulator refuses; the second materializes the sync assets again
with the right token and ``record_failures_fatal=False``.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from dbt_sync_emulators.sandbox import running_sandbox
from tests.fixtures.warehouses import REPO_ROOT

pytestmark = pytest.mark.slow

VENV = REPO_ROOT / ".venv-dagster"
DRIVER = Path(__file__).with_name("dagster_driver.py")
EXAMPLE = re.compile(r"<!-- dagster-example: definitions\.py -->\s*\n```python\n(?P<body>.*?)\n```", re.S)
#: a token the HubSpot emulator refuses with 401, as HubSpot does an expired private-app token
WRONG_TOKEN = "pat-na1-00000000-0000-0000-0000-000000000000"
SYNCS = ("accounts_to_salesforce", "accounts_to_hubspot", "contacts_to_salesforce", "contacts_to_hubspot",
         "deals_to_salesforce", "deals_to_hubspot")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def readme_example() -> str:
    found = EXAMPLE.findall((REPO_ROOT / "README.md").read_text())
    assert len(found) == 1, "README.md has one block marked <!-- dagster-example: definitions.py -->"
    return str(found[0]) + "\n"


def order(events: list[dict[str, Any]]) -> dict[str, int]:
    """Asset key -> the position of its materialization or failure event; step -> position of its start."""
    at: dict[str, int] = {}
    for i, event in enumerate(events):
        if event["type"] == "ASSET_MATERIALIZATION":
            at.setdefault(event["asset"], i)
        elif event["type"] in ("STEP_START", "STEP_FAILURE", "STEP_SUCCESS"):
            at.setdefault(f"{event['type']}:{event['step']}", i)
    return at


def sync_outcomes(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Sync name -> {"outcome": materialized | failed, "metadata", "description"}; a step not run is absent."""
    out: dict[str, dict[str, Any]] = {}
    for event in events:
        step = event["step"] or ""
        if not step.startswith("dbt_sync__"):
            continue
        name = step.removeprefix("dbt_sync__")
        if event["type"] == "ASSET_MATERIALIZATION":
            out[name] = {"outcome": "materialized", "metadata": event["metadata"]}
        elif event["type"] == "STEP_FAILURE":
            out[name] = {"outcome": "failed", "metadata": event["metadata"], "description": event["description"]}
    return out


def test_readme_dagster_example_materializes_models_then_syncs(dbt_project_factory: Any, tmp_path: Path) -> None:
    python = VENV / "bin" / "python"
    if not python.exists():
        pytest.fail(f"{python} is missing: run scripts/ensure-dagster (scripts/test does)", pytrace=False)
    project = dbt_project_factory("duckdb", "dagster", build=False, extra_files={"definitions.py": readme_example()})
    project.dbt("parse")  # target/manifest.json, as `dagster dev` writes it through prepare_if_dev()
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    out = tmp_path / "dagster.json"
    with running_sandbox() as box:
        env = {
            **os.environ,
            **project.env,
            **box.env(),
            "DBT_SYNC_HUBSPOT_TOKEN": WRONG_TOKEN,
            "SECOND_HUBSPOT_TOKEN": box.hubspot.token,
            "DBT_PROFILES_DIR": str(project.path),
            "DAGSTER_HOME": str(home),
            "PATH": f"{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        env.pop("VIRTUAL_ENV", None)
        started, cpu = time.perf_counter(), _children_cpu()
        done = subprocess.run(
            [str(python), str(DRIVER), str(project.path), str(out)],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=540,
        )
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-8000:]
        seconds = {"wall": round(time.perf_counter() - started, 1), "cpu": round(_children_cpu() - cpu, 1)}
        report = json.loads(out.read_text())
        sf = box.salesforce
        accounts = {r["External_Id__c"]: r for r in sf.records("Account")}
        contacts = {r["External_Id__c"]: r for r in sf.records("Contact")}
        opportunities = {r["External_Id__c"]: r for r in sf.records("Opportunity")}
        hs = box.hubspot
        companies = {r["properties"]["company_key"]: r["id"] for r in hs.records("companies")}
        hs_contacts = {r["properties"]["contact_key"]: r["id"] for r in hs.records("contacts")}
        deals = {r["properties"]["deal_key"]: r["id"] for r in hs.records("deals")}
        deal_links = {(t, i) for t, i, _ in hs.associations("deals", deals["D-3001"])} if "D-3001" in deals else set()
        secrets = {box.sf_password, box.hubspot.token, WRONG_TOKEN}

    # one asset per sync, after its model's dagster-dbt asset and the syncs it needs (the plan's edges)
    assert report["asset_keys"] == sorted(f"dbt_sync/{name}" for name in SYNCS)
    deps = report["deps"]
    assert deps["dbt_sync/accounts_to_salesforce"] == ["dim_accounts"]
    assert deps["dbt_sync/contacts_to_salesforce"] == ["dbt_sync/accounts_to_salesforce", "dim_contacts"]
    assert deps["dbt_sync/deals_to_hubspot"] == ["dbt_sync/accounts_to_hubspot", "dbt_sync/contacts_to_hubspot",
                                                  "fct_deals"]
    # a custom translator's keys, a key prefix and a selection (contacts_to_hubspot left out)
    custom = report["custom"]
    assert "warehouse/fct_deals" in custom["dbt_keys"] and "warehouse/dim_accounts" in custom["dbt_keys"]
    assert custom["deps"] == {
        "crm/accounts_to_hubspot": ["warehouse/dim_accounts"],
        "crm/deals_to_hubspot": ["crm/accounts_to_hubspot", "warehouse/fct_deals"],
    }
    assert custom["groups"] == ["dbt_sync"]

    # -- first: dbt models, then syncs; a refused token fails the HubSpot syncs as a whole ---------------
    first = report["first"]
    assert first["success"] is False
    at = order(first["events"])
    outcome = sync_outcomes(first["events"])
    for model in ("dim_accounts", "dim_contacts", "fct_deals"):
        assert model in at, f"dagster-dbt did not materialize {model}"
    assert at["dim_accounts"] < at["STEP_START:dbt_sync__accounts_to_salesforce"]
    assert at["dim_contacts"] < at["STEP_START:dbt_sync__contacts_to_salesforce"]
    assert at["dbt_sync/accounts_to_salesforce"] < at["STEP_START:dbt_sync__contacts_to_salesforce"]

    accounts_sf = outcome["accounts_to_salesforce"]
    assert accounts_sf["outcome"] == "materialized"
    figures = accounts_sf["metadata"]
    assert (figures["status"], figures["planned"], figures["created"], figures["failed"]) == ("success", 6, 6, 0)
    assert figures["exit_code"] == 0 and figures["duration_seconds"] > 0
    assert figures["model"] == "dim_accounts" and figures["object"] == "Account"

    # record failures fail the asset (exit code 1), with the figures and the failures query in the Failure
    contacts_sf = outcome["contacts_to_salesforce"]
    assert contacts_sf["outcome"] == "failed"
    figures = contacts_sf["metadata"]
    assert (figures["status"], figures["created"], figures["failed"], figures["exit_code"]) == ("partial", 6, 2, 1)
    assert figures["error_codes"] == {"INVALID_EMAIL_ADDRESS": 1, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": 1}
    assert "dbt_sync_failures" in figures["failures_sql"]
    assert "error_samples" not in figures and "samples" not in figures
    assert "exit code 1 (some records failed)" in contacts_sf["description"]
    assert "INVALID_EMAIL_ADDRESS x1" in contacts_sf["description"]
    # a sync failed as a whole fails its asset (exit code 2); Dagster does not run the syncs that need it
    accounts_hs = outcome["accounts_to_hubspot"]
    assert accounts_hs["outcome"] == "failed"
    assert (accounts_hs["metadata"]["status"], accounts_hs["metadata"]["exit_code"]) == ("error", 2)
    assert "authentication failed (INVALID_AUTHENTICATION)" in accounts_hs["description"]
    for name in ("deals_to_salesforce", "contacts_to_hubspot", "deals_to_hubspot"):
        assert name not in outcome and f"STEP_START:dbt_sync__{name}" not in at, name

    # -- second: the right token, record failures accepted, full_refresh from run config ------------------
    second = report["second"]
    assert second["success"] is True
    at = order(second["events"])
    outcome = sync_outcomes(second["events"])
    assert {name for name, o in outcome.items() if o["outcome"] == "materialized"} == set(SYNCS)
    for upstream, downstream in [("accounts_to_salesforce", "contacts_to_salesforce"),
                                 ("contacts_to_salesforce", "deals_to_salesforce"),
                                 ("accounts_to_hubspot", "contacts_to_hubspot"),
                                 ("contacts_to_hubspot", "deals_to_hubspot"),
                                 ("accounts_to_hubspot", "deals_to_hubspot")]:
        assert at[f"dbt_sync/{upstream}"] < at[f"STEP_START:dbt_sync__{downstream}"], (upstream, downstream)
    figures = {name: o["metadata"] for name, o in outcome.items()}
    assert (figures["accounts_to_salesforce"]["planned"], figures["accounts_to_salesforce"]["updated"]) == (6, 6)
    assert (figures["contacts_to_salesforce"]["status"], figures["contacts_to_salesforce"]["failed"]) == ("partial", 2)
    assert figures["contacts_to_salesforce"]["exit_code"] == 0  # dbt-sync run --warn-on-record-failures's code
    assert (figures["accounts_to_hubspot"]["created"], figures["contacts_to_hubspot"]["created"]) == (6, 7)
    assert figures["contacts_to_hubspot"]["failed"] == 1
    assert (figures["deals_to_salesforce"]["created"], figures["deals_to_hubspot"]["created"]) == (4, 4)

    # the CRMs hold what the metadata says, lookups and associations resolved
    assert set(accounts) == {f"A-100{i}" for i in range(1, 7)} and len(companies) == 6
    assert set(contacts) == {"C-2001", "C-2002", "C-2003", "C-2004", "C-2005", "C-2008"}
    assert contacts["C-2001"]["AccountId"] == accounts["A-1001"]["Id"]
    assert len(hs_contacts) == 7 and len(opportunities) == 4 and len(deals) == 4
    assert opportunities["D-3001"]["AccountId"] == accounts["A-1001"]["Id"]
    assert ("contacts", hs_contacts["C-2001"]) in deal_links and ("companies", companies["A-1001"]) in deal_links

    # no secret and no masked value anywhere in Dagster's event log or the process's output
    seen = "\n".join(report["event_log"]) + done.stdout + done.stderr
    assert "dbt_sync__contacts_to_salesforce" in seen
    print("dagster seconds:", seconds, {k: round(v, 1) for k, v in report["seconds"].items()})
    for secret in secrets:
        assert secret not in seen
    header, rows = project.read_seed("raw_contacts")
    masked = [row[header.index(column)] for row in rows for column in ("email", "phone")]
    assert "chloe.dubois(at)elan-etudes.example" in [m.lower() for m in masked]
    for value in filter(None, masked):
        assert value.lower() not in seen.lower(), value
