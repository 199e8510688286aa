"""dbt_sync.orchestration, the Airflow-free half of dbt_sync.airflow: the CLI's rules, applied per task.

A task fails exactly when ``dbt-sync run`` would exit non-zero (the same
``RunResult.exit_code``); a task is skipped exactly where the engine would
skip its sync, deciding from the figures its needed tasks pushed (a round
trip through XCom's JSON); the figures and the task log hold no record
value. Property-based over the statuses, skip causes and counts a run can
produce.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from dbt_sync import api
from dbt_sync.engine.results import RunResult, SkipCause, SyncResult, SyncStatus
from dbt_sync.engine.scheduler import upstream_block as engine_rule
from dbt_sync.errors import EXIT_OK
from dbt_sync.orchestration import (
    RECORD_VALUE_KEYS,
    RUNTIME_PARAMETERS,
    SyncTask,
    figures,
    outcome,
    run_option_names,
    skipped_figures,
    sync_entry,
    task_id_for,
    upstream_block,
)

#: a record value as a CRM error or a dry-run sample would quote it
VALUE = "ada.lovelace@acme-robotics.example"
NAMES = ["accounts", "contacts", "deals"]


@st.composite
def sync_results(draw: Any, name: str) -> SyncResult:
    status = draw(st.sampled_from([s for s in SyncStatus if s not in (SyncStatus.RUNNING, SyncStatus.ABANDONED)]))
    result = SyncResult(
        name=name, model=f"dim_{name}", destination="salesforce", object="Account", mode="upsert", status=status,
        failed=draw(st.integers(min_value=0, max_value=3)), created=draw(st.integers(min_value=0, max_value=3)),
        skip_cause=draw(st.sampled_from(list(SkipCause))) if status == SyncStatus.SKIPPED else None,
        message=draw(st.none() | st.just(f"{name} stopped")),
    )
    if result.failed:
        result.count_error("INVALID_EMAIL_ADDRESS", f"invalid email: {VALUE}")
    if draw(st.booleans()):
        result.samples.append({"email": VALUE})
    return result


runs = st.builds(
    lambda syncs, fatal, cancelled: RunResult(
        run_id="r1", started_at="t", syncs=syncs, record_failures_fatal=fatal,
        cancelled=cancelled is not None, cancelled_by=cancelled,
    ),
    st.tuples(*(sync_results(n) for n in NAMES)).map(list),
    st.booleans(),
    st.none() | st.sampled_from([2, 15]),
)


@given(runs)
def test_a_task_fails_exactly_when_the_cli_exits_non_zero(result: RunResult) -> None:
    end = outcome(result)
    assert end.exit_code == result.exit_code and end.failed == (result.exit_code != EXIT_OK)
    every_skipped = all(s.status == SyncStatus.SKIPPED for s in result.syncs)
    assert bool(end.skipped) == (not end.failed and every_skipped)
    assert f"exit code {result.exit_code}" in end.summary
    for sync in result.syncs:
        assert f"{sync.name}: {sync.status}" in end.summary


@given(runs)
def test_figures_are_the_results_file_without_record_values(result: RunResult) -> None:
    data = figures(result)
    assert json.loads(json.dumps(data)) == data  # plain JSON for any XCom backend
    expected = json.loads(json.dumps(result.to_dict(), default=str))
    for sync in expected["syncs"]:
        for key in RECORD_VALUE_KEYS:
            sync.pop(key)
    del expected["metadata"]["generated_at"], data["metadata"]["generated_at"]
    assert data == expected
    assert VALUE not in json.dumps(data) and VALUE not in outcome(result).summary


@given(st.tuples(*(sync_results(n) for n in NAMES[:2])), st.booleans(), st.sets(st.sampled_from(NAMES[:2])))
def test_a_task_is_skipped_where_the_engine_skips_its_sync(
    upstream: tuple[SyncResult, ...], block: bool, missing: set[str]
) -> None:
    task = SyncTask("deals", "fct_deals", "salesforce", "Opportunity", "upsert", block, tuple(NAMES[:2]), ("contacts",))
    pushed = {s.name: figures(RunResult(run_id=s.name, started_at="t", syncs=[s])) for s in upstream}
    entries = {name: None if name in missing else sync_entry(pushed[name], name) for name in task.upstream}
    got = upstream_block(task, entries)
    first_missing = next((n for n in task.upstream if n in missing), None)
    before = task.upstream[: task.upstream.index(first_missing)] if first_missing else task.upstream
    by_engine = engine_rule(block, before, {s.name: s for s in upstream})
    if by_engine is not None:
        assert got == by_engine
    elif first_missing:
        assert got is not None and got[0] is SkipCause.UPSTREAM_FAILED and first_missing in got[1]
    else:
        assert got is None


def test_skipped_figures_carry_the_cause_and_read_back() -> None:
    task = SyncTask("deals", "fct_deals", "hubspot", "deals", "upsert", False, ("contacts",), ("contacts",))
    data = skipped_figures(task, SkipCause.UPSTREAM_FAILED, "upstream sync contacts failed: 401", "run-1")
    (entry,) = data["syncs"]
    back = SyncResult.from_dict(entry)
    assert (back.name, back.status, back.skip_cause) == ("deals", SyncStatus.SKIPPED, SkipCause.UPSTREAM_FAILED)
    assert data["exit_code"] == EXIT_OK and back.message == "upstream sync contacts failed: 401"


def test_the_operator_takes_every_option_of_dbt_sync_run() -> None:
    import inspect

    parameters = set(inspect.signature(api.run).parameters)
    assert run_option_names() == parameters - RUNTIME_PARAMETERS
    assert {"select", "exclude", "all_syncs", "full_refresh", "record_failures_fatal", "target"} <= run_option_names()
    assert parameters >= RUNTIME_PARAMETERS  # every name left out is one dbt_sync.run has


def test_task_ids_keep_what_airflow_allows() -> None:
    assert task_id_for("contacts_to_hubspot") == "contacts_to_hubspot"
    assert task_id_for("contacts to hubspot/eu") == "contacts_to_hubspot_eu"
