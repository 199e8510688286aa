"""Mirror syncs and the delete guard, end to end on a HubSpot custom object.

A ``mode: mirror`` sync deletes from the CRM exactly the records that left
its model, and only records it wrote itself (a record someone else created in
the CRM is never touched). Losing more than ``delete_threshold`` of the
records at once (an empty model after a broken build) stops the sync with
DELETE_GUARD and deletes nothing, unless the run allows mass deletes.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.engine.conftest import Stack, stack_for
from tests.fixtures.warehouses import DbtProject

pytestmark = pytest.mark.slow

SEGMENTS = [(i, f"S-{i:02d}", f"Segment {i}") for i in range(1, 11)]

SEGMENTS_SQL = (
    "-- audience segments; var keep_segments drops the highest-numbered ones\n"
    "select seq, segment_key, segment_name from (values\n"
    + ",\n".join(f"    ({seq}, '{key}', '{name}')" for seq, key, name in SEGMENTS)
    + "\n) as t(seq, segment_key, segment_name)\nwhere seq <= {{ var('keep_segments', 10) }}\n"
)

SEGMENTS_YML = """
version: 2
models:
  - name: segments
    config:
      meta:
        dbt_sync:
          - name: segments_to_hubspot
            destination: hubspot
            object: p_segments
            mode: mirror
            primary_key: segment_key
            match: segment_key
            delete_threshold: 0.3
            fields: {segment_key: segment_key, segment_name: segment_name}
    columns:
      - {name: seq, data_type: integer}
      - {name: segment_key, data_type: varchar}
      - {name: segment_name, data_type: varchar}
"""


def segments_in_crm(stack: Stack) -> dict[str, str]:
    return {r["properties"]["segment_key"]: r["properties"]["segment_name"]
            for r in stack.sandbox.hubspot.records("p_segments")}


def rebuild(stack: Stack, keep: int) -> None:
    stack.dbt("run", "-s", "segments", "--vars", f"{{keep_segments: {keep}}}")


def test_mirror_deletes_what_left_the_model_and_guards_mass_deletes(dbt_project_factory: Any) -> None:
    project: DbtProject = dbt_project_factory("duckdb", "engine_mirror", extra_files={
        "models/mirror/segments.sql": SEGMENTS_SQL,
        "models/mirror/segments.yml": SEGMENTS_YML,
    })
    with stack_for(project) as stack:
        hs = stack.sandbox.hubspot
        hs.define_object_type("2-555001", "segments", properties=[
            {"name": "segment_key", "unique": True}, "segment_name",
        ])
        theirs = hs.seed("p_segments", {"segment_key": "S-CRM", "segment_name": "made in HubSpot by sales"})

        first = stack.run(all_syncs=True, select=["segments_to_hubspot"])
        res = first.sync("segments_to_hubspot")
        assert (res.status, res.created, res.deleted) == ("success", 10, 0), res.message
        expected = {key: name for _, key, name in SEGMENTS}
        assert segments_in_crm(stack) == {**expected, "S-CRM": "made in HubSpot by sales"}

        # two segments leave the model (20%, under the 30% threshold): exactly they are deleted
        rebuild(stack, 8)
        second = stack.run()
        res = second.sync("segments_to_hubspot")
        assert (res.status, res.deleted, res.created, res.updated) == ("success", 2, 0, 0), res.message
        assert set(segments_in_crm(stack)) == {f"S-{i:02d}" for i in range(1, 9)} | {"S-CRM"}
        deleted_ids = {r["id"] for r in hs.records("p_segments", include_archived=True) if r.get("archived")}
        assert len(deleted_ids) == 2 and theirs not in deleted_ids
        state = stack.query("select record_key from {schema}.dbt_sync_state where sync_name = 'segments_to_hubspot'")
        assert sorted(r["record_key"] for r in state) == [f"S-{i:02d}" for i in range(1, 9)]

        # the model comes out empty: 8 of 8 records would go, more than 30% -> DELETE_GUARD, nothing deleted
        rebuild(stack, 0)
        requests_before = len(hs.request_log)
        guarded = stack.run()
        res = guarded.sync("segments_to_hubspot")
        assert res.status == "error" and res.error_codes == {"DELETE_GUARD": 1}
        assert "would delete 8 of its 8 records" in (res.message or "") and "--allow-mass-delete" in (res.message or "")
        assert guarded.exit_code == 2
        assert not [r for r in hs.request_log[requests_before:] if r[0] in ("DELETE", "POST")]
        assert len(segments_in_crm(stack)) == 9
        # still refused on the next run: the guard holds until someone decides
        assert stack.run().sync("segments_to_hubspot").error_codes == {"DELETE_GUARD": 1}
        assert len(segments_in_crm(stack)) == 9

        # the user confirms: every record the sync wrote goes; the one made in HubSpot stays
        allowed = stack.run(all_syncs=True, select=["segments_to_hubspot"], allow_mass_delete=True)
        res = allowed.sync("segments_to_hubspot")
        assert (res.status, res.deleted) == ("success", 8), res.message
        assert segments_in_crm(stack) == {"S-CRM": "made in HubSpot by sales"}
        assert stack.query("select * from {schema}.dbt_sync_state where sync_name = 'segments_to_hubspot'") == []
