"""``bench/run fidelity`` at a tiny size: the real engine syncs the mixed-value models to both CRMs.

This is the end-to-end leg of the fidelity checks (dbt builds the models,
``dbt_sync.api.run`` syncs them through Collections, Bulk API 2.0 and
HubSpot, the real clients read them back), and it keeps the 50,000-row
benchmark of docs/fidelity.md from rotting.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import fidelity


@pytest.mark.slow
def test_fidelity_bench_at_a_tiny_size(tmp_path: Path) -> None:
    report = fidelity.run(60, workdir=tmp_path)
    paths = report["paths"]
    assert set(paths) == {
        f"{dest}/{obj}"
        for dest, obj in [
            ("salesforce_collections", "Account"), ("salesforce_bulk", "Account"), ("hubspot", "companies"),
            ("salesforce_collections", "Contact"), ("salesforce_bulk", "Contact"), ("hubspot", "contacts"),
        ]
    }
    for name, path in paths.items():
        assert path["mismatches"] == 0 and path["unexpected_failures"] == 0, (name, path["examples"])
        assert path["comparisons"] > 0, name
    # the Bulk destination really used Bulk API 2.0, the Collections one never did
    assert report["bulk_jobs"]["salesforce_bulk"] >= 2 and report["bulk_jobs"]["salesforce_collections"] == 0
    # values the rules say cannot be stored were recorded as failures, the same on both Salesforce paths
    for obj in ("Account", "Contact"):
        assert paths[f"salesforce_bulk/{obj}"]["expected_failures"] > 0
        assert (paths[f"salesforce_bulk/{obj}"]["expected_failures"]
                == paths[f"salesforce_collections/{obj}"]["expected_failures"])
