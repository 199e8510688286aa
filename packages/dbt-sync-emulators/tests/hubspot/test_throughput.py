"""The emulator must not be the bottleneck of a sync: well above 2,000 records/s."""

from __future__ import annotations

import time

from hubspot import HubSpot

from dbt_sync_emulators.hubspot import HubSpotEmulator


def test_upserts_sustain_over_2000_records_per_second(emu: HubSpotEmulator) -> None:
    client = HubSpot(access_token=emu.token, host=emu.url)
    batches = [
        {
            "inputs": [
                {
                    "id": f"user{b * 100 + i}@x.com",
                    "idProperty": "email",
                    "objectWriteTraceId": str(i),
                    "properties": {"firstname": f"U{i}", "lifecyclestage": "lead", "lead_score": str(i)},
                }
                for i in range(100)
            ]
        }
        for b in range(20)
    ]
    started = time.perf_counter()
    for body in batches:
        # Plain dict bodies and _preload_content=False keep client-side (de)serialisation out of
        # the measurement; the emulator's own work is what is timed.
        response = client.crm.contacts.batch_api.upsert(
            batch_input_simple_public_object_batch_input_upsert=body, _preload_content=False
        )
        assert response.status == 200
    elapsed = time.perf_counter() - started
    assert len(emu.records("contacts")) == 2000
    assert 2000 / elapsed > 2000, f"{2000 / elapsed:.0f} records/s"
