"""The disk is full when the run results are written: a warning, not a failed run.

``target/dbt_sync_results.json`` is written through a temporary file; here
that file is ``/dev/full`` (every write fails with ENOSPC, as on a full
disk). Everything was synced, so the exit code stays 0, the run row is
``success``, no lock is left, and the warning names the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.engine.test_faults import MODEL_ACCOUNTS, FaultStack, crm_keys, fresh

pytestmark = pytest.mark.slow


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_disk_full_for_the_results_file_is_a_warning(stack: FaultStack) -> None:
    fresh(stack, ["faults_hs"])
    target = Path(stack.project.path) / "target"
    results = target / "dbt_sync_results.json"
    tmp = results.with_suffix(".json.tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to("/dev/full")
    try:
        result = stack.run(all_syncs=True, select=["faults_hs"], recapture=True)
    finally:
        tmp.unlink(missing_ok=True)
    assert result.exit_code == 0
    assert result.sync("faults_hs").status == "success"
    assert any("could not write the run results" in w and "dbt_sync_results.json" in w for w in result.warnings)
    assert crm_keys(stack, "faults_hs") == sorted(MODEL_ACCOUNTS)
    rows = stack.query(f"select status from {{schema}}.dbt_sync_runs where run_id = '{result.run_id}'")
    assert [r["status"] for r in rows] == ["success"]
    assert stack.query("select * from {schema}.dbt_sync_locks") == []
    # the next run writes its results again
    again = stack.run(all_syncs=True, select=["faults_hs"])
    assert again.exit_code == 0 and not again.warnings and results.exists()
