"""The README's complete example runs as written, against the emulators, with zero failures.

Every block of README.md preceded by ``<!-- readme-example: PATH -->`` is
written to PATH in a fresh dbt project (``dbt_project.yml`` blocks are merged
into a minimal project file; ``path/to/dbt-sync`` in ``packages.yml`` becomes
this checkout). The test adds only what a reader brings: a DuckDB profile,
the two seeds the models read, and the variables ``dbt-sync sandbox``
prints. Then ``dbt deps``, ``dbt build``, ``dbt-sync validate`` and
``dbt-sync run``: every record must reach both CRMs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dbt_sync import secrets
from dbt_sync_emulators.sandbox import DBT_SYNC_YML, running_sandbox
from tests.fixtures.warehouses import DBT, INTEGRATION_TESTS, REPO_ROOT

pytestmark = pytest.mark.slow

README = REPO_ROOT / "README.md"
MARKER = re.compile(r"<!-- readme-example: (?P<path>\S+)(?P<note>[^>]*)-->\s*\n```(?P<lang>\w+)\n(?P<body>.*?)\n```",
                    re.S)
PROFILE = """
my_project:
  target: dev
  outputs:
    dev: {type: duckdb, path: "{{ env_var('README_DUCKDB_PATH') }}", schema: analytics, threads: 4}
"""
#: the integration_tests seed rows the README example syncs, minus the two rows that are wrong on purpose there
BAD_ROWS = ("C-2006,", "C-2007,")


def readme_blocks(text: str) -> dict[str, str]:
    """PATH -> the fenced block after its marker; each PATH once."""
    blocks: dict[str, str] = {}
    for m in MARKER.finditer(text):
        assert m["path"] not in blocks, f"README marks {m['path']} twice"
        blocks[m["path"]] = m["body"] + "\n"
    return blocks


def test_readme_marks_every_block_of_the_example() -> None:
    blocks = readme_blocks(README.read_text())
    assert set(blocks) == {
        "models/crm/dim_accounts.sql", "models/crm/dim_contacts.sql", "models/crm/crm.yml",
        "dbt_sync.yml", "packages.yml", "dbt_project.yml",
    }
    # the example's destinations are what `dbt-sync sandbox` prints, and read only variables it exports
    example = yaml.safe_load(blocks["dbt_sync.yml"])
    assert example["destinations"] == yaml.safe_load(DBT_SYNC_YML)["destinations"]
    with running_sandbox() as box:
        exported = set(box.env())
    used = set(re.findall(r"env_var\('(\w+)'", yaml.safe_dump(example["destinations"])))
    assert used <= exported, used - exported


def write_project(root: Path) -> Path:
    root.mkdir(parents=True)
    blocks = readme_blocks(README.read_text())
    project: dict[str, Any] = {"name": "my_project", "version": "1.0.0", "config-version": 2,
                               "profile": "my_project", "model-paths": ["models"], "seed-paths": ["seeds"]}
    project.update(yaml.safe_load(blocks.pop("dbt_project.yml")))
    (root / "dbt_project.yml").write_text(yaml.safe_dump(project, sort_keys=False))
    blocks["packages.yml"] = blocks["packages.yml"].replace("path/to/dbt-sync", str(REPO_ROOT))
    assert str(REPO_ROOT) in blocks["packages.yml"]
    for relative, text in blocks.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    (root / "profiles.yml").write_text(PROFILE)
    (root / "seeds").mkdir()
    for seed in ("raw_accounts.csv", "raw_contacts.csv"):
        lines = (INTEGRATION_TESTS / "seeds" / seed).read_text().splitlines(keepends=True)
        (root / "seeds" / seed).write_text("".join(ln for ln in lines if not ln.startswith(BAD_ROWS)))
    return root


def run(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    paths = ["--project-dir", str(root), "--profiles-dir", str(root)]
    return subprocess.run([*args, *paths], cwd=root, env=env, capture_output=True, text=True, check=False)


def test_readme_example_runs_as_written_with_zero_failures(tmp_path: Path) -> None:
    root = write_project(tmp_path / "my_project")
    secrets.clear()
    with running_sandbox() as box:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DBT_SYNC_", "SLACK_"))}
        env.update(box.env(), README_DUCKDB_PATH=str(root / "warehouse.duckdb"),
                   DBT_SEND_ANONYMOUS_USAGE_STATS="false")
        for args in (("deps",), ("build",)):
            done = run(root, env, DBT, *args)
            assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
        # SLACK_WEBHOOK_URL is not set: the channel's variable is needed only to send
        done = run(root, env, sys.executable, "-m", "dbt_sync", "validate", "--check-destinations")
        assert done.returncode == 0 and "OK: 4 sync(s) in 2 model(s) are valid." in done.stdout, done.stderr
        # the Python example's selector picks the example's syncs
        done = run(root, env, sys.executable, "-m", "dbt_sync", "plan", "--select", "tag:crm", "--json")
        assert done.returncode == 0 and "does not match" not in done.stderr, done.stderr
        assert sum(len(s["syncs"]) for s in yaml.safe_load(done.stdout)["stages"]) == 4
        done = run(root, env, sys.executable, "-m", "dbt_sync", "run")
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]

        results = yaml.safe_load((root / "target" / "dbt_sync_results.json").read_text())
        syncs = {s["name"]: s for s in results["syncs"]}
        assert set(syncs) == {"accounts_to_salesforce", "accounts_to_hubspot",
                              "contacts_to_salesforce", "contacts_to_hubspot"}
        for name, sync in syncs.items():
            assert (sync["status"], sync["failed"]) == ("success", 0), (name, sync)
        accounts = {r["External_Id__c"]: r for r in box.salesforce.records("Account")}
        contacts = box.salesforce.records("Contact")
        assert len(accounts) == 6 and len(contacts) == 6
        for c in contacts:  # the lookup found the account the accounts sync created
            assert c["LeadSource"] == "Web" and c["AccountId"] in {a["Id"] for a in accounts.values()}
        companies = {r["properties"]["company_key"]: r["id"] for r in box.hubspot.records("companies")}
        hs_contacts = box.hubspot.records("contacts")
        assert len(companies) == 6 and len(hs_contacts) == 6
        for c in hs_contacts:  # each contact is associated with its company
            linked = {(t, i) for t, i, _ in box.hubspot.associations("contacts", c["id"])}
            assert any(t == "companies" and i in companies.values() for t, i in linked), c
