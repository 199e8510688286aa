"""Batch object endpoints through hubspot-api-client: exact status codes and response shapes."""

from __future__ import annotations

import datetime as dt

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
)
from hubspot.crm.contacts.exceptions import ApiException, NotFoundException

from dbt_sync_emulators.hubspot import HubSpotEmulator

from .conftest import body_of


def create_input(**props: object) -> SimplePublicObjectBatchInputForCreate:
    return SimplePublicObjectBatchInputForCreate(properties=props)


def test_batch_create_returns_201_model_with_string_properties_and_iso_timestamps(
    client: HubSpot, emu: HubSpotEmulator
) -> None:
    batch = BatchInputSimplePublicObjectBatchInputForCreate(
        inputs=[create_input(email="Ada@Example.com", firstname="Ada", lead_score=42, is_customer=True)]
    )
    data, status, headers = client.crm.contacts.batch_api.create_with_http_info(
        batch_input_simple_public_object_batch_input_for_create=batch
    )
    assert status == 201
    assert headers["X-HubSpot-RateLimit-Max"] == "10000"
    assert data is not None and data.status == "COMPLETE"
    result = data.results[0]
    assert result.properties["email"] == "ada@example.com"
    assert result.properties["lead_score"] == "42"
    assert result.properties["is_customer"] == "true"
    assert result.properties["hs_object_id"] == result.id
    assert isinstance(result.created_at, dt.datetime) and result.created_at.tzinfo is not None
    stored = emu.records("contacts")[0]
    assert stored["createdAt"].endswith("Z") and len(stored["createdAt"]) == len("2024-01-01T00:00:00.000Z")
    assert all(isinstance(v, str) for v in stored["properties"].values())


def test_batch_update_returns_200_and_empty_string_clears(client: HubSpot, emu: HubSpotEmulator) -> None:
    cid = emu.seed("contacts", {"email": "a@x.com", "firstname": "A", "phone": "123"})
    batch = BatchInputSimplePublicObjectBatchInput(
        inputs=[SimplePublicObjectBatchInput(id=cid, properties={"firstname": "Alan", "phone": ""})]
    )
    data, status, _ = client.crm.contacts.batch_api.update_with_http_info(
        batch_input_simple_public_object_batch_input=batch
    )
    assert status == 200 and data is not None
    assert data.results[0].properties["firstname"] == "Alan"
    props = emu.records("contacts")[0]["properties"]
    assert props["firstname"] == "Alan" and "phone" not in props


def test_batch_update_by_id_property(client: HubSpot, emu: HubSpotEmulator) -> None:
    emu.seed("contacts", {"email": "a@x.com", "contact_key": "K1"})
    data = client.crm.contacts.batch_api.update(
        batch_input_simple_public_object_batch_input={
            "inputs": [{"id": "K1", "idProperty": "contact_key", "properties": {"lastname": "Lovelace"}}]
        }
    )
    assert data is not None and data.results[0].properties["lastname"] == "Lovelace"


def test_upsert_returns_200_with_new_flag_and_matches_email_case_insensitively(
    client: HubSpot, emu: HubSpotEmulator
) -> None:
    existing = emu.seed("contacts", {"email": "known@x.com", "firstname": "Old"})
    batch = BatchInputSimplePublicObjectBatchInputUpsert(
        inputs=[
            SimplePublicObjectBatchInputUpsert(id="KNOWN@x.com", id_property="email", properties={"firstname": "New"}),
            SimplePublicObjectBatchInputUpsert(id="fresh@x.com", id_property="email", properties={"firstname": "F"}),
        ]
    )
    data, status, _ = client.crm.contacts.batch_api.upsert_with_http_info(
        batch_input_simple_public_object_batch_input_upsert=batch
    )
    assert status == 200 and data is not None
    by_email = {r.properties["email"]: r for r in data.results}
    assert by_email["known@x.com"].new is False and by_email["known@x.com"].id == existing
    assert by_email["fresh@x.com"].new is True
    assert sorted(r["properties"]["firstname"] for r in emu.records("contacts")) == ["F", "New"]


def test_upsert_by_custom_unique_property_sets_the_key_on_create(client: HubSpot, emu: HubSpotEmulator) -> None:
    data = client.crm.companies.batch_api.upsert(
        batch_input_simple_public_object_batch_input_upsert={
            "inputs": [{"id": "C-1", "idProperty": "company_key", "properties": {"name": "Acme"}}]
        }
    )
    assert data is not None and data.results[0].new is True
    assert emu.records("companies")[0]["properties"]["company_key"] == "C-1"


def test_batch_read_200_then_207_for_missing_ids(client: HubSpot, emu: HubSpotEmulator) -> None:
    cid = emu.seed("contacts", {"email": "a@x.com", "firstname": "A"})
    ok, status, _ = client.crm.contacts.batch_api.read_with_http_info(
        batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=cid)], properties=["firstname"], properties_with_history=[]
        )
    )
    assert status == 200 and ok is not None and ok.results[0].properties["firstname"] == "A"
    partial, status, _ = client.crm.contacts.batch_api.read_with_http_info(
        batch_read_input_simple_public_object_id={"inputs": [{"id": cid}, {"id": "999999"}], "properties": []}
    )
    assert status == 207 and partial is not None
    assert partial.num_errors == 1 and partial.errors[0].context == {"ids": ["999999"]}
    assert [r.id for r in partial.results] == [cid]


def test_batch_archive_returns_204_and_removes_records(client: HubSpot, emu: HubSpotEmulator) -> None:
    cid = emu.seed("contacts", {"email": "a@x.com"})
    _, status, _ = client.crm.contacts.batch_api.archive_with_http_info(
        batch_input_simple_public_object_id=BatchInputSimplePublicObjectId(inputs=[SimplePublicObjectId(id=cid)])
    )
    assert status == 204
    assert emu.records("contacts") == []
    assert emu.records("contacts", include_archived=True)[0]["archived"] is True
    # The email is free again.
    assert emu.seed("contacts", {"email": "a@x.com"}) != cid


def test_more_than_100_inputs_is_a_whole_batch_400(client: HubSpot, emu: HubSpotEmulator) -> None:
    inputs = [{"properties": {"email": f"u{i}@x.com"}} for i in range(101)]
    with pytest.raises(ApiException) as err:
        client.crm.contacts.batch_api.create(batch_input_simple_public_object_batch_input_for_create={"inputs": inputs})
    assert err.value.status == 400 and body_of(err.value)["category"] == "VALIDATION_ERROR"
    assert emu.records("contacts") == []
    data = client.crm.contacts.batch_api.create(
        batch_input_simple_public_object_batch_input_for_create={"inputs": inputs[:100]}
    )
    assert data is not None and len(data.results) == 100


def test_unknown_object_type_is_404_object_not_found(client: HubSpot) -> None:
    from hubspot.crm.objects.exceptions import NotFoundException as ObjectsNotFound

    with pytest.raises(ObjectsNotFound) as err:
        client.crm.objects.batch_api.upsert(
            object_type="2-999", batch_input_simple_public_object_batch_input_upsert={"inputs": []}
        )
    assert body_of(err.value)["category"] == "OBJECT_NOT_FOUND"


def test_custom_object_upsert_by_id_and_by_p_name(client: HubSpot, emu: HubSpotEmulator) -> None:
    emu.define_object_type(
        object_type_id="2-123456",
        name="p_projects",
        properties=[{"name": "project_key", "unique": True}, "project_name"],
    )
    body = {"inputs": [{"id": "P1", "idProperty": "project_key", "properties": {"project_name": "Apollo"}}]}
    first = client.crm.objects.batch_api.upsert(
        object_type="2-123456", batch_input_simple_public_object_batch_input_upsert=body
    )
    again = client.crm.objects.batch_api.upsert(
        object_type="p_projects", batch_input_simple_public_object_batch_input_upsert=body
    )
    assert first is not None and first.results[0].new is True
    assert again is not None and again.results[0].new is False and again.results[0].id == first.results[0].id
    assert [r["properties"]["project_name"] for r in emu.records("p_projects")] == ["Apollo"]


def test_single_object_endpoints(client: HubSpot, emu: HubSpotEmulator) -> None:
    from hubspot.crm.contacts import SimplePublicObjectInput, SimplePublicObjectInputForCreate

    created, status, _ = client.crm.contacts.basic_api.create_with_http_info(
        simple_public_object_input_for_create=SimplePublicObjectInputForCreate(properties={"email": "s@x.com"})
    )
    assert status == 201 and created is not None
    got = client.crm.contacts.basic_api.get_by_id(created.id, properties=["email"])
    assert got.properties["email"] == "s@x.com"
    updated = client.crm.contacts.basic_api.update(
        created.id, simple_public_object_input=SimplePublicObjectInput(properties={"firstname": "S"})
    )
    assert updated is not None and updated.properties["firstname"] == "S"
    _, status, _ = client.crm.contacts.basic_api.archive_with_http_info(created.id)
    assert status == 204
    with pytest.raises(NotFoundException):
        client.crm.contacts.basic_api.get_by_id(created.id)
