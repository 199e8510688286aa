"""Batch upsert/create/update/archive against the emulator, per-record outcomes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from dbt_sync.destinations.base import Association, Operation, Record
from dbt_sync.destinations.hubspot import HubSpotDestination
from dbt_sync_emulators.hubspot import HubSpotEmulator


def by_key(outcomes):
    return {o.key: o for o in outcomes}


def contact_by_email(emu: HubSpotEmulator, email: str) -> dict:
    found = [r for r in emu.records("contacts") if r["properties"].get("email") == email]
    assert len(found) == 1, found
    return found[0]


def test_upsert_contacts_creates_then_updates(dest: HubSpotDestination, emu: HubSpotEmulator) -> None:
    records = [
        Record("1", {"email": "Ada@Example.com", "firstname": "Ada", "lastname": "Lovelace"}),
        Record("2", {"email": "grace@example.com", "firstname": "Grace"}),
    ]
    first = by_key(dest.write("contacts", Operation.UPSERT, records, match="email", options={}))
    assert all(o.success for o in first.values()), first
    assert first["1"].created is True and first["2"].created is True
    stored = contact_by_email(emu, "ada@example.com")  # lower-cased for matching
    assert stored["id"] == first["1"].destination_id
    assert stored["properties"]["firstname"] == "Ada"

    records[0].fields["firstname"] = "Augusta"
    again = by_key(dest.write("contacts", Operation.UPSERT, records, match="email", options={}))
    assert again["1"].created is False and again["1"].destination_id == first["1"].destination_id
    assert contact_by_email(emu, "ada@example.com")["properties"]["firstname"] == "Augusta"
    assert len(emu.records("contacts")) == 2


def test_mixed_batch_bad_email_and_bad_option_fail_alone(dest: HubSpotDestination, emu: HubSpotEmulator) -> None:
    records = [
        Record("good", {"email": "ok@example.com", "lifecyclestage": "lead"}),
        Record("bad-email", {"email": "not-an-email", "firstname": "X"}),
        Record("bad-option", {"email": "opt@example.com", "lifecyclestage": "wizard"}),
        Record("good2", {"email": "ok2@example.com", "firstname": "Y"}),
    ]
    out = by_key(dest.write("contacts", Operation.UPSERT, records, match="email", options={}))
    assert len(out) == 4
    assert out["good"].success and out["good2"].success
    assert not out["bad-email"].success and out["bad-email"].error_code == "INVALID_EMAIL"
    assert out["bad-email"].fields == ["email"]
    assert not out["bad-option"].success and out["bad-option"].error_code == "INVALID_OPTION"
    assert out["bad-option"].fields == ["lifecyclestage"]
    assert "wizard" in (out["bad-option"].message or "")
    emails = sorted(r["properties"].get("email") for r in emu.records("contacts"))
    assert emails == ["ok2@example.com", "ok@example.com"]


def test_create_with_bad_inputs_maps_207_by_trace_id(dest: HubSpotDestination, emu: HubSpotEmulator) -> None:
    records = [Record(f"k{i}", {"name": f"Co {i}", "industry": "NOPE" if i % 3 == 0 else None}) for i in range(7)]
    out = by_key(dest.write("companies", Operation.CREATE, records, match=None, options={}))
    failed = sorted(k for k, o in out.items() if not o.success)
    assert failed == ["k0", "k3", "k6"]
    assert {out[k].error_code for k in failed} == {"INVALID_OPTION"}
    ok = [o for o in out.values() if o.success]
    assert all(o.created is True for o in ok)
    names = {r["properties"]["name"]: r["id"] for r in emu.records("companies")}
    assert {o.destination_id for o in ok} == {names[f"Co {i}"] for i in (1, 2, 4, 5)}


def test_duplicate_match_values_fail_the_later_record(dest: HubSpotDestination, emu: HubSpotEmulator) -> None:
    records = [
        Record("a", {"email": "same@example.com", "firstname": "First"}),
        Record("b", {"email": "other@example.com"}),
        Record("c", {"email": "SAME@example.com", "firstname": "Second"}),
    ]
    out = by_key(dest.write("contacts", Operation.UPSERT, records, match="email", options={}))
    assert out["a"].success and out["b"].success
    assert not out["c"].success and out["c"].error_code == "DUPLICATE_ID_IN_BATCH"
    assert "'a'" in (out["c"].message or "") and "'c'" in (out["c"].message or "")
    assert contact_by_email(emu, "same@example.com")["properties"]["firstname"] == "First"
    # no whole-batch "Duplicate IDs" 400 ever reached the API
    assert all(status != 400 for _, _, status in emu.request_log)


def test_whole_batch_rejection_is_isolated_by_splitting(dest: HubSpotDestination, emu: HubSpotEmulator) -> None:
    emu.faults.reject_batch_next(1, path_contains="/batch/upsert")
    records = [Record(str(i), {"email": f"u{i}@example.com"}) for i in range(8)]
    out = dest.write("contacts", Operation.UPSERT, records, match="email", options={})
    assert len(out) == 8 and all(o.success for o in out)
    statuses = [s for _, path, s in emu.request_log if "/batch/upsert" in path]
    assert statuses[0] == 400 and len(statuses) == 3  # one rejected, then two halves


def test_create_without_attribution_isolates_bad_record(dest: HubSpotDestination, emu: HubSpotEmulator) -> None:
    # Three consecutive whole-batch rejections force the split down to single inputs.
    emu.faults.reject_batch_next(3, path_contains="/batch/create")
    records = [Record(f"r{i}", {"dealname": f"D{i}", "amount": Decimal("10.5")}) for i in range(4)]
    out = by_key(dest.write("deals", Operation.CREATE, records, match=None, options={}))
    # [r0..r3] rejected -> [r0,r1] rejected -> [r0] rejected alone: only r0 fails.
    assert [k for k, o in sorted(out.items()) if not o.success] == ["r0"]
    assert out["r0"].error_code == "VALIDATION_ERROR" and out["r0"].message
    statuses = [s for _, path, s in emu.request_log if "/batch/create" in path]
    assert statuses == [400, 400, 400, 201, 201]
    created_ids = sorted(o.destination_id for o in out.values() if o.success)
    assert created_ids == sorted(r["id"] for r in emu.records("deals"))


def test_single_bad_input_400_becomes_its_failure(dest: HubSpotDestination, emu: HubSpotEmulator) -> None:
    emu.faults.reject_batch_next(1, path_contains="/batch/update")
    cid = emu.seed("contacts", {"email": "x@example.com"})
    out = dest.write(
        "contacts", Operation.UPDATE, [Record("x", {"firstname": "Z"}, destination_id=cid)], match=None, options={}
    )
    assert not out[0].success and out[0].error_code not in (None, "")
    assert emu.record("contacts", cid)["properties"].get("firstname") in (None, "")


def test_contact_conflict_on_create(dest: HubSpotDestination, emu: HubSpotEmulator) -> None:
    existing = emu.seed("contacts", {"email": "taken@example.com"})
    records = [Record("new", {"email": "fresh@example.com"}), Record("dup", {"email": "Taken@example.com"})]
    out = by_key(dest.write("contacts", Operation.CREATE, records, match=None, options={}))
    assert out["new"].success and out["new"].created is True
    assert not out["dup"].success and out["dup"].error_code == "CONFLICT"
    assert existing in (out["dup"].message or "")


def test_update_by_id_and_by_unique_property_and_archive(dest: HubSpotDestination, emu: HubSpotEmulator) -> None:
    a = emu.seed("companies", {"name": "A", "company_key": "CA"})
    b = emu.seed("companies", {"name": "B", "company_key": "CB"})
    records = [
        Record("ka", {"name": "A2", "domain": None}, destination_id=a),
        Record("kb", {"name": "B2", "company_key": "CB"}),
        Record("kz", {"name": "Z", "company_key": "NOPE"}),
    ]
    out = by_key(dest.write("companies", Operation.UPDATE, records, match="company_key", options={}))
    assert out["ka"].success and out["ka"].destination_id == a and out["ka"].created is False
    assert out["kb"].success and out["kb"].destination_id == b
    assert not out["kz"].success
    assert emu.record("companies", a)["properties"]["name"] == "A2"
    assert emu.record("companies", b)["properties"]["name"] == "B2"

    gone = dest.write(
        "companies",
        Operation.DELETE,
        [Record("ka", {}, destination_id=a), Record("never", {})],
        match=None,
        options={},
    )
    assert all(o.success for o in gone)
    assert [r["id"] for r in emu.records("companies")] == [b]


def test_delete_by_match_value_without_known_id(dest: HubSpotDestination, emu: HubSpotEmulator) -> None:
    cid = emu.seed("contacts", {"email": "bye@example.com"})
    gone = [Record("1", {"email": "BYE@example.com"})]
    out = dest.write("contacts", Operation.DELETE, gone, match="email", options={})
    assert out[0].success and out[0].destination_id == cid
    assert emu.records("contacts") == []


def test_more_than_100_records_are_split(dest: HubSpotDestination, emu: HubSpotEmulator) -> None:
    records = [Record(str(i), {"email": f"n{i}@example.com"}) for i in range(130)]
    out = dest.write("contacts", Operation.UPSERT, records, match="email", options={})
    assert len(out) == 130 and all(o.success for o in out)
    assert len([p for _, p, _ in emu.request_log if "/batch/upsert" in p]) == 2
    assert dest.max_batch_size(Operation.UPSERT, {}) == 100


def test_custom_object_upsert(dest: HubSpotDestination, emu: HubSpotEmulator) -> None:
    emu.define_object_type(
        "2-123456",
        "projects",
        properties=[{"name": "project_key", "unique": True}, "title", {"name": "budget", "type": "number"}],
    )
    for object_type in ("2-123456", "p_projects"):
        records = [Record("p1", {"project_key": "P-1", "title": object_type, "budget": Decimal("1234.50")})]
        out = dest.write(object_type, Operation.UPSERT, records, match="project_key", options={})
        assert out[0].success, out
    stored = emu.records("2-123456")
    assert len(stored) == 1
    assert stored[0]["properties"]["title"] == "p_projects"
    assert stored[0]["properties"]["budget"] == "1234.50"


def test_value_formats_are_accepted_and_exact(dest: HubSpotDestination, emu: HubSpotEmulator) -> None:
    seen = dt.datetime(2024, 3, 5, 14, 30, 15, 250000, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    fields = {
        "email": "fmt@example.com",
        "firstname": "Zoë 山田",
        "date_of_birth": dt.date(1990, 7, 1),
        "last_seen_at": seen,
        "lead_score": Decimal("12345678901234567890.123456789"),
        "is_customer": True,
        "interests": ["a", "b"],
    }
    emu.define_property("contacts", "interests", type="enumeration", field_type="checkbox",
                        options=["a", "b", "c"])
    out = dest.write("contacts", Operation.UPSERT, [Record("f", fields)], match="email", options={})
    assert out[0].success, out
    props = contact_by_email(emu, "fmt@example.com")["properties"]
    assert props["firstname"] == "Zoë 山田"
    assert props["lead_score"] == "12345678901234567890.123456789"
    assert props["is_customer"] == "true"
    assert props["interests"] == "a;b"
    born = props["date_of_birth"]
    assert born in ("1990-07-01", str(int(dt.datetime(1990, 7, 1, tzinfo=dt.timezone.utc).timestamp() * 1000)))
    expected_ms = int(seen.timestamp() * 1000)
    assert props["last_seen_at"] in (str(expected_ms), "2024-03-05T12:30:15.250Z")

    # None clears on update/upsert
    cleared = dict(fields, firstname=None, is_customer=False)
    out = dest.write("contacts", Operation.UPSERT, [Record("f", cleared)], match="email", options={})
    assert out[0].success
    props = contact_by_email(emu, "fmt@example.com")["properties"]
    assert props.get("firstname") in (None, "")
    assert props["is_customer"] == "false"


def test_datetime_into_date_property_sends_its_utc_date(dest: HubSpotDestination, emu: HubSpotEmulator) -> None:
    # 23:30 at UTC-5 is already the next day in UTC
    late = dt.datetime(2020, 1, 31, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    out = dest.write(
        "contacts",
        Operation.UPSERT,
        [Record("d", {"email": "d@example.com", "date_of_birth": late})],
        match="email",
        options={},
    )
    assert out[0].success, out
    born = contact_by_email(emu, "d@example.com")["properties"]["date_of_birth"]
    feb1 = str(int(dt.datetime(2020, 2, 1, tzinfo=dt.timezone.utc).timestamp() * 1000))
    assert born in ("2020-02-01", feb1)


def test_unknown_and_read_only_properties_fail_without_a_request(
    dest: HubSpotDestination, emu: HubSpotEmulator
) -> None:
    records = [
        Record("u", {"email": "u@example.com", "favourite_colour": "red"}),
        Record("r", {"email": "r@example.com", "hs_object_id": "5"}),
    ]
    out = by_key(dest.write("contacts", Operation.UPSERT, records, match="email", options={}))
    assert out["u"].error_code == "PROPERTY_DOESNT_EXIST" and out["u"].fields == ["favourite_colour"]
    assert out["r"].error_code == "READ_ONLY_VALUE" and out["r"].fields == ["hs_object_id"]
    assert not [p for _, p, _ in emu.request_log if "/batch/" in p]


def test_concurrent_writes_share_one_destination(dest: HubSpotDestination, emu: HubSpotEmulator) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def batch(n: int):
        records = [Record(f"{n}-{i}", {"email": f"c{n}-{i}@example.com"}) for i in range(20)]
        return dest.write("contacts", Operation.UPSERT, records, match="email", options={})

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(batch, range(4)))
    assert all(o.success for out in results for o in out)
    assert len(emu.records("contacts")) == 80
    assert dest.usage().requests == len(emu.request_log)


def test_request_bodies_carry_the_fields_the_spec_requires(dest: HubSpotDestination, emu: HubSpotEmulator) -> None:
    """The objects v3 spec requires ``associations`` on create inputs and ``propertiesWithHistory`` on
    batch reads; HubSpot's guide examples omit them. With the emulator enforcing them, everything works."""
    import requests

    emu.settings.require_spec_request_fields = True
    try:
        bare = requests.post(f"{emu.url}/crm/v3/objects/contacts/batch/create", timeout=5,
                             headers={"Authorization": f"Bearer {emu.token}"},
                             json={"inputs": [{"properties": {"email": "bare@example.com"}}]})
        assert bare.status_code == 400 and "[associations]" in bare.json()["message"]
        emu.seed("companies", {"name": "Acme", "company_key": "ACME"})
        created = dest.write("contacts", Operation.CREATE, [Record("1", {"email": "new@example.com"})],
                             match=None, options={})
        assert created[0].success, created[0].message
        linked = dest.write(
            "contacts", Operation.UPSERT,
            [Record("2", {"email": "two@example.com"},
                    associations=[Association("companies", "ACME", match="company_key")])],
            match="email", options={})
        assert linked[0].success, linked[0].message
    finally:
        emu.settings.require_spec_request_fields = False
