"""Every destination, behind one harness, for the contract tests in this directory.

``contract`` is parametrized over the destinations the engine can be handed:

* ``salesforce_rest``: :class:`SalesforceDestination` through simple-salesforce and sObject Collections,
* ``salesforce_bulk``: the same with ``bulk_threshold: 1``, so every batch of two or more records is one
  Bulk API 2.0 ingest job (the tests send at least two records a write for that reason),
* ``hubspot``: :class:`HubSpotDestination` through hubspot-api-client,
* ``fake``: the in-memory destination of ``tests/fixtures/fake_destination.py`` the fast engine suite uses,

the real ones against the project's emulators over loopback HTTP(S), one emulator per module, reset
between tests. A :class:`Harness` knows, per destination, which object and fields to use, how to read a
record back from the CRM, how to delete one there as a person would, and how to make the next request fail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from dbt_sync.destinations.base import Destination, Operation, Record
from dbt_sync.destinations.hubspot import HubSpotDestination
from dbt_sync.destinations.salesforce import SalesforceDestination
from dbt_sync_emulators.hubspot import HubSpotEmulator
from dbt_sync_emulators.salesforce import SalesforceEmulator
from tests.fixtures.fake_destination import FakeDestination, Fault

SF_USER = "contracts@example.com"
SF_PASSWORD = "contract-pw-1"
DESTINATIONS = ("salesforce_rest", "salesforce_bulk", "hubspot", "fake")


@dataclass
class Harness:
    """One destination and what the contract tests need to know about it."""

    kind: str
    dest: Destination
    object_name: str
    #: a unique field the sync matches on (Salesforce: an external id; HubSpot contacts: email)
    match: str
    #: a free-text field the tests write and read back
    text_field: str
    #: an optional text field a None clears
    clearable: str
    #: a field and a value the CRM refuses
    refused: tuple[str, Any]
    read_all: Callable[[], dict[str, dict[str, Any]]]
    remove: Callable[[str], None]
    fail_next_request: Callable[[], None]
    #: the next write of the record with this key finds it locked (row lock, HubSpot 423)
    lock_next: Callable[[str], None]
    #: the account's request limit is reached (True) or not any more (False)
    limit_requests: Callable[[bool], None]
    options: dict[str, Any] = field(default_factory=dict)
    #: fields every record carries (what the object requires)
    base_fields: Callable[[str], dict[str, Any]] = lambda key: {}

    def record(self, key: str, text: str | None = None, destination_id: str | None = None) -> Record:
        fields = {**self.base_fields(key), self.match: self.match_value(key), self.text_field: text or f"Text {key}"}
        return Record(key, fields, destination_id=destination_id)

    def refused_record(self, key: str) -> Record:
        record = self.record(key)
        name, value = self.refused
        record.fields[name] = value
        return record

    def match_value(self, key: str) -> str:
        return f"{key.lower()}@example.com" if self.match.lower() == "email" else f"EXT-{key}"

    def write(self, operation: Operation, records: list[Record], match: str | None = "default") -> list[Any]:
        return self.dest.write(
            self.object_name,
            operation,
            records,
            match=self.match if match == "default" else match,
            options=self.options,
        )

    def read(self, destination_id: str | None) -> dict[str, Any] | None:
        """The live record with this id, as the CRM holds it (None when there is none)."""
        if destination_id is None:
            return None
        stored = self.read_all()
        return stored.get(_norm(destination_id))


def _norm(record_id: str) -> str:
    """Salesforce ids compare on their first 15 characters (the 18-character form adds a checksum)."""
    return record_id[:15] if len(record_id) == 18 else record_id


@pytest.fixture(scope="module")
def sf_emulator() -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator(host="127.0.0.1", port=0) as server:
        server.add_user(SF_USER, SF_PASSWORD)
        yield server


@pytest.fixture(scope="module")
def hs_emulator() -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(host="127.0.0.1", port=0) as server:
        yield server


def _salesforce(emu: SalesforceEmulator, kind: str) -> Harness:
    emu.reset()
    config = {
        "type": "salesforce",
        "auth": "password",
        "username": SF_USER,
        "password": SF_PASSWORD,
        "login_url": emu.instance_url,
        "ca_bundle": str(emu.ca_cert_path),
        "timeout": 10,
    }
    dest = SalesforceDestination(f"contract_{kind}", config)

    def read_all() -> dict[str, dict[str, Any]]:
        return {_norm(str(r["Id"])): r for r in emu.records("Contact")}

    def remove(record_id: str) -> None:
        meta = emu.store.meta("Contact")
        with emu.store.lock:
            outcome = emu.store.delete(meta, record_id)
        assert outcome.success, outcome.errors

    return Harness(
        kind=kind,
        dest=dest,
        object_name="Contact",
        match="External_Id__c",
        text_field="LastName",
        clearable="Title",
        refused=("Email", "not-an-email"),
        read_all=read_all,
        remove=remove,
        fail_next_request=lambda: emu.faults.fail_next(1, status=503),
        lock_next=lambda key: emu.faults.row_lock_next(1),  # the next record written
        # the concurrent-request limit: a wait fixes it (the daily limit stops the sync, DestinationError)
        limit_requests=lambda on: setattr(emu.faults, "concurrent_limit", 0 if on else None),
        options={"bulk_threshold": 1} if kind == "salesforce_bulk" else {},
    )


def _hubspot(emu: HubSpotEmulator) -> Harness:
    emu.reset()
    emu.set_rate_limit(1000, 10.0)
    dest = HubSpotDestination("contract_hubspot", {"type": "hubspot", "access_token": emu.token, "host": emu.url,
                                                    "timeout": 5})

    def read_all() -> dict[str, dict[str, Any]]:
        return {str(r["id"]): dict(r["properties"]) for r in emu.records("contacts")}

    def remove(record_id: str) -> None:
        otype = emu.store.resolve("contacts")
        with emu.store.lock:
            emu.store.archive(otype, emu.store.objects[otype.type_id][str(record_id)])

    return Harness(
        kind="hubspot",
        dest=dest,
        object_name="contacts",
        match="email",
        text_field="firstname",
        clearable="company",
        refused=("lifecyclestage", "wizard"),
        read_all=read_all,
        remove=remove,
        fail_next_request=lambda: emu.faults.fail_next(1, status=503),
        lock_next=lambda key: emu.faults.locked_next(1, path_contains="/batch/"),  # HubSpot locks requests
        limit_requests=lambda on: emu.faults.rate_limit_next(1, retry_after=1) if on else None,
    )


def _fake() -> Harness:
    dest = FakeDestination(
        "contract_fake",
        invalid={"phone": {"not-a-phone"}},
        schema={"contacts": {"email", "name", "title", "phone"}},
        unique={"contacts": {"email"}},
    )
    return Harness(
        kind="fake",
        dest=dest,
        object_name="contacts",
        match="email",
        text_field="name",
        clearable="title",
        refused=("phone", "not-a-phone"),
        read_all=lambda: dest.records("contacts"),
        remove=lambda record_id: dest.remove("contacts", record_id),
        fail_next_request=lambda: dest.fail_next("5xx"),
        lock_next=lambda key: dest.lock_rows([key]),
        limit_requests=lambda on: dest.fail_next(Fault("rate_limit", retry_after=1.0)) if on else None,
    )


@pytest.fixture(params=DESTINATIONS)
def contract(request: pytest.FixtureRequest) -> Iterator[Harness]:
    kind = request.param
    if kind.startswith("salesforce"):
        harness = _salesforce(request.getfixturevalue("sf_emulator"), kind)
    elif kind == "hubspot":
        harness = _hubspot(request.getfixturevalue("hs_emulator"))
    else:
        harness = _fake()
    try:
        yield harness
    finally:
        harness.dest.close()
    if kind.startswith("salesforce"):
        collections, bulk = _sf_writes(request.getfixturevalue("sf_emulator"))
        if kind == "salesforce_bulk":
            assert bulk or not collections, "the Bulk harness wrote through Collections only"
        else:
            assert not bulk, "the Collections harness started a Bulk job"


def _sf_writes(emu: SalesforceEmulator) -> tuple[int, int]:
    """(Collections write requests, Bulk ingest jobs) in the emulator's request log."""
    log = emu.request_log
    collections = sum(1 for m, p, _ in log if m in ("POST", "PATCH", "DELETE") and "/composite/sobjects" in p)
    bulk = sum(1 for m, p, _ in log if m == "POST" and p.rstrip("/").endswith("jobs/ingest"))
    return collections, bulk
