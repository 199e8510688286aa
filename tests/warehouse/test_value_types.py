"""Column types whose Python value depends on the warehouse driver reach the CRM as the same text.

psycopg2 parses PostgreSQL ``json``/``jsonb`` into dicts and lists, so a
JSON array column used to reach a text property as a multi-select value
(``[1, 2]`` stored as ``1;2`` and reported as a success) and a JSON object
failed every record, while DuckDB hands the same column over as its text.
DuckDB hands ``uuid`` over as ``uuid.UUID`` (every record failed) where
PostgreSQL's driver gives the text, and a ``real`` 0.1 as 0.10000000149011612
where PostgreSQL's gives 0.1. Built by the real ``dbt build`` with the
capture hook and synced to the HubSpot emulator on DuckDB and PostgreSQL.

A date Python cannot hold (year 10000) made psycopg2 raise while the page
was read, so one such row failed the whole sync on PostgreSQL on every run;
``infinity`` became 9999-12-31 silently. Both now arrive as their text (as
DuckDB gives year 10000) and fail their record alone.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.engine.conftest import stack_for

SPEC = """
version: 2
models:
  - name: typed_people
    config:
      meta:
        dbt_sync:
          name: typed_to_hubspot
          destination: hubspot
          object: contacts
          primary_key: contact_key
          match: contact_key
          fields: {contact_key: contact_key, firstname: j, lastname: jb, company: jn, phone: u, lead_score: r}
  - name: dated_people
    config:
      meta:
        dbt_sync:
          name: dated_to_hubspot
          destination: hubspot
          object: contacts
          primary_key: contact_key
          match: contact_key
          fields: {contact_key: contact_key, date_of_birth: born}
"""

UUID = "6f9619ff-8b86-d011-b42d-00cf4fc964ff"


def model_sql(target: str) -> str:
    jsonb = "jsonb" if target == "postgres" else "json"
    return (
        f"select cast('J-1' as varchar(20)) as contact_key, cast('[1, 2]' as json) as j, "
        f"cast('{{\"a\": [1, \"x;y\"]}}' as {jsonb}) as jb, cast('null' as {jsonb}) as jn, "
        f"cast('{UUID}' as uuid) as u, cast(0.1 as real) as r\n"
    )


def dated_sql(target: str) -> str:
    rows = ["select cast('D-1' as varchar(20)) as contact_key, cast('2020-01-02' as date) as born",
            "select 'D-2', cast('10000-01-01' as date)"]
    if target == "postgres":  # DuckDB's driver gives infinity as 9999-12-31 (docs/warehouse.md)
        rows.append("select 'D-3', cast('infinity' as date)")
    return "\nunion all\n".join(rows) + "\n"


@pytest.mark.slow
@pytest.mark.parametrize("target", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_json_uuid_and_out_of_range_dates_arrive_as_their_text(dbt_project_factory: Any, target: str) -> None:
    project = dbt_project_factory(
        target, "typed_columns", build=False,
        extra_files={"models/extra/typed_people.sql": model_sql(target), "models/extra/typed.yml": SPEC,
                     "models/extra/dated_people.sql": dated_sql(target)},
    )
    project.dbt("build", "--select", "typed_people", "dated_people")
    with stack_for(project) as stack:
        result = stack.run(select=["typed_to_hubspot"]).sync("typed_to_hubspot")
        assert (result.status, result.created, result.failed) == ("success", 1, 0), result.message
        [stored] = [r["properties"] for r in stack.sandbox.hubspot.records("contacts")
                    if r["properties"].get("contact_key") == "J-1"]
        assert {k: stored.get(k) for k in ("firstname", "lastname", "company", "phone", "lead_score")} == {
            "firstname": "[1, 2]", "lastname": '{"a": [1, "x;y"]}', "company": "null", "phone": UUID,
            "lead_score": "0.1",  # a real 0.1, not its double widening 0.10000000149011612
        }

        # a date no Python value holds fails its own record; the others are written
        dated = stack.run(select=["dated_to_hubspot"]).sync("dated_to_hubspot")
        bad = 2 if target == "postgres" else 1
        assert (dated.status, dated.created, dated.failed) == ("partial", 1, bad), dated.message
        born = {r["properties"]["contact_key"]: r["properties"].get("date_of_birth")
                for r in stack.sandbox.hubspot.records("contacts")
                if r["properties"].get("contact_key", "").startswith("D-")}
        assert born == {"D-1": "2020-01-02"}
