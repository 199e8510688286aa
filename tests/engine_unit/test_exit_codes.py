"""The exit-code rule (``RunResult.exit_code_for``): record failures can be made non-fatal, nothing else can."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dbt_sync.engine.results import RunResult, SkipCause, SyncResult, SyncStatus
from dbt_sync.errors import EXIT_ERROR, EXIT_LOCKED, EXIT_OK, EXIT_RECORD_FAILURES

syncs = st.builds(
    SyncResult,
    name=st.sampled_from(["a", "b", "c"]),
    model=st.just("m"),
    destination=st.just("salesforce"),
    object=st.just("Contact"),
    mode=st.just("upsert"),
    status=st.sampled_from(list(SyncStatus)),
    failed=st.integers(min_value=0, max_value=3),
    skip_cause=st.none() | st.sampled_from(list(SkipCause)),
)


def run_of(results: list[SyncResult], cancelled_by: int | None = None, cancelled: bool = False) -> RunResult:
    return RunResult(run_id="r", started_at="t", syncs=results, cancelled=cancelled, cancelled_by=cancelled_by)


@given(st.lists(syncs, max_size=5), st.booleans(), st.sampled_from([None, 2, 15]))
def test_only_record_failures_become_non_fatal(results: list[SyncResult], cancelled: bool, signal: int | None) -> None:
    run = run_of(results, signal if cancelled else None, cancelled)
    fatal = run.exit_code_for(record_failures_fatal=True)
    lenient = run.exit_code_for(record_failures_fatal=False)
    assert fatal == run.exit_code  # the default is dbt's: a failed record fails the run
    if fatal == EXIT_RECORD_FAILURES:
        assert lenient == EXIT_OK
    else:
        assert lenient == fatal  # a whole-sync failure, a lock, a cancellation stay what they are
    # the rule itself, written out
    if cancelled:
        assert fatal == 128 + (signal if signal is not None else 2)
    elif any(s.status is SyncStatus.ERROR for s in results):
        assert fatal == EXIT_ERROR
    elif any(s.skip_cause is SkipCause.LOCKED for s in results):
        assert fatal == EXIT_LOCKED
    elif any(s.failed for s in results):
        assert fatal == EXIT_RECORD_FAILURES
    else:
        assert fatal == EXIT_OK


def test_the_results_say_which_rule_gave_the_exit_code() -> None:
    partial = SyncResult("a", "m", "salesforce", "Contact", "upsert", status=SyncStatus.PARTIAL, failed=2)
    run = run_of([partial])
    assert run.exit_code == EXIT_RECORD_FAILURES
    run.record_failures_fatal = False
    assert run.exit_code == EXIT_OK  # what the CLI exits with under --warn-on-record-failures
    data = run.to_dict()
    assert data["exit_code"] == EXIT_OK and data["metadata"]["record_failures_fatal"] is False
    assert data["totals"]["failed"] == 2  # still recorded
    failed = SyncResult("b", "m", "hubspot", "contacts", "upsert", status=SyncStatus.ERROR)
    run.syncs.append(failed)
    assert run.exit_code == EXIT_ERROR
