"""A sync naming a column the model lacks, on a model whose columns are not documented.

Spec validation cannot see it (no documented columns), so the capture hook
and the engine check the built relation and fail with a clear message.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.engine.conftest import stack_for

pytestmark = pytest.mark.slow

MODEL = "select account_id, account_name from {{ ref('raw_accounts') }}"
SPEC = """
version: 2
models:
  - name: undocumented_accounts
    config:
      meta:
        dbt_sync:
          name: undocumented_to_hubspot
          destination: hubspot
          object: companies
          primary_key: account_id
          match: company_key
          fields: {company_key: account_id, name: acount_name}
"""


def test_missing_column_on_undocumented_model(dbt_project_factory: Any) -> None:
    project = dbt_project_factory(
        "duckdb",
        "undocumented",
        build=False,
        extra_files={"models/extra/undocumented_accounts.sql": MODEL, "models/extra/undocumented.yml": SPEC},
    )
    # the hook refuses to capture, naming the sync, the column and what exists
    done = project.dbt("build", "--select", "raw_accounts", "undocumented_accounts", check=False)
    assert done.returncode != 0
    assert "dbt_sync: sync 'undocumented_to_hubspot' maps column(s) acount_name that do not exist" in done.stdout
    assert "account_name" in done.stdout

    # built some other way (no hook): dbt-sync run checks the relation before capturing
    with project.warehouse() as wh:
        wh.execute("create table analytics.undocumented_accounts as select account_id, account_name "
                   "from analytics.raw_accounts")
    with stack_for(project) as stack:
        result = stack.run(select=["undocumented_to_hubspot"], all_syncs=True)
    res = result.sync("undocumented_to_hubspot")
    assert res.status == "error" and result.exit_code == 2
    assert "column(s) acount_name do not exist in model undocumented_accounts. Did you mean 'account_name'?" in (
        res.message or ""
    )
