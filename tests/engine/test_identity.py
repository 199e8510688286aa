"""Records keep their identity: key and match changes, CRM-side deletes, crashes and reverts.

One regression test per case of the identity rule (docs/engine.md, "Which
CRM record a row is"), each on DuckDB and PostgreSQL, against both
emulators through the real client libraries.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from dbt_sync.warehouse import Warehouse
from tests.engine.identity_stack import IdentityStack, identity_stack

pytestmark = pytest.mark.slow

TARGETS = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=TARGETS)
def ids(request: pytest.FixtureRequest, dbt_project_factory: Any) -> Any:
    with identity_stack(dbt_project_factory, request.param) as stack:
        yield stack


def hs_contacts(ids: IdentityStack) -> dict[str, dict[str, Any]]:
    """Live HubSpot contacts by email."""
    return {r["properties"]["email"]: r for r in ids.hs_live("contacts")}


def sf_contacts(ids: IdentityStack) -> dict[str, dict[str, Any]]:
    """Live Salesforce contacts by external id."""
    return {str(r["External_Id__c"]): r for r in ids.sf_live("Contact")}


def sync(result: Any, name: str) -> Any:
    res = result.sync(name)
    assert res is not None, name
    return res


# -- case 1: a re-key with the same email updates the record and deletes nothing --------------------------


def test_case1_rekey_in_mirror_keeps_the_record(ids: IdentityStack) -> None:
    ids.set_people([("crm-17", "ada@acme.example", "Ada", "Lovelace", None),
                    ("crm-18", "alan@acme.example", "Alan", "Turing", None)])
    first = ids.run("hs_people_mirror", "sf_people_mirror")
    assert first.exit_code == 0, [s.message for s in first.syncs]
    hs_id = hs_contacts(ids)["ada@acme.example"]["id"]
    sf_id = sf_contacts(ids)["ada@acme.example"]["Id"]

    ids.set_people([("acct-17", "ada@acme.example", "Ada", "Lovelace", None),
                    ("crm-18", "alan@acme.example", "Alan", "Turing", None)])
    second = ids.run("hs_people_mirror", "sf_people_mirror")
    assert second.exit_code == 0, [s.message for s in second.syncs]
    assert sync(second, "hs_people_mirror").deleted == 0 and sync(second, "sf_people_mirror").deleted == 0
    assert hs_contacts(ids)["ada@acme.example"]["id"] == hs_id  # still live, same record
    assert sf_contacts(ids)["ada@acme.example"]["Id"] == sf_id
    assert len(ids.hs_live("contacts")) == 2 and len(ids.sf_live("Contact")) == 2
    assert ids.state("hs_people_mirror") == {"acct-17": hs_id, "crm-18": hs_contacts(ids)["alan@acme.example"]["id"]}
    assert ids.state("sf_people_mirror")["acct-17"] == sf_id and "crm-17" not in ids.state("sf_people_mirror")
    # and it stays that way
    assert ids.run("hs_people_mirror", "sf_people_mirror").exit_code == 0
    assert hs_contacts(ids)["ada@acme.example"]["id"] == hs_id and sf_contacts(ids)["ada@acme.example"]["Id"] == sf_id


# -- case 2: records deleted in the CRM are written again; dependants are not stranded --------------------


def test_case2_archived_company_is_recreated_and_contact_associated(ids: IdentityStack) -> None:
    ids.set_companies([("K-1", "Acme"), ("K-2", "Globex")])
    ids.set_people([("p1", "ada@acme.example", "Ada", "Lovelace", "K-1")])
    first = ids.run("hs_companies", "hs_people_upsert")
    assert first.exit_code == 0, [s.message for s in first.syncs]
    old_company = ids.state("hs_companies")["K-1"]
    assert old_company is not None
    ids.hs_archive("companies", old_company)  # by hand, in HubSpot

    ids.set_people([("p1", "ada@acme.example", "Ada B.", "Lovelace", "K-1")])
    runs = [ids.run("hs_companies", "hs_people_upsert") for _ in range(2)]
    assert runs[-1].exit_code == 0, [(s.name, s.message, s.error_codes) for s in runs[-1].syncs]
    companies = {r["properties"]["company_key"]: r["id"] for r in ids.hs_live("companies")}
    assert set(companies) == {"K-1", "K-2"} and companies["K-1"] != old_company
    assert ids.state("hs_companies")["K-1"] == companies["K-1"]
    contact = hs_contacts(ids)["ada@acme.example"]
    assert contact["properties"]["firstname"] == "Ada B."
    assert ("companies", companies["K-1"]) in {(t, i) for t, i, _ in ids.hs.associations("contacts", contact["id"])}
    assert ids.open_failures("hs_companies") == {} and ids.open_failures("hs_people_upsert") == {}


def test_case2_salesforce_update_by_a_deleted_id_finds_the_record_again(ids: IdentityStack) -> None:
    ids.set_people([("p1", "ada@acme.example", "Ada", "Lovelace", None)])
    ids.sf.seed("Contact", [{"LastName": "Lovelace", "External_Id__c": "ada@acme.example"}])
    first = ids.run("sf_people_update", "sf_people_mirror")
    assert first.exit_code == 0, [s.message for s in first.syncs]
    old = ids.state("sf_people_update")["p1"]
    assert old == ids.state("sf_people_mirror")["p1"]
    # someone deletes the contact and imports it again (same external id, new record)
    ids.sf_delete("Contact", str(old))
    (new,) = ids.sf.seed("Contact", [{"LastName": "Lovelace", "External_Id__c": "ada@acme.example"}])

    ids.set_people([("p1", "ada@acme.example", "Ada", "Byron", None)])
    second = ids.run("sf_people_update", "sf_people_mirror")
    assert second.exit_code == 0, [(s.name, s.message, s.error_codes) for s in second.syncs]
    assert ids.state("sf_people_update")["p1"] == new == ids.state("sf_people_mirror")["p1"]
    assert [c["LastName"] for c in ids.sf_live("Contact")] == ["Byron"]
    assert ids.open_failures("sf_people_update") == {} and ids.open_failures("sf_people_mirror") == {}


def test_case2_record_deleted_in_the_crm_is_written_again(ids: IdentityStack) -> None:
    ids.set_people([("p1", "ada@acme.example", "Ada", "Lovelace", None),
                    ("p2", "alan@acme.example", "Alan", "Turing", None)])
    assert ids.run("hs_people_mirror", "sf_people_mirror").exit_code == 0
    ids.hs_archive("contacts", hs_contacts(ids)["ada@acme.example"]["id"])
    ids.sf_delete("Contact", sf_contacts(ids)["ada@acme.example"]["Id"])

    ids.set_people([("p1", "ada@acme.example", "Ada", "Byron", None),
                    ("p2", "alan@acme.example", "Alan", "Turing", None)])
    second = ids.run("hs_people_mirror", "sf_people_mirror")
    assert second.exit_code == 0, [(s.name, s.message, s.error_codes) for s in second.syncs]
    assert hs_contacts(ids)["ada@acme.example"]["properties"]["lastname"] == "Byron"
    assert sf_contacts(ids)["ada@acme.example"]["LastName"] == "Byron"
    assert ids.state("hs_people_mirror")["p1"] == hs_contacts(ids)["ada@acme.example"]["id"]
    assert ids.state("sf_people_mirror")["p1"] == sf_contacts(ids)["ada@acme.example"]["Id"]


# -- case 3: create mode with a match key after a reset (or a crash) adopts what exists --------------------


def test_case3_create_with_match_adopts_existing_records(ids: IdentityStack) -> None:
    people = [(f"p{i}", f"person{i}@acme.example", "P", f"Person {i}", None) for i in range(1, 6)]
    ids.set_people(people)
    first = ids.run("hs_people_create", "sf_people_create")
    assert first.exit_code == 0, [s.message for s in first.syncs]
    hs_before, sf_before = ids.state("hs_people_create"), ids.state("sf_people_create")
    ids.wh.reset("hs_people_create")
    ids.wh.reset("sf_people_create")

    second = ids.run("hs_people_create", "sf_people_create")
    assert second.exit_code == 0, [(s.name, s.message, s.error_codes) for s in second.syncs]
    assert ids.state("hs_people_create") == hs_before and ids.state("sf_people_create") == sf_before
    assert len(ids.hs_live("contacts")) == 5 and len(ids.sf_live("Contact")) == 5
    assert ids.open_failures("hs_people_create") == {} and ids.open_failures("sf_people_create") == {}


def test_case3_create_with_match_after_a_lost_commit(ids: IdentityStack, monkeypatch: pytest.MonkeyPatch) -> None:
    ids.set_people([(f"p{i}", f"person{i}@acme.example", "P", f"Person {i}", None) for i in range(1, 4)])
    real_commit = Warehouse.commit

    def lost(self: Warehouse, sync_name: str, *args: Any, **kwargs: Any) -> None:
        if sync_name in ("hs_people_create", "sf_people_create"):
            raise RuntimeError("injected: the process died before the commit")
        real_commit(self, sync_name, *args, **kwargs)

    monkeypatch.setattr(Warehouse, "commit", lost)
    ids.run("hs_people_create", "sf_people_create")
    monkeypatch.setattr(Warehouse, "commit", real_commit)
    assert len(ids.hs_live("contacts")) == 3 and len(ids.sf_live("Contact")) == 3
    assert ids.state("hs_people_create") == {} and ids.state("sf_people_create") == {}

    second = ids.run("hs_people_create", "sf_people_create")
    assert second.exit_code == 0, [(s.name, s.message, s.error_codes) for s in second.syncs]
    assert set(ids.state("hs_people_create").values()) == {r["id"] for r in ids.hs_live("contacts")}
    assert set(ids.state("sf_people_create").values()) == {r["Id"] for r in ids.sf_live("Contact")}
    assert len(ids.hs_live("contacts")) == 3 and len(ids.sf_live("Contact")) == 3


# -- case 4: a failure that goes away by itself closes ------------------------------------------------------


def test_case4_failures_close_when_the_row_is_back_or_gone(ids: IdentityStack) -> None:
    good = [("p1", "ada@acme.example", "Ada", "Lovelace", None), ("p2", "alan@acme.example", "Alan", "Turing", None),
            ("p3", "grace@acme.example", "Grace", "Hopper", None)]
    ids.set_people(good)
    assert ids.run("hs_people_upsert").exit_code == 0
    # p1 gets an invalid email, p2 a duplicated primary key, p3 an invalid email and then leaves the model
    ids.set_people([("p1", "not-an-email", "Ada", "Lovelace", None), good[1],
                    ("p2", "alan2@acme.example", "Alan", "Turing", None), ("p3", "nope", "Grace", "Hopper", None)])
    failing = ids.run("hs_people_upsert")
    assert set(ids.open_failures("hs_people_upsert")) == {"p1", "p2", "p3"}, sync(failing, "hs_people_upsert")

    ids.set_people([good[0], good[1]])  # p1 and p2 as the CRM last confirmed them; p3 gone
    settled = ids.run("hs_people_upsert")
    assert settled.exit_code == 0
    assert ids.open_failures("hs_people_upsert") == {}
    # nothing left to retry: the sync is no longer planned for its failures
    assert "hs_people_upsert" not in ids.wh.pending_retry_syncs()


def test_case4_failed_mirror_delete_closes_when_the_row_comes_back_unchanged(ids: IdentityStack) -> None:
    ada, alan = ("p1", "ada@acme.example", "Ada", "Lovelace", None), ("p2", "alan@acme.example", "Alan", "Turing", None)
    ids.set_people([ada, alan])
    assert ids.run("hs_people_mirror").exit_code == 0
    ids.set_people([ada])  # p2 leaves the model; HubSpot refuses the archive batch
    ids.hs.faults.reject_batch_next(1, path_contains="/archive")
    failed = ids.run("hs_people_mirror")
    assert sync(failed, "hs_people_mirror").failed == 1, sync(failed, "hs_people_mirror")
    assert set(ids.open_failures("hs_people_mirror")) == {"p2"}
    assert len(ids.hs_live("contacts")) == 2  # the record is still there

    ids.set_people([ada, alan])  # p2 is back, as the CRM still holds it: nothing to send, nothing open
    back = ids.run("hs_people_mirror")
    res = sync(back, "hs_people_mirror")
    assert back.exit_code == 0 and (res.created, res.updated, res.deleted) == (0, 0, 0), res
    assert ids.open_failures("hs_people_mirror") == {}
    assert "hs_people_mirror" not in ids.wh.pending_retry_syncs()
    assert sorted(hs_contacts(ids)) == ["ada@acme.example", "alan@acme.example"]
    # it stays closed, and the next removal deletes it
    ids.set_people([ada])
    assert sync(ids.run("hs_people_mirror"), "hs_people_mirror").deleted == 1
    assert ids.open_failures("hs_people_mirror") == {} and sorted(hs_contacts(ids)) == ["ada@acme.example"]


# -- case 5: a contact upserted by email changes its email --------------------------------------------------


def test_case5_hubspot_contact_changes_its_email(ids: IdentityStack) -> None:
    ids.set_people([("p1", "ada@acme.example", "Ada", "Lovelace", None)])
    assert ids.run("hs_people_upsert", "hs_people_mirror").exit_code == 0
    (contact_id,) = [r["id"] for r in ids.hs_live("contacts")]

    ids.set_people([("p1", "ada.lovelace@acme.example", "Ada", "Lovelace", None)])
    second = ids.run("hs_people_upsert", "hs_people_mirror")
    assert second.exit_code == 0, [(s.name, s.message, s.error_codes) for s in second.syncs]
    assert [(r["id"], r["properties"]["email"]) for r in ids.hs_live("contacts")] == [
        (contact_id, "ada.lovelace@acme.example")]
    assert ids.state("hs_people_upsert") == {"p1": contact_id} == ids.state("hs_people_mirror")


# -- case 6: --full-refresh resends everything and still deletes ---------------------------------------------


def test_case6_full_refresh_keeps_mirror_deletes(ids: IdentityStack) -> None:
    ids.set_people([("p1", "ada@acme.example", "Ada", "Lovelace", None),
                    ("p2", "alan@acme.example", "Alan", "Turing", None)])
    assert ids.run("hs_people_mirror", "sf_people_mirror").exit_code == 0
    kept_hs, kept_sf = hs_contacts(ids)["ada@acme.example"]["id"], sf_contacts(ids)["ada@acme.example"]["Id"]

    ids.set_people([("p1", "ada@acme.example", "Ada", "Lovelace", None)])
    refreshed = ids.run("hs_people_mirror", "sf_people_mirror", full_refresh=True)
    assert refreshed.exit_code == 0
    for name in ("hs_people_mirror", "sf_people_mirror"):
        res = sync(refreshed, name)
        assert (res.deleted, res.updated, res.created) == (1, 1, 0), (name, res)
    assert [r["id"] for r in ids.hs_live("contacts")] == [kept_hs]
    assert [r["Id"] for r in ids.sf_live("Contact")] == [kept_sf]


# -- case 7: a create whose request timed out is never resent blindly ---------------------------------------


def test_case7_create_timeouts_never_duplicate(ids: IdentityStack) -> None:
    people = [(f"p{i:02d}", f"person{i}@acme.example", "P", f"Person {i}", None) for i in range(1, 11)]
    ids.set_people(people)
    ids.set_companies([(f"K-{i:02d}", f"Company {i}") for i in range(1, 11)])
    # the second request of each sync hangs past the client's 2 s timeout; the CRM applies it afterwards
    ids.sf.faults.timeout_next(1, seconds=3, path_contains="composite/sobjects")
    first = ids.run("sf_people_create_nomatch")
    ids.hs.faults.timeout_next(1, seconds=3, path_contains="companies/batch/create")
    first_hs = ids.run("hs_companies_create_nomatch")
    time.sleep(1.5)  # the hung requests are applied by now
    for res in (sync(first, "sf_people_create_nomatch"), sync(first_hs, "hs_companies_create_nomatch")):
        assert res.error_codes.get("IN_DOUBT") == 5, res.error_codes
    assert max(Counter(r["LastName"] for r in ids.sf_live("Contact")).values()) == 1
    assert max(Counter(r["properties"]["name"] for r in ids.hs_live("companies")).values()) == 1
    # the next runs hold them back until someone checks the CRM
    again = ids.run("sf_people_create_nomatch", "hs_companies_create_nomatch")
    assert {s.name: s.error_codes.get("IN_DOUBT") for s in again.syncs} == {
        "sf_people_create_nomatch": 5, "hs_companies_create_nomatch": 5}
    assert len(ids.sf_live("Contact")) == 10 and len(ids.hs_live("companies")) == 10


def test_case7_create_with_match_timeout_settles_by_the_match_key(ids: IdentityStack) -> None:
    people = [(f"p{i:02d}", f"person{i}@acme.example", "P", f"Person {i}", None) for i in range(1, 6)]
    ids.set_people(people)
    ids.sf.faults.timeout_next(1, seconds=3, path_contains="composite/sobjects")
    ids.hs.faults.timeout_next(1, seconds=3, path_contains="contacts/batch/create")
    ids.run("sf_people_create", "hs_people_create")
    time.sleep(1.5)
    for _ in range(2):
        last = ids.run("sf_people_create", "hs_people_create")
        if last.exit_code == 0:
            break
    assert last.exit_code == 0, [(s.name, s.error_codes) for s in last.syncs]
    assert sorted(sf_contacts(ids)) == sorted(p[1] for p in people)
    assert sorted(hs_contacts(ids)) == sorted(p[1] for p in people)
    assert len(ids.sf_live("Contact")) == 5 and len(ids.hs_live("contacts")) == 5
    assert set(ids.state("sf_people_create").values()) == {r["Id"] for r in ids.sf_live("Contact")}
    assert set(ids.state("hs_people_create").values()) == {r["id"] for r in ids.hs_live("contacts")}


# -- case 8: a crash between send and commit, then a revert ---------------------------------------------------


def test_case8_revert_after_a_lost_commit_reaches_the_crm(
    ids: IdentityStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids.set_people([("p1", "ada@acme.example", "Ada", "Lovelace", None)])
    assert ids.run("hs_people_mirror", "sf_people_mirror").exit_code == 0
    ids.set_people([("p1", "ada@acme.example", "Ada", "Byron", None)])
    real_commit = Warehouse.commit

    def lost(self: Warehouse, sync_name: str, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("injected: the process died before the commit")

    monkeypatch.setattr(Warehouse, "commit", lost)
    ids.run("hs_people_mirror", "sf_people_mirror")
    monkeypatch.setattr(Warehouse, "commit", real_commit)
    assert hs_contacts(ids)["ada@acme.example"]["properties"]["lastname"] == "Byron"
    assert sf_contacts(ids)["ada@acme.example"]["LastName"] == "Byron"

    ids.set_people([("p1", "ada@acme.example", "Ada", "Lovelace", None)])  # the model reverts
    assert ids.run("hs_people_mirror", "sf_people_mirror").exit_code == 0
    assert hs_contacts(ids)["ada@acme.example"]["properties"]["lastname"] == "Lovelace"
    assert sf_contacts(ids)["ada@acme.example"]["LastName"] == "Lovelace"


# -- case 9: mirror edge cases -------------------------------------------------------------------------------


def test_case9_fixed_failure_stays_closed_after_the_mirror_deletes(ids: IdentityStack) -> None:
    ids.set_people([("p1", "ada@acme.example", "Ada", "Lovelace", None),
                    ("p2", "alan@acme.example", "Alan", "Turing", None)])
    assert ids.run("hs_people_mirror").exit_code == 0
    alan = ("p2", "alan@acme.example", "Alan", "Turing", None)
    ids.set_people([("p1", "not-an-email", "Ada", "Lovelace", None), alan])
    ids.run("hs_people_mirror")
    assert set(ids.open_failures("hs_people_mirror")) == {"p1"}
    ids.set_people([("p1", "ada@acme.example", "Ada", "Byron", None), alan])
    assert ids.run("hs_people_mirror").exit_code == 0 and ids.open_failures("hs_people_mirror") == {}

    ids.set_people([("p2", "alan@acme.example", "Alan", "Turing", None)])
    deleted = ids.run("hs_people_mirror")
    assert sync(deleted, "hs_people_mirror").deleted == 1
    assert ids.open_failures("hs_people_mirror") == {}


def test_case9_rerun_after_an_allowed_mass_delete_is_not_guarded(ids: IdentityStack) -> None:
    companies = [(f"K-{i}", f"Company {i}") for i in range(1, 6)]
    ids.set_companies(companies)
    assert ids.run("hs_companies_mirror").exit_code == 0
    ids.set_companies(companies[:3])  # 2 of 5 (40%) go, over the 30% threshold
    assert sync(ids.run("hs_companies_mirror"), "hs_companies_mirror").error_codes == {"DELETE_GUARD": 1}
    allowed = ids.run("hs_companies_mirror", allow_mass_delete=True)
    assert sync(allowed, "hs_companies_mirror").deleted == 2
    rerun = ids.run("hs_companies_mirror", recapture=False)  # a plain rerun, nothing rebuilt
    res = sync(rerun, "hs_companies_mirror")
    assert (res.status, res.deleted, res.error_codes) == ("success", 0, {}), res.message
    assert len(ids.hs_live("companies")) == 3
