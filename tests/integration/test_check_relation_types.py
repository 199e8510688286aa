"""`validate --check-destinations` checks column types against the built relation when the yml documents none."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from dbt_sync_emulators.sandbox import running_sandbox

pytestmark = pytest.mark.slow

MODEL = "select account_id, account_name, cast(employees as integer) as employees from {{ ref('raw_accounts') }}"
SPEC = """
version: 2
models:
  - name: undocumented_accounts
    config:
      meta:
        dbt_sync:
          name: undocumented_to_salesforce
          destination: salesforce
          object: Account
          primary_key: account_id
          match: External_Id__c
          fields: {External_Id__c: account_id, Name: account_name, NumberOfEmployees: __COLUMN__}
"""


def test_types_of_an_undocumented_model_come_from_the_built_relation(dbt_project_factory: Any) -> None:
    project = dbt_project_factory(
        "duckdb", "relation_types", build=False,
        extra_files={"models/extra/undocumented_accounts.sql": MODEL,
                     "models/extra/undocumented.yml": SPEC.replace("__COLUMN__", "employees")},
    )
    project.dbt("build", "--select", "raw_accounts", "undocumented_accounts")

    def validate(box: Any) -> subprocess.CompletedProcess[str]:
        paths = ["--project-dir", str(project.path), "--profiles-dir", str(project.path)]
        return subprocess.run(
            [sys.executable, "-m", "dbt_sync", "validate", "--check-destinations", "--select",
             "undocumented_to_salesforce", *paths],
            env={**os.environ, **project.env, **box.env()}, capture_output=True, text=True, check=False,
        )

    with running_sandbox() as box:
        done = validate(box)
        assert done.returncode == 0, done.stdout + done.stderr
        # a text column into a number field: only the built relation says the column is text
        (project.path / "models/extra/undocumented.yml").write_text(SPEC.replace("__COLUMN__", "account_name"))
        project.dbt("parse")
        done = validate(box)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "undocumented_accounts.config.meta.dbt_sync.fields.NumberOfEmployees" in done.stderr
    assert "does not fit" in done.stderr
