"""``bench/run fidelity [--rows N]``: does every value arrive exactly? (docs/fidelity.md)

Builds a DuckDB dbt project with two models, ``fid_accounts`` (N / 5 rows)
and ``fid_contacts`` (N rows), whose values mix what breaks CSV, JSON and
null markers: CR, CRLF, LF, quotes, commas, ``#N/A``, leading and trailing
spaces, a BOM, emoji, right-to-left text, control characters, NULLs, empty
strings, decimals beyond a field's scale, dates, timestamps with zones,
booleans and arrays. ``dbt-sync run`` (the real engine, in process) syncs
both models to three destinations: Salesforce through sObject Collections
only, Salesforce through Bulk API 2.0 (``bulk_threshold: 1``, each on its own
emulator) and HubSpot. Every record is then read back with simple-salesforce
and hubspot-api-client and compared, field by field, with what the documented
conversion rule (:mod:`bench.fidelity_rules`) says the CRM must hold; a record
the rule says cannot be stored must be absent from the CRM and recorded in
``dbt_sync_failures`` with the rule's error code.

The report gives, per destination and object: records, field comparisons,
mismatches (with the first few examples), expected failures recorded, and
unexpected failures. ``0`` mismatches and ``0`` unexpected failures is the
pass mark.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import fidelity_rules as rules

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT = str(Path(sys.executable).with_name("dbt"))
SF_USER, SF_PASSWORD = "fidelity@dbt-sync.example", "fidelity-pass"

#: text values cycled through the text columns (NUL is left to the property test: SQL text cannot hold it)
TEXTS: list[str | None] = [
    None, "", "Alpha\rBeta", "Gamma\r\nDelta\r", "line1\nline2\n", '"quoted", with, commas', "#N/A", " #N/A ",
    "  lead and trail  ", "\ufeffBOM first", "emoji 😀 👩‍💻", "שלום עולם", "مرحبا بالعالم", "tab\there",
    "ctl" + "".join(chr(c) for c in range(1, 32) if c not in (10, 13)) + "\x7f", "back\\slash", "O'Brien",
    "Zoë Ünïcødé 日本語", "semi;colon", "plain text", "\u2028sep\u0085",
]
EMAILS: list[str | None] = [None, "", "ann@example.com", "first.last+tag@sub.example.org", "not-an-email"]
ARRAYS: list[list[str | None] | None] = [
    None, [], ["Alpha", None, "Beta"], ["Zoë", "😀"], ["#N/A"], ["x;y"], ["", "only"], ["one"],
]

#: model column -> (Salesforce field, HubSpot property) per model
ACCOUNT_FIELDS = {
    "account_id": ("External_Id__c", "company_key"),
    "name": ("Name", "name"),
    "description": ("Description", "description"),
    "annual_revenue": ("AnnualRevenue", "annualrevenue"),
    "balance": ("Balance__c", "balance"),
    "employees": ("NumberOfEmployees", "employees"),
    "interests": ("Interests__c", "interests_text"),
    "founded": ("Founded__c", "founded"),
    "updated_at": ("Updated_At__c", "updated_at"),
    "is_active": ("Is_Active__c", "is_active"),
}
CONTACT_FIELDS = {
    "contact_id": ("External_Id__c", "contact_key"),
    "first_name": ("FirstName", "firstname"),
    "last_name": ("LastName", "lastname"),
    "email": ("Email", "work_email"),
    "birthdate": ("Birthdate", "date_of_birth"),
    "lead_score": ("Lead_Score__c", "lead_score"),
    "is_customer": ("Is_Customer__c", "is_customer"),
    "last_seen_at": ("Last_Seen_At__c", "last_seen_at"),
    "notes": ("Notes__c", "notes"),
    "topics": ("Topics__c", "topics"),
}
SF_EXTRA = {
    "Account": [
        {"name": "Balance__c", "type": "double", "precision": 18, "scale": 6},
        {"name": "Interests__c", "type": "multipicklist", "length": 4099},
        {"name": "Founded__c", "type": "date"},
        {"name": "Updated_At__c", "type": "datetime"},
        {"name": "Is_Active__c", "type": "boolean", "nillable": False, "defaultedOnCreate": True,
         "defaultValue": False},
    ],
    "Contact": [
        {"name": "Notes__c", "type": "textarea", "length": 32000},
        {"name": "Topics__c", "type": "multipicklist", "length": 4099},
    ],
}
HS_PROPS = {
    "companies": {"company_key": ("string", "text"), "name": ("string", "text"),
                  "description": ("string", "textarea"), "annualrevenue": ("number", "number"),
                  "balance": ("number", "number"), "employees": ("number", "number"),
                  "interests_text": ("string", "text"), "founded": ("date", "date"),
                  "updated_at": ("datetime", "date"), "is_active": ("bool", "booleancheckbox")},
    "contacts": {"contact_key": ("string", "text"), "firstname": ("string", "text"),
                 "lastname": ("string", "text"), "work_email": ("string", "text"),
                 "date_of_birth": ("date", "date"), "lead_score": ("number", "number"),
                 "is_customer": ("bool", "booleancheckbox"), "last_seen_at": ("datetime", "date"),
                 "notes": ("string", "textarea"), "topics": ("string", "text")},
}


# -- the project ------------------------------------------------------------------


def _sql_text(value: str | None) -> str:
    """A DuckDB expression for ``value``: quoted runs, ``chr(n)`` for control characters."""
    if value is None:
        return "cast(null as varchar)"
    parts: list[str] = []
    run = ""
    for ch in value:
        if ord(ch) < 32 or ord(ch) == 127:
            if run:
                parts.append("'" + run.replace("'", "''") + "'")
                run = ""
            parts.append(f"chr({ord(ch)})")
        else:
            run += ch
    if run or not parts:
        parts.append("'" + run.replace("'", "''") + "'")
    return " || ".join(parts)


def _sql_list(values: list[Any], render: Any) -> str:
    return "[" + ", ".join(render(v) for v in values) + "]"


def _sql_array(value: list[str | None] | None) -> str:
    if value is None:
        return "cast(null as varchar[])"
    return "cast([" + ", ".join(_sql_text(v) for v in value) + "] as varchar[])"


def _pick(values: str, length: int, salt: int) -> str:
    return f"list_extract({values}, 1 + ((i * {salt} + i // {length}) % {length}))"


def accounts_sql() -> str:
    texts = _sql_list(TEXTS, _sql_text)
    arrays = _sql_list(ARRAYS, _sql_array)
    n = len(TEXTS)
    return f"""
{{{{ config(post_hook="{{{{ dbt_sync.capture() }}}}") }}}}
{{% set n = var('fidelity_accounts', 20) | int %}}
select
    'A' || lpad(cast(i as varchar), 7, '0') as account_id,
    'Account ' || cast(i as varchar) || ' ' || coalesce({_pick(texts, n, 7)}, '') as name,
    {_pick(texts, n, 11)} as description,
    cast(((i * 7919) % 100000000) / 100.0 as decimal(14, 2)) as annual_revenue,
    case i % 4 when 0 then cast(123456789012.123456 as decimal(18, 6))
               when 1 then cast(230.7550 as decimal(18, 6))
               when 2 then null
               else cast(-1 * (i * 1.000001) as decimal(18, 6)) end as balance,
    case when i % 9 = 0 then null else i % 100000 end as employees,
    {_pick(arrays, len(ARRAYS), 5)} as interests,
    date '1700-01-01' + cast(i * 37 % 150000 as integer) as founded,
    timestamptz '2024-03-31 01:30:00.123456+05:30' + to_minutes(cast(i * 13 as bigint)) as updated_at,
    case i % 3 when 0 then true when 1 then false else null end as is_active
from generate_series(0, {{{{ n - 1 }}}}) as t(i)
"""


def contacts_sql() -> str:
    texts = _sql_list(TEXTS, _sql_text)
    emails = _sql_list(EMAILS, _sql_text)
    arrays = _sql_list(ARRAYS, _sql_array)
    n = len(TEXTS)
    return f"""
{{{{ config(post_hook="{{{{ dbt_sync.capture() }}}}") }}}}
{{% set n = var('fidelity_contacts', 100) | int %}}
{{% set accounts = var('fidelity_accounts', 20) | int %}}
select
    'C' || lpad(cast(i as varchar), 8, '0') as contact_id,
    'A' || lpad(cast(i % {{{{ accounts }}}} as varchar), 7, '0') as account_id,
    {_pick(texts, n, 3)} as first_name,
    {_pick(texts, n, 13)} as last_name,
    {_pick(emails, len(EMAILS), 1)} as email,
    case when i % 11 = 0 then null else date '1940-01-01' + cast(i * 17 % 30000 as integer) end as birthdate,
    case when i % 7 = 0 then null else cast((i % 100000) / 10000.0 as decimal(10, 4)) end as lead_score,
    case i % 3 when 0 then true when 1 then false else null end as is_customer,
    case when i % 5 = 0 then null
         else timestamptz '1969-12-31 23:59:59.999+00' + to_seconds(cast(i * 7777 as bigint)) end as last_seen_at,
    {_pick(texts, n, 17)} as notes,
    {_pick(arrays, len(ARRAYS), 3)} as topics
from generate_series(0, {{{{ n - 1 }}}}) as t(i)
"""


def _fields_yaml(fields: dict[str, tuple[str, str]], crm: int, indent: str, lookup: bool) -> str:
    lines = [f"{indent}fields:"]
    for column, names in fields.items():
        lines.append(f"{indent}  {names[crm]}: {column}")
    if lookup:
        lines.append(f"{indent}  AccountId:")
        lines.append(f"{indent}    lookup: {{object: Account, match: External_Id__c, column: account_id}}")
    return "\n".join(lines)


def models_yml() -> str:
    out = ["version: 2", "models:"]
    for model, obj, key, fields, hs_obj, hs_key in (
        ("fid_accounts", "Account", "account_id", ACCOUNT_FIELDS, "companies", "company_key"),
        ("fid_contacts", "Contact", "contact_id", CONTACT_FIELDS, "contacts", "contact_key"),
    ):
        out += [f"  - name: {model}", "    config:", "      meta:", "        dbt_sync:"]
        for dest in ("salesforce_collections", "salesforce_bulk"):
            out += [
                f"          - name: {model}_{dest}",
                f"            destination: {dest}",
                f"            object: {obj}",
                "            mode: upsert",
                f"            primary_key: {key}",
                "            match: External_Id__c",
                _fields_yaml(fields, 0, "            ", lookup=obj == "Contact"),
            ]
        out += [
            f"          - name: {model}_hubspot",
            "            destination: hubspot",
            f"            object: {hs_obj}",
            "            mode: upsert",
            f"            primary_key: {key}",
            f"            match: {hs_key}",
            _fields_yaml(fields, 1, "            ", lookup=False),
        ]
    return "\n".join(out) + "\n"


DBT_SYNC_YML = """
version: 1
destinations:
  salesforce_collections:
    type: salesforce
    auth: password
    username: "{{ env_var('FID_SF_USERNAME') }}"
    password: "{{ env_var('FID_SF_PASSWORD') }}"
    security_token: ""
    login_url: "{{ env_var('FID_SF_COLLECTIONS_URL') }}"
    ca_bundle: "{{ env_var('FID_SF_CA_BUNDLE') }}"
    bulk_threshold: false
  salesforce_bulk:
    type: salesforce
    auth: password
    username: "{{ env_var('FID_SF_USERNAME') }}"
    password: "{{ env_var('FID_SF_PASSWORD') }}"
    security_token: ""
    login_url: "{{ env_var('FID_SF_BULK_URL') }}"
    ca_bundle: "{{ env_var('FID_SF_CA_BUNDLE') }}"
    bulk_threshold: 1
  hubspot:
    type: hubspot
    access_token: "{{ env_var('FID_HUBSPOT_TOKEN') }}"
    host: "{{ env_var('FID_HUBSPOT_HOST') }}"
    tier: api_add_on
"""

PROFILES_YML = """
fidelity:
  target: duckdb
  outputs:
    duckdb:
      type: duckdb
      path: "{{ env_var('FID_DUCKDB_PATH') }}"
      schema: analytics
      threads: 2
"""


def write_project(path: Path) -> None:
    (path / "models").mkdir(parents=True, exist_ok=True)
    (path / "dbt_project.yml").write_text(
        'name: fidelity\nversion: "1.0.0"\nconfig-version: 2\nprofile: fidelity\nmodel-paths: ["models"]\n'
        "models:\n  fidelity:\n    +materialized: table\n"
    )
    (path / "profiles.yml").write_text(PROFILES_YML)
    (path / "packages.yml").write_text(f"packages:\n  - local: {REPO_ROOT}\n")
    (path / "dbt_sync.yml").write_text(DBT_SYNC_YML)
    (path / "models" / "fid_accounts.sql").write_text(accounts_sql())
    (path / "models" / "fid_contacts.sql").write_text(contacts_sql())
    (path / "models" / "fidelity.yml").write_text(models_yml())


# -- emulators ----------------------------------------------------------------------


@contextlib.contextmanager
def emulators() -> Iterator[dict[str, Any]]:
    from dbt_sync_emulators.hubspot import HubSpotEmulator
    from dbt_sync_emulators.salesforce import SalesforceEmulator

    with contextlib.ExitStack() as stack:
        sf = {}
        for path in ("collections", "bulk"):
            emu = stack.enter_context(SalesforceEmulator(host="127.0.0.1", port=0, api_usage_max=10**9))
            emu.add_user(SF_USER, SF_PASSWORD)
            for obj, extra in SF_EXTRA.items():
                emu.define_object(obj, [*emu.describe(obj)["fields"], *extra])
            sf[path] = emu
        hs = stack.enter_context(HubSpotEmulator(host="127.0.0.1", port=0, rate_limit=100_000))
        for obj, props in HS_PROPS.items():
            for name, (ptype, field_type) in props.items():
                options = [("true", "Yes"), ("false", "No")] if ptype == "bool" else None
                hs.define_property(obj, name, ptype, field_type, options=options, unique=name.endswith("_key"))
        yield {"sf": sf, "hs": hs}


# -- reading back and comparing -------------------------------------------------------


def _warehouse_rows(db: Path, model: str) -> list[dict[str, Any]]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        cur = con.execute(f"select * from analytics.{model}")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()


def _failures(db: Path) -> dict[tuple[str, str], str]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "select sync_name, record_key, error_code from analytics_dbt_sync.dbt_sync_failures"
        ).fetchall()
    finally:
        con.close()
    return {(r[0], r[1]): r[2] for r in rows}


def _salesforce_stored(emu: Any, obj: str, fields: list[str]) -> dict[str, dict[str, Any]]:
    from simple_salesforce import Salesforce

    sf = Salesforce(session_id=emu.issue_session(), instance_url=emu.instance_url, session=emu.http_session())
    rows = rules.query_exact(sf, f"SELECT {', '.join(fields)} FROM {obj}")
    return {r["External_Id__c"]: r for r in rows}


def _hubspot_stored(hs: Any, obj: str, props: list[str], key: str) -> dict[str, dict[str, Any]]:
    from hubspot import HubSpot

    return rules.hubspot_rows(HubSpot(access_token=hs.token, host=hs.url), obj, props, key)


def compare(db: Path, stack: dict[str, Any], examples: int = 5) -> dict[str, Any]:
    """Mismatches per destination path and object; see the module doc."""
    failures = _failures(db)
    report: dict[str, Any] = {}
    failed_parents: dict[str, set[str]] = {}
    for model, obj, hs_obj, key_col, fields in (
        ("fid_accounts", "Account", "companies", "account_id", ACCOUNT_FIELDS),
        ("fid_contacts", "Contact", "contacts", "contact_id", CONTACT_FIELDS),
    ):
        rows = _warehouse_rows(db, model)
        sf_fields = [names[0] for names in fields.values()]
        for path in ("collections", "bulk"):
            # a contact whose Account could not be stored fails its lookup
            orphans = failed_parents.get(path, set()) if obj == "Contact" else set()
            emu = stack["sf"][path]
            describe = {f["name"]: f for f in emu.describe(obj)["fields"]}
            stored = _salesforce_stored(emu, obj, sf_fields)
            sync = f"{model}_salesforce_{path}"
            report[f"salesforce_{path}/{obj}"] = _check(
                rows, key_col, fields, 0, stored, failures, sync, examples,
                lambda name, value, d=describe: rules.salesforce(d[name], value),
                lambda name, got, want, d=describe: rules.same_salesforce(d[name], got, want),
                lambda row, o=orphans: {"INVALID_FIELD"} if row["account_id"] in o else set(),
            )
            if obj == "Account":
                failed_parents[path] = set(report[f"salesforce_{path}/{obj}"].pop("failed_keys"))
        hs_types = {name: spec[0] for name, spec in HS_PROPS[hs_obj].items()}
        hs_key = fields[key_col][1]
        stored_hs = _hubspot_stored(stack["hs"], hs_obj, [names[1] for names in fields.values()], hs_key)
        report[f"hubspot/{hs_obj}"] = _check(
            rows, key_col, fields, 1, stored_hs, failures, f"{model}_hubspot", examples,
            lambda name, value, t=hs_types: rules.hubspot(t[name], value),
            lambda name, got, want, t=hs_types: rules.same_hubspot(t[name], got, want),
            lambda row: set(),
        )
        report[f"hubspot/{hs_obj}"].pop("failed_keys")
    return report


def _check(
    rows: list[dict[str, Any]],
    key_col: str,
    fields: dict[str, tuple[str, str]],
    crm: int,
    stored: dict[str, dict[str, Any]],
    failures: dict[tuple[str, str], str],
    sync: str,
    examples: int,
    rule: Any,
    same: Any,
    more_codes: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {"records": len(rows), "comparisons": 0, "mismatches": 0, "expected_failures": 0,
                           "unexpected_failures": 0, "examples": [], "failed_keys": []}
    for row in rows:
        key = row[key_col]
        verdicts = {names[crm]: rule(names[crm], row[column]) for column, names in fields.items()}
        codes = {code for code, _ in verdicts.values() if code} | more_codes(row)
        if codes:
            out["failed_keys"].append(key)
        recorded = failures.get((sync, key))
        if codes:
            if recorded in codes and key not in stored:
                out["expected_failures"] += 1
            else:
                out["mismatches"] += 1
                _example(out, examples, key, "*", f"failure {sorted(codes)}", f"recorded {recorded}, "
                         f"{'stored' if key in stored else 'absent'}")
            continue
        if recorded is not None or key not in stored:
            out["unexpected_failures"] += 1
            _example(out, examples, key, "*", "stored", f"failure {recorded}")
            continue
        for name, (_, expected) in verdicts.items():
            out["comparisons"] += 1
            got = stored[key].get(name)
            if not same(name, got, expected):
                out["mismatches"] += 1
                _example(out, examples, key, name, expected, got)
    return out


def _example(out: dict[str, Any], limit: int, key: str, field: str, expected: Any, got: Any) -> None:
    if len(out["examples"]) < limit:
        out["examples"].append({"key": key, "field": field, "expected": repr(expected), "stored": repr(got)})


# -- the run ---------------------------------------------------------------------------


def run(rows: int, workdir: Path | None = None, keep: bool = False) -> dict[str, Any]:
    """Build, sync and compare ``rows`` contacts (and ``rows // 5`` accounts); returns the report."""
    from dbt_sync import api, secrets
    from dbt_sync.engine.progress import Progress

    accounts = max(rows // 5, 2)
    base = workdir or Path(tempfile.mkdtemp(prefix="dbt_sync_fidelity_"))
    project = base / "project"
    if project.exists():
        shutil.rmtree(project)
    write_project(project)
    db = project / "fidelity.duckdb"
    env = {**os.environ, "FID_DUCKDB_PATH": str(db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    dbt_vars = json.dumps({"fidelity_accounts": accounts, "fidelity_contacts": rows})
    started = time.perf_counter()
    for args in (["deps"], ["run", "--vars", dbt_vars]):
        proc = subprocess.run([DBT, *args, "--project-dir", str(project), "--profiles-dir", str(project)],
                              cwd=project, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"dbt {args[0]} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    build_seconds = time.perf_counter() - started
    secrets.clear()
    with emulators() as stack:
        sync_env = {
            "FID_DUCKDB_PATH": str(db),
            "FID_SF_USERNAME": SF_USER,
            "FID_SF_PASSWORD": SF_PASSWORD,
            "FID_SF_COLLECTIONS_URL": stack["sf"]["collections"].instance_url,
            "FID_SF_BULK_URL": stack["sf"]["bulk"].instance_url,
            "FID_SF_CA_BUNDLE": stack["sf"]["collections"].ca_cert_path,
            "FID_HUBSPOT_TOKEN": stack["hs"].token,
            "FID_HUBSPOT_HOST": stack["hs"].url,
        }
        saved = {k: os.environ.get(k) for k in sync_env}
        os.environ.update(sync_env)
        try:
            started = time.perf_counter()
            result = api.run(project, profiles_dir=project, vars={"fidelity_accounts": accounts,
                                                                  "fidelity_contacts": rows},
                             progress=Progress.silent())
            sync_seconds = time.perf_counter() - started
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        bulk_jobs = len(stack["sf"]["bulk"].bulk.jobs())
        collections_jobs = len(stack["sf"]["collections"].bulk.jobs())
        started = time.perf_counter()
        report = compare(db, stack)
        compare_seconds = time.perf_counter() - started
    if not keep and workdir is None:
        shutil.rmtree(base, ignore_errors=True)
    return {
        "rows": {"contacts": rows, "accounts": accounts},
        "syncs": {s.name: {"status": str(s.status), "created": s.created, "updated": s.updated,
                           "failed": s.failed, "error_codes": dict(s.error_codes)} for s in result.syncs},
        "bulk_jobs": {"salesforce_bulk": bulk_jobs, "salesforce_collections": collections_jobs},
        "seconds": {"dbt_run": round(build_seconds, 1), "sync": round(sync_seconds, 1),
                    "read_back_and_compare": round(compare_seconds, 1)},
        "paths": report,
        "total_mismatches": sum(p["mismatches"] for p in report.values()),
        "total_unexpected_failures": sum(p["unexpected_failures"] for p in report.values()),
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="bench/run fidelity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000, help="contacts (accounts: rows / 5); default 50,000")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the project and DuckDB file here")
    parser.add_argument("--output", type=Path, default=None, help="write the JSON report here")
    args = parser.parse_args(argv)
    report = run(args.rows, args.workdir)
    text = json.dumps(report, indent=2, default=str)
    if args.output:
        args.output.write_text(text + "\n")
    print(text)
    return 0 if report["total_mismatches"] == 0 and report["total_unexpected_failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
