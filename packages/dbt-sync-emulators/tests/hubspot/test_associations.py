"""v4 associations through client.crm.associations.v4.batch_api."""

from __future__ import annotations

import pytest
from hubspot import HubSpot
from hubspot.crm.associations.v4 import (
    AssociationSpec,
    BatchInputPublicAssociationMultiArchive,
    BatchInputPublicAssociationMultiPost,
    BatchInputPublicDefaultAssociationMultiPost,
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicAssociationMultiArchive,
    PublicAssociationMultiPost,
    PublicDefaultAssociationMultiPost,
    PublicFetchAssociationsBatchRequest,
    PublicObjectId,
)
from hubspot.crm.associations.v4.exceptions import ApiException

from dbt_sync_emulators.hubspot import HubSpotEmulator

from .conftest import body_of


@pytest.fixture
def pair(emu: HubSpotEmulator) -> tuple[str, str]:
    contact = emu.seed("contacts", {"email": "a@x.com"})
    company = emu.seed("companies", {"name": "Acme"})
    return contact, company


def test_batch_create_is_201_with_labels(client: HubSpot, emu: HubSpotEmulator, pair: tuple[str, str]) -> None:
    contact, company = pair
    batch = BatchInputPublicAssociationMultiPost(
        inputs=[
            PublicAssociationMultiPost(
                _from=PublicObjectId(id=contact),
                to=PublicObjectId(id=company),
                types=[AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=1)],
            )
        ]
    )
    data, status, _ = client.crm.associations.v4.batch_api.create_with_http_info(
        "contacts", "companies", batch_input_public_association_multi_post=batch
    )
    assert status == 201 and data is not None
    result = data.results[0]
    assert (result.from_object_type_id, result.from_object_id) == ("0-1", contact)
    assert (result.to_object_type_id, result.to_object_id) == ("0-2", company)
    assert result.labels == ["Primary"]
    # A labelled association implies the unlabelled one, in both directions.
    assert emu.associations("contacts", contact) == [("companies", company, 1), ("companies", company, 279)]
    assert emu.associations("companies", company) == [("contacts", contact, 2), ("contacts", contact, 280)]


def test_batch_create_with_unknown_id_is_207(client: HubSpot, pair: tuple[str, str]) -> None:
    contact, company = pair
    spec = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}
    data, status, _ = client.crm.associations.v4.batch_api.create_with_http_info(
        "contacts",
        "companies",
        batch_input_public_association_multi_post={
            "inputs": [
                {"from": {"id": contact}, "to": {"id": company}, "types": [spec]},
                {"from": {"id": contact}, "to": {"id": "77777"}, "types": [spec]},
            ]
        },
    )
    assert status == 207 and data.num_errors == 1
    assert data.errors[0].context == {"toObjectId": ["77777"]}
    assert len(data.results) == 1


def test_batch_create_unknown_id_whole_batch_400_when_configured(
    client: HubSpot, emu: HubSpotEmulator, pair: tuple[str, str]
) -> None:
    emu.settings.association_partial_errors = False
    with pytest.raises(ApiException) as err:
        client.crm.associations.v4.batch_api.create(
            "contacts",
            "companies",
            batch_input_public_association_multi_post={"inputs": [{"from": {"id": "1"}, "to": {"id": pair[1]}}]},
        )
    assert err.value.status == 400 and body_of(err.value)["context"] == {"fromObjectId": ["1"]}


@pytest.mark.parametrize(
    ("a", "b", "type_id"),
    [
        ("contacts", "companies", 279),
        ("companies", "contacts", 280),
        ("deals", "contacts", 3),
        ("contacts", "deals", 4),
        ("deals", "companies", 341),
        ("companies", "deals", 342),
    ],
)
def test_associate_default_is_200_with_default_type_ids(
    client: HubSpot, emu: HubSpotEmulator, a: str, b: str, type_id: int
) -> None:
    seeds = {"contacts": {"email": "a@x.com"}, "companies": {"name": "A"}, "deals": {"dealname": "D"}}
    from_id, to_id = emu.seed(a, seeds[a]), emu.seed(b, seeds[b])
    batch = BatchInputPublicDefaultAssociationMultiPost(
        inputs=[PublicDefaultAssociationMultiPost(_from=PublicObjectId(id=from_id), to=PublicObjectId(id=to_id))]
    )
    data, status, _ = client.crm.associations.v4.batch_api.create_default_with_http_info(
        a, b, batch_input_public_default_association_multi_post=batch
    )
    assert status == 200 and data is not None
    spec = data.results[0].association_spec
    assert (spec.association_category, spec.association_type_id) == ("HUBSPOT_DEFINED", type_id)
    assert emu.associations(a, from_id) == [(b, to_id, type_id)]


def test_batch_read_200_and_207_for_records_without_associations(
    client: HubSpot, emu: HubSpotEmulator, pair: tuple[str, str]
) -> None:
    contact, company = pair
    lonely = emu.seed("contacts", {"email": "l@x.com"})
    emu.associate("contacts", contact, "companies", company)
    ok, status, _ = client.crm.associations.v4.batch_api.get_page_with_http_info(
        "contacts",
        "companies",
        batch_input_public_fetch_associations_batch_request=BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[PublicFetchAssociationsBatchRequest(id=contact)]
        ),
    )
    assert status == 200
    to = ok.results[0].to[0]
    assert to.to_object_id == company
    assert [(t.category, t.type_id, t.label) for t in to.association_types] == [("HUBSPOT_DEFINED", 279, None)]
    partial, status, _ = client.crm.associations.v4.batch_api.get_page_with_http_info(
        "0-1", "0-2", batch_input_public_fetch_associations_batch_request={"inputs": [{"id": contact}, {"id": lonely}]}
    )
    assert status == 207 and partial.num_errors == 1
    assert partial.errors[0].context == {"fromObjectId": [lonely]}


def test_batch_read_is_limited_to_1000_inputs(client: HubSpot) -> None:
    with pytest.raises(ApiException) as err:
        client.crm.associations.v4.batch_api.get_page(
            "contacts",
            "companies",
            batch_input_public_fetch_associations_batch_request={"inputs": [{"id": str(i)} for i in range(1001)]},
        )
    assert err.value.status == 400


def test_batch_archive_is_204_and_removes_both_directions(
    client: HubSpot, emu: HubSpotEmulator, pair: tuple[str, str]
) -> None:
    contact, company = pair
    emu.associate("contacts", contact, "companies", company, type_id=1)
    batch = BatchInputPublicAssociationMultiArchive(
        inputs=[PublicAssociationMultiArchive(_from=PublicObjectId(id=contact), to=[PublicObjectId(id=company)])]
    )
    _, status, _ = client.crm.associations.v4.batch_api.archive_with_http_info(
        "contacts", "companies", batch_input_public_association_multi_archive=batch
    )
    assert status == 204
    assert emu.associations("contacts", contact) == [] and emu.associations("companies", company) == []


def test_inline_associations_on_batch_create(client: HubSpot, emu: HubSpotEmulator) -> None:
    company = emu.seed("companies", {"name": "Acme"})
    data = client.crm.contacts.batch_api.create(
        batch_input_simple_public_object_batch_input_for_create={
            "inputs": [
                {
                    "properties": {"email": "i@x.com"},
                    "associations": [
                        {
                            "to": {"id": company},
                            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}],
                        }
                    ],
                }
            ]
        }
    )
    assert emu.associations("contacts", data.results[0].id) == [("companies", company, 279)]


def test_labelled_user_defined_association(client: HubSpot, emu: HubSpotEmulator, pair: tuple[str, str]) -> None:
    contact, company = pair
    type_id = emu.define_association_label("contacts", "companies", "Billing contact")
    data = client.crm.associations.v4.batch_api.create(
        "contacts",
        "companies",
        batch_input_public_association_multi_post={
            "inputs": [
                {
                    "from": {"id": contact},
                    "to": {"id": company},
                    "types": [{"associationCategory": "USER_DEFINED", "associationTypeId": type_id}],
                }
            ]
        },
    )
    assert data.results[0].labels == ["Billing contact"]


def test_get_associations_of_one_object(client: HubSpot, emu: HubSpotEmulator, pair: tuple[str, str]) -> None:
    contact, company = pair
    emu.associate("contacts", contact, "companies", company)
    page = client.crm.associations.v4.basic_api.get_page("contacts", contact, "companies")
    assert [r.to_object_id for r in page.results] == [company]


def test_custom_object_pair_without_a_definition_is_refused(client: HubSpot, emu: HubSpotEmulator) -> None:
    """A custom object is associated only with the types its schema names (``associatedObjects``)."""
    emu.define_object_type("2-424242", "projects", properties=[{"name": "project_key", "unique": True}],
                           associated_objects=["companies"])
    project = emu.seed("p_projects", {"project_key": "P-1"})
    contact = emu.seed("contacts", {"email": "p@x.com"})
    company = emu.seed("companies", {"name": "Acme"})
    labels = client.crm.associations.v4.schema.definitions_api.get_all("p_projects", "contacts")
    assert labels.results == []
    defined = client.crm.associations.v4.schema.definitions_api.get_all("p_projects", "companies")
    assert [(t.category, t.label) for t in defined.results] == [("HUBSPOT_DEFINED", None)]
    with pytest.raises(ApiException) as err:
        client.crm.associations.v4.batch_api.create_default(
            "p_projects", "contacts",
            batch_input_public_default_association_multi_post={"inputs": [{"from": {"id": project},
                                                                           "to": {"id": contact}}]})
    assert err.value.status == 400 and body_of(err.value)["category"] == "VALIDATION_ERROR"
    _, status, _ = client.crm.associations.v4.batch_api.create_with_http_info(
        "p_projects", "contacts",
        batch_input_public_association_multi_post={"inputs": [{"from": {"id": project}, "to": {"id": contact},
                                                                "types": []}]})
    assert status == 207
    with pytest.raises(Exception) as label_err:
        client.crm.associations.v4.schema.definitions_api.create(
            "p_projects", "contacts", public_association_definition_create_request={"label": "Lead", "name": "lead"})
    assert getattr(label_err.value, "status", None) == 400
    client.crm.associations.v4.batch_api.create_default(
        "p_projects", "companies",
        batch_input_public_default_association_multi_post={"inputs": [{"from": {"id": project},
                                                                       "to": {"id": company}}]})
    assert emu.associations("p_projects", project) == [
        ("companies", company, emu.define_association("p_projects", "companies"))]
