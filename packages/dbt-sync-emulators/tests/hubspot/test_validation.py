"""Validation, 207 partial results, whole-batch 400s, duplicate ids and contact conflicts."""

from __future__ import annotations

from typing import Any

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts.exceptions import ApiException

from dbt_sync_emulators.hubspot import HubSpotEmulator

from .conftest import body_of, embedded_issues


def create(client: HubSpot, inputs: list[dict[str, Any]]) -> Any:
    return client.crm.contacts.batch_api.create_with_http_info(
        batch_input_simple_public_object_batch_input_for_create={"inputs": inputs}
    )


def rejected_issue(client: HubSpot, props: dict[str, Any]) -> dict[str, Any]:
    """Create one contact that should fail; return the single embedded issue."""
    with pytest.raises(ApiException) as err:
        create(client, [{"properties": props}])
    body = body_of(err.value)
    assert err.value.status == 400 and body["category"] == "VALIDATION_ERROR"
    issues = embedded_issues(body["message"])
    assert len(issues) == 1
    return issues[0]


@pytest.mark.parametrize(
    ("props", "error", "name", "message"),
    [
        ({"email": "bad"}, "INVALID_EMAIL", "email", "Email address bad is invalid"),
        (
            {"lifecyclestage": "Customer"},
            "INVALID_OPTION",
            "lifecyclestage",
            "Customer was not one of the allowed options: [subscriber, lead, marketingqualifiedlead, "
            "salesqualifiedlead, opportunity, customer, evangelist, other]",
        ),
        ({"foo": "x"}, "PROPERTY_DOESNT_EXIST", "foo", 'Property "foo" does not exist'),
        ({"hs_object_id": "5"}, "READ_ONLY_VALUE", "hs_object_id", None),
        ({"lead_score": "ten"}, "INVALID_FLOAT", "lead_score", None),
        ({"date_of_birth": "1577836800001"}, "INVALID_DATE", "date_of_birth", None),
        ({"date_of_birth": "2020-01-01T10:00:00Z"}, "INVALID_DATE", "date_of_birth", None),
        ({"is_customer": "yes"}, "INVALID_OPTION", "is_customer", None),
        ({"interests": "crm;golf"}, "INVALID_OPTION", "interests", None),
        # non-string values with leading or trailing whitespace, invisible characters included, are refused
        # (HubSpot developer changelog, "Enhanced Validations for Non-String Properties"); a number used to be
        # stored stripped and reported as written
        ({"lead_score": " 12.5"}, "LEADING_TRAILING_WHITESPACE", "lead_score",
         '" 12.5" includes leading or trailing whitespace.'),
        ({"lead_score": "12.5\n"}, "LEADING_TRAILING_WHITESPACE", "lead_score", None),
        ({"lifecyclestage": "customer\u00a0"}, "LEADING_TRAILING_WHITESPACE", "lifecyclestage", None),
        ({"is_customer": "\u200btrue"}, "LEADING_TRAILING_WHITESPACE", "is_customer", None),
        ({"interests": "crm; email"}, "LEADING_TRAILING_WHITESPACE", "interests", None),
        ({"date_of_birth": "2020-01-01 "}, "LEADING_TRAILING_WHITESPACE", "date_of_birth", None),
        ({"last_seen_at": "\ufeff1577836800000"}, "LEADING_TRAILING_WHITESPACE", "last_seen_at", None),
    ],
)
def test_validation_messages_embed_a_json_list(
    client: HubSpot, props: dict[str, Any], error: str, name: str, message: str | None
) -> None:
    got = rejected_issue(client, props)
    assert got["isValid"] is False and got["error"] == error and got["name"] == name
    if message is not None:
        assert got["message"] == message


def test_value_formats_are_normalised_to_hubspot_strings(client: HubSpot, emu: HubSpotEmulator) -> None:
    _, status, _ = create(
        client,
        [
            {
                "properties": {
                    "email": "f@x.com",
                    "date_of_birth": "1577836800000",  # 2020-01-01 midnight UTC in epoch ms
                    "last_seen_at": "2024-03-01T10:15:00+02:00",
                    "is_customer": "FALSE",
                    "interests": "crm;email",
                    "lead_score": "12.5",
                }
            },
            {"properties": {"email": "g@x.com", "date_of_birth": "1990-05-17", "last_seen_at": "1709288100000"}},
        ],
    )
    assert status == 201
    first, second = (r["properties"] for r in emu.records("contacts"))
    assert first["date_of_birth"] == "2020-01-01"
    assert first["last_seen_at"] == "2024-03-01T08:15:00.000Z"
    assert first["is_customer"] == "false" and first["interests"] == "crm;email" and first["lead_score"] == "12.5"
    assert second["date_of_birth"] == "1990-05-17" and second["last_seen_at"] == "2024-03-01T10:15:00.000Z"


def test_epoch_milliseconds_are_read_exactly_for_any_year(client: HubSpot, emu: HubSpotEmulator) -> None:
    """Epoch ms far from 1970 keep their millisecond (a float division lost one), and years before 1000
    keep four digits."""
    _, status, _ = create(
        client,
        [
            {"properties": {"email": "old@x.com", "last_seen_at": "-58913967544568",  # 0103-02-03T09:00:55.432Z
                            "date_of_birth": "-58914000000000"}},  # 0103-02-03
            {"properties": {"email": "late@x.com", "last_seen_at": "253402300799999"}},  # 9999-12-31T23:59:59.999Z
        ],
    )
    assert status == 201
    old, late = (r["properties"] for r in emu.records("contacts"))
    assert old["last_seen_at"] == "0103-02-03T09:00:55.432Z"
    assert old["date_of_birth"] == "0103-02-03"
    assert late["last_seen_at"] == "9999-12-31T23:59:59.999Z"


def test_batch_create_without_trace_ids_fails_whole_batch(client: HubSpot, emu: HubSpotEmulator) -> None:
    with pytest.raises(ApiException) as err:
        create(client, [{"properties": {"email": "ok@x.com"}}, {"properties": {"email": "bad"}}])
    assert err.value.status == 400
    assert embedded_issues(body_of(err.value)["message"])[0]["error"] == "INVALID_EMAIL"
    assert emu.records("contacts") == []


def test_batch_create_with_trace_ids_is_207_keyed_by_trace_id(client: HubSpot, emu: HubSpotEmulator) -> None:
    data, status, _ = create(
        client,
        [
            {"objectWriteTraceId": "row-1", "properties": {"email": "ok@x.com"}},
            {"objectWriteTraceId": "row-2", "properties": {"email": "bad"}},
            {"objectWriteTraceId": "row-3", "properties": {"lifecyclestage": "nope"}},
        ],
    )
    assert status == 207 and data is not None
    assert data.num_errors == 2
    failed = {e.context["objectWriteTraceId"][0]: e for e in data.errors}
    assert set(failed) == {"row-2", "row-3"}
    assert embedded_issues(failed["row-2"].message)[0]["error"] == "INVALID_EMAIL"
    assert failed["row-3"].category == "VALIDATION_ERROR"
    assert [r.object_write_trace_id for r in data.results] == ["row-1"]
    assert [r["properties"]["email"] for r in emu.records("contacts")] == ["ok@x.com"]


def test_duplicate_ids_fail_the_whole_batch(client: HubSpot, emu: HubSpotEmulator) -> None:
    with pytest.raises(ApiException) as err:
        client.crm.contacts.batch_api.upsert(
            batch_input_simple_public_object_batch_input_upsert={
                "inputs": [
                    {"id": "dup@x.com", "idProperty": "email", "objectWriteTraceId": "1", "properties": {}},
                    {"id": "DUP@x.com", "idProperty": "email", "objectWriteTraceId": "2", "properties": {}},
                ]
            }
        )
    body = body_of(err.value)
    assert err.value.status == 400
    assert body["message"] == "Duplicate IDs found in batch input: [dup@x.com]. IDs must be unique"
    assert body["context"] == {"ids": ["dup@x.com"]}
    assert emu.records("contacts") == []


def test_creating_an_existing_contact_email_is_409_conflict(client: HubSpot, emu: HubSpotEmulator) -> None:
    existing = emu.seed("contacts", {"email": "taken@x.com"})
    with pytest.raises(ApiException) as err:
        create(client, [{"properties": {"email": "new@x.com"}}, {"properties": {"email": "Taken@x.com"}}])
    body = body_of(err.value)
    assert err.value.status == 409 and body["category"] == "CONFLICT"
    assert body["message"] == f"Contact already exists. Existing ID: {existing}"
    assert len(emu.records("contacts")) == 1
    # With trace ids the conflict is one error of a 207.
    data, status, _ = create(
        client,
        [
            {"objectWriteTraceId": "a", "properties": {"email": "new@x.com"}},
            {"objectWriteTraceId": "b", "properties": {"email": "taken@x.com"}},
        ],
    )
    assert status == 207 and data.errors[0].category == "CONFLICT"
    assert data.errors[0].context == {"objectWriteTraceId": ["b"]}


def test_unique_property_collision_is_a_validation_error(client: HubSpot, emu: HubSpotEmulator) -> None:
    emu.seed("contacts", {"email": "a@x.com", "contact_key": "K1"})
    issue = rejected_issue(client, {"email": "b@x.com", "contact_key": "K1"})
    assert issue["error"] == "OBJECT_ALREADY_EXISTS" and issue["name"] == "contact_key"


def test_upsert_without_trace_ids_defaults_to_207_keyed_by_ids(client: HubSpot, emu: HubSpotEmulator) -> None:
    body = {
        "inputs": [
            {"id": "a@x.com", "idProperty": "email", "properties": {"firstname": "A"}},
            {"id": "b@x.com", "idProperty": "email", "properties": {"lead_score": "many"}},
        ]
    }
    data, status, _ = client.crm.contacts.batch_api.upsert_with_http_info(
        batch_input_simple_public_object_batch_input_upsert=body
    )
    assert status == 207 and data.num_errors == 1
    assert data.errors[0].context == {"ids": ["b@x.com"]}
    assert [r["properties"]["email"] for r in emu.records("contacts")] == ["a@x.com"]


def test_upsert_without_trace_ids_can_be_whole_batch_400(client: HubSpot, emu: HubSpotEmulator) -> None:
    emu.settings.partial_updates_without_trace_ids = False
    body = {
        "inputs": [
            {"id": "a@x.com", "idProperty": "email", "properties": {"firstname": "A"}},
            {"id": "b@x.com", "idProperty": "email", "properties": {"lead_score": "many"}},
        ]
    }
    with pytest.raises(ApiException) as err:
        client.crm.contacts.batch_api.upsert(batch_input_simple_public_object_batch_input_upsert=body)
    assert err.value.status == 400 and emu.records("contacts") == []
    # Trace ids still give a 207 in this mode.
    for i, item in enumerate(body["inputs"]):
        item["objectWriteTraceId"] = f"t{i}"
    _, status, _ = client.crm.contacts.batch_api.upsert_with_http_info(
        batch_input_simple_public_object_batch_input_upsert=body
    )
    assert status == 207


def test_upsert_by_non_unique_property_is_rejected(client: HubSpot) -> None:
    with pytest.raises(ApiException) as err:
        client.crm.contacts.batch_api.upsert(
            batch_input_simple_public_object_batch_input_upsert={
                "inputs": [{"id": "Ada", "idProperty": "firstname", "properties": {}}]
            }
        )
    assert err.value.status == 400
    assert "non-unique 0-1 property firstname" in body_of(err.value)["message"]


def test_update_of_unknown_id_is_a_per_input_error(client: HubSpot, emu: HubSpotEmulator) -> None:
    cid = emu.seed("contacts", {"email": "a@x.com"})
    data, status, _ = client.crm.contacts.batch_api.update_with_http_info(
        batch_input_simple_public_object_batch_input={
            "inputs": [
                {"id": cid, "objectWriteTraceId": "1", "properties": {"firstname": "A"}},
                {"id": "424242", "objectWriteTraceId": "2", "properties": {"firstname": "B"}},
            ]
        }
    )
    assert status == 207 and data.errors[0].category == "OBJECT_NOT_FOUND"
    assert data.errors[0].context["objectWriteTraceId"] == ["2"]
