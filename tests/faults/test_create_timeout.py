"""A timeout after the CRM applied a create without a match key: never created twice.

A create without a match key cannot be resent safely: the CRM has nothing
to recognise the record by. When such a request times out (Salesforce
applies it after the client gave up), its records are in doubt: they are
reported ``IN_DOUBT`` and kept in ``dbt_sync_inflight`` instead of being
sent again; once resolved (the user finds them in the CRM), the sync
converges with every model row in the CRM exactly once.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from tests.engine.conftest import stack_for
from tests.engine.test_create_mode import CREATE_FILES, GOOD, SYNC, model_emails
from tests.engine.test_faults import fault_files
from tests.fixtures.warehouses import DbtProject

pytestmark = pytest.mark.slow


def test_create_without_match_that_timed_out_is_in_doubt_not_resent(dbt_project_factory: Any) -> None:
    project: DbtProject = dbt_project_factory(
        "duckdb", "faults_create_timeout", extra_files={**fault_files(), **CREATE_FILES}
    )
    with stack_for(project) as stack:
        emails = model_emails(stack)
        sf = stack.sandbox.salesforce
        # the first batch (2 records) is applied after the client's 2 s timeout
        sf.faults.timeout_next(1, seconds=3, path_contains="composite/sobjects")
        first = stack.run(all_syncs=True, select=[SYNC], threads=1, recapture=True)
        res = first.sync(SYNC)
        created = Counter(str(r["Email"]) for r in sf.records("Contact"))
        assert all(n == 1 for n in created.values()), created  # nothing created twice
        assert res.error_codes.get("IN_DOUBT") == 2, (res.status, res.error_codes, res.message)
        with project.warehouse() as wh:
            doubt = {str(r["record_key"]) for r in wh.query(f"select record_key from {wh.table('dbt_sync_inflight')}")}
        assert len(doubt) == 2
        # the user checks the CRM and records what is there, once the hung request has been applied (3 s after
        # it arrived: a run that ends sooner would otherwise have the user look before the CRM wrote them)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not {emails[k] for k in doubt} <= {
                str(r["Email"]) for r in sf.records("Contact")}:
            time.sleep(0.1)
        by_email = {str(r["Email"]): str(r["Id"]) for r in sf.records("Contact")}
        with project.warehouse() as wh:
            for key in doubt:
                wh.sync(SYNC).resolve_in_doubt(key, by_email.get(emails[key]))
        stack.run(all_syncs=True, select=[SYNC], threads=1)
        final = Counter(str(r["Email"]) for r in sf.records("Contact"))
        assert dict(final) == {emails[k]: 1 for k in GOOD}, final
