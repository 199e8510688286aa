"""Spec validation: every error class names the file, the yaml path, what is wrong and what is allowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dbt_sync.errors import SpecError
from dbt_sync.manifest import load_manifest
from dbt_sync.project.config import load_config
from dbt_sync.spec import SyncSpec, default_sync_name, load_specs
from tests.core.builders import ProjectBuilder, hs_sync, sf_sync


def load(builder: ProjectBuilder) -> list[SyncSpec]:
    target = builder.write()
    return load_specs(load_manifest(target), load_config(builder.root))


def problems_for(tmp_path: Path, syncs: Any, **model_kwargs: Any) -> list[str]:
    builder = ProjectBuilder(tmp_path)
    builder.model("dim_contacts", syncs, **model_kwargs)
    with pytest.raises(SpecError) as info:
        load(builder)
    return [str(p) for p in info.value.problems]


LOC = "models/schema.yml: dim_contacts.config.meta.dbt_sync"


# -- valid examples -----------------------------------------------------------------


def test_single_mapping_and_list_and_top_level_meta(tmp_path: Path) -> None:
    b = ProjectBuilder(tmp_path)
    b.model("dim_accounts", sf_sync("accounts_sf", "Account"))
    b.model("dim_contacts", [sf_sync("contacts_sf"), hs_sync("contacts_hs")], depends_on=("dim_accounts",))
    b.model("dim_deals", hs_sync("deals_hs", "deals"), top_level_meta=True)
    specs = {s.name: s for s in load(b)}
    assert sorted(specs) == ["accounts_sf", "contacts_hs", "contacts_sf", "deals_hs"]
    assert specs["contacts_hs"].destination_type == "hubspot"
    assert specs["contacts_sf"].location == f"{LOC}[0]"
    assert specs["deals_hs"].location == "models/schema.yml: dim_deals.meta.dbt_sync"


def test_default_name_composite_key_constants_lookups_associations(tmp_path: Path) -> None:
    b = ProjectBuilder(tmp_path)
    sf = {
        "destination": "salesforce",
        "object": "Contact",
        "primary_key": ["id", "account_id"],
        "match": "External_Id__c",
        "fields": {
            "External_Id__c": "id",
            "LastName": {"column": "name"},
            "LeadSource": {"value": "dbt-sync"},
            "AccountId": {"lookup": {"object": "Account", "match": "External_Id__c", "column": "account_id"}},
        },
        "failure_payload": {"mask": ["email"], "exclude": ["score"]},
        "alerts": {"channels": ["ops"], "failed_share": 0.05, "failed_records": 10},
    }
    hs = hs_sync("contacts_hs", associations=[{"to": "companies", "column": "account_id", "type_id": 279}])
    b.model("dim_contacts", [sf, hs])
    specs = {s.name: s for s in load(b)}
    spec = specs["dim_contacts__salesforce__contact"]
    assert spec.primary_key == ("id", "account_id")
    assert spec.sent_columns == ("id", "name", "account_id")
    constant = next(f for f in spec.fields if f.name == "LeadSource")
    assert constant.is_constant and constant.constant == "dbt-sync"
    assert spec.failure_payload.mask == ("email",)
    assert spec.alerts.failed_share == 0.05
    assert specs["contacts_hs"].associations[0].type_id == 279
    assert specs["contacts_hs"].sent_columns == ("id", "name", "account_id")


def test_default_sync_name_is_table_safe() -> None:
    assert default_sync_name("Dim Contacts", "sales-force", "2-123456") == "dim_contacts__sales_force__2_123456"


# -- one fixture per error class --------------------------------------------------------


@pytest.mark.parametrize(
    ("syncs", "expected"),
    [
        ("salesforce", f"{LOC}: expected a mapping or a list of mappings, got str."),
        ([42], f"{LOC}[0]: expected a mapping describing one sync, got int."),
        (sf_sync("a", primry_key="id"), f"{LOC}.primry_key: unknown key. Did you mean 'primary_key'?"),
        ({**sf_sync("a"), "destination": None}, f"{LOC}.destination: required"),
        (
            sf_sync("a", destination="salesforse"),
            f"{LOC}.destination: unknown destination 'salesforse'. Did you mean 'salesforce'?",
        ),
        ({**sf_sync("a"), "object": ""}, f"{LOC}.object: required"),
        (
            sf_sync("a", mode="upsret"),
            f"{LOC}.mode: 'upsret' is not a mode. Did you mean 'upsert'? Allowed: upsert, update, create, mirror.",
        ),
        (sf_sync("Bad Name"), f"{LOC}.name: 'Bad Name' is not a valid sync name"),
        ({k: v for k, v in sf_sync("a").items() if k != "primary_key"}, f"{LOC}.primary_key: required"),
        (
            sf_sync("a", primary_key="idd"),
            f"{LOC}.primary_key: column 'idd' does not exist in model dim_contacts. Did you mean 'id'?",
        ),
        (sf_sync("a", primary_key=[]), f"{LOC}.primary_key: expected a column name or a non-empty list"),
        ({**sf_sync("a"), "fields": {}}, f"{LOC}.fields: required"),
        (
            sf_sync("a", fields={"External_Id__c": "id", "Email": "emial"}),
            f"{LOC}.fields.Email: column 'emial' does not exist in model dim_contacts. Did you mean 'email'?",
        ),
        (
            sf_sync("a", fields={"External_Id__c": "id", "Email": {"column": "email", "value": 1}}),
            f"{LOC}.fields.Email: give exactly one of: column, value, lookup.",
        ),
        (
            sf_sync("a", fields={"External_Id__c": "id", "Email": {"colum": "email"}}),
            f"{LOC}.fields.Email.colum: unknown key. Did you mean 'column'?",
        ),
        (
            sf_sync("a", fields={"External_Id__c": "id", "X": {"value": [1]}}),
            f"{LOC}.fields.X.value: a constant must be",
        ),
        (
            sf_sync(
                "a",
                fields={"External_Id__c": "id", "AccountId": {"lookup": {"object": "Account", "column": "account_id"}}},
            ),
            f"{LOC}.fields.AccountId.lookup.match: required",
        ),
        (
            hs_sync(
                "a",
                fields={"key": "id", "x": {"lookup": {"object": "companies", "match": "k", "column": "account_id"}}},
            ),
            f"{LOC}.fields.x.lookup: lookups set Salesforce relationships",
        ),
        (
            sf_sync("a", associations=[{"to": "Account", "column": "account_id"}]),
            f"{LOC}.associations: associations are a HubSpot feature",
        ),
        (
            hs_sync("a", associations=[{"to": "companies", "column": "account_id", "type_id": "x"}]),
            f"{LOC}.associations[0].type_id: expected a positive integer",
        ),
        (
            hs_sync("a", associations=[{"to": "companies", "column": "account_id", "category": "MINE"}]),
            f"{LOC}.associations[0].category: 'MINE' is not allowed",
        ),
        (hs_sync("a", associations=[{"column": "account_id"}]), f"{LOC}.associations[0].to: required"),
        (sf_sync("a", match="Ext__c"), f"{LOC}.match: 'Ext__c' is not one of the mapped fields."),
        ({k: v for k, v in sf_sync("a").items() if k != "match"}, f"{LOC}.match: required for mode 'upsert'"),
        (sf_sync("a", batch_size=0), f"{LOC}.batch_size: expected a positive whole number, got 0."),
        (sf_sync("a", enabled="yes"), f"{LOC}.enabled: expected true or false, got 'yes'."),
        (sf_sync("a", delete_threshold=1.5), f"{LOC}.delete_threshold: expected a share between 0 and 1"),
        (
            sf_sync("a", alerts={"channels": ["opps"]}),
            f"{LOC}.alerts.channels[0]: unknown channel 'opps'. Did you mean 'ops'?",
        ),
        (sf_sync("a", alerts={"failed_records": -1}), f"{LOC}.alerts.failed_records: expected a whole number >= 0."),
        (
            sf_sync("a", failure_payload={"mask": ["emails"]}),
            f"{LOC}.failure_payload.mask[0]: column 'emails' does not exist",
        ),
        (sf_sync("a", options=[1]), f"{LOC}.options: expected a mapping"),
        ([sf_sync("a"), sf_sync("a")], f"{LOC}[1]: sync name 'a' is already used at {LOC}[0]"),
        (sf_sync("a", depends_on=["accounts_sff"]), f"{LOC}.depends_on[0]: no sync named 'accounts_sff'."),
    ],
)
def test_error_classes(tmp_path: Path, syncs: Any, expected: str) -> None:
    found = problems_for(tmp_path, syncs)
    assert any(p.startswith(expected) for p in found), found


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    broken = sf_sync("a", mode="merge", primary_key="idd", fields={"External_Id__c": "id", "Email": "emial"})
    broken["destinaton"] = "x"
    found = problems_for(tmp_path, [broken, hs_sync("b", batch_size=-5)])
    assert len(found) == 5, found
    assert {p.split(":")[1].strip() for p in found} == {
        "dim_contacts.config.meta.dbt_sync[0].destinaton",
        "dim_contacts.config.meta.dbt_sync[0].mode",
        "dim_contacts.config.meta.dbt_sync[0].primary_key",
        "dim_contacts.config.meta.dbt_sync[0].fields.Email",
        "dim_contacts.config.meta.dbt_sync[1].batch_size",
    }


def test_one_bad_field_or_association_does_not_hide_the_others(tmp_path: Path) -> None:
    """The shape is checked per destination field and per association, so the rest are still checked."""
    fields = {"key": "id", "a": {"colum": "id"}, "b": "emial", "c": {"value": [1]}}
    associations = [3, {"to": "companies", "column": "acount_id"}, {"to": "deals", "column": "id", "category": "X"}]
    found = problems_for(tmp_path, hs_sync("h", fields=fields, associations=associations))
    assert {p.split(":")[1].strip() for p in found} == {
        f"dim_contacts.config.meta.dbt_sync.{where}"
        for where in ("fields.a.colum", "fields.b", "fields.c.value", "associations[0]", "associations[1].column",
                      "associations[2].category")
    }, found


def test_a_rejected_part_still_has_its_columns_and_channels_checked(tmp_path: Path) -> None:
    """A typo inside a lookup, an association, failure_payload or alerts does not hide the columns
    (and channels) that part names."""
    fields = {"key": "id", "parent": {"lookup": {"object": "Account", "match": "Ext__c", "colum": "x",
                                                 "column": "acount_id"}}}
    syncs = [
        sf_sync("s", fields={"External_Id__c": "id", **fields}, failure_payload={"mask": ["emial"], "hide": []},
                alerts={"channels": ["opps"], "failed_record": 1}),
        hs_sync("h", associations=[{"to": "companies", "column": "acount_id", "category": "X"}]),
    ]
    found = problems_for(tmp_path, syncs)
    assert {p.split(":")[1].strip() for p in found} == {
        f"dim_contacts.config.meta.dbt_sync{where}"
        for where in ("[0].fields.parent.lookup.colum", "[0].fields.parent.lookup.column",
                      "[0].failure_payload.hide", "[0].failure_payload.mask[0]", "[0].alerts.failed_record",
                      "[0].alerts.channels[0]", "[1].associations[0].category", "[1].associations[0].column")
    }, found


def test_undocumented_models_defer_column_checks_to_run_time(tmp_path: Path) -> None:
    b = ProjectBuilder(tmp_path)
    b.model("dim_contacts", sf_sync("a", fields={"External_Id__c": "id", "Email": "anything"}), columns=())
    assert [s.name for s in load(b)] == ["a"]


QUOTED_NAMES = ("user", "order", "group", "select", "MixedCase", "has space", 'say "hi"', "Zoë; drop", "x" * 63)


@pytest.mark.parametrize("adapter_type", ["duckdb", "postgres", "redshift"])
def test_column_names_capture_quotes_are_accepted(tmp_path: Path, adapter_type: str) -> None:
    b = ProjectBuilder(tmp_path)
    b.adapter_type = adapter_type
    fields = {f"F{i}": name for i, name in enumerate(QUOTED_NAMES)}
    b.model("dim_contacts", hs_sync("a", primary_key="user", match="F0", fields=fields), columns=QUOTED_NAMES)
    (spec,) = load(b)
    assert spec.sent_columns == QUOTED_NAMES


@pytest.mark.parametrize(
    ("adapter_type", "column", "expected"),
    [
        ("duckdb", "_dbt_sync_key", "names starting with '_dbt_sync_' are reserved for the changeset's own columns"),
        ("postgres", "_DBT_SYNC_op", "names starting with '_dbt_sync_' are reserved"),
        ("postgres", "nul\x00here", "it contains a NUL character"),
        ("postgres", "é" * 32, "postgres keeps names of at most 63 bytes; this one has 64."),
        ("redshift", "r" * 128, "redshift keeps names of at most 127 bytes; this one has 128."),
        ("redshift", "tab\there", "Redshift names may only contain printable characters"),
    ],
)
def test_column_names_capture_cannot_read_are_rejected(
    tmp_path: Path, adapter_type: str, column: str, expected: str
) -> None:
    b = ProjectBuilder(tmp_path)
    b.adapter_type = adapter_type
    b.model("dim_contacts", hs_sync("a", fields={"key": "id", "name": column}), columns=())
    with pytest.raises(SpecError) as info:
        load(b)
    (problem,) = [str(p) for p in info.value.problems]
    assert problem.startswith(f"{LOC}.fields.name: column {column!r} of model dim_contacts cannot be synced: ")
    assert expected in problem


def test_long_and_tabbed_names_are_fine_where_the_warehouse_keeps_them(tmp_path: Path) -> None:
    b = ProjectBuilder(tmp_path)
    b.adapter_type = "duckdb"
    b.model("dim_contacts", hs_sync("a", fields={"key": "id", "name": "tab\there" + "x" * 200}), columns=())
    assert [s.name for s in load(b)] == ["a"]
