"""``check_mapping`` against the emulator's describe: every problem in one report."""

from __future__ import annotations

from typing import Any

from dbt_sync.destinations.base import FieldSpec, Operation
from dbt_sync.destinations.salesforce import SalesforceDestination

PATH = "models/crm.yml: dim_contacts.config.meta.dbt_sync[0]"


def test_a_good_mapping_has_no_problems(emu: Any, dest: SalesforceDestination) -> None:
    fields = [
        FieldSpec("External_Id__c", "contact_key", "varchar(64)"),
        FieldSpec("LastName", "last_name", "text"),
        FieldSpec("Email", "email", "character varying"),
        FieldSpec("Birthdate", "birthdate", "date"),
        FieldSpec("Lead_Score__c", "score", "numeric(18,2)"),
        FieldSpec("Is_Customer__c", "is_customer", "boolean"),
        FieldSpec("Last_Seen_At__c", "seen", "timestamp with time zone"),
        FieldSpec("Tier__c", None, None, constant="Gold"),
        FieldSpec("Phone", "phone", "bigint"),
        FieldSpec("AccountId", "account_key", "varchar", lookup_object="Account", lookup_match="External_Id__c"),
    ]
    assert dest.check_mapping("Contact", Operation.UPSERT, "External_Id__c", fields, PATH) == []
    # update by Email works too: Email is an idLookup field
    assert dest.check_mapping("Contact", Operation.UPDATE, "Email", fields[1:2], PATH) == []


def test_every_problem_in_one_report(emu: Any, dest: SalesforceDestination) -> None:
    fields = [
        FieldSpec("Emial", "email", "varchar"),
        FieldSpec("Birthdate", "birthdate", "text"),
        FieldSpec("Is_Customer__c", "flag", "varchar"),
        FieldSpec("Tier__c", None, None, constant="Platinum"),
        FieldSpec("CreatedDate", "created_at", "timestamp"),
        FieldSpec("AccountId", "account_key", "varchar", lookup_object="Account", lookup_match="Website"),
    ]
    problems = dest.check_mapping("Contact", Operation.UPSERT, "FirstName", fields, PATH)
    by_path = {}
    for p in problems:
        by_path.setdefault(p.path, []).append(p.message)
    assert "did you mean Email" in " ".join(by_path[f"{PATH}.fields.Emial"])
    assert "does not fit" in by_path[f"{PATH}.fields.Birthdate"][0]
    assert "does not fit" in by_path[f"{PATH}.fields.Is_Customer__c"][0]
    assert "'Platinum'" in by_path[f"{PATH}.fields.Tier__c"][0] and "Gold" in by_path[f"{PATH}.fields.Tier__c"][0]
    assert any("not createable" in m for m in by_path[f"{PATH}.fields.CreatedDate"])
    assert "Account.Website is not an External ID" in by_path[f"{PATH}.fields.AccountId"][0]
    assert "not an External ID or idLookup" in by_path[f"{PATH}.match"][0]
    assert "LastName" in by_path[f"{PATH}.fields"][0]
    assert len(problems) >= 8


def test_constants_every_record_would_fail_with(emu: Any, dest: SalesforceDestination) -> None:
    """A constant date outside 1700-4000, or a constant longer than the field, fails every record at run
    time (FIELD_INTEGRITY_EXCEPTION, STRING_TOO_LONG): validate says so first."""
    fields = [
        FieldSpec("Birthdate", None, None, constant="1650-01-01"),
        FieldSpec("Last_Seen_At__c", None, None, constant="4001-01-01T00:00:00Z"),
        FieldSpec("LastName", None, None, constant="😀" * 41),  # 82 UTF-16 code units; LastName holds 80
        FieldSpec("FirstName", None, None, constant="Ada"),
        FieldSpec("EmailBouncedDate", None, None, constant="2024-01-01T00:00:00Z"),
    ]
    problems = {p.path: p.message for p in dest.check_mapping("Contact", Operation.UPSERT, "External_Id__c",
                                                              fields, PATH)}
    assert "outside the dates" in problems[f"{PATH}.fields.Birthdate"]
    assert "outside the dates" in problems[f"{PATH}.fields.Last_Seen_At__c"]
    assert "82 characters long" in problems[f"{PATH}.fields.LastName"]
    assert f"{PATH}.fields.FirstName" not in problems and f"{PATH}.fields.EmailBouncedDate" not in problems


def test_lookup_target_and_object_checks(emu: Any, dest: SalesforceDestination) -> None:
    wrong_parent = [FieldSpec("AccountId", "k", "varchar", lookup_object="Contact", lookup_match="External_Id__c")]
    problems = dest.check_mapping("Opportunity", Operation.UPDATE, "External_Id__c", wrong_parent, PATH)
    assert [p.message for p in problems] == ["Opportunity.AccountId points to Account, not Contact"]
    not_lookup = [FieldSpec("Email", "k", "varchar", lookup_object="Account", lookup_match="External_Id__c")]
    problems = dest.check_mapping("Contact", Operation.UPDATE, None, not_lookup, PATH)
    assert "not a lookup" in problems[0].message
    missing = dest.check_mapping("Contcat", Operation.UPSERT, "External_Id__c", [], PATH)
    assert len(missing) == 1 and missing[0].path == PATH and "Contcat" in missing[0].message


def test_create_needs_required_fields_but_update_does_not(emu: Any, dest: SalesforceDestination) -> None:
    fields = [FieldSpec("Name", "name", "varchar")]
    create = dest.check_mapping("Opportunity", Operation.CREATE, None, fields, PATH)
    assert len(create) == 1 and "CloseDate" in create[0].message and "StageName" in create[0].message
    assert dest.check_mapping("Opportunity", Operation.UPDATE, None, fields, PATH) == []


def test_describe_is_fetched_once_per_object(emu: Any, dest: SalesforceDestination) -> None:
    for _ in range(3):
        dest.check_mapping("Contact", Operation.UPDATE, None, [FieldSpec("Email", "e", "text")], PATH)
    describes = [p for _, p, _s in emu.request_log if p.endswith("/sobjects/Contact/describe")]
    assert len(describes) == 1
