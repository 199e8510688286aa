"""Two batches of one sync in flight at once, outcomes still committed in order."""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from dbt_sync.engine import connections, pipeline
from tests.engine.conftest import stack_for

pytestmark = pytest.mark.slow

CRM_YML = Path(__file__).resolve().parents[2] / "integration_tests" / "models" / "crm" / "crm.yml"


def one_record_batches() -> str:
    doc = yaml.safe_load(CRM_YML.read_text())
    contacts = next(m for m in doc["models"] if m["name"] == "dim_contacts")
    for spec in contacts["config"]["meta"]["dbt_sync"]:
        spec["batch_size"] = 1
    return yaml.safe_dump(doc, sort_keys=False)


def test_batches_overlap_and_every_outcome_is_committed(
    dbt_project_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = dbt_project_factory("duckdb", "send_window", extra_files={"models/crm/crm.yml": one_record_batches()})
    in_flight = 0
    peak = 0
    lock = threading.Lock()
    real_open = connections.open_destination

    def open_counting(config: Any) -> Any:
        dest = real_open(config)
        write = dest.write

        @functools.wraps(write)
        def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal in_flight, peak
            with lock:
                in_flight += 1
                peak = max(peak, in_flight)
            try:
                return write(*args, **kwargs)
            finally:
                with lock:
                    in_flight -= 1

        dest.write = counted
        return dest

    monkeypatch.setattr(connections, "open_destination", open_counting)
    with stack_for(project) as stack:
        stack.sandbox.hubspot.faults.latency = 0.05
        stack.sandbox.salesforce.faults.latency = 0.05
        result = stack.run(select=["accounts_to_salesforce", "accounts_to_hubspot", "contacts_to_salesforce",
                                   "contacts_to_hubspot"], threads=1)
        contacts_sf = result.sync("contacts_to_salesforce")
        contacts_hs = result.sync("contacts_to_hubspot")
        # eight one-record batches each, two in flight at a time
        assert peak == pipeline.SEND_WINDOW == 2
        assert (contacts_sf.created, contacts_sf.failed) == (6, 2)
        assert (contacts_hs.created, contacts_hs.failed) == (7, 1)
        # every confirmed record's outcome reached the state, nothing else did
        state = stack.query(
            "select sync_name, record_key from {schema}.dbt_sync_state where sync_name like 'contacts_%'"
        )
        keys = {(r["sync_name"], r["record_key"]) for r in state}
        sf_ids = {r["External_Id__c"] for r in stack.sandbox.salesforce.records("Contact")}
        hs_ids = {r["properties"]["contact_key"] for r in stack.sandbox.hubspot.records("contacts")}
        assert {k for s, k in keys if s == "contacts_to_salesforce"} == sf_ids
        assert {k for s, k in keys if s == "contacts_to_hubspot"} == hs_ids
        assert len(sf_ids) == 6 and len(hs_ids) == 7
