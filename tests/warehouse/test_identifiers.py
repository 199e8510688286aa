"""Column names that need quoting: reserved words, mixed case, spaces and double quotes.

Issue 11, case 6: on PostgreSQL a column named ``user`` sent the database
login for every row (the capture read ``user`` unquoted), and ``order``,
``group``, ``select`` or a name with a double quote made the capture
post-hook fail ``dbt run`` while ``dbt-sync validate`` said OK. Here a model
whose every synced column needs quoting is built by the real ``dbt build``
with the hook, synced to the HubSpot emulator, edited, rebuilt and synced
again, on DuckDB, PostgreSQL and Redshift (through the wire proxy).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from tests.engine.conftest import stack_for

#: (group, user, order, select, MixedCase, has space, say "hi", CamelFold)
FIRST = [
    ("K-1", "Ada", "Lovelace", "Acme", "ada@acme.example", "+1 555 0101", 10, "NEW"),
    ("K-2", "Grace", "Hopper", "Navy", "grace@navy.example", "+1 555 0102", 20, "OPEN"),
    ("K-3", "Alan", "Turing", "Bletchley", "alan@bp.example", "+44 20 0103", 30, "NEW"),
]
#: K-1 changes in every column but the key, K-2 in the double-quoted one only, K-3 not at all
SECOND = [
    ("K-1", "Augusta", "King", "Analytical", "augusta@acme.example", "+1 555 0199", 11, "OPEN"),
    ("K-2", "Grace", "Hopper", "Navy", "grace@navy.example", "+1 555 0102", 21, "OPEN"),
    ("K-3", "Alan", "Turing", "Bletchley", "alan@bp.example", "+44 20 0103", 30, "NEW"),
]

SPEC = """
version: 2
models:
  - name: reserved_people
    config:
      meta:
        dbt_sync:
          name: reserved_to_hubspot
          destination: hubspot
          object: contacts
          mode: upsert
          primary_key: group
          match: contact_key
          fields:
            contact_key: group
            firstname: user
            lastname: order
            company: select
            email: MixedCase
            phone: has space
            lead_score: 'say "hi"'
            hs_lead_status: CamelFold
"""


def model_sql(rows: Sequence[tuple[Any, ...]]) -> str:
    """The model: quoted names keep their case; CamelFold is unquoted (PostgreSQL folds it)."""
    selects = [
        f"select cast('{g}' as varchar(20)) as \"group\", cast('{u}' as varchar(40)) as \"user\", "
        f"cast('{o}' as varchar(40)) as \"order\", cast('{s}' as varchar(40)) as \"select\", "
        f"cast('{m}' as varchar(80)) as \"MixedCase\", cast('{p}' as varchar(40)) as \"has space\", "
        f"cast({q} as integer) as \"say \"\"hi\"\"\", cast('{c}' as varchar(20)) as CamelFold"
        for g, u, o, s, m, p, q, c in rows
    ]
    return "\nunion all\n".join(selects) + "\n"


def expected(rows: Sequence[tuple[Any, ...]]) -> dict[str, dict[str, str]]:
    names = ("firstname", "lastname", "company", "email", "phone", "lead_score", "hs_lead_status")
    return {r[0]: dict(zip(names, (str(v) for v in r[1:]), strict=True)) for r in rows}


def sent(stack: Any) -> dict[str, dict[str, str]]:
    names = ("firstname", "lastname", "company", "email", "phone", "lead_score", "hs_lead_status")
    return {
        r["properties"]["contact_key"]: {n: r["properties"].get(n) for n in names}
        for r in stack.sandbox.hubspot.records("contacts")
        if r["properties"].get("contact_key", "").startswith("K-")
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    "target",
    ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres),
     pytest.param("redshift", marks=pytest.mark.redshift)],
)
def test_reserved_mixed_case_spaced_and_quoted_column_names(dbt_project_factory: Any, target: str) -> None:
    project = dbt_project_factory(
        target, "reserved_columns", build=False,
        extra_files={"models/extra/reserved_people.sql": model_sql(FIRST), "models/extra/reserved.yml": SPEC},
    )
    project.dbt("build", "--select", "reserved_people")   # the capture post-hook runs here
    with stack_for(project) as stack:
        first = stack.run(select=["reserved_to_hubspot"])
        result = first.sync("reserved_to_hubspot")
        assert (result.status, result.created, result.failed) == ("success", 3, 0), result.message
        assert sent(stack) == expected(FIRST)   # not the database login, not a folded or shifted column

        (project.path / "models/extra/reserved_people.sql").write_text(model_sql(SECOND))
        stack.dbt("build", "--select", "reserved_people")
        second = stack.run(select=["reserved_to_hubspot"])
        result = second.sync("reserved_to_hubspot")
        # edits to `user`, `order`, ... and to the double-quoted column are seen; the unchanged row is not sent
        assert (result.planned, result.updated, result.failed) == (2, 2, 0), result.message
        assert sent(stack) == expected(SECOND)
