"""The benchmark dbt project, generated under bench/data/, and the warehouses it runs on.

Models (all from ``generate_series``, so no data files):

``bench_contacts`` (``var('bench_rows')``, default 1,000,000) -> Salesforce Contact, mirror by External_Id__c,
    Bulk above 2,000. (A mirror delete by ``match`` fails in the product today; bench.sync_child applies the
    proposed fix in its own process, see docs/benchmarks.md, "Product issues".)
    Version ``var('bench_version')`` v (0 = initial) changes 1% of rows (``i % 100 = v % 100``),
    appends 0.1% new rows and removes 0.1% (``i % 1000 = 50 + v``) relative to version v - 1,
    so a steady-state changeset is exactly 1.2% of ``bench_rows`` (v from 1 to 49).
``bench_hs`` (``var('bench_hs_rows')``) -> HubSpot contacts, upsert by email.
``bench_rest`` (``var('bench_rest_rows')``) -> Salesforce Contact through sObject Collections only
    (destination ``salesforce_rest``: Bulk off, ``concurrency`` set by ``set_rest_concurrency``).
``bench_mem`` (``var('bench_mem_rows')``) -> Salesforce Contact, upsert, for the memory scenario.

Every model carries ``{{ dbt_sync.capture() }}`` as post-hook unless ``var('bench_hook')`` is false,
which is how the hook overhead is measured on the same model.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA = REPO_ROOT / "bench" / "data"
DBT = str(Path(sys.executable).with_name("dbt"))
PROJECT_NAME = "dbt_sync_bench"

DBT_PROJECT_YML = f"""
name: {PROJECT_NAME}
version: "1.0.0"
config-version: 2
profile: {PROJECT_NAME}
model-paths: ["models"]
target-path: "target"
clean-targets: ["target", "dbt_packages"]
models:
  {PROJECT_NAME}:
    +materialized: table
    +post-hook: "{{{{ dbt_sync.capture() if var('bench_hook', true) else '' }}}}"
"""

PROFILES_YML = f"""
{PROJECT_NAME}:
  target: "{{{{ env_var('DBT_SYNC_TARGET', 'duckdb') }}}}"
  outputs:
    duckdb:
      type: duckdb
      path: "{{{{ env_var('DBT_SYNC_DUCKDB_PATH', 'bench.duckdb') }}}}"
      schema: analytics
      threads: 4
    postgres:
      type: postgres
      host: "{{{{ env_var('DBT_SYNC_PG_HOST', '127.0.0.1') }}}}"
      port: "{{{{ env_var('DBT_SYNC_PG_PORT', '5432') | as_number }}}}"
      user: "{{{{ env_var('DBT_SYNC_PG_USER', 'postgres') }}}}"
      password: "{{{{ env_var('DBT_SYNC_PG_PASSWORD', '') }}}}"
      dbname: "{{{{ env_var('DBT_SYNC_PG_DBNAME', 'dbt_sync') }}}}"
      schema: analytics
      threads: 4
"""

DBT_SYNC_YML = """
version: 1
destinations:
  salesforce:
    type: salesforce
    auth: password
    username: "{{ env_var('DBT_SYNC_SF_USERNAME') }}"
    password: "{{ env_var('DBT_SYNC_SF_PASSWORD') }}"
    security_token: ""
    login_url: "{{ env_var('DBT_SYNC_SF_LOGIN_URL') }}"
    ca_bundle: "{{ env_var('DBT_SYNC_SF_CA_BUNDLE') }}"
  salesforce_rest:
    type: salesforce
    auth: password
    username: "{{ env_var('DBT_SYNC_SF_USERNAME') }}"
    password: "{{ env_var('DBT_SYNC_SF_PASSWORD') }}"
    security_token: ""
    login_url: "{{ env_var('DBT_SYNC_SF_LOGIN_URL') }}"
    ca_bundle: "{{ env_var('DBT_SYNC_SF_CA_BUNDLE') }}"
    bulk_threshold: false
    concurrency: __CONCURRENCY__
  hubspot:
    type: hubspot
    access_token: "{{ env_var('DBT_SYNC_HUBSPOT_TOKEN') }}"
    host: "{{ env_var('DBT_SYNC_HUBSPOT_HOST') }}"
    tier: professional
"""

#: one row per i; ``v`` is the version; rows i < n change when i % 100 = u % 100 for some version u <= v
MODEL_SQL = """
{{% set n = var('{rows_var}', {default_rows}) | int %}}
{{% set v = var('bench_version', 0) | int %}}
{{% set total = n + (n // 1000) * v %}}
with ids as (
    select i from generate_series(0, {{{{ total - 1 }}}}) as t(i)
),
versioned as (
    select
        i,
        case when i < {{{{ n }}}} and {{{{ v }}}} - ((({{{{ v }}}} - i % 100) % 100 + 100) % 100) >= 1
             then {{{{ v }}}} - ((({{{{ v }}}} - i % 100) % 100 + 100) % 100)
             else 0 end as rev
    from ids
    where not (i < {{{{ n }}}} and i % 1000 > 50 and i % 1000 <= 50 + {{{{ v }}}})
)
select
    'C' || lpad(cast(i as varchar), 9, '0') as contact_id,
    'First' || cast(i % 997 as varchar) || 'r' || cast(rev as varchar) as first_name,
    'Last' || cast(i as varchar) as last_name,
    'c' || cast(i as varchar) || '@example.com' as email,
    cast((i % 10000) / 100.0 as numeric(8, 2)) as lead_score,
    'not synced ' || cast(i % 7 as varchar) as notes
from versioned
"""

SF_FIELDS = """            fields:
              External_Id__c: contact_id
              FirstName: first_name
              LastName: last_name
              Email: email
              Lead_Score__c: lead_score"""

MODELS_YML = f"""
version: 2
models:
  - name: bench_contacts
    config:
      meta:
        dbt_sync:
          - name: contacts_sf
            destination: salesforce
            object: Contact
            mode: mirror
            primary_key: contact_id
            match: External_Id__c
{SF_FIELDS}
  - name: bench_mem
    config:
      meta:
        dbt_sync:
          - name: mem_sf
            destination: salesforce
            object: Contact
            mode: upsert
            primary_key: contact_id
            match: External_Id__c
{SF_FIELDS}
  - name: bench_rest
    config:
      meta:
        dbt_sync:
          - name: rest_sf
            destination: salesforce_rest
            object: Contact
            mode: upsert
            primary_key: contact_id
            match: External_Id__c
{SF_FIELDS}
  - name: bench_hs
    config:
      meta:
        dbt_sync:
          - name: contacts_hs
            destination: hubspot
            object: contacts
            mode: upsert
            primary_key: contact_id
            match: email
            fields:
              email: email
              contact_key: contact_id
              firstname: first_name
              lastname: last_name
              lead_score: lead_score
"""

MODELS = {
    "bench_contacts": ("bench_rows", 1_000_000),
    "bench_mem": ("bench_mem_rows", 10_000),
    "bench_rest": ("bench_rest_rows", 20_000),
    "bench_hs": ("bench_hs_rows", 100_000),
}


def expected_changes(rows: int, version: int = 1) -> dict[str, int]:
    """The changeset of version v against v - 1 (1 <= v <= 49), by op; exact for any ``rows``
    (1.2% of the model when ``rows`` is a multiple of 1,000)."""

    def count(modulus: int, residue: int) -> int:  # i in [0, rows) with i % modulus == residue
        return rows // modulus + (1 if rows % modulus > residue else 0)

    return {"update": count(100, version % 100), "insert": rows // 1000, "delete": count(1000, 50 + version)}


# -- PostgreSQL ---------------------------------------------------------------


@dataclass
class Postgres:
    host: str
    port: int
    datadir: Path
    socket_dir: Path
    run_as: str | None
    user: str = "dbt_sync"
    password: str = "dbt_sync_pw"

    def psql(self, sql: str, dbname: str = "postgres") -> None:
        import psycopg2

        conn = psycopg2.connect(host=str(self.socket_dir), port=self.port, user="postgres", dbname=dbname)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def create_database(self, name: str) -> str:
        self.psql(f'drop database if exists "{name}"')
        self.psql(f'create database "{name}" owner {self.user}')
        return name

    def stop(self) -> None:
        subprocess.run([_pg_bin("pg_ctl"), "-D", str(self.datadir), "-m", "fast", "stop"],
                       check=False, capture_output=True, user=self.run_as)
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    raise SystemExit(f"PostgreSQL binary {name!r} not found; run scripts/ensure-postgres")


def start_postgres() -> Postgres:
    """A throwaway server (initdb in a temp dir, free port, fsync off), as the test fixtures start."""
    import socket

    base = Path(tempfile.mkdtemp(prefix="dbt_sync_bench_pg_"))
    run_as = "postgres" if os.geteuid() == 0 else None
    datadir, socket_dir = base / "data", base / "sock"
    socket_dir.mkdir()
    if run_as:
        shutil.chown(base, run_as)
        shutil.chown(socket_dir, run_as)
        base.chmod(0o755)
    subprocess.run([_pg_bin("initdb"), "-D", str(datadir), "-U", "postgres", "--auth-local=trust",
                    "--auth-host=md5", "-E", "UTF8", "--locale=C"], check=True, capture_output=True, user=run_as)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    with open(datadir / "postgresql.conf", "a") as conf:
        conf.write(
            f"\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{socket_dir}'\n"
            "password_encryption = md5\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            "shared_buffers = 512MB\nwork_mem = 64MB\nmax_connections = 50\n"
        )
    with open(datadir / "pg_hba.conf", "w") as hba:
        hba.write("local all all trust\nhost all all 127.0.0.1/32 md5\n")
    subprocess.run([_pg_bin("pg_ctl"), "-D", str(datadir), "-l", str(base / "postgres.log"), "-w", "-t", "60",
                    "start"], check=True, capture_output=True, user=run_as)
    pg = Postgres("127.0.0.1", port, datadir, socket_dir, run_as)
    pg.psql(f"create role {pg.user} login createdb password '{pg.password}'")
    return pg


# -- the project ----------------------------------------------------------------


@dataclass
class BenchProject:
    path: Path
    target: str
    env: dict[str, str] = field(default_factory=dict)

    def full_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {**os.environ, **self.env, **(extra or {}), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}

    def dbt(self, *args: str, vars: dict[str, Any] | None = None, check: bool = True) -> tuple[float, str]:
        """Run dbt in a subprocess; (wall seconds, stdout)."""
        cmd = [DBT, *args, "--project-dir", str(self.path), "--profiles-dir", str(self.path)]
        if vars:
            cmd += ["--vars", json.dumps(vars)]
        started = time.perf_counter()
        proc = subprocess.run(cmd, cwd=self.path, env=self.full_env(), capture_output=True, text=True)
        wall = time.perf_counter() - started
        if check and proc.returncode != 0:
            raise RuntimeError(f"dbt {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
        return wall, proc.stdout

    def forget(self, sync: str, env: dict[str, str]) -> None:
        """``dbt-sync reset SYNC --yes``: what a team does after emptying the CRM, so that the next run is
        a true initial load (a full refresh alone keeps each key's record id, and with the emulator reset
        every send by id fails and is sent again as a create: twice the requests)."""
        cmd = [str(Path(DBT).with_name("dbt-sync")), "reset", sync, "--yes", "--project-dir", str(self.path),
               "--profiles-dir", str(self.path)]
        proc = subprocess.run(cmd, cwd=self.path, env=self.full_env(env), capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"dbt-sync reset {sync} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")

    def set_rest_concurrency(self, n: int) -> None:
        """Collections requests in flight at once for destination ``salesforce_rest``."""
        (self.path / "dbt_sync.yml").write_text(DBT_SYNC_YML.replace("__CONCURRENCY__", str(n)))

    def model_seconds(self, model: str) -> float:
        """dbt's own execution time of ``model`` in the last invocation (includes its post-hooks)."""
        results = json.loads((self.path / "target" / "run_results.json").read_text())
        (res,) = [r for r in results["results"] if r["unique_id"].endswith("." + model)]
        return float(res["execution_time"])

    def build(self, model: str, vars: dict[str, Any]) -> float:
        self.dbt("run", "--select", model, vars=vars)
        return self.model_seconds(model)


def make_project(target: str, name: str, pg: Postgres | None = None, root: Path = REPO_ROOT) -> BenchProject:
    """Write a fresh copy of the bench project to bench/data/<name> and run dbt deps.

    ``root``: the checkout whose dbt package (macros) the project installs (default this one).
    """
    path = DATA / name
    if path.exists():
        shutil.rmtree(path)
    (path / "models").mkdir(parents=True)
    (path / "dbt_project.yml").write_text(DBT_PROJECT_YML)
    (path / "profiles.yml").write_text(PROFILES_YML)
    (path / "packages.yml").write_text(f"packages:\n  - local: {root}\n")
    (path / "models" / "bench.yml").write_text(MODELS_YML)
    for model, (rows_var, default) in MODELS.items():
        (path / "models" / f"{model}.sql").write_text(MODEL_SQL.format(rows_var=rows_var, default_rows=default))
    env = {"DBT_SYNC_TARGET": target, "DBT_SYNC_DUCKDB_PATH": str(path / "bench.duckdb")}
    if target == "postgres":
        assert pg is not None
        db = pg.create_database(name)
        env.update(DBT_SYNC_PG_HOST=pg.host, DBT_SYNC_PG_PORT=str(pg.port), DBT_SYNC_PG_USER=pg.user,
                   DBT_SYNC_PG_PASSWORD=pg.password, DBT_SYNC_PG_DBNAME=db)
    project = BenchProject(path, target, env)
    project.set_rest_concurrency(4)
    project.dbt("deps")
    return project
