"""``Engine`` driven directly: stage order, skips with their recorded cause, one commit per batch in send
order, retries, a destination that goes down, against the in-memory destination.

The warehouse is real: a small DuckDB project built once for this module
(two views over tables in schema ``eu_src``, so a test changes a model with
one SQL statement instead of a dbt run). A fake warehouse would have to copy
the changeset, state and audit logic the engine relies on; DuckDB is faster
to trust. Each run recaptures the models with the macro the post-hook calls,
as ``dbt run`` would have. The destination is
``tests/fixtures/fake_destination.py``, handed to the engine through its
``destination_factory``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbt_sync import api
from dbt_sync.destinations.base import Operation, TransientError
from dbt_sync.engine.cancel import Cancellation
from dbt_sync.engine.context import RunOptions
from dbt_sync.engine.events import RunListener, RunStarted, SyncProgress, SyncStarted
from dbt_sync.engine.locks import SyncLock, holder_name
from dbt_sync.engine.progress import Progress
from dbt_sync.engine.results import CANCELLED, ERROR, PARTIAL, SKIPPED, SUCCESS, RunResult, SkipCause
from dbt_sync.engine.retry import RetryPolicy
from dbt_sync.engine.scheduler import Engine
from dbt_sync.project import ProjectOptions, load_project
from dbt_sync.warehouse import Warehouse
from tests.fixtures.fake_destination import Call, FakeDestination, Fault
from tests.fixtures.warehouses import REPO_ROOT, DbtProject

FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01, budget_seconds=5)

PROJECT_FILES = {
    "dbt_project.yml": """\
name: engine_unit
version: "1.0.0"
config-version: 2
profile: engine_unit
model-paths: ["models"]
models:
  engine_unit:
    +materialized: view
""",
    "profiles.yml": """\
engine_unit:
  target: duckdb
  outputs:
    duckdb:
      type: duckdb
      path: "{path}/warehouse.duckdb"
      schema: analytics
      threads: 4
""",
    "dbt_sync.yml": """\
version: 1
destinations:
  crm:
    type: hubspot
    access_token: not-used-the-tests-hand-the-engine-a-fake
""",
    "models/eu_companies.sql": "select * from eu_src.companies\n",
    "models/eu_people.sql": "select * from eu_src.people\n",
    "models/models.yml": """\
version: 2
models:
  - name: eu_companies
    config:
      meta:
        dbt_sync:
          - name: companies
            destination: crm
            object: companies
            mode: upsert
            primary_key: company_id
            match: company_key
            batch_size: 3
            fields: {company_key: company_id, name: name}
          - name: companies_mirror
            destination: crm
            object: companies
            mode: mirror
            primary_key: company_id
            match: company_key
            delete_threshold: 1.0
            fields: {company_key: company_id, name: name}
          - name: companies_masked
            destination: crm
            object: companies
            mode: upsert
            primary_key: company_id
            match: company_key
            batch_size: 2
            fields: {company_key: company_id, name: name}
            failure_payload: {mask: [name]}
          - name: companies_create
            destination: crm
            object: companies
            mode: create
            primary_key: company_id
            match: company_key
            batch_size: 2
            fields: {company_key: company_id, name: name}
    columns:
      - {name: company_id, data_type: varchar}
      - {name: name, data_type: varchar}
  - name: eu_people
    config:
      meta:
        dbt_sync:
          - name: people
            destination: crm
            object: contacts
            mode: upsert
            primary_key: person_id
            match: email
            batch_size: 4
            depends_on: [companies]
            fields: {email: email, firstname: first_name}
          - name: people_strict
            destination: crm
            object: contacts
            mode: upsert
            primary_key: person_id
            match: email
            depends_on: [companies]
            block_on_upstream_failures: true
            fields: {email: email, lastname: first_name}
          - name: people_after
            destination: crm
            object: contacts
            mode: update
            primary_key: person_id
            match: email
            depends_on: [people_strict]
            fields: {email: email, firstname: first_name}
    columns:
      - {name: person_id, data_type: varchar}
      - {name: email, data_type: varchar}
      - {name: first_name, data_type: varchar}
""",
}

SYNCS = ("companies", "people", "people_strict", "people_after")
ALL_SYNCS = (*SYNCS, "companies_create", "companies_mirror", "companies_masked")
AUDIT_TABLES = ("dbt_sync_failures", "dbt_sync_locks", "dbt_sync_runs", "dbt_sync_inflight")


class EngineStack:
    """The loaded project, its open warehouse and the fake CRM of the current test."""

    def __init__(self, project: Any, wh: Warehouse) -> None:
        self.project = project
        self.wh = wh
        self.dest = FakeDestination("crm")
        self.commits: list[tuple[str, list[str], list[str]]] = []

    def run(
        self,
        *syncs: str,
        cancellation: Cancellation | None = None,
        listeners: Sequence[RunListener] = (),
        **options: Any,
    ) -> RunResult:
        options.setdefault("retry_policy", FAST_RETRY)
        options.setdefault("recapture", True)
        plan = api.plan_with_retries(self.project, self.wh, list(syncs or SYNCS), (), True)
        engine = Engine(
            plan=plan,
            warehouse=self.wh,
            config=self.project.config,
            all_specs=self.project.specs,
            options=RunOptions(threads=4, **options),
            progress=Progress.silent(),
            destination_factory=lambda name: self.dest.reopen(),
            cancellation=cancellation or Cancellation(),
            listeners=listeners,
        )
        result = engine.execute()
        engine.events.run_finished(result)
        return result

    def set_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.wh.execute(f"delete from eu_src.{table}")
        if rows:
            values = ", ".join("(" + ", ".join(_literal(v) for v in row) + ")" for row in rows)
            self.wh.execute(f"insert into eu_src.{table} ({', '.join(columns)}) values {values}")

    def companies(self, n: int, bad: Sequence[int] = ()) -> None:
        rows = [(f"c{i}", "BAD" if i in bad else f"Co {i}") for i in range(n)]
        self.set_rows("companies", ("company_id", "name"), rows)

    def people(self, n: int) -> None:
        self.set_rows(
            "people", ("person_id", "email", "first_name"), [(f"p{i}", f"p{i}@example.com", f"P{i}") for i in range(n)]
        )

    def state(self, sync: str) -> dict[str, str | None]:
        rows = self.wh.query(
            f"select record_key, destination_id from {self.wh.table('dbt_sync_state')} where sync_name = '{sync}'"
        )
        return {str(r["record_key"]): r["destination_id"] for r in rows}

    def open_failures(self, sync: str) -> dict[str, str]:
        rows = self.wh.query(
            f"select record_key, error_code from {self.wh.table('dbt_sync_open_failures')} where sync_name = '{sync}'"
        )
        return {str(r["record_key"]): str(r["error_code"]) for r in rows}

    def writes(self, object_name: str | None = None) -> list[Call]:
        return [c for c in self.dest.calls if object_name is None or c.object_name == object_name]


def reset(wh: Warehouse) -> None:
    """No state, no audit history."""
    wh.ensure_tables()
    for name in ALL_SYNCS:
        wh.reset(name)
    present = {
        str(r["table_name"])
        for r in wh.query(
            f"select table_name from information_schema.tables where table_schema = '{wh.audit_schema}'"
        )
    }
    for table in AUDIT_TABLES:
        if table in present:
            wh.execute(f"delete from {wh.table(table)}")


def chunks(keys: list[str], size: int) -> list[list[str]]:
    return [keys[i : i + size] for i in range(0, len(keys), size)]


def assert_whole_batches_in_send_order(commits: list[list[str]], batches: list[list[str]]) -> None:
    """Each commit holds one batch, or several consecutive ones (the committer merges commits that wait
    behind a slow warehouse), and together they hold every batch once, in the order the batches were sent."""
    assert [k for c in commits for k in c] == [k for b in batches for k in b], (commits, batches)
    ends = {sum(len(b) for b in batches[: i + 1]) for i in range(len(batches))}
    position = 0
    for commit in commits:
        position += len(commit)
        assert position in ends, f"a commit split a batch: {commits} for {batches}"


def _literal(value: Any) -> str:
    return "null" if value is None else "'" + str(value).replace("'", "''") + "'"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Warehouse]]:
    path = tmp_path_factory.mktemp("engine_unit")
    for relative, text in PROJECT_FILES.items():
        (path / relative).parent.mkdir(parents=True, exist_ok=True)
        (path / relative).write_text(text.replace("{path}", str(path)))
    # what `dbt deps` does for a local package: a link to it
    (path / "dbt_packages").mkdir()
    (path / "dbt_packages" / "dbt_sync").symlink_to(REPO_ROOT, target_is_directory=True)
    import duckdb

    with duckdb.connect(str(path / "warehouse.duckdb")) as con:
        con.execute("create schema eu_src")
        con.execute("create table eu_src.companies (company_id varchar, name varchar)")
        con.execute("create table eu_src.people (person_id varchar, email varchar, first_name varchar)")
    DbtProject(Path(path), "duckdb").dbt("run")
    options = ProjectOptions(project_dir=Path(path), profiles_dir=Path(path))
    project = load_project(options)
    with api.open_warehouse(options) as wh:
        yield project, wh


@pytest.fixture
def stack(built: tuple[Any, Warehouse], monkeypatch: pytest.MonkeyPatch) -> EngineStack:
    project, wh = built
    reset(wh)
    s = EngineStack(project, wh)
    s.companies(0)
    s.people(0)
    real_commit = wh.commit

    def spy(sync_name: str, run_id: str, successes: Sequence[Any], deletions: Sequence[str],
            failures: Sequence[Any], *args: Any, **kwargs: Any) -> Any:
        s.commits.append((sync_name, [k for k, *_ in successes], [f.record_key for f in failures]))
        return real_commit(sync_name, run_id, successes, deletions, failures, *args, **kwargs)

    monkeypatch.setattr(wh, "commit", spy)
    return s


def test_stages_run_in_order_and_each_batch_commits_in_send_order(stack: EngineStack) -> None:
    stack.companies(7)
    stack.people(9)
    result = stack.run("companies", "people")
    assert [s.status for s in result.syncs] == [SUCCESS, SUCCESS]
    calls = stack.writes()
    objects = [c.object_name for c in calls]
    assert objects == ["companies"] * 3 + ["contacts"] * 3, "a stage starts when the one before it is done"
    # the changeset is sent in key order, batch_size records a batch; two batches are in flight at once,
    # so their requests may reach the CRM in either order, but their commits follow the send order
    company_batches = chunks([f"c{i}" for i in range(7)], 3)
    assert sorted(c.keys for c in calls if c.object_name == "companies") == company_batches
    commits = [keys for sync, keys, _ in stack.commits if sync == "companies" and keys]
    assert_whole_batches_in_send_order(commits, company_batches)
    people_batches = chunks([f"p{i}" for i in range(9)], 4)
    assert sorted(c.keys for c in calls if c.object_name == "contacts") == people_batches
    assert_whole_batches_in_send_order([keys for sync, keys, _ in stack.commits if sync == "people" and keys],
                                       people_batches)
    stored = stack.dest.records("companies")
    state = stack.state("companies")
    assert sorted(state) == [f"c{i}" for i in range(7)]
    assert {stored[i]["company_key"] for i in state.values() if i} == set(state)
    again = stack.run("companies", "people")
    assert [s.status for s in again.syncs] == [SUCCESS, SUCCESS]
    assert len(stack.writes()) == len(calls), "nothing changed: nothing is sent"


def test_a_sync_that_fails_as_a_whole_skips_its_dependants_with_the_cause(stack: EngineStack) -> None:
    stack.companies(2)
    stack.people(2)
    stack.dest.fail_next("fatal")
    result = stack.run()
    by_name = {s.name: s for s in result.syncs}
    assert by_name["companies"].status == ERROR
    assert by_name["companies"].error_codes == {"INVALID_AUTHENTICATION": 1}
    assert (by_name["people"].status, by_name["people"].skip_cause) == (SKIPPED, SkipCause.UPSTREAM_FAILED)
    assert (by_name["people_strict"].status, by_name["people_strict"].skip_cause) == (
        SKIPPED, SkipCause.UPSTREAM_FAILED,
    )
    # through people_strict: a sync it needs through other syncs failed
    assert (by_name["people_after"].status, by_name["people_after"].skip_cause) == (
        SKIPPED, SkipCause.UPSTREAM_FAILED,
    )
    assert stack.writes("contacts") == []
    # the skips are recorded as data: the next run, with the destination back, runs them all
    result = stack.run()
    assert {s.name: s.status for s in result.syncs} == dict.fromkeys(SYNCS, SUCCESS)


def test_a_sync_capturing_its_model_does_not_fail_a_sibling_claiming_its_changeset_on_duckdb(
    stack: EngineStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After ``--full-refresh`` of one sync, the next run captures its model again, which rebuilds the
    changesets of every sync of the model while a sibling of the same stage, in another thread, claims
    its own: two transactions changing one catalog entry, which DuckDB aborted with "Catalog
    write-write conflict" (the first sync failed, its dependants were skipped)."""
    stack.companies(2)
    stack.people(3)
    assert {s.name: s.status for s in stack.run("companies", "people", "people_strict").syncs} == dict.fromkeys(
        ("companies", "people", "people_strict"), SUCCESS
    )
    wh = stack.wh
    real_execute = wh._execute

    def slow_rename(sql: str) -> None:  # hold each rename's transaction open a moment: the race, every time
        real_execute(sql)
        if " rename to " in sql:
            time.sleep(0.3)

    monkeypatch.setattr(wh, "_execute", slow_rename)
    for _ in range(2):
        stack.people(3)
        wh.capture("model.engine_unit.eu_people")  # the post-hook of a `dbt run`: both syncs have a capture
        wh.sync("people").full_refresh()  # `dbt-sync run --full-refresh --select people`: its capture is gone
        result = stack.run("people", "people_strict", recapture=False)
        assert {s.name: (s.status, s.message) for s in result.syncs} == dict.fromkeys(
            ("people", "people_strict"), (SUCCESS, None)
        )


def test_record_failures_skip_only_the_dependants_that_ask_to_be_blocked(stack: EngineStack) -> None:
    stack.dest.invalid["name"] = {"BAD"}
    stack.companies(4, bad=[2])
    stack.people(3)
    result = stack.run()
    by_name = {s.name: s for s in result.syncs}
    assert by_name["companies"].status == PARTIAL and by_name["companies"].failed == 1
    assert by_name["people"].status == SUCCESS
    assert (by_name["people_strict"].status, by_name["people_strict"].skip_cause) == (
        SKIPPED, SkipCause.UPSTREAM_RECORD_FAILURES,
    )
    assert (by_name["people_after"].status, by_name["people_after"].skip_cause) == (
        SKIPPED, SkipCause.UPSTREAM_SKIPPED,
    )
    assert stack.open_failures("companies") == {"c2": "INVALID_FIELD_VALUE"}
    assert "c2" not in stack.state("companies")
    rows = stack.wh.query(
        f"select error_fields, error_message from {stack.wh.table('dbt_sync_failures')} where record_key = 'c2'"
    )
    assert len(rows) == 1 and "name" in str(rows[0]["error_fields"]) and rows[0]["error_message"]
    # fixed in the model: the failure closes, the record is written
    stack.dest.invalid.clear()
    stack.companies(4)
    result = stack.run("companies")
    assert result.syncs[0].status == SUCCESS
    assert stack.open_failures("companies") == {} and "c2" in stack.state("companies")


def test_transient_errors_are_retried_inside_the_run(stack: EngineStack) -> None:
    stack.companies(5)
    stack.dest.fail_next("5xx", Fault("timeout", applied=True))
    result = stack.run("companies")
    sync = result.syncs[0]
    assert sync.status == SUCCESS and sync.retries == 2
    applied = next(c for c in stack.dest.calls if c.raised == "timeout")
    # the timed-out request was applied: its resend met (updated) what it had created
    assert (sync.created, sync.updated) == (5 - len(applied.keys), len(applied.keys))
    assert len(stack.dest.records("companies")) == 5
    assert len(stack.state("companies")) == 5


def test_a_destination_that_goes_down_stops_the_sync_and_the_next_run_sends_the_rest(stack: EngineStack) -> None:
    stack.companies(9)

    lock, seen = threading.Lock(), []

    def down_after_first(call: Call) -> None:
        with lock:  # two batches are in flight at once: count here, not in the calls the fake logs
            seen.append(call)
            if len(seen) > 1:
                raise TransientError("fake 503", code="HTTP_503")

    stack.dest.on_write = down_after_first
    result = stack.run("companies", "people")
    companies, people = result.syncs
    assert companies.status == ERROR and companies.error_codes == {"DESTINATION_UNAVAILABLE": 1}
    assert people.skip_cause is SkipCause.UPSTREAM_FAILED
    first = seen[0].keys
    assert sorted(stack.state("companies")) == sorted(first), "what the CRM confirmed is committed"
    assert stack.open_failures("companies") == {}, "unanswered records are not record failures"
    stack.dest.on_write = None
    before = len(stack.dest.calls)
    result = stack.run("companies")
    assert result.syncs[0].status == SUCCESS
    resent = [k for c in stack.dest.calls[before:] for k in c.keys]
    assert sorted(resent) == sorted(set(f"c{i}" for i in range(9)) - set(first))


def test_a_create_whose_outcome_is_unknown_is_found_by_its_match_key_not_created_twice(stack: EngineStack) -> None:
    """A create request timed out after the CRM applied it: the engine looks the records up by the match
    key and records their ids, instead of creating them again."""
    stack.companies(3)
    stack.dest.fail_next(Fault("timeout", applied=True))
    result = stack.run("companies_create")
    sync = result.syncs[0]
    assert sync.status == SUCCESS and sync.created == 3, sync
    stored = stack.dest.records("companies")
    assert sorted(f["company_key"] for f in stored.values()) == ["c0", "c1", "c2"]
    state = stack.state("companies_create")
    assert {key: stored[i]["company_key"] for key, i in state.items() if i} == {k: k for k in ("c0", "c1", "c2")}
    timed_out = next(c for c in stack.dest.calls if c.raised == "timeout")
    resent = [k for c in stack.dest.calls if c is not timed_out and c.operation is Operation.CREATE for k in c.keys]
    assert not set(resent) & set(timed_out.keys), "a create that may have been applied is never resent"


def test_the_next_batch_is_sent_while_the_previous_one_commits(stack: EngineStack) -> None:
    """Sending and committing overlap: batch 3 goes out while batch 1's commit is still running, and the
    commits still land in send order."""
    stack.companies(9)
    sent_third = threading.Event()
    overlapped: list[bool] = []

    def watch(call: Call) -> None:
        if len(stack.dest.calls) == 2:  # this is the third request
            sent_third.set()

    stack.dest.on_write = watch
    real_commit = stack.wh.commit

    def slow_first_commit(sync_name: str, *args: Any, **kwargs: Any) -> Any:
        if not overlapped:
            overlapped.append(sent_third.wait(10))
        return real_commit(sync_name, *args, **kwargs)

    stack.wh.commit = slow_first_commit  # type: ignore[method-assign]
    result = stack.run("companies")
    assert result.syncs[0].status == SUCCESS
    assert overlapped == [True], "batch 3 was only sent after batch 1 had committed"
    assert_whole_batches_in_send_order([keys for sync, keys, _ in stack.commits if keys],
                                       chunks([f"c{i}" for i in range(9)], 3))


def test_a_failed_commit_in_the_middle_stops_the_sync_and_the_next_run_resends_the_rest(
    stack: EngineStack,
) -> None:
    """The warehouse refuses the second batch's commit: nothing commits after it, at most the batches
    already in flight go out, and the next run sends every record not committed (the CRM takes them as
    updates: nothing is created twice)."""
    stack.companies(12)
    real_commit = stack.wh.commit
    commits = 0

    def failing_second(sync_name: str, *args: Any, **kwargs: Any) -> Any:
        nonlocal commits
        commits += 1
        if commits == 2:
            raise RuntimeError("warehouse refused the commit")
        return real_commit(sync_name, *args, **kwargs)

    stack.wh.commit = failing_second  # type: ignore[method-assign]
    result = stack.run("companies")
    sync = result.syncs[0]
    assert sync.status == ERROR and "warehouse refused the commit" in (sync.message or "")
    assert len(stack.dest.calls) <= 4, "after a failed commit, no new batch goes out"
    # the changeset goes in key order; the first commit holds the first batch (or the first few, merged)
    (first,) = [keys for sync, keys, _ in stack.commits if keys]
    assert first == sorted(f"c{i}" for i in range(12))[: len(first)] and len(first) % 3 == 0, first
    assert sorted(stack.state("companies")) == first, "only the first commit landed"
    stack.wh.commit = real_commit  # type: ignore[method-assign]
    before = len(stack.dest.calls)
    result = stack.run("companies")
    assert result.syncs[0].status == SUCCESS
    resent = {k for c in stack.dest.calls[before:] for k in c.keys}
    assert resent == {f"c{i}" for i in range(12)} - set(first)
    assert len(stack.dest.records("companies")) == 12
    assert sorted(stack.state("companies")) == sorted(f"c{i}" for i in range(12))


def test_a_mirror_writes_before_it_deletes_and_relinks_a_record_gone_from_the_crm(stack: EngineStack) -> None:
    """A record someone deleted in the CRM is written again (its stored id is gone: found by the match key
    or created); a row that left the model is deleted, after every write of the run."""
    stack.companies(4)
    first = stack.run("companies_mirror")
    assert first.syncs[0].status == SUCCESS
    state = stack.state("companies_mirror")
    gone_id = state["c1"]
    assert gone_id is not None
    stack.dest.remove("companies", gone_id)
    stack.set_rows("companies", ("company_id", "name"), [("c0", "Co 0"), ("c1", "Renamed"), ("c2", "Co 2")])
    before = len(stack.dest.calls)
    result = stack.run("companies_mirror")
    sync = result.syncs[0]
    assert sync.status == SUCCESS and sync.deleted == 1, sync
    operations = [c.operation for c in stack.dest.calls[before:]]
    assert operations.index(Operation.DELETE) == len(operations) - 1, operations
    stored = stack.dest.records("companies")
    assert sorted(f["company_key"] for f in stored.values()) == ["c0", "c1", "c2"]
    state = stack.state("companies_mirror")
    assert sorted(state) == ["c0", "c1", "c2"] and state["c1"] != gone_id
    assert stored[str(state["c1"])]["name"] == "Renamed"
    assert stack.open_failures("companies_mirror") == {}


def test_a_sync_another_run_holds_is_skipped_as_locked_and_so_are_its_dependants(stack: EngineStack) -> None:
    stack.companies(2)
    stack.people(2)
    other = SyncLock(stack.wh, "companies", holder_name("another-run"))
    other.acquire()
    try:
        result = stack.run("companies", "people")
    finally:
        other.release()
    companies, people = result.syncs
    assert (companies.status, companies.skip_cause) == (SKIPPED, SkipCause.LOCKED)
    assert (people.status, people.skip_cause) == (SKIPPED, SkipCause.UPSTREAM_SKIPPED)
    assert stack.dest.calls == []


def test_a_cancelled_run_stops_sending_and_skips_what_has_not_started(stack: EngineStack) -> None:
    stack.companies(9)
    stack.people(2)
    cancellation = Cancellation()

    def cancel_on_first(call: Call) -> None:
        cancellation.cancel()

    stack.dest.on_write = cancel_on_first
    result = stack.run("companies", "people", cancellation=cancellation)
    companies, people = result.syncs
    assert companies.status == CANCELLED
    assert (people.status, people.skip_cause) == (SKIPPED, SkipCause.CANCELLED)
    sent = {k for c in stack.dest.calls for k in c.keys}
    assert set(stack.state("companies")) <= sent, "only what the CRM confirmed is recorded"
    assert len(sent) < 9, "nothing new goes out after the cancellation"
    assert result.cancelled


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    bad=st.sets(st.integers(0, 11), max_size=4),
    batch_size=st.integers(1, 6),
    faults=st.lists(
        st.one_of(
            st.builds(Fault, kind=st.sampled_from(["5xx", "timeout"]), applied=st.booleans()),
            st.builds(Fault, kind=st.just("5xx"), partial=st.integers(0, 3)),
            st.builds(Fault, kind=st.just("lock"), shrink=st.just(True), above=st.integers(0, 3)),
        ),
        max_size=2,  # fewer than FAST_RETRY.max_attempts: the destination is never down for good
    ),
    locked=st.sets(st.integers(0, 11), max_size=3),
)
def test_every_row_ends_once_as_confirmed_or_failed(
    stack: EngineStack, bad: set[int], batch_size: int, faults: list[Fault], locked: set[int]
) -> None:
    """Any mix of refusals, row locks, request faults and batch sizes: each row of the model is either in
    the state with the id the CRM holds it under, or an open failure; never both, never neither."""
    reset(stack.wh)
    stack.commits.clear()
    stack.dest = FakeDestination("crm", batch_size=batch_size, invalid={"name": {"BAD"}})
    stack.dest.fail_next(*faults)
    stack.dest.lock_rows([f"c{i}" for i in locked], times=1)
    stack.companies(12, bad=sorted(bad))
    result = stack.run("companies")
    sync = result.syncs[0]
    assert sync.status == (PARTIAL if bad else SUCCESS)
    state, failures = stack.state("companies"), stack.open_failures("companies")
    assert not set(state) & set(failures)
    assert set(state) | set(failures) == {f"c{i}" for i in range(12)}
    assert set(failures) == {f"c{i}" for i in bad}
    stored = stack.dest.records("companies")
    for key, dest_id in state.items():
        assert dest_id in stored and stored[dest_id]["company_key"] == key
    keys = [fields["company_key"] for fields in stored.values()]
    assert len(keys) == len(set(keys)), "an upsert never creates a record twice"
    sent = [k for c in stack.dest.calls if c.raised is None for k in c.keys]
    committed = [k for sync_name, ks, fs in stack.commits if sync_name == "companies" for k in (*ks, *fs)]
    assert set(committed) >= set(sent)



class Recorder(RunListener):
    """Every event of a run, in arrival order, with the thread it arrived in."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, Any, str]] = []
        self._lock = threading.Lock()

    def _add(self, kind: str, name: str, payload: Any) -> None:
        with self._lock:
            self.events.append((kind, name, payload, threading.current_thread().name))

    def run_started(self, event: RunStarted) -> None:
        self._add("run_started", "", event)

    def sync_started(self, event: SyncStarted) -> None:
        self._add("sync_started", event.name, event)

    def sync_progress(self, event: SyncProgress) -> None:
        self._add("sync_progress", event.name, event)

    def sync_finished(self, result: Any) -> None:
        self._add("sync_finished", result.name, result)

    def run_finished(self, result: Any) -> None:
        self._add("run_finished", "", result)

    def close(self) -> None:
        self._add("close", "", None)


class Broken(RunListener):
    def sync_progress(self, event: SyncProgress) -> None:
        raise RuntimeError("a listener's bug")


def test_the_run_tells_its_listeners_each_sync_from_start_to_end_in_the_sync_thread(stack: EngineStack) -> None:
    stack.dest.invalid["name"] = {"BAD"}
    stack.companies(7, bad=[3])
    stack.people(5)
    recorder = Recorder()
    result = stack.run("companies", "people", "people_strict", "people_after", listeners=[Broken(), recorder])
    assert result.sync("companies").failed == 1 and result.sync("people").status == SUCCESS, (
        "a failing listener fails nothing"
    )
    assert result.sync("people_strict").skip_cause is SkipCause.UPSTREAM_RECORD_FAILURES
    kinds = [kind for kind, *_ in recorder.events]
    assert kinds[0] == "run_started" and kinds[-2:] == ["close", "run_finished"]
    started: RunStarted = recorder.events[0][2]
    assert (started.run_id, started.syncs) == (result.run_id, ("companies", "people", "people_strict", "people_after"))
    assert recorder.events[-1][2] is result
    finished = [name for kind, name, *_ in recorder.events if kind == "sync_finished"]
    assert sorted(finished) == sorted(s.name for s in result.syncs), "every sync ends once, skipped ones too"
    for sync in ("companies", "people"):
        mine = [(kind, payload, thread) for kind, name, payload, thread in recorder.events if name == sync]
        assert mine[0][0] == "sync_started" and mine[-1][0] == "sync_finished"
        assert len({thread for *_, thread in mine}) == 1, "a sync's events arrive in the thread that runs it"
        progress = [p for k, p, _ in mine if k == "sync_progress"]
        assert (progress[0].done, progress[0].total) == (0, result.sync(sync).planned)
        assert [p.done for p in progress] == sorted(p.done for p in progress)
        assert progress[-1].done == result.sync(sync).attempted == sum(p.increment for p in progress)
        assert mine[-1][1] is result.sync(sync)
    # skipped without starting: only their end
    assert [k for k, name, *_ in recorder.events if name in ("people_strict", "people_after")] == ["sync_finished"] * 2


#: record values: any text, including line breaks, quotes, backslashes, non-ASCII and lone surrogates
VALUES = st.text(min_size=4, max_size=16).filter(lambda v: v.strip() == v and len(v.strip()) >= 4)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    names=st.lists(VALUES, min_size=1, max_size=4, unique=True),
    refused=st.sets(st.integers(0, 3)),
    with_secret=st.booleans(),
)
def test_every_json_log_line_parses_and_holds_no_masked_value_or_secret(
    stack: EngineStack, names: list[str], refused: set[int], with_secret: bool
) -> None:
    """Whatever the masked column holds (the fake CRM echoes refused values in its error messages, as the
    real ones do), each JSON event is one line that parses, and neither the masked values nor the
    destination's access token appear in any form."""
    import io
    import json

    from dbt_sync import masking
    from dbt_sync.logs import JsonEvents, JsonLines

    reset(stack.wh)
    masking.clear()
    secret = "not-used-the-tests-hand-the-engine-a-fake"  # the destination's access_token in dbt_sync.yml
    if with_secret:
        names[0] = f"{names[0]} {secret}"
    bad = {names[i] for i in refused if i < len(names)}
    stack.dest = FakeDestination("crm", invalid={"name": bad})
    stack.set_rows("companies", ("company_id", "name"), [(f"c{i}", name) for i, name in enumerate(names)])
    out = io.StringIO()
    result = stack.run("companies_masked", listeners=[JsonEvents(JsonLines(out), progress_interval=0)])
    assert result.syncs[0].failed == len(bad)
    text = out.getvalue()
    lines = text.split("\n")
    assert lines[-1] == "" and len(lines) > 5
    events = [json.loads(line) for line in lines[:-1]]
    assert [e["info"]["name"] for e in events][-1] == "RunFinished"
    assert events[-1]["data"]["syncs"][0]["failed"] == len(bad)
    # every string the events hold (their keys are dbt-sync's own words: "alerts" holds no record value "ALER")
    strings = masking.fold("\n".join(_strings(events)))
    for value in [*names, secret]:
        assert not {form for form in masking.variants(value) if form in strings}, value


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return []
