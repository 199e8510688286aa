"""Property: for any column names ``dbt-sync validate`` accepts, capture reads the model's values exactly.

Names are generated (reserved words, quotes, spaces, punctuation, unicode,
mixed case, and specs spelling them in another case), checked by the same
spec validation ``dbt-sync validate`` runs, then a model with those columns
is captured on DuckDB by the capture macro (``dbt_sync.capture_sql``) and the
changeset is mapped to records as the engine maps it. Bounded and fast: set
``DBT_SYNC_IDENTIFIER_EXAMPLES`` for a longer run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dbt_sync.engine.mapping import to_change
from dbt_sync.errors import SpecError
from dbt_sync.manifest import Manifest, Model
from dbt_sync.spec import SyncSpec, load_specs
from tests.warehouse.helpers import changeset

SYNC = "identifier_property"
TABLE = "identifier_property_model"
UID = f"model.dbt_sync_integration_tests.{TABLE}"

RESERVED = ["user", "order", "group", "select", "from", "where", "table", "column", "default", "current_user",
            "Order", "SELECT", "id", "ID"]
TRICKY = st.text(
    alphabet=st.one_of(st.sampled_from(list("aZ _-.\"'`;()[]$%\\/|,*")), st.characters(codec="utf-8")),
    min_size=1, max_size=12,
)
NAME = st.one_of(st.sampled_from(RESERVED), TRICKY)
NAMES = st.lists(NAME, min_size=2, max_size=4, unique_by=lambda n: n.lower())
VALUE = st.one_of(st.none(), st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=6))


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def spelling(name: str, variant: int) -> str:
    """How a spec may write the column: as created, or in another case (DuckDB ignores case).

    A case change that is not one (``'ß'.upper()`` is ``'SS'``, another name) keeps the name as created.
    """
    written = [name, name.lower(), name.upper(), name.swapcase()][variant]
    return written if written.lower() == name.lower() else name


def validated(spec_names: list[str]) -> SyncSpec | None:
    """The SyncSpec ``dbt-sync validate`` builds for these spec names, or None when it rejects them."""
    meta = {"name": SYNC, "destination": "hubspot", "object": "contacts", "mode": "upsert",
            "primary_key": spec_names[0], "match": "f0",
            "fields": {f"f{i}": {"column": n} for i, n in enumerate(spec_names)}}
    model = Model(unique_id=UID, name=TABLE, package_name="dbt_sync_integration_tests",
                  original_file_path=f"models/{TABLE}.sql", patch_path=None, relation_name=None, database=None,
                  schema="analytics", alias=TABLE, tags=(), config_meta={"dbt_sync": meta}, meta={}, columns={},
                  depends_on=(), fqn=())
    manifest = Manifest(path=Path("manifest.json"), dbt_version=None, invocation_id=None, project_name=None,
                        models={UID: model}, adapter_type="duckdb")
    try:
        (spec,) = load_specs(manifest, None)
    except SpecError:
        return None
    return spec


def capture(wh: Any, spec: SyncSpec) -> None:
    """The capture macro on the table, with what dbt_sync.sync_specs reads from the meta."""
    relation = wh.adapter.Relation.create(database=wh.database, schema="analytics", identifier=TABLE)
    macro_spec = {"name": SYNC, "mode": "upsert", "key_columns": list(spec.primary_key),
                  "columns": list(spec.sent_columns), "fingerprint": "property"}
    with wh._transaction():
        for sql in wh._macro("capture_sql", relation=relation, specs=[macro_spec]):
            wh._execute(sql)


def build(wh: Any, names: list[str], rows: list[list[Any]]) -> None:
    from dbt_sync.warehouse import literals

    columns = ", ".join(f"cast(v.c{i} as varchar) as {quote(n)}" for i, n in enumerate(names))
    values = ", ".join(literals.row_literal(r, wh.adapter_type) for r in rows)
    aliases = ", ".join(f"c{i}" for i in range(len(names)))
    wh.execute(f"create or replace table analytics.{TABLE} as select {columns} from (values {values}) as v({aliases})")


def sent_values(spec: SyncSpec, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for row in rows:
        change = to_change(spec, row, {})
        assert change.record is not None, change.invalid
        out[change.key] = dict(change.record.fields)
    return out


def expected(rows: list[list[Any]]) -> dict[str, dict[str, Any]]:
    return {r[0]: {f"f{i}": v for i, v in enumerate(r)} for r in rows}


@settings(max_examples=int(os.environ.get("DBT_SYNC_IDENTIFIER_EXAMPLES", "25")), deadline=None,
          suppress_health_check=list(HealthCheck))
@given(names=NAMES, variants=st.lists(st.integers(0, 3), min_size=4, max_size=4),
       values=st.lists(st.lists(VALUE, min_size=4, max_size=4), min_size=3, max_size=3), edit=VALUE)
def test_capture_round_trips_any_accepted_column_name(
    people_project: Any, names: list[str], variants: list[int], values: list[list[Any]], edit: Any
) -> None:
    spec_names = [spelling(n, v) for n, v in zip(names, variants, strict=False)]
    assume(len({n.lower() for n in spec_names}) == len(spec_names))
    spec = validated(spec_names)
    assume(spec is not None)
    assert spec is not None
    rows = [[f"k{i}", *row[: len(names) - 1]] for i, row in enumerate(values)]
    with people_project.warehouse() as wh:
        wh.reset(SYNC)
        build(wh, names, rows)
        capture(wh, spec)
        first = changeset(wh, SYNC)
        assert {r["_dbt_sync_op"] for r in first} == {"insert"}
        assert sent_values(spec, first) == expected(rows)
        wh.commit(SYNC, "p", successes=[(r["_dbt_sync_key"], r["_dbt_sync_hash"], None) for r in first])

        changed = [list(r) for r in rows]
        changed[1][-1] = edit
        build(wh, names, changed)
        capture(wh, spec)
        second = changeset(wh, SYNC)
        if edit == rows[1][-1]:
            assert second == []
        else:
            assert sent_values(spec, second) == {"k1": expected(changed)["k1"]}


def test_capture_refuses_the_changeset_prefix_validate_refuses(people_project: Any) -> None:
    """A hook running without validate stops with the same rule, not a duplicate-column error."""
    with people_project.warehouse() as wh:
        build(wh, ["id", "_DBT_SYNC_key"], [["k0", "x"]])
        relation = wh.adapter.Relation.create(database=wh.database, schema="analytics", identifier=TABLE)
        spec = {"name": SYNC, "mode": "upsert", "key_columns": ["id"], "columns": ["_DBT_SYNC_key"],
                "fingerprint": "x"}
        with pytest.raises(Exception, match="names starting with '_dbt_sync_' are reserved"), wh._transaction():
            wh._macro("capture_sql", relation=relation, specs=[spec])
    assert validated(["id", "_DBT_SYNC_key"]) is None
