"""A small model of people and companies synced to both CRMs, for the identity tests.

The models are views over tables in the ``identity_src`` schema, so a test
changes the model with one SQL statement instead of a dbt run; each run
recaptures the models with the same macro the post-hook calls, as a ``dbt
run`` would have. The project is loaded and the warehouse opened once per
test, and runs go through the engine as ``dbt_sync.run`` does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from dbt_sync import api, secrets
from dbt_sync.engine.context import RunOptions
from dbt_sync.engine.progress import Progress
from dbt_sync.engine.results import RunResult
from dbt_sync.engine.scheduler import Engine
from dbt_sync.project import ProjectOptions, load_project
from dbt_sync.warehouse import Warehouse
from dbt_sync_emulators.sandbox import Sandbox, running_sandbox
from tests.engine.conftest import FAST_RETRY
from tests.engine.test_faults import fault_config
from tests.fixtures.warehouses import DbtProject

PEOPLE_COLUMNS = ("person_id", "email", "first_name", "last_name", "company_id")
COMPANY_COLUMNS = ("company_id", "name")

_PEOPLE_FIELDS_HS = "{email: email, firstname: first_name, lastname: last_name}"
_PEOPLE_FIELDS_SF = "{LastName: last_name, FirstName: first_name, Email: email, External_Id__c: email}"

IDENTITY_YML = f"""
version: 2
models:
  - name: id_people
    config:
      meta:
        dbt_sync:
          - name: hs_people_mirror
            destination: hubspot
            object: contacts
            mode: mirror
            primary_key: person_id
            match: email
            delete_threshold: 1.0
            fields: {_PEOPLE_FIELDS_HS}
          - name: hs_people_upsert
            destination: hubspot
            object: contacts
            mode: upsert
            primary_key: person_id
            match: email
            fields: {_PEOPLE_FIELDS_HS}
            associations:
              - {{to: companies, column: company_id, match: company_key}}
          - name: hs_people_create
            destination: hubspot
            object: contacts
            mode: create
            primary_key: person_id
            match: email
            fields: {_PEOPLE_FIELDS_HS}
          - name: sf_people_mirror
            destination: salesforce
            object: Contact
            mode: mirror
            primary_key: person_id
            match: External_Id__c
            delete_threshold: 1.0
            fields: {_PEOPLE_FIELDS_SF}
          - name: sf_people_update
            destination: salesforce
            object: Contact
            mode: update
            primary_key: person_id
            match: External_Id__c
            fields: {_PEOPLE_FIELDS_SF}
          - name: sf_people_create
            destination: salesforce
            object: Contact
            mode: create
            primary_key: person_id
            match: External_Id__c
            fields: {_PEOPLE_FIELDS_SF}
          - name: sf_people_create_nomatch
            destination: salesforce
            object: Contact
            mode: create
            primary_key: person_id
            batch_size: 5
            fields: {{LastName: last_name, FirstName: first_name, Email: email}}
    columns:
      - {{name: person_id, data_type: varchar}}
      - {{name: email, data_type: varchar}}
      - {{name: first_name, data_type: varchar}}
      - {{name: last_name, data_type: varchar}}
      - {{name: company_id, data_type: varchar}}
  - name: id_companies
    config:
      meta:
        dbt_sync:
          - name: hs_companies
            destination: hubspot
            object: companies
            mode: upsert
            primary_key: company_id
            match: company_key
            fields: {{company_key: company_id, name: name}}
          - name: hs_companies_mirror
            destination: hubspot
            object: companies
            mode: mirror
            primary_key: company_id
            match: company_key
            delete_threshold: 0.3
            fields: {{company_key: company_id, name: name}}
          - name: hs_companies_create_nomatch
            destination: hubspot
            object: companies
            mode: create
            primary_key: company_id
            batch_size: 5
            fields: {{name: name}}
    columns:
      - {{name: company_id, data_type: varchar}}
      - {{name: name, data_type: varchar}}
"""

SYNCS = (
    "hs_people_mirror", "hs_people_upsert", "hs_people_create", "sf_people_mirror", "sf_people_update",
    "sf_people_create", "sf_people_create_nomatch", "hs_companies", "hs_companies_mirror",
    "hs_companies_create_nomatch",
)

IDENTITY_FILES = {
    "models/identity/id_people.sql": "{{ config(materialized='view') }}\nselect * from identity_src.people\n",
    "models/identity/id_companies.sql": "{{ config(materialized='view') }}\nselect * from identity_src.companies\n",
    "models/identity/identity.yml": IDENTITY_YML,
    "dbt_sync.yml": fault_config(),
}


def _literal(value: Any) -> str:
    return "null" if value is None else "'" + str(value).replace("'", "''") + "'"


class IdentityStack:
    """Both emulators, one open warehouse and the loaded project; helpers to edit the model and look
    into both CRMs. Runs go through the engine as ``dbt_sync.run`` does, without reloading the project."""

    def __init__(self, project: DbtProject, sandbox: Sandbox, wh: Warehouse, loaded: Any) -> None:
        self.project = project
        self.sandbox = sandbox
        self.hs = sandbox.hubspot
        self.sf = sandbox.salesforce
        self.wh = wh
        self.loaded = loaded

    # -- the model -------------------------------------------------------------

    def sql(self, *statements: str) -> None:
        for statement in statements:
            self.wh.execute(statement)

    def set_people(self, rows: Sequence[Sequence[Any]]) -> None:
        self._set("people", PEOPLE_COLUMNS, rows)

    def set_companies(self, rows: Sequence[Sequence[Any]]) -> None:
        self._set("companies", COMPANY_COLUMNS, rows)

    def _set(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        statements = [f"delete from identity_src.{table}"]
        if rows:
            values = ", ".join("(" + ", ".join(_literal(v) for v in row) + ")" for row in rows)
            statements.append(f"insert into identity_src.{table} ({', '.join(columns)}) values {values}")
        self.sql(*statements)

    # -- runs ------------------------------------------------------------------

    def run(self, *syncs: str, recapture: bool = True, **options: Any) -> RunResult:
        """``dbt-sync run`` of the given syncs, after a capture (what the post-hook does on ``dbt run``);
        ``recapture=False`` is a plain rerun without a new build."""
        plan = api.plan_with_retries(self.loaded, self.wh, list(syncs), (), True)
        engine = Engine(
            plan=plan,
            warehouse=self.wh,
            config=self.loaded.config,
            all_specs=self.loaded.specs,
            options=RunOptions(threads=4, recapture=recapture, retry_policy=FAST_RETRY, **options),
            progress=Progress.silent(),
        )
        return engine.execute()

    def query(self, sql: str) -> list[dict[str, Any]]:
        return self.wh.query(sql.format(schema=self.wh.audit_schema))

    def state(self, sync: str) -> dict[str, str | None]:
        rows = self.query(
            f"select record_key, destination_id from {{schema}}.dbt_sync_state where sync_name = '{sync}'"
        )
        return {str(r["record_key"]): r["destination_id"] for r in rows}

    def open_failures(self, sync: str) -> dict[str, str]:
        rows = self.query(
            f"select record_key, error_code from {{schema}}.dbt_sync_open_failures where sync_name = '{sync}'"
        )
        return {str(r["record_key"]): str(r["error_code"]) for r in rows}

    # -- the CRMs ----------------------------------------------------------------

    def hs_live(self, object_type: str) -> list[dict[str, Any]]:
        return self.hs.records(object_type)

    def hs_archive(self, object_type: str, object_id: str) -> None:
        """What a person does in HubSpot: archive one record."""
        otype = self.hs.store.resolve(object_type)
        with self.hs.store.lock:
            self.hs.store.archive(otype, self.hs.store.objects[otype.type_id][str(object_id)])

    def sf_live(self, object_name: str) -> list[dict[str, Any]]:
        return self.sf.records(object_name)

    def sf_delete(self, object_name: str, record_id: str) -> None:
        """What a person does in Salesforce: delete one record (it goes to the recycle bin)."""
        meta = self.sf.store.meta(object_name)
        with self.sf.store.lock:
            outcome = self.sf.store.delete(meta, record_id)
        assert outcome.success, outcome.errors

    def reset(self) -> None:
        """Empty CRMs, no state, no audit history: each test starts from nothing."""
        self.hs.reset()
        self.sf.reset()
        wh = self.wh
        wh.ensure_tables()
        for name in SYNCS:
            wh.reset(name)
        for table in ("dbt_sync_failures", "dbt_sync_locks", "dbt_sync_runs", "dbt_sync_inflight"):
            if table in _tables(wh):
                wh.execute(f"delete from {wh.table(table)}")
        wh.execute("delete from identity_src.people")
        wh.execute("delete from identity_src.companies")


def _tables(wh: Warehouse) -> set[str]:
    with wh._transaction():
        return wh._table_names()


def build_identity_project(dbt_project_factory: Any, target: str, name: str = "identity") -> DbtProject:
    project: DbtProject = dbt_project_factory(target, name, build=False, extra_files=IDENTITY_FILES)
    if not (project.path / "target" / "identity_built").exists():
        with project.warehouse() as wh:
            wh.execute("create schema if not exists identity_src")
            wh.execute(
                "create table if not exists identity_src.people (person_id varchar(64), email varchar(256), "
                "first_name varchar(256), last_name varchar(256), company_id varchar(64))"
            )
            wh.execute(
                "create table if not exists identity_src.companies (company_id varchar(64), name varchar(256))"
            )
        project.dbt("run", "-s", "path:models/identity")
        (project.path / "target" / "identity_built").write_text("built\n")
    return project


@contextmanager
def identity_stack(dbt_project_factory: Any, target: str, name: str = "identity") -> Iterator[IdentityStack]:
    """The built identity project with both emulators and its warehouse open; everything reset."""
    project = build_identity_project(dbt_project_factory, target, name)
    secrets.clear()
    with running_sandbox() as sandbox, project.environ(sandbox.env()):
        options = ProjectOptions(project_dir=project.path, profiles_dir=project.path)
        loaded = load_project(options)
        with api.open_warehouse(options) as wh:
            ids = IdentityStack(project, sandbox, wh, loaded)
            ids.reset()
            yield ids
