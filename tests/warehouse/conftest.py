"""A DuckDB project with extra models exercising every capture feature."""

from __future__ import annotations

from typing import Any

import pytest

PEOPLE_SQL = """
-- Replaced wholesale by the tests (create or replace table); this only fixes the types.
select
    cast('acme' as varchar) as org,
    cast(1 as integer) as person_id,
    cast('Ada' as varchar) as name,
    cast('ada@example.com' as varchar) as email,
    cast(1.50 as decimal(10, 2)) as score,
    cast(true as boolean) as active,
    cast('2024-01-01 10:00:00' as timestamp) as seen_at,
    cast('A-1' as varchar) as account_id,
    cast('unmapped' as varchar) as notes
"""

PEOPLE_YML = """
version: 2
models:
  - name: people
    config:
      meta:
        dbt_sync:
          - name: people_mirror
            destination: hubspot
            object: contacts
            mode: mirror
            primary_key: [org, person_id]
            fields:
              firstname: name
              email: {column: email}
              score: score
              active: active
              seen_at: seen_at
              source: {value: dbt}
              company: {lookup: {object: companies, match: company_key, column: account_id}}
          - destination: salesforce
            object: Contact
            mode: upsert
            primary_key: person_id
            fields:
              LastName: name
          - name: people_disabled
            destination: hubspot
            object: contacts
            enabled: false
            primary_key: person_id
            fields:
              email: email
"""

PEOPLE_UID = "model.dbt_sync_integration_tests.people"


@pytest.fixture(scope="session")
def people_project(dbt_project_factory: Any) -> Any:
    """DuckDB project with the ``people`` model (mirror, composite key, constants)."""
    return dbt_project_factory(
        "duckdb", name="people",
        extra_files={"models/test/people.sql": PEOPLE_SQL, "models/test/people.yml": PEOPLE_YML},
    )
