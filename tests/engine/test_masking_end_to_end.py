"""A masked column's value never leaves dbt-sync in clear, on any output path, for either CRM.

``dbt-sync run --debug`` runs as a subprocess (the real CLI) against both
emulators, with a generated, invalid email in a ``failure_payload.mask``
column: both CRMs refuse it and echo it back in their error messages
(Salesforce as sent, HubSpot inside its JSON error). The test then reads
every output: the console and the debug log, ``target/dbt_sync_results.json``,
every dbt-sync table, ``dbt-sync failures`` / ``status``, the alerts the
Slack, webhook and email receivers got, the lifecycle events the webhook
got, and the JSON log lines of a second run (``--log-format json``), which
retries the refused record. The value must appear in none of
them, in no form (any case, JSON- or URL-escaped).
"""

from __future__ import annotations

import json
import os
import secrets as pysecrets
import subprocess
import sys
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from dbt_sync import masking
from dbt_sync.cli import main
from tests.alerts.helpers import channels, validate_payload
from tests.engine.conftest import stack_for

pytestmark = pytest.mark.slow

TABLES = ("dbt_sync_runs", "dbt_sync_failures", "dbt_sync_open_failures", "dbt_sync_state", "dbt_sync_health",
          "dbt_sync_alerts", "dbt_sync_locks")


def leaks(value: str, text: str) -> list[str]:
    folded = masking.fold(text)
    return sorted(form for form in masking.variants(value) if form in folded)


def generated_email() -> str:
    """Invalid for both CRMs (two @), with characters that JSON and URLs escape, in mixed case."""
    token = pysecrets.token_hex(5)
    return f'Zoë.{token.upper()}"Q+{token}@@Invalid Host.example'


def dbt_sync(env: dict[str, str], project: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dbt_sync", *args, "--project-dir", str(project.path),
         "--profiles-dir", str(project.path)],
        env=env, cwd=project.path, capture_output=True, text=True, timeout=300, check=False,
    )


def test_masked_value_is_scrubbed_from_every_output(
    dbt_project_factory: Any, smtp_server: Any, http_server: Any, tls_cert: tuple[str, str]
) -> None:
    project = dbt_project_factory("duckdb", "masking", build=False)
    value = generated_email()
    header, rows = project.read_seed("raw_contacts")
    for row in rows:
        if row[0] == "C-2006":
            row[header.index("email")] = value
    project.write_seed("raw_contacts", header, rows)
    config = yaml.safe_load((project.path / "dbt_sync.yml").read_text())
    config["channels"] = channels(smtp_server, http_server, tls_cert[0])
    config["channels"]["pager"]["events"] = ["sync.completed", "run.completed"]
    config["defaults"] = {"alerts": {"failed_records": 1}}
    (project.path / "dbt_sync.yml").write_text(yaml.safe_dump(config))

    with stack_for(project) as stack:
        stack.dbt("build")
        env = {**os.environ, **project.env, **stack.sandbox.env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        dbt_log = project.path / "logs" / "dbt.log"
        dbt_log_offset = dbt_log.stat().st_size if dbt_log.exists() else 0  # dbt's own seed load logs the value
        run = dbt_sync(env, project, "run", "--debug")
        assert run.returncode == 1, run.stdout + run.stderr

        # both CRMs received the value and refused the record, echoing the value back
        failures = stack.query(
            "select sync_name, record_key, error_code, error_message, payload from {schema}.dbt_sync_failures"
        )
        refused = {(f["sync_name"], f["record_key"]): f for f in failures}
        assert refused[("contacts_to_salesforce", "C-2006")]["error_code"] == "INVALID_EMAIL_ADDRESS"
        assert refused[("contacts_to_hubspot", "C-2006")]["error_code"] == "INVALID_EMAIL"
        for key in (("contacts_to_salesforce", "C-2006"), ("contacts_to_hubspot", "C-2006")):
            assert "****" in refused[key]["error_message"]
            assert json.loads(refused[key]["payload"])["email"] == "****"

        retry = dbt_sync(env, project, "run", "--debug", "--log-format", "json")
        assert retry.returncode == 1, retry.stdout + retry.stderr
        events = [json.loads(line) for line in retry.stderr.splitlines()]
        assert any("****" in json.dumps(e["data"].get("sync", {}).get("error_samples", {})) for e in events), (
            "the retried record's error (with the value echoed back, masked) is in the JSON log"
        )

        outputs: dict[str, str] = {
            "run console and --debug log": run.stdout + run.stderr,
            "JSON log lines of the retry": retry.stdout + retry.stderr,
            "results JSON": (project.path / "target" / "dbt_sync_results.json").read_text(),
            "dbt.log lines of the dbt-sync run": dbt_log.read_bytes()[dbt_log_offset:].decode("utf-8", "replace")
            if dbt_log.exists() else "",
        }
        for table in TABLES:
            outputs[table] = json.dumps(stack.query(f"select * from {{schema}}.{table}"), default=str)
        for command in (("failures",), ("status",)):
            done = CliRunner().invoke(main, [*command, "--project-dir", str(project.path), "--profiles-dir",
                                             str(project.path)], env=env)
            outputs[" ".join(command)] = done.output
            assert "contacts_to_hubspot" in done.output
        # alerts went out on every channel, with the failing record's key and its (masked) error
        hooks = [r for r in http_server.requests if r.path == "/hooks/dbt-sync" and "X-DbtSync-Event" not in r.headers]
        assert any("X-DbtSync-Event" in r.headers for r in http_server.requests), "lifecycle events were sent"
        slacks = [r for r in http_server.requests if r.path != "/hooks/dbt-sync"]
        assert hooks and slacks and smtp_server.messages
        for i, request in enumerate(http_server.requests):
            outputs[f"HTTP alert {i} {request.path}"] = request.body.decode("utf-8")
        for i, message in enumerate(smtp_server.messages):
            parts = [message.get_body(("plain",)), message.get_body(("html",))]
            outputs[f"email {i}"] = str(message["Subject"]) + "".join(p.get_content() for p in parts if p)
        bodies = [json.loads(r.body) for r in hooks]
        samples = [s for b in bodies for s in b.get("failing_records") or []]
        assert any(s["record_key"] == "C-2006" and "****" in s["error_message"] for s in samples), bodies
        # the real payloads follow the documented schema, with the profile's target though -t was not given
        for body in bodies:
            validate_payload(body)
            assert body["run"]["target"] == project.env.get("DBT_SYNC_TARGET", "duckdb")
        for row in stack.query("select payload from {schema}.dbt_sync_alerts"):
            validate_payload(json.loads(row["payload"]))
        assert all("C-2006" in json.dumps(json.loads(r.body)) for r in slacks)
        assert all("C-2006" in outputs[f"email {i}"] and "dbt_sync_open_failures" in outputs[f"email {i}"]
                   for i in range(len(smtp_server.messages)))

        leaked = {where: found for where, text in outputs.items() if (found := leaks(value, text))}
        assert leaked == {}
