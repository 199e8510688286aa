"""check_mapping against the emulator's properties API: every problem in one report."""

from __future__ import annotations

from dbt_sync.destinations.base import FieldSpec, Operation
from dbt_sync.destinations.hubspot import HubSpotDestination
from dbt_sync_emulators.hubspot import HubSpotEmulator


def test_every_listed_problem_in_one_report(dest: HubSpotDestination, emu: HubSpotEmulator) -> None:
    emu.define_property("contacts", "score_calc", type="number", field_type="calculation_equation", read_only=True)
    fields = [
        FieldSpec("firstname", "first_name", "varchar"),  # fine
        FieldSpec("fristname", "x", "varchar"),  # typo
        FieldSpec("hs_object_id", "id", "integer"),  # read-only
        FieldSpec("score_calc", "s", "integer"),  # calculated
        FieldSpec("lifecyclestage", None, None, constant="wizard"),  # bad option
        FieldSpec("lead_score", "score_text", "varchar"),  # text into number
        FieldSpec("date_of_birth", "dob", "text"),  # text into date
        FieldSpec("last_seen_at", "seen", "timestamp with time zone"),  # fine
        FieldSpec("annual", "amount", "numeric(18,2)"),  # unknown, no close match
        FieldSpec("is_customer", "flag", "boolean"),  # fine
        FieldSpec("lead_score", "n", "numeric(18,2)"),  # fine
    ]
    problems = dest.check_mapping("contacts", Operation.UPSERT, "firstname", fields, "syncs.contacts")
    by_path: dict[str, list[str]] = {}
    for p in problems:
        by_path.setdefault(p.path, []).append(p.message)
    assert set(by_path) == {
        "syncs.contacts.match",
        "syncs.contacts.fields.fristname",
        "syncs.contacts.fields.hs_object_id",
        "syncs.contacts.fields.score_calc",
        "syncs.contacts.fields.lifecyclestage",
        "syncs.contacts.fields.lead_score",
        "syncs.contacts.fields.date_of_birth",
        "syncs.contacts.fields.annual",
    }, problems
    assert "unique" in by_path["syncs.contacts.match"][0]
    assert "did you mean 'firstname'" in by_path["syncs.contacts.fields.fristname"][0]
    assert "read-only" in by_path["syncs.contacts.fields.hs_object_id"][0]
    assert "calculated" in by_path["syncs.contacts.fields.score_calc"][0]
    assert "'wizard'" in by_path["syncs.contacts.fields.lifecyclestage"][0]
    assert "lead" in by_path["syncs.contacts.fields.lifecyclestage"][0]  # lists the allowed values
    assert "number" in by_path["syncs.contacts.fields.lead_score"][0]
    assert "date" in by_path["syncs.contacts.fields.date_of_birth"][0]


def test_clean_mapping_has_no_problems(dest: HubSpotDestination) -> None:
    fields = [
        FieldSpec("email", "email", "varchar"),
        FieldSpec("contact_key", "id", "bigint"),
        FieldSpec("lifecyclestage", None, None, constant="customer"),
        FieldSpec("date_of_birth", "dob", "date"),
    ]
    assert dest.check_mapping("contacts", Operation.UPSERT, None, fields, "p") == []
    assert dest.check_mapping("contacts", Operation.UPSERT, "contact_key", fields, "p") == []
    assert dest.check_mapping("companies", Operation.UPSERT, "company_key", [FieldSpec("name", "n", "text")], "p") == []


def test_unknown_object_and_upsert_without_unique_match(dest: HubSpotDestination) -> None:
    problems = dest.check_mapping("p_missing", Operation.UPSERT, "x", [FieldSpec("x", "x")], "s")
    assert [p.path for p in problems] == ["s.object"]
    problems = dest.check_mapping("companies", Operation.UPSERT, None, [FieldSpec("name", "n", "text")], "s")
    assert [p.path for p in problems] == ["s.match"] and "company_key" in problems[0].message


def test_custom_object_and_association_targets(dest: HubSpotDestination, emu: HubSpotEmulator) -> None:
    emu.define_object_type("2-123456", "projects", properties=[{"name": "project_key", "unique": True}, "title"])
    fields = [
        FieldSpec("title", "t", "varchar"),
        FieldSpec("company", "company_key", "varchar", lookup_object="companies", lookup_match="company_key"),
        FieldSpec("owner", "email", "varchar", lookup_object="contacts", lookup_match="email"),
        FieldSpec("deal", "d", "varchar", lookup_object="deals", lookup_match="dealname"),
    ]
    problems = dest.check_mapping("p_projects", Operation.UPSERT, "project_key", fields, "s")
    assert [p.path for p in problems] == ["s.fields.deal"]
    assert "unique" in problems[0].message


def test_associations_need_a_pair_hubspot_defines_and_labels_it_has(
    dest: HubSpotDestination, emu: HubSpotEmulator
) -> None:
    from dbt_sync.destinations.base import AssociationCheck

    emu.define_object_type("2-123456", "projects", properties=[{"name": "project_key", "unique": True}],
                           associated_objects=["companies"])
    billing = emu.define_association_label("contacts", "companies", "Billing contact")
    checks = [
        AssociationCheck("companies", "s.associations[0]", match="company_key"),
        AssociationCheck("p_projects", "s.associations[1]", match="project_key"),           # not defined
        AssociationCheck("companies", "s.associations[2]", match="company_key", label="billing contact"),
        AssociationCheck("companies", "s.associations[3]", match="company_key", label="Billing contcat"),
        AssociationCheck("companies", "s.associations[4]", match="company_key", type_id=billing,
                         category="USER_DEFINED"),
        AssociationCheck("companies", "s.associations[5]", match="company_key", type_id=billing),  # wrong category
        AssociationCheck("p_nothing", "s.associations[6]"),
    ]
    problems = dest.check_mapping("contacts", Operation.UPSERT, None, [FieldSpec("email", "e", "varchar")], "s",
                                  associations=checks)
    by_path = {p.path: p.message for p in problems}
    assert set(by_path) == {"s.associations[1].to", "s.associations[3].label", "s.associations[5].type_id",
                            "s.associations[6].to"}
    assert by_path["s.associations[1].to"].startswith("HubSpot defines no association between contacts and p_projects")
    assert "did you mean 'Billing contact'?" in by_path["s.associations[3].label"]
    assert f"HUBSPOT_DEFINED {billing} is not an association type" in by_path["s.associations[5].type_id"]
    assert f"USER_DEFINED {billing}" in by_path["s.associations[5].type_id"]
    # the pair the schema names is fine from either side
    ok = [AssociationCheck("contacts", "p.associations[0]", match="email")]
    assert dest.check_mapping("companies", Operation.UPSERT, "company_key", [], "p", associations=ok) == []
    ok = [AssociationCheck("companies", "p.associations[0]", match="company_key")]
    assert dest.check_mapping("p_projects", Operation.UPSERT, "project_key", [], "p", associations=ok) == []
