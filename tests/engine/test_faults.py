"""The engine under injected faults: every fault, at each phase of a sync where it can strike.

A fault is armed on the emulator right before the Nth write call the engine
makes for one CRM object (phase ``first``: the sync's first data request;
``mid``: between two batches, after the first batch's outcomes are committed;
``assoc``: the association step that follows a HubSpot batch). Transient
faults must be absorbed inside the run: every record confirmed, no failure
rows, the retries counted. Faults that no retry can fix stop the sync as a
whole with a code; its dependents are skipped with the reason; only the
batches the CRM confirmed advance the state; the next run converges.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from dbt_sync import api, secrets
from dbt_sync.cli.run import render_summary
from dbt_sync.engine import connections, pipeline
from dbt_sync.engine.ratelimit import Limits, RateLimiter
from dbt_sync.engine.results import RunResult
from dbt_sync_emulators.sandbox import Sandbox, running_sandbox
from tests.engine.conftest import Stack
from tests.fixtures.warehouses import INTEGRATION_TESTS, DbtProject

pytestmark = pytest.mark.slow

OAUTH = ("faults-app", "faults-secret", "faults-refresh-token")

FAULT_MODEL = """
-- the accounts again, under their own syncs with small batches so a fault can land between batches
select account_id, account_name, domain, employees from {{ ref('dim_accounts') }}
"""

FAULT_YML = """
version: 2
models:
  - name: fault_accounts
    config:
      meta:
        dbt_sync:
          - name: faults_sf
            destination: salesforce
            object: Account
            mode: upsert
            primary_key: account_id
            match: External_Id__c
            batch_size: 2
            options: {bulk_threshold: 0}
            fields: {External_Id__c: account_id, Name: account_name, NumberOfEmployees: employees}
          - name: faults_sf_bulk
            destination: salesforce
            object: Account
            mode: upsert
            primary_key: account_id
            match: External_Id__c
            batch_size: 3
            options: {bulk_threshold: 2}
            fields: {External_Id__c: account_id, Name: account_name, NumberOfEmployees: employees}
          - name: faults_hs
            destination: hubspot
            object: companies
            mode: upsert
            primary_key: account_id
            match: company_key
            batch_size: 2
            fields: {company_key: account_id, name: account_name, domain: domain}
          - name: faults_hs_oauth
            destination: hubspot_oauth
            object: companies
            mode: upsert
            primary_key: account_id
            match: company_key
            batch_size: 2
            fields: {company_key: account_id, name: account_name, domain: domain}
    columns:
      - {name: account_id, data_type: varchar}
      - {name: account_name, data_type: varchar}
      - {name: domain, data_type: varchar}
      - {name: employees, data_type: integer}
"""

# short client timeouts so a hung request costs seconds, and an OAuth HubSpot account
EXTRA_DESTINATIONS = f"""
  hubspot_oauth:
    type: hubspot
    client_id: {OAUTH[0]}
    client_secret: "{{{{ env_var('DBT_SYNC_FAULTS_HS_SECRET', '{OAUTH[1]}') }}}}"
    refresh_token: "{{{{ env_var('DBT_SYNC_FAULTS_HS_REFRESH', '{OAUTH[2]}') }}}}"
    host: "{{{{ env_var('DBT_SYNC_HUBSPOT_HOST', 'https://api.hubapi.com') }}}}"
    timeout: 2
"""


def fault_config() -> str:
    text = (INTEGRATION_TESTS / "dbt_sync.yml").read_text()
    text = text.replace("ca_bundle: \"{{ env_var('DBT_SYNC_SF_CA_BUNDLE', '') }}\"",
                        "ca_bundle: \"{{ env_var('DBT_SYNC_SF_CA_BUNDLE', '') }}\"\n    timeout: 2")
    text = text.replace("tier: professional", "tier: professional\n    timeout: 2")
    assert text.count("timeout: 2") == 2, "integration_tests/dbt_sync.yml changed shape"
    return text.rstrip() + "\n" + EXTRA_DESTINATIONS


FAULT_FILES = {
    "models/faults/fault_accounts.sql": FAULT_MODEL,
    "models/faults/faults.yml": FAULT_YML,
}


def fault_files() -> dict[str, str]:
    return {**FAULT_FILES, "dbt_sync.yml": fault_config()}


# -- arming faults at the Nth write --------------------------------------------------------


@dataclass
class Arming:
    """Calls ``arm`` before write number ``at`` on ``object_name`` (1-based), ``disarm`` before the next one."""

    object_name: str
    at: int
    arm: Callable[[], None]
    disarm: Callable[[], None] | None = None
    calls: int = 0
    armed: bool = False

    def before_write(self, object_name: str) -> None:
        if object_name.lower() != self.object_name.lower():
            return
        self.calls += 1
        if self.calls == self.at:
            self.arm()
            self.armed = True
        elif self.calls == self.at + 1 and self.disarm is not None:
            self.disarm()


@pytest.fixture
def arming(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Arming]]:
    """Wraps each destination the engine opens so armings see its write calls."""
    armings: list[Arming] = []
    real_open = connections.open_destination

    def open_with_arming(config: Any) -> Any:
        dest = real_open(config)
        write = dest.write

        @functools.wraps(write)
        def armed_write(object_name: str, *args: Any, **kwargs: Any) -> Any:
            for a in armings:
                a.before_write(object_name)
            return write(object_name, *args, **kwargs)

        dest.write = armed_write  # type: ignore[method-assign]
        return dest

    monkeypatch.setattr(connections, "open_destination", open_with_arming)
    # one batch in flight at a time, so "before write N" is a well-defined phase of the sync
    monkeypatch.setattr(pipeline, "SEND_WINDOW", 1)
    yield armings


# -- the project and the emulators ---------------------------------------------------------


@pytest.fixture(scope="module")
def duck(dbt_project_factory: Any) -> DbtProject:
    project: DbtProject = dbt_project_factory("duckdb", "engine_faults", extra_files=fault_files())
    return project


class _Kept:
    """The module's open Warehouse, handed to api.run without being closed after it."""

    def __init__(self, wh: Any) -> None:
        self.wh = wh

    def __enter__(self) -> Any:
        return self.wh

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.fixture(scope="module")
def duck_wh(duck: DbtProject) -> Iterator[Any]:
    """One Warehouse for the module: loading a dbt runtime costs ~2 s, the syncs under test far less."""
    with duck.warehouse() as wh:
        yield wh


@pytest.fixture
def stack(duck: DbtProject, duck_wh: Any, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> FaultStack:
    monkeypatch.setattr(api, "open_warehouse", lambda options: _Kept(duck_wh))
    return FaultStack(duck, sandbox, duck_wh)


@dataclass
class FaultStack(Stack):
    wh: Any = None

    def query(self, sql: str) -> list[dict[str, Any]]:
        return list(self.wh.query(sql.format(schema=self.wh.audit_schema)))


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    secrets.clear()
    with running_sandbox() as sb:
        yield sb


def fresh(stack: FaultStack, syncs: list[str]) -> None:
    """Empty CRMs, forgotten state: the syncs start from nothing."""
    stack.sandbox.salesforce.reset()
    stack.sandbox.hubspot.reset()
    stack.sandbox.hubspot.add_oauth_app(*OAUTH)
    # a 1 s rate window: after a 429 the pacer waits out the window the headers announce
    stack.sandbox.hubspot.set_rate_limit(190, 1.0)
    wh = stack.wh
    if True:
        for name in syncs:
            wh.reset(name)
            wh.execute(f"delete from {wh.table('dbt_sync_failures')} where sync_name = {wh._lit(name)}")
            wh.execute(f"delete from {wh.table('dbt_sync_locks')} where sync_name = {wh._lit(name)}")


MODEL_ACCOUNTS = {
    "A-1001", "A-1002", "A-1003", "A-1004", "A-1005", "A-1006",
}


def crm_keys(stack: Stack, sync: str) -> list[str]:
    """Record keys in the CRM that a sync writes to (with duplicates, if any)."""
    sf, hs = stack.sandbox.salesforce, stack.sandbox.hubspot
    if sync.startswith(("faults_sf", "accounts_to_salesforce")):
        return sorted(str(r["External_Id__c"]) for r in sf.records("Account"))
    if sync.startswith(("faults_hs", "accounts_to_hubspot")):
        return sorted(str(r["properties"]["company_key"]) for r in hs.records("companies"))
    if sync == "contacts_to_hubspot":
        return sorted(str(r["properties"]["contact_key"]) for r in hs.records("contacts"))
    if sync == "contacts_to_salesforce":
        return sorted(str(r["External_Id__c"]) for r in sf.records("Contact"))
    if sync == "deals_to_salesforce":
        return sorted(str(r["External_Id__c"]) for r in sf.records("Opportunity"))
    raise KeyError(sync)


def state_keys(stack: Stack, sync: str) -> list[str]:
    rows = stack.query(f"select record_key from {{schema}}.dbt_sync_state where sync_name = '{sync}'")
    return sorted(str(r["record_key"]) for r in rows)


def open_failures(stack: Stack, sync: str) -> dict[str, str]:
    rows = stack.query(
        f"select record_key, error_code from {{schema}}.dbt_sync_open_failures where sync_name = '{sync}'"
    )
    return {str(r["record_key"]): str(r["error_code"]) for r in rows}


# -- the matrix ----------------------------------------------------------------------------


def sf(stack: Stack) -> Any:
    return stack.sandbox.salesforce


def hs(stack: Stack) -> Any:
    return stack.sandbox.hubspot


def _set(obj_fn: Callable[[Stack], Any], attr: str, value: Any) -> Callable[[Stack], None]:
    return lambda s: setattr(obj_fn(s).faults, attr, value)


@dataclass
class Case:
    id: str
    sync: str
    object_name: str
    at: int
    arm: Callable[[Stack], None]
    disarm: Callable[[Stack], None] | None = None
    #: a (method, path part, status) the emulator's request log must show, proving the fault fired
    seen: tuple[str, int] | None = None
    min_retries: int = 0
    #: api_usage counter that must have moved instead of (or besides) retries
    usage: tuple[str, int] | None = None
    upstream: list[str] = field(default_factory=list)
    #: record failures that are not caused by the fault (bad rows of the model)
    known_failures: dict[str, str] = field(default_factory=dict)
    #: the sync must not take longer (a server hint is honoured, not a whole rate window)
    max_seconds: float | None = None


TRANSIENT = [
    # Salesforce, Collections (2 records a batch, 3 batches)
    Case("sf-latency", "faults_sf", "Account", 1, _set(sf, "latency", 0.05), _set(sf, "latency", 0.0)),
    # the session is made by the upstream sync: it expires right before this sync's first request
    Case("sf-401-first", "contacts_to_salesforce", "Contact", 1, lambda s: sf(s).faults.expire_sessions(),
         seen=("/services/data/", 401), usage=("reauthentications", 1), upstream=["accounts_to_salesforce"],
         known_failures={"C-2006": "INVALID_EMAIL_ADDRESS", "C-2007": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"}),
    Case("sf-401-mid", "faults_sf", "Account", 2, lambda s: sf(s).faults.expire_sessions(),
         seen=("/services/data/", 401), usage=("reauthentications", 1)),
    Case("sf-403-concurrent-first", "faults_sf", "Account", 1, _set(sf, "concurrent_limit", 0),
         _set(sf, "concurrent_limit", None), seen=("composite", 403), min_retries=1),
    Case("sf-403-concurrent-mid", "faults_sf", "Account", 2, _set(sf, "concurrent_limit", 0),
         _set(sf, "concurrent_limit", None), seen=("composite", 403), min_retries=1),
    # the first request of a Salesforce sync is its login (made on the first write)
    Case("sf-500-first", "faults_sf", "Account", 1,
         lambda s: sf(s).faults.fail_next(2, status=500, path_contains="composite"),
         seen=("composite", 500), min_retries=2),
    Case("sf-503-login", "faults_sf", "Account", 1,
         lambda s: sf(s).faults.fail_next(1, status=503, path_contains="/Soap/"), seen=("/Soap/", 503)),
    Case("sf-503-mid", "faults_sf", "Account", 2, lambda s: sf(s).faults.fail_next(1, status=503),
         seen=("composite", 503), min_retries=1),
    Case("sf-timeout-mid", "faults_sf", "Account", 2, lambda s: sf(s).faults.timeout_next(1, seconds=4),
         min_retries=1),
    Case("sf-drop-login", "faults_sf", "Account", 1, lambda s: sf(s).faults.drop_next(1),
         seen=("/Soap/", 0), min_retries=1),
    Case("sf-drop-first", "faults_sf", "Account", 1, lambda s: sf(s).faults.drop_next(1, path_contains="composite"),
         seen=("composite", 0), min_retries=1),
    Case("sf-drop-mid", "faults_sf", "Account", 2, lambda s: sf(s).faults.drop_next(2),
         seen=("composite", 0), min_retries=2),
    # Salesforce, Bulk API 2.0 (3 records a batch over a threshold of 2: 2 jobs)
    Case("sf-bulk-failed-first", "faults_sf_bulk", "Account", 1,
         lambda s: sf(s).faults.bulk_job_fails("InternalServerError : boom"), min_retries=1, usage=("bulk_jobs", 3)),
    Case("sf-bulk-failed-mid", "faults_sf_bulk", "Account", 2,
         lambda s: sf(s).faults.bulk_job_fails("InternalServerError : boom"), min_retries=1, usage=("bulk_jobs", 3)),
    Case("sf-bulk-401-mid", "faults_sf_bulk", "Account", 2, lambda s: sf(s).faults.expire_sessions(),
         seen=("jobs/ingest", 401), usage=("reauthentications", 1)),
    Case("sf-bulk-503-mid", "faults_sf_bulk", "Account", 2,
         lambda s: sf(s).faults.fail_next(1, status=503, path_contains="jobs/ingest"),
         seen=("jobs/ingest", 503), min_retries=1),
    # HubSpot (2 records a batch)
    Case("hs-latency", "faults_hs", "companies", 1, _set(hs, "latency", 0.05), _set(hs, "latency", 0.0)),
    Case("hs-401-oauth-mid", "faults_hs_oauth", "companies", 2, lambda s: hs(s).expire_access_tokens(),
         seen=("companies", 401), usage=("oauth_refreshes", 2)),
    Case("hs-429-retry-after-first", "faults_hs", "companies", 1,
         lambda s: hs(s).faults.rate_limit_next(1, retry_after=1), seen=("companies", 429), min_retries=1,
         max_seconds=5),
    Case("hs-429-retry-after-mid", "faults_hs", "companies", 2,
         lambda s: hs(s).faults.rate_limit_next(2, retry_after=1), seen=("companies", 429), min_retries=2,
         max_seconds=6),
    Case("hs-429-no-retry-after-mid", "faults_hs", "companies", 2,
         lambda s: hs(s).faults.rate_limit_next(1), seen=("companies", 429), min_retries=1),
    Case("hs-429-secondly-first", "faults_hs", "companies", 1,
         lambda s: hs(s).faults.rate_limit_next(1, policy="SECONDLY"), seen=("companies", 429), min_retries=1),
    Case("hs-502-first", "faults_hs", "companies", 1, lambda s: hs(s).faults.fail_next(1, status=502),
         seen=("companies", 502), min_retries=1),
    Case("hs-500-mid", "faults_hs", "companies", 2, lambda s: hs(s).faults.fail_next(2, status=500),
         seen=("companies", 500), min_retries=2),
    Case("hs-timeout-mid", "faults_hs", "companies", 2, lambda s: hs(s).faults.timeout_next(1, seconds=4),
         min_retries=1),
    Case("hs-drop-first", "faults_hs", "companies", 1, lambda s: hs(s).faults.drop_next(1),
         seen=("companies", 0), min_retries=1),
    Case("hs-drop-mid", "faults_hs", "companies", 2, lambda s: hs(s).faults.drop_next(1),
         seen=("companies", 0), min_retries=1),
    Case("hs-423-mid", "faults_hs", "companies", 2, lambda s: hs(s).faults.locked_next(1),
         seen=("companies", 423), min_retries=1),
    # HubSpot association step, after the contacts of the batch are written
    Case("hs-assoc-429", "contacts_to_hubspot", "contacts", 1,
         lambda s: hs(s).faults.rate_limit_next(1, path_contains="associations"),
         seen=("associations", 429), min_retries=1, upstream=["accounts_to_hubspot"],
         known_failures={"C-2006": "INVALID_EMAIL"}),
    Case("hs-assoc-503", "contacts_to_hubspot", "contacts", 1,
         lambda s: hs(s).faults.fail_next(1, status=503, path_contains="associations"),
         seen=("associations", 503), min_retries=1, upstream=["accounts_to_hubspot"],
         known_failures={"C-2006": "INVALID_EMAIL"}),
    Case("hs-assoc-drop", "contacts_to_hubspot", "contacts", 1,
         lambda s: hs(s).faults.drop_next(1, path_contains="associations"),
         seen=("associations", 0), min_retries=1, upstream=["accounts_to_hubspot"],
         known_failures={"C-2006": "INVALID_EMAIL"}),
]

CONTACT_KEYS = {"C-2001", "C-2002", "C-2003", "C-2004", "C-2005", "C-2006", "C-2007", "C-2008"}


def model_keys(sync: str) -> set[str]:
    return CONTACT_KEYS if sync.startswith("contacts") else MODEL_ACCOUNTS


def run_case(stack: FaultStack, armings: list[Arming], case: Case) -> RunResult:
    syncs = [*case.upstream, case.sync]
    fresh(stack, syncs)
    disarm = case.disarm
    armings.append(Arming(case.object_name, case.at, lambda: case.arm(stack),
                          (lambda: disarm(stack)) if disarm is not None else None))
    result = stack.run(all_syncs=True, select=syncs, threads=1, recapture=True)
    assert armings[-1].armed, f"the fault of {case.id} was never armed"
    return result


def request_log(stack: Stack, sync: str) -> list[tuple[str, str, int]]:
    emu = stack.sandbox.salesforce if "sf" in sync or "salesforce" in sync else stack.sandbox.hubspot
    return list(emu.request_log)


def _params(cases: list[Case]) -> list[Any]:
    return [pytest.param(c, id=c.id) for c in cases]


@pytest.mark.parametrize("case", _params(TRANSIENT))
def test_transient_fault_recovers_inside_the_run(stack: FaultStack, arming: list[Arming], case: Case) -> None:
    result = run_case(stack, arming, case)
    res = result.sync(case.sync)
    expected = model_keys(case.sync)
    confirmed = expected - set(case.known_failures)
    assert res.status == ("partial" if case.known_failures else "success"), (res.status, res.message)
    assert res.failed == len(case.known_failures)
    # a write retried after the CRM applied it reports its records as updated
    assert res.created + res.updated == len(confirmed)
    # the CRM holds each model row once; the state has exactly the confirmed records
    crm = crm_keys(stack, case.sync)
    assert crm == sorted(confirmed)
    assert state_keys(stack, case.sync) == sorted(confirmed)
    assert open_failures(stack, case.sync) == case.known_failures
    assert res.retries >= case.min_retries
    if case.seen is not None:
        part, status = case.seen
        assert any(part in path and code == status for _, path, code in request_log(stack, case.sync)), (
            case.seen, request_log(stack, case.sync))
    if case.usage is not None:
        counter, at_least = case.usage
        assert int(res.api_usage.get(counter, 0)) >= at_least, res.api_usage
    if case.max_seconds is not None:
        assert res.duration_seconds < case.max_seconds
    if case.sync == "contacts_to_hubspot":
        # the associations the fault interrupted were made anyway
        header, rows = stack.project.read_seed("raw_contacts")
        account_of = {r[0]: r[header.index("account_id")] for r in rows}
        companies = {r["properties"]["company_key"]: r["id"] for r in hs(stack).records("companies")}
        for contact in hs(stack).records("contacts"):
            key = contact["properties"]["contact_key"]
            links = {(t, i) for t, i, _ in hs(stack).associations("contacts", contact["id"])}
            assert ("companies", companies[account_of[key]]) in links, key


# -- faults no retry can fix ----------------------------------------------------------------


@dataclass
class Fatal:
    id: str
    syncs: list[str]
    failing: str
    object_name: str
    at: int
    arm: Callable[[Stack], None]
    clear: Callable[[Stack], None]
    code: str
    #: records the CRM confirmed before the fault (their state advanced)
    confirmed_before: int
    #: syncs skipped because the failing one is upstream of them
    skipped: dict[str, str] = field(default_factory=dict)


FATAL = [
    Fatal("sf-daily-first", ["accounts_to_salesforce", "contacts_to_salesforce", "deals_to_salesforce"],
          "accounts_to_salesforce", "Account", 1, _set(sf, "daily_limit_exceeded", True),
          _set(sf, "daily_limit_exceeded", False), "DAILY_LIMIT_EXCEEDED", 0,
          skipped={"contacts_to_salesforce": "upstream sync accounts_to_salesforce failed",
                   "deals_to_salesforce": "upstream sync accounts_to_salesforce failed"}),
    Fatal("sf-daily-mid", ["faults_sf"], "faults_sf", "Account", 2, _set(sf, "daily_limit_exceeded", True),
          _set(sf, "daily_limit_exceeded", False), "DAILY_LIMIT_EXCEEDED", 2),
    Fatal("sf-daily-bulk-mid", ["faults_sf_bulk"], "faults_sf_bulk", "Account", 2,
          _set(sf, "daily_limit_exceeded", True), _set(sf, "daily_limit_exceeded", False),
          "DAILY_LIMIT_EXCEEDED", 3),
    Fatal("hs-daily-mid", ["accounts_to_hubspot", "contacts_to_hubspot", "deals_to_hubspot"],
          "accounts_to_hubspot", "companies", 1,
          lambda s: hs(s).faults.rate_limit_next(50, policy="DAILY"), lambda s: hs(s).faults.clear(),
          "DAILY_LIMIT_EXCEEDED", 0,
          skipped={"contacts_to_hubspot": "upstream sync accounts_to_hubspot failed",
                   "deals_to_hubspot": "upstream sync accounts_to_hubspot failed"}),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in FATAL])
def test_fatal_fault_stops_the_sync_and_the_next_run_converges(
    stack: FaultStack, arming: list[Arming], case: Fatal
) -> None:
    fresh(stack, case.syncs)
    arming.append(Arming(case.object_name, case.at, lambda: case.arm(stack)))
    result = stack.run(all_syncs=True, select=case.syncs, threads=1, recapture=True)
    assert arming[-1].armed
    failed = result.sync(case.failing)
    assert failed.status == "error" and failed.error_codes == {case.code: 1}, (failed.status, failed.message)
    assert result.exit_code == 2
    for name, reason in case.skipped.items():
        skipped = result.sync(name)
        assert skipped.status == "skipped" and (skipped.message or "").startswith(reason), skipped.message
        assert state_keys(stack, name) == []
    # only the batches the CRM confirmed before the fault moved the state, and they are in the CRM once
    before = state_keys(stack, case.failing)
    assert len(before) == case.confirmed_before
    assert set(before) <= set(crm_keys(stack, case.failing))
    assert open_failures(stack, case.failing) == {}  # no record is blamed for a sync-wide stop
    runs = stack.query(
        f"select status, error_message from {{schema}}.dbt_sync_runs where run_id = '{result.run_id}' "
        f"and sync_name = '{case.failing}'"
    )
    assert [r["status"] for r in runs] == ["error"] and "limit" in str(runs[0]["error_message"]).lower()

    # the limit resets: the next run (no rebuild, no recapture) picks up where the first stopped
    case.clear(stack)
    again = stack.run(all_syncs=True, select=case.syncs, threads=1)
    resumed = again.sync(case.failing)
    assert resumed.status == "success" and resumed.planned == len(MODEL_ACCOUNTS) - case.confirmed_before
    for name in case.syncs:
        res = again.sync(name)
        assert res.status in ("success", "partial"), (name, res.status, res.message)
        crm = crm_keys(stack, name) if name in ("faults_sf", "faults_sf_bulk") or "accounts" in name or name in (
            "contacts_to_hubspot", "contacts_to_salesforce", "deals_to_salesforce") else None
        state = state_keys(stack, name)
        if crm is not None:
            assert len(crm) == len(set(crm)), f"{name} duplicated records"
            assert set(state) == set(crm), name
        assert set(state) | set(open_failures(stack, name)) == set(
            model_keys(name) if not name.startswith("deals") else DEAL_KEYS), name


DEAL_KEYS = {"D-3001", "D-3002", "D-3003", "D-3004"}


def test_whole_sync_failure_on_one_destination_does_not_skip_a_sync_to_the_other(
    stack: FaultStack, arming: list[Arming]
) -> None:
    """Regression: a HubSpot daily limit on accounts_to_hubspot skipped contacts_to_salesforce.

    dim_contacts depends on dim_accounts in the dbt DAG, but a Salesforce sync
    needs nothing HubSpot holds: it waits only for the syncs it needs
    (accounts_to_salesforce, for its AccountId lookup).
    """
    syncs = ["accounts_to_hubspot", "accounts_to_salesforce", "contacts_to_hubspot", "contacts_to_salesforce"]
    fresh(stack, syncs)
    arming.append(Arming("companies", 1, lambda: hs(stack).faults.rate_limit_next(50, policy="DAILY")))
    try:
        result = stack.run(all_syncs=True, select=syncs, threads=1, recapture=True)
    finally:
        hs(stack).faults.clear()
    assert arming[-1].armed
    failed = result.sync("accounts_to_hubspot")
    assert failed.status == "error" and failed.error_codes == {"DAILY_LIMIT_EXCEEDED": 1}
    # the HubSpot sync that associates with companies is skipped, with the cause
    skipped = result.sync("contacts_to_hubspot")
    assert skipped.status == "skipped" and (skipped.message or "").startswith(
        "upstream sync accounts_to_hubspot failed"), skipped.message
    # the Salesforce syncs run as if HubSpot were not there
    for name in ("accounts_to_salesforce", "contacts_to_salesforce"):
        res = result.sync(name)
        assert res.status in ("success", "partial"), (name, res.status, res.message)
        assert res.created > 0 and set(state_keys(stack, name)) <= set(crm_keys(stack, name))
    assert set(state_keys(stack, "contacts_to_salesforce")) | set(open_failures(stack, "contacts_to_salesforce")) == (
        model_keys("contacts_to_salesforce"))
    # regression: the console's last line said "skipped 0" (records) under a skipped sync
    last = render_summary(result).splitlines()[-1]
    assert last.startswith("Done. records: planned ") and "1 error" in last and "1 skipped" in last, last


# -- the warehouse connection dies between two batches (PostgreSQL) -------------------------


def test_warehouse_connection_lost_between_batches(
    dbt_project_factory: Any, postgres_server: Any, sandbox: Sandbox, arming: list[Arming]
) -> None:
    project: DbtProject = dbt_project_factory("postgres", "engine_faults", extra_files=fault_files())
    stack = Stack(project, sandbox)
    fresh_crm(stack)
    database = project.env["DBT_SYNC_PG_DBNAME"]
    killed: list[int] = []

    def terminate_engine_backends() -> None:
        # the superuser connection ends every session of the project's database but its own
        postgres_server.psql(
            "select pg_terminate_backend(pid) from pg_stat_activity "
            f"where datname = '{database}' and pid <> pg_backend_pid()"
        )
        killed.append(1)

    arming.append(Arming("Account", 2, terminate_engine_backends))
    first = stack.run(all_syncs=True, select=["faults_sf"], threads=1, recapture=True)
    assert killed
    res = first.sync("faults_sf")
    # the engine reconnects: the batch sent while the connection was down is committed on a new one
    assert res.status == "success", (res.status, res.message)
    assert crm_keys(stack, "faults_sf") == sorted(MODEL_ACCOUNTS)
    assert state_keys(stack, "faults_sf") == sorted(MODEL_ACCOUNTS)
    again = stack.run(all_syncs=True, select=["faults_sf"], threads=1)
    assert again.sync("faults_sf").planned == 0


def fresh_crm(stack: Stack) -> None:
    stack.sandbox.salesforce.reset()
    stack.sandbox.hubspot.reset()


def test_retry_after_wins_over_the_window_estimate() -> None:
    """A 429 says 0 left and Retry-After 1: the next request goes after ~1 s, not a whole 10 s window."""
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(Limits(requests=190, per_seconds=10.0), clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        limiter.acquire()
    limiter.observe(remaining=0)
    limiter.pause(1.0)
    for _ in range(5):
        limiter.acquire()
    assert sum(slept) == pytest.approx(1.0)
    # the server's next headers still pace us: another 0 means another wait
    limiter.observe(remaining=0)
    limiter.acquire()
    assert sum(slept) > 1.0
